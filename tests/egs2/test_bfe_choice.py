"""The BFE's window and projection chosen on dev (egs2/TEMPLATE/asr1/bfe_choice.sh, run.sh --bfe_grid of
brain2text24, brain2text25 and ieeg_bids).

With a brain_asr.sh (and a bfe_choice.sh) that record their arguments: which runs train and how, what is chosen,
resuming, and the chosen arguments reaching every mode's trainer (seconds, no training). The slow test runs the
choice for real on the tiny brain2text24 corpus: two grid points, one epoch each.
"""

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml
from fixtures import brain2text24 as b2t24_fixture
from fixtures.checkpoints import write_reporter_checkpoint
from fixtures.recipes import REPO, copy_recipe, run

RECIPES = ("brain2text24", "brain2text25", "ieeg_bids")
CHOICE_STAGE = {"brain2text24": 7, "brain2text25": 7, "ieeg_bids": 6}
FEATURE_TAG = {"brain2text24": "tx1_spikepow_6v", "brain2text25": "all", "ieeg_bids": "hg70-170_50hz_none"}

# Records its arguments (one file per call, in call order); a training call (--stage 5) leaves the run's
# checkpoint.pth: a copy of $FAKE_CHECKPOINTS/<asr_tag>.pth, then fails when the tag is in $FAKE_FAIL.
FAKE_BRAIN_ASR = """#!/usr/bin/env bash
n=$(ls "${FAKE_CALLS}" | wc -l)
printf '%s\\n' "$@" >"${FAKE_CALLS}/$(printf %03d "${n}")_brain_asr"
expdir=exp asr_tag= stage=
while [ $# -gt 1 ]; do
    case $1 in --expdir) expdir=$2 ;; --asr_tag) asr_tag=$2 ;; --stage) stage=$2 ;; esac
    shift 2
done
[ "${stage}" = 5 ] || exit 0
mkdir -p "${expdir}/asr_${asr_tag}"
checkpoint=${FAKE_CHECKPOINTS}/${asr_tag}.pth
[ ! -f "${checkpoint}" ] || cp "${checkpoint}" "${expdir}/asr_${asr_tag}/checkpoint.pth"
[[ " ${FAKE_FAIL:-} " != *" ${asr_tag} "* ]]
"""

# Records its arguments and leaves a choice as bfe_choice.sh does (frontend_args and the grid it chose with); a
# choice is read back (--chosen_args true) by the real script, unrecorded.
FAKE_BFE_CHOICE = """#!/usr/bin/env bash
[ "$1" != --chosen_args ] || exec ../../TEMPLATE/asr1/bfe_choice.sh "$@"
n=$(ls "${FAKE_CALLS}" | wc -l)
printf '%s\\n' "$@" >"${FAKE_CALLS}/$(printf %03d "${n}")_bfe_choice"
while [ $# -gt 1 ]; do
    case $1 in --outdir) outdir=$2 ;; --bfe_grid) grid=$2 ;; esac
    shift 2
done
mkdir -p "${outdir}"
echo "--frontend_conf kernel_size=8 --frontend_conf window_projection=null" >"${outdir}/frontend_args"
cp "${grid}" "${outdir}/grid.yaml"
"""


def _checkpoint(path: Path, valid_losses) -> None:
    """ESPnet's checkpoint.pth of a run with these per-epoch dev losses (its reporter state is what is read)."""
    write_reporter_checkpoint(path, valid_losses)


def _fake(recipe: Path, name: str, text: str) -> None:
    (recipe / name).unlink()
    (recipe / name).write_text(text)
    (recipe / name).chmod(0o755)


def _recipe(tmp_path: Path, corpus: str, fake_choice: bool = False):
    recipe = copy_recipe(tmp_path, corpus)
    _fake(recipe, "brain_asr.sh", FAKE_BRAIN_ASR)
    if fake_choice:
        _fake(recipe, "bfe_choice.sh", FAKE_BFE_CHOICE)
    calls, checkpoints = tmp_path / "calls", tmp_path / "checkpoints"
    calls.mkdir()
    checkpoints.mkdir()
    env = {"FAKE_CALLS": str(calls), "FAKE_CHECKPOINTS": str(checkpoints)}
    return recipe, calls, checkpoints, env


