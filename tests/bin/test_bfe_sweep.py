"""The BFE sweep: grid and configs (espnet_brain.asr.sweep.grid), statistics and report
(espnet_brain.asr.sweep.report), and its programs with the recipe's job runner (local/sweep_job.sh)."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from espnet_brain.asr.sweep import grid as sweep_grid
from espnet_brain.asr.sweep import report as sweep
from espnet_brain.asr.sweep.grid import PAPER_GRID, arch_id, build_grid, expand_grid, plan_runs, read_runs, write_jobs
from espnet_brain.asr.sweep.report import collect_scores, compare_modes, read_score, summarize_mode, sweep_report
from espnet_brain.bin import bfe_sweep_configs, bfe_sweep_report

REPO = Path(__file__).resolve().parents[2]

MODES = {"full": "finetune", "scratch": "scratch", "frozen": "frozen"}


def _base_configs(root: Path) -> dict:
    paths = {}
    for label, mode in MODES.items():
        config = {
            "frontend": "brain_gru",
            "frontend_conf": {"input_size": 8, "output_size": 16, "n_days": 2, "kernel_size": 4, "stride": 2},
            "encoder": "hf_ssl",
            "encoder_conf": {"model_name_or_path": "/no/such/model", "mode": mode},
            "decoder": "none",
            "optim": "adam",
            "optim_conf": {"lr": 0.001},
        }
        paths[label] = root / f"train_brain_{label}.yaml"
        paths[label].write_text(yaml.safe_dump(config))
    return paths


def _score_json(char_errors: int, n_chars: int, word_errors: int = 1, n_words: int = 10, n_utts: int = 3) -> str:
    # The counts espnet_brain.bin.score writes to score.json (checked against the program itself below).
    counts = dict(char_errors=char_errors, n_chars=n_chars, word_errors=word_errors, n_words=n_words, n_utts=n_utts)
    return json.dumps({"cer": 100 * char_errors / n_chars, "wer": 100 * word_errors / n_words, **counts})


def _write_score(expdir: Path, tag: str, test_set: str, char_errors: int, n_chars: int = 100) -> None:
    path = expdir / f"asr_{tag}" / f"decode_{test_set}" / "score.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_score_json(char_errors, n_chars))


def test_paper_grid_has_45_architectures_with_distinct_tags():
    archs = expand_grid(PAPER_GRID)
    ids = [arch_id(a) for a in archs]
    assert len(archs) == 45 and len(set(ids)) == 45
    assert "l5_h512_fcnone" in ids and "l1_h256_fc512-128" in ids
    assert arch_id({"num_layers": 2, "dropout": 0.3, "bidirectional": False}) == "l2_dropout-0.3_bidirectional-false"


def test_plan_writes_one_valid_espnet_config_per_architecture_and_mode(tmp_path):
    archs = expand_grid({"num_layers": [1, 2], "hidden_size": [8], "fc_sizes": [[], [16, 8]]})
    runs = plan_runs(_base_configs(tmp_path), archs, tmp_path / "conf")
    assert len(runs) == 4 * 3
    assert len({r.tag for r in runs}) == 12 and len(list((tmp_path / "conf").glob("*.yaml"))) == 12
    run = next(r for r in runs if r.tag == "bfe_l2_h8_fc16-8_frozen")
    config = yaml.safe_load(run.config.read_text())
    # Swept keys replaced, everything else of the base config kept.
    assert config["frontend_conf"] == {
        "input_size": 8,
        "output_size": 16,
        "n_days": 2,
        "kernel_size": 4,
        "stride": 2,
        "num_layers": 2,
        "hidden_size": 8,
        "fc_sizes": [16, 8],
    }
    assert config["encoder_conf"]["mode"] == "frozen" and config["optim_conf"] == {"lr": 0.001}

    from espnet_brain.tasks.brain_asr import BrainASRTask

    args = BrainASRTask.get_parser().parse_args(["--config", str(run.config)])
    assert args.frontend == "brain_gru" and args.frontend_conf["fc_sizes"] == [16, 8]
    assert args.encoder_conf["mode"] == "frozen"


def test_schedule_keys_set_the_training_config_and_parse_as_trainer_options(tmp_path):
    grid = {"scheduler_conf.freeze_steps": [0, 80], "encoder_lr": [1e-4], "curriculum_epochs": [0, 3]}
    grid["num_layers"] = [1]
    archs = expand_grid(grid)
    assert [arch_id(a) for a in archs] == [
        "l1_elr0.0001_fz0_cur0",
        "l1_elr0.0001_fz0_cur3",
        "l1_elr0.0001_fz80_cur0",
        "l1_elr0.0001_fz80_cur3",
    ]
    bases = _base_configs(tmp_path)
    base = yaml.safe_load(bases["full"].read_text())
    base["scheduler"] = "transferlr"
    base["scheduler_conf"] = {"freeze_steps": 150, "warmup_steps": 150}
    bases["full"].write_text(yaml.safe_dump(base))
    runs = plan_runs({"full": bases["full"]}, archs, tmp_path / "conf")
    config = yaml.safe_load(runs[3].config.read_text())
    # the schedule keys land where the trainer reads them, the BFE key in frontend_conf, the rest untouched
    assert config["scheduler_conf"] == {"freeze_steps": 80, "warmup_steps": 150}
    assert config["encoder_lr"] == 1e-4 and config["curriculum_epochs"] == 3
    assert config["frontend_conf"]["num_layers"] == 1 and "encoder_lr" not in config["frontend_conf"]
    assert config["optim_conf"] == {"lr": 0.001}

    from espnet_brain.tasks.brain_asr import BrainASRTask

    args = BrainASRTask.get_parser().parse_args(["--config", str(runs[3].config)])
    assert (args.encoder_lr, args.curriculum_epochs, args.scheduler_conf["freeze_steps"]) == (1e-4, 3, 80)
    # an experiment trained with another schedule under the same tag is refused
    trained = tmp_path / "exp" / f"asr_{runs[3].tag}"
    trained.mkdir(parents=True)
    (trained / "config.yaml").write_text(yaml.safe_dump({**config, "encoder_lr": 1e-3}))
    with pytest.raises(ValueError, match="encoder_lr"):
        write_jobs(runs, tmp_path / "exp", "test", tmp_path / "jobs.txt")
    # a section the config does not have, and keys that are neither BFE nor training keys
    with pytest.raises(ValueError, match="no 'scheduler_conf'"):
        plan_runs({"frozen": bases["frozen"]}, expand_grid({"scheduler_conf.warmup_steps": [1]}), tmp_path / "c2")
    with pytest.raises(ValueError, match="encoder_conf.mode"):
        expand_grid({"encoder_conf.mode": ["frozen"]})


def test_pretrained_model_replaces_the_transformer_and_a_pretrained_head_only(tmp_path):
    bases = _base_configs(tmp_path)
    for label, head in (("full", "/old/model"), ("scratch", None)):
        base = yaml.safe_load(bases[label].read_text())
        bases[label].write_text(yaml.safe_dump({**base, "ctc_init": head}))
    runs = plan_runs(bases, expand_grid({"num_layers": [1]}), tmp_path / "conf", pretrained="/new/model")
    configs = {r.mode: yaml.safe_load(r.config.read_text()) for r in runs}
    assert all(c["encoder_conf"]["model_name_or_path"] == "/new/model" for c in configs.values())
    assert configs["full"]["ctc_init"] == "/new/model" and configs["scratch"]["ctc_init"] is None


def test_grid_file_and_command_line_lists_combine(tmp_path):
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump({"num_layers": [1, 3], "hidden_size": [64], "fc_sizes": ["none", "64,32"]}))
    ids = [arch_id(a) for a in build_grid(str(grid_file), None, [8, 16], None)]
    assert ids == [
        "l1_h8_fcnone",
        "l1_h8_fc64-32",
        "l1_h16_fcnone",
        "l1_h16_fc64-32",
        "l3_h8_fcnone",
        "l3_h8_fc64-32",
        "l3_h16_fcnone",
        "l3_h16_fc64-32",
    ]
    listed = tmp_path / "archs.json"
    listed.write_text('[{"num_layers": 5, "hidden_size": 512}, {"num_layers": 1, "hidden_size": 256}]')
    assert [arch_id(a) for a in build_grid(str(listed))] == ["l5_h512", "l1_h256"]
    with pytest.raises(ValueError, match="archs.json"):
        build_grid(str(listed), num_layers=[1])


def test_user_errors_name_the_key_or_file(tmp_path):
    with pytest.raises(ValueError, match="gru_layers"):
        expand_grid({"gru_layers": [1, 2]})
    with pytest.raises(ValueError, match="output_size"):
        expand_grid({"output_size": [16]})
    with pytest.raises(ValueError, match="more than once"):
        expand_grid([{"num_layers": 1}, {"num_layers": 1}])
    with pytest.raises(ValueError, match="fc_sizes"):
        sweep_grid.parse_fc_sizes("512;128")
    bases = _base_configs(tmp_path)
    archs = expand_grid({"num_layers": [1]})
    # A frozen-mode label on a fine-tuning config would mislabel every comparison.
    with pytest.raises(ValueError, match="train_brain_full.yaml.*frozen"):
        plan_runs({"frozen": bases["full"]}, archs, tmp_path / "conf")
    audio = tmp_path / "audio.yaml"
    audio.write_text(yaml.safe_dump({"frontend": "hf_cnn", "encoder": "hf_ssl"}))
    with pytest.raises(ValueError, match="audio.yaml.*brain_gru"):
        plan_runs({"other": audio}, archs, tmp_path / "conf")


def test_read_score_parses_the_score_program_output(tmp_path):
    from espnet_brain.bin.score import main as score_main

    (tmp_path / "ref").write_text("u1 abc abd\nu2 hello\n")
    hyp = tmp_path / "decode" / "text"
    hyp.parent.mkdir()
    hyp.write_text("u1 abc abe\nu2 hallo\n")
    score_main(["--ref", str(tmp_path / "ref"), "--hyp", f"x={hyp}", "--out", str(tmp_path / "RESULTS.md")])
    score = read_score(hyp.parent / "score.json")
    assert (score.char_errors, score.n_chars, score.word_errors, score.n_words, score.n_utts) == (2, 12, 2, 3, 2)
    assert score.cer == pytest.approx(100 * 2 / 12) and score.wer == pytest.approx(100 * 2 / 3)
    (tmp_path / "bad.json").write_text('{"cer": 12}\n')
    with pytest.raises(ValueError, match="bad.json"):
        read_score(tmp_path / "bad.json")
    (tmp_path / "text.json").write_text("CER 12 %\n")
    with pytest.raises(ValueError, match="text.json"):
        read_score(tmp_path / "text.json")


def test_wilcoxon_is_one_sided_for_the_reference_being_better():
    full = [10.0, 12.0, 15.0, 20.0, 22.0, 30.0]
    worse = [11.0, 14.0, 18.0, 24.0, 27.0, 36.0]
    c = compare_modes(full, worse, "full", "scratch")
    # Full better on all 6 architectures: every rank is negative, exact one-sided p = 2^-6.
    assert (c.n_pairs, c.wins, c.ties) == (6, 6, 0)
    assert c.p_value == pytest.approx(1 / 64) and c.statistic == 0.0
    assert c.median_diff == pytest.approx(3.5)
    # The same numbers with the roles swapped give no evidence that the reference is better.
    swapped = compare_modes(worse, full)
    assert swapped.wins == 0 and swapped.p_value > 0.9
    # An equal pair is a tie, not a win, and is left out of the test: p = 2^-5.
    tied = compare_modes(full, worse[:5] + [30.0])
    assert (tied.wins, tied.ties) == (5, 1) and tied.p_value == pytest.approx(1 / 32)
    nothing = compare_modes([5.0, 6.0], [5.0, 6.0])
    assert nothing.wins == 0 and nothing.p_value != nothing.p_value  # NaN: no pair differs
    with pytest.raises(ValueError, match="equal-length"):
        compare_modes([1.0, 2.0], [1.0])


def _fake_sweep(tmp_path):
    archs = expand_grid({"num_layers": [1, 2], "hidden_size": [8, 16]})
    runs = plan_runs(_base_configs(tmp_path), archs, tmp_path / "conf")
    expdir = tmp_path / "exp"
    cer = {  # char errors out of 100 per architecture: full, scratch, frozen
        "l1_h8": (20, 40, 30),
        "l1_h16": (18, 35, 25),
        "l2_h8": (15, 30, 15),
        "l2_h16": (25, 20, None),  # scratch wins here; frozen never finished
    }
    for run in runs:
        value = cer[run.arch_id][list(MODES).index(run.mode)]
        if value is not None:
            _write_score(expdir, run.tag, "test", value)
    return runs, expdir


def test_summary_comparison_report_and_plot_on_fake_scores(tmp_path):
    runs, expdir = _fake_sweep(tmp_path)
    scores = collect_scores(runs, expdir, "test")
    assert len(scores) == 11

    full = summarize_mode(runs, scores, "full")
    assert (full.n_runs, full.best_cer, full.best_arch, full.median_cer) == (4, 15.0, "l2_h8", 19.0)
    frozen = summarize_mode(runs, scores, "frozen")
    assert (frozen.n_runs, frozen.best_cer, frozen.median_cer) == (3, 15.0, 25.0)

    vs_scratch = sweep.compare_with_reference(runs, scores, "full", "scratch")
    assert (vs_scratch.n_pairs, vs_scratch.wins, vs_scratch.ties) == (4, 3, 0)
    vs_frozen = sweep.compare_with_reference(runs, scores, "full", "frozen")
    assert (vs_frozen.n_pairs, vs_frozen.wins, vs_frozen.ties) == (3, 2, 1)

    report = sweep_report(runs, scores, "full", "test", plot_name="sweep_cer.png")
    assert "| full | 4 | 15.00 | l2_h8 | 19.00 |" in report
    assert "| scratch | 4 | 3/4 | 0 |" in report and "| frozen | 3 | 2/3 | 1 |" in report
    assert "| l2_h16 | 25.00 / 10.00 | 20.00 / 10.00 | - |" in report
    assert "`bfe_l2_h16_frozen`: not run" in report

    png = tmp_path / "sweep_cer.png"
    sweep.plot_sweep(runs, scores, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stale_experiment_with_another_architecture_is_refused(tmp_path):
    runs, expdir = _fake_sweep(tmp_path)
    run = runs[0]
    trained = yaml.safe_load(run.config.read_text())
    trained["frontend_conf"]["num_layers"] = 7
    (expdir / f"asr_{run.tag}" / "config.yaml").write_text(yaml.safe_dump(trained))
    with pytest.raises(ValueError, match="num_layers"):
        collect_scores(runs, expdir, "test")


FAKE_STAGE_SCRIPT = """#!/usr/bin/env bash
# Stands in for brain_asr.sh: records its arguments, then writes a score unless told to fail.
set -euo pipefail
echo "$* backend=${ESPNET_BRAIN_CMD_BACKEND:-}" >> calls.txt
expdir=exp; tag=
while [ $# -gt 0 ]; do
  case "$1" in
    --expdir) expdir=$2; shift 2 ;;
    --asr_tag) tag=$2; shift 2 ;;
    *) shift ;;
  esac