def _calls(calls: Path, name: str = ""):
    """The recorded calls (argument lists) in order, of one fake or of all."""
    return [p.read_text().splitlines() for p in sorted(calls.iterdir()) if p.name.endswith(name)]


def _option(args, name):
    """The value of the last --name in an argument list (later options win in parse_options.sh)."""
    return args[len(args) - 1 - args[::-1].index(name) + 1]


GRID = "kernel_size: [4, 8, 16]\n"
CHOICE = ("./bfe_choice.sh", "--bfe_grid", "grid.yaml", "--bfe_grid_epochs", "3", "--confdir", "conf/tiny")
COMMON = ("--feature_set", "tx1_spikepow_6v", "--confdir", "conf/tiny", "--valid_set", "dev")


def test_each_point_trains_as_the_bfe_control_and_the_lowest_dev_loss_of_a_finished_run_wins(tmp_path):
    recipe, calls, checkpoints, env = _recipe(tmp_path, "brain2text24")
    (recipe / "grid.yaml").write_text(GRID)
    _checkpoint(checkpoints / "k4.pth", [3.0, 2.0, 2.5])
    _checkpoint(checkpoints / "k8.pth", [2.0, 1.0, 1.2])
    _checkpoint(checkpoints / "k16.pth", [0.5])  # the lowest loss, but its run fails: never chosen
    env["FAKE_FAIL"] = "k16"
    args = (*CHOICE, "--outdir", "exp/bfe_choice/x", "--asr_args", "--batch_size 4", "--", *COMMON)
    proc = run(recipe, *args[1:], env=env, script=args[0])
    brain_asr = _calls(calls, "brain_asr")
    # the dumps and the token list first, with the recipe's options, then one short run per point
    assert brain_asr[0] == [
        *COMMON, "--mode", "bfe", "--causal", "false", "--decoders", "greedy", "--stage", "2", "--stop_stage", "3"
    ]  # fmt: skip
    assert len(brain_asr) == 4
    for call, setting in zip(brain_asr[1:], ("k4", "k8", "k16")):
        assert call[: len(COMMON)] == list(COMMON)
        assert call[len(COMMON) :] == [
            "--mode", "bfe", "--causal", "false", "--expdir", "exp/bfe_choice/x",
            "--asr_config", f"exp/bfe_choice/x/conf/choice_{setting}_bfe.yaml", "--asr_tag", setting,
            "--asr_args", "--batch_size 4 --max_epoch 3 --keep_nbest_models 1",
            "--stage", "5", "--stop_stage", "6",
        ]  # fmt: skip
        config = yaml.safe_load((recipe / _option(call, "--asr_config")).read_text())
        base = yaml.safe_load((recipe / "conf" / "tiny" / "train_brain_bfe.yaml").read_text())
        assert config["frontend_conf"] == {**base["frontend_conf"], "kernel_size": int(setting[1:])}
    out = recipe / "exp" / "bfe_choice" / "x"
    assert (out / "frontend_args").read_text() == "--frontend_conf kernel_size=8\n"
    assert (out / "grid.yaml").read_text() == GRID
    choice = json.loads((out / "choice.json").read_text())
    assert choice["chosen"]["setting"] == "k8" and math.isclose(choice["chosen"]["valid_loss"], 1.0)
    assert choice["runs"][2]["error"].startswith("failed")
    assert "| k8 | 8 | 1.0000 | 2 | 3 | **chosen** |" in (out / "choice.md").read_text()
    assert (
        "k16: the run failed" in proc.stderr and "chosen on the dev set: --frontend_conf kernel_size=8" in proc.stderr
    )

    # Run again: the finished points are not trained again, the failed one is; now it finishes and wins.
    env["FAKE_FAIL"] = ""
    shutil.rmtree(calls)
    calls.mkdir()
    proc = run(recipe, *args[1:], env=env, script=args[0])
    assert [_option(c, "--asr_tag") for c in _calls(calls, "brain_asr")[1:]] == ["k16"]
    assert "k4: already trained" in proc.stderr and "k8: already trained" in proc.stderr
    assert (out / "frontend_args").read_text() == "--frontend_conf kernel_size=16\n"

    # Other settings (here the causal BFE of the streaming modes) train every point again, from the start.
    shutil.rmtree(calls)
    calls.mkdir()
    (out / "asr_k4" / "stale").write_text("")
    run(recipe, *args[1 : -len(COMMON) - 1], "--causal", "true", "--", *COMMON, env=env, script=args[0])
    trained = _calls(calls, "brain_asr")[1:]
    assert [_option(c, "--asr_tag") for c in trained] == ["k4", "k8", "k16"]
    causal_bfe = "--frontend_conf causal=true --frontend_conf bidirectional=false"
    assert _option(trained[0], "--asr_args") == f"--batch_size 4 --max_epoch 3 --keep_nbest_models 1 {causal_bfe}"
    assert not (out / "asr_k4" / "stale").exists()


def test_no_usable_point_fails_clearly_and_leaves_no_choice(tmp_path):
    recipe, calls, checkpoints, env = _recipe(tmp_path, "brain2text24")
    (recipe / "grid.yaml").write_text("kernel_size: [4, 8]\nwindow_projection: [null]\n")
    _checkpoint(checkpoints / "k4_projnone.pth", [float("nan")])
    env["FAKE_FAIL"] = "k8_projnone"
    proc = run(recipe, *CHOICE[1:], "--outdir", "exp/c", "--", *COMMON, env=env, script=CHOICE[0], check=False)
    assert proc.returncode != 0
    assert "no setting of grid.yaml trained to a finite dev loss" in proc.stderr
    assert "k4_projnone: diverged" in proc.stderr and "k8_projnone: failed" in proc.stderr
    assert not (recipe / "exp" / "c" / "frontend_args").exists() and (recipe / "exp" / "c" / "choice.md").exists()


def test_bad_options_are_named(tmp_path):
    recipe, calls, _, env = _recipe(tmp_path, "brain2text24")
    proc = run(recipe, "--", *COMMON, env=env, script="./bfe_choice.sh", check=False)
    assert proc.returncode != 0 and "--bfe_grid is required" in proc.stderr
    (recipe / "grid.yaml").write_text("kernel_size: [4]\n")
    proc = run(
        recipe, "--bfe_grid", "grid.yaml", "--confdir", "nowhere", env=env, script="./bfe_choice.sh", check=False
    )
    assert proc.returncode != 0 and "nowhere/train_brain_bfe.yaml does not exist" in proc.stderr
    assert not list(calls.iterdir())