done
[ "${tag}" = "${FAIL_TAG:-}" ] && exit 3
mkdir -p "${expdir}/asr_${tag}/decode_brain_test"
echo '{"cer": 10.0, "wer": 20.0, "char_errors": 10, "n_chars": 100, "word_errors": 2, "n_words": 10, "n_utts": 3}' \
    > "${expdir}/asr_${tag}/decode_brain_test/score.json"
"""


def _fake_recipe(tmp_path) -> Path:
    """A recipe directory with the sweep's job script and a stand-in for brain_asr.sh."""
    recipe = tmp_path / "recipe"
    (recipe / "local").mkdir(parents=True)
    shutil.copy(REPO / "egs2" / "mini_brain" / "asr1" / "local" / "sweep_job.sh", recipe / "local" / "sweep_job.sh")
    script = recipe / "brain_asr.sh"
    script.write_text(FAKE_STAGE_SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return recipe


def _launch(recipe: Path, jobs: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    """The recipe's job command (run.pl-style, JOB=1:N) over the job list, as local/sweep.sh calls it."""
    n = len(jobs.read_text().splitlines())
    launcher = REPO / "egs2" / "TEMPLATE" / "utils" / "run_local.py"
    cmd = [sys.executable, str(launcher), f"JOB=1:{n}", str(jobs.parent / "log" / "run.JOB.log")]
    cmd += ["local/sweep_job.sh", str(jobs), "JOB", *args]
    return subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_jobs_run_the_stage_script_once_per_run_and_resume(tmp_path):
    recipe = _fake_recipe(tmp_path)
    archs = expand_grid({"num_layers": [1, 2]})
    runs = plan_runs(_base_configs(tmp_path), archs, tmp_path / "conf")
    expdir, jobs = recipe / "exp", tmp_path / "sweep" / "jobs.txt"
    jobs.parent.mkdir()
    assert len(write_jobs(runs, expdir, "brain_test", jobs)) == 6
    proc = _launch(recipe, jobs, "--ngpu", "0", "--test_sets", "brain_test", "--asr_args", "--max_epoch 2",
                   env={"FAIL_TAG": "bfe_l2_scratch"})  # fmt: skip
    assert proc.returncode != 0  # the launcher reports the failed job
    failed_job = (
        jobs.read_text().splitlines().index(f"bfe_l2_scratch {(tmp_path / 'conf' / 'bfe_l2_scratch.yaml')}") + 1
    )
    assert "exit code 3" in (jobs.parent / "log" / f"run.{failed_job}.log").read_text()
    calls = (recipe / "calls.txt").read_text().splitlines()
    assert len(calls) == 6
    first = calls[0].split(" ")
    assert first[:4] == ["--stage", "6", "--stop_stage", "8"]
    config = Path(first[first.index("--asr_config") + 1])
    assert config.is_absolute() and config.exists()
    assert "--ngpu 0 --test_sets brain_test --asr_args --max_epoch 2" in calls[0]
    # Each job holds its resources already: the stage script runs its steps locally.
    assert all(c.endswith("backend=local") for c in calls)

    # Resuming runs only what has no score yet.
    assert [r.tag for r in write_jobs(runs, expdir, "brain_test", jobs)] == ["bfe_l2_scratch"]
    assert _launch(recipe, jobs).returncode == 0
    assert len((recipe / "calls.txt").read_text().splitlines()) == 7
    assert collect_scores(runs, expdir, "brain_test").keys() == {r.tag for r in runs}


def test_programs_write_configs_jobs_report_plot_and_table(tmp_path):
    recipe = _fake_recipe(tmp_path)
    bases = _base_configs(tmp_path)
    out = tmp_path / "sweep"
    expdir = recipe / "exp"
    cmd = [f"--base_config={m}={p}" for m, p in bases.items()]
    cmd += ["--num_layers", "1", "2", "--hidden_size", "8", "--fc_sizes", "none", "16"]
    cmd += ["--out_dir", str(out), "--expdir", str(expdir), "--test_set", "brain_test"]
    bfe_sweep_configs.main(cmd)
    assert len(list((out / "conf").glob("*.yaml"))) == 12
    assert len(read_runs(out / "runs.tsv")) == 12 and len((out / "jobs.txt").read_text().splitlines()) == 12
    assert _launch(recipe, out / "jobs.txt", env={"FAIL_TAG": "bfe_l2_h8_fc16_frozen"}).returncode != 0
    report_cmd = ["--out_dir", str(out), "--expdir", str(expdir), "--test_set", "brain_test"]
    assert bfe_sweep_report.main(report_cmd) == 1  # a job left no score
    assert "`bfe_l2_h8_fc16_frozen`: failed: no score after job" in (out / "SWEEP.md").read_text()
    assert _launch(recipe, out / "jobs.txt").returncode == 0
    assert bfe_sweep_report.main(report_cmd) == 0
    report = (out / "SWEEP.md").read_text()
    assert "| scratch | 4 | 0/4 | 4 |" in report  # all scores equal: ties, no wins
    assert (out / "sweep_cer.png").exists()
    rows = (out / "sweep_results.tsv").read_text().splitlines()
    assert len(rows) == 13 and rows[1].split("\t")[3] == "10.0000"
    assert os.path.exists(out / "log" / "run.1.log")
    # Rewriting the job list after a finished sweep leaves nothing to run.
    bfe_sweep_configs.main(cmd)
    assert (out / "jobs.txt").read_text() == ""