def test_chosen_args_are_those_of_a_choice_made_with_the_same_grid(tmp_path):
    recipe, calls, _, env = _recipe(tmp_path, "brain2text24")
    (recipe / "grid.yaml").write_text(GRID)
    read = ("--chosen_args", "true", "--bfe_grid", "grid.yaml", "--outdir", "exp/c")
    proc = run(recipe, *read, env=env, script="./bfe_choice.sh", check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "--bfe_grid grid.yaml: no BFE chosen with this grid in exp/c (no choice there)" in proc.stderr
    out = recipe / "exp" / "c"
    out.mkdir(parents=True)
    (out / "frontend_args").write_text("--frontend_conf kernel_size=8\n")
    (out / "grid.yaml").write_text("kernel_size: [4, 8]\n")
    proc = run(recipe, *read, env=env, script="./bfe_choice.sh", check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "no BFE chosen with this grid in exp/c (the choice there was made with another grid" in proc.stderr
    (out / "grid.yaml").write_text(GRID)
    proc = run(recipe, *read, env=env, script="./bfe_choice.sh")
    assert proc.stdout == "--frontend_conf kernel_size=8\n"
    assert not list(calls.iterdir())  # reading a choice trains nothing


@pytest.mark.parametrize("corpus", RECIPES)
def test_the_recipe_chooses_after_data_preparation_and_every_mode_trains_the_choice(tmp_path, corpus):
    recipe, calls, _, env = _recipe(tmp_path, corpus, fake_choice=True)
    n = str(CHOICE_STAGE[corpus])
    grid = ("--bfe_grid", "conf/bfe_small_corpus.yaml", "--asr_args", "--batch_size 4")
    out = f"exp/bfe_choice/{FEATURE_TAG[corpus]}"

    # A training stage before the choice: stopped, with the command that makes it (the causal BFE has its own).
    for causal, suffix in (("false", ""), ("true", "_causal")):
        proc = run(recipe, "--stage", "2", "--stop_stage", "2", *grid, "--causal", causal, env=env, check=False)
        assert proc.returncode != 0 and not list(calls.iterdir())
        message = f"--bfe_grid conf/bfe_small_corpus.yaml: no BFE chosen with this grid in {out}{suffix} (no choice"
        assert message in proc.stderr and "choose the BFE first: ./run.sh --stage 2 --stop_stage 2" in proc.stderr
        assert f"--asr_args --batch_size\\ 4 --causal {causal} --stage {n} --stop_stage {n}" in proc.stderr

    # The choice stage and a training stage: the choice comes first, with the recipe's brain_asr.sh options, and the
    # mode trains with the chosen arguments after the user's.
    skip = " ".join(s for s in ("3", "4", "5", "6") if s != n)
    proc = run(
        recipe, "--stage", "2", "--stop_stage", n, "--skip_stages", skip, *grid, "--bfe_grid_epochs", "2", env=env
    )
    (choice,), (brain_asr,) = _calls(calls, "bfe_choice"), _calls(calls, "brain_asr")
    assert sorted(calls.iterdir())[0].name.endswith("bfe_choice")
    assert choice[: choice.index("--")] == [
        "--bfe_grid", "conf/bfe_small_corpus.yaml", "--bfe_grid_epochs", "2", "--confdir", "conf", "--outdir", out,
        "--asr_args", "--batch_size 4", "--causal", "false",
    ]  # fmt: skip
    common = choice[choice.index("--") + 1 :]
    assert brain_asr[: len(common)] == common and _option(brain_asr, "--mode") == "full"
    chosen = "--frontend_conf kernel_size=8 --frontend_conf window_projection=null"
    assert _option(brain_asr, "--asr_args") == f"--batch_size 4 {chosen}"
    assert f"every mode trains the BFE chosen on dev ({out}/choice.md): {chosen}" in proc.stderr

    # Another grid than the one chosen with: stopped.
    (recipe / "other.yaml").write_text("kernel_size: [4]\n")
    proc = run(recipe, "--stage", "3", "--stop_stage", "3", "--bfe_grid", "other.yaml", env=env, check=False)
    assert proc.returncode != 0 and "no BFE chosen with this grid" in proc.stderr

    # Without --bfe_grid nothing changes: the choice stage does nothing and the modes train the configs' BFE.
    shutil.rmtree(calls)
    calls.mkdir()
    proc = run(recipe, "--stage", "3", "--stop_stage", n, "--skip_stages", skip.replace("3", "").strip() or "5",
               "--asr_args", "--batch_size 4", env=env)  # fmt: skip
    assert not _calls(calls, "bfe_choice") and "no --bfe_grid" in proc.stderr
    assert {_option(c, "--asr_args") for c in _calls(calls, "brain_asr")} == {"--batch_size 4"}


@pytest.mark.parametrize("corpus", RECIPES)
def test_committed_grid_sweeps_window_and_projection_of_the_bfe_control(corpus):
    from espnet_brain.asr.sweep.grid import expand_grid, load_grid

    recipe = REPO / "egs2" / corpus / "asr1"
    assert os.readlink(recipe / "bfe_choice.sh") == "../../TEMPLATE/asr1/bfe_choice.sh"
    archs = expand_grid(load_grid(recipe / "conf" / "bfe_small_corpus.yaml"))
    assert [(a["kernel_size"], a["window_projection"]) for a in archs] == [
        (k, p) for k in (4, 8, 16, 32) for p in (None, 256)
    ]  # the stride stays as configured
    base = yaml.safe_load((recipe / "conf" / "train_brain_bfe.yaml").read_text())
    assert (base["frontend_conf"]["kernel_size"], base["frontend_conf"].get("window_projection")) == (32, None)


def test_the_choice_script_calls_programs_not_inline_python():
    lines = (REPO / "egs2" / "TEMPLATE" / "asr1" / "bfe_choice.sh").read_text().splitlines()
    code = [line for line in lines if not line.lstrip().startswith("#")]
    assert not [line for line in code if "python3 -c" in line or "python -c" in line]
    assert any("python3 -m espnet_brain.bin.choose_bfe" in line for line in code)


# ----------------------------------------------------------------------------- end to end, tiny


@pytest.mark.slow
def test_brain2text24_chooses_on_dev_from_real_short_runs_and_resumes(tmp_path):
    root = tmp_path / "competitionData"
    b2t24_fixture.write_corpus(root)
    recipe = copy_recipe(tmp_path / "repo", "brain2text24")
    # two points, one with no projection: null must reach ESPnet's trainer as None
    (recipe / "grid.yaml").write_text(
        "- {kernel_size: 4, window_projection: null}\n- {kernel_size: 8, window_projection: 16}\n"
    )
    tiny = ("--corpus", str(root), "--confdir", "conf/tiny", "--nj", "1", "--bfe_grid", "grid.yaml")
    run(recipe, *tiny, "--stage", "1", "--stop_stage", "1")
    start = time.time()
    proc = run(recipe, *tiny, "--bfe_grid_epochs", "1", "--stage", "7", "--stop_stage", "7")
    first = time.time() - start
    out = recipe / "exp" / "bfe_choice" / "tx1_spikepow_6v"
    choice = json.loads((out / "choice.json").read_text())
    losses = {r["setting"]: r["valid_loss"] for r in choice["runs"]}
    assert set(losses) == {"k4_projnone", "k8_proj16"} and all(math.isfinite(v) for v in losses.values())
    assert choice["chosen"]["setting"] == min(losses, key=losses.get)
    assert (out / "frontend_args").read_text().strip() == choice["frontend_args"]
    for setting, (kernel, projection) in {"k4_projnone": (4, None), "k8_proj16": (8, 16)}.items():
        trained = yaml.safe_load((out / f"asr_{setting}" / "config.yaml").read_text())  # written by ESPnet
        assert (trained["frontend_conf"]["kernel_size"], trained["frontend_conf"]["window_projection"]) == (
            kernel, projection
        )  # fmt: skip
        assert trained["max_epoch"] == 1 and trained["frontend_conf"]["input_size"] == 256
        assert "1epoch results" in (out / f"asr_{setting}" / "train.log").read_text()
    # the dumps are the recipe's own, which every mode then trains on
    assert (recipe / "dump" / "tx1_spikepow_6v" / "neural" / "train" / "feats.scp").is_file()

    start = time.time()
    proc = run(recipe, *tiny, "--bfe_grid_epochs", "1", "--stage", "7", "--stop_stage", "7")
    again = time.time() - start
    assert "k4_projnone: already trained" in proc.stderr and "k8_proj16: already trained" in proc.stderr
    assert json.loads((out / "choice.json").read_text())["chosen"] == choice["chosen"]
    print(f"choice of 2 points x 1 epoch: {first:.1f} s; again (nothing to train): {again:.1f} s", file=sys.stderr)
