"""Stage 6 of brain2text24 and brain2text25 (the competition submission, egs2/TEMPLATE/asr1/brain_submit.sh) with a
brain_asr.sh and a python3 that record their arguments: which system is decoded, which hypotheses are submitted, in
which format and file. Seconds, no training."""

import os
import sys
from pathlib import Path

import pytest
from fixtures.recipes import copy_recipe, run

FAKE_BRAIN_ASR = """#!/usr/bin/env bash
printf '%s\\n' "$@" >"${FAKE_CALLS}/brain_asr"
"""

FAKE_PYTHON3 = """#!/usr/bin/env bash
# records the submission writer's arguments; anything else runs for real
if [ "${1-}" = -m ] && [ "${2-}" = espnet_brain.bin.write_submission ]; then
    printf '%s\\n' "$@" >"${FAKE_CALLS}/write_submission"
    exit 0
fi
exec "${REAL_PYTHON3}" "$@"
"""


def _recipe(tmp_path: Path, corpus: str):
    recipe = copy_recipe(tmp_path, corpus)
    (recipe / "brain_asr.sh").unlink()
    (recipe / "brain_asr.sh").write_text(FAKE_BRAIN_ASR)
    (recipe / "brain_asr.sh").chmod(0o755)
    fakebin, calls = tmp_path / "fakebin", tmp_path / "calls"
    fakebin.mkdir()
    calls.mkdir()
    (fakebin / "python3").write_text(FAKE_PYTHON3)
    (fakebin / "python3").chmod(0o755)
    path = f"{fakebin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {"PATH": path, "FAKE_CALLS": str(calls), "REAL_PYTHON3": sys.executable}
    return recipe, calls, env


@pytest.mark.parametrize(
    "corpus, options, exp, hyp, out",
    [
        (
            "brain2text24",
            [],
            "exp/asr_brain_full_tx1_spikepow_6v",
            "decode_holdout/text",
            "submission_brain2text24.txt",
        ),
        (
            "brain2text25",
            ["--submit_mode", "frozen", "--zscore", "train", "--causal", "true", "--decoders", "greedy beam"],
            "exp/asr_brain_frozen_causal_all_zscoretrain",
            "decode_holdout/beam/text",
            "submission_brain2text25.csv",
        ),
    ],
)
def test_submission_decodes_the_chosen_system_and_writes_the_competition_file(tmp_path, corpus, options, exp, hyp, out):
    recipe, calls, env = _recipe(tmp_path, corpus)
    (recipe / "data" / "holdout").mkdir(parents=True)
    decoder = ["--submit_decoder", "beam"] if "beam" in hyp else []
    (recipe / exp / hyp).parent.mkdir(parents=True)
    (recipe / exp / hyp).write_text("utt-0000 hello\n")
    run(recipe, "--stage", "6", "--stop_stage", "6", *options, *decoder, env=env)
    brain_asr = (calls / "brain_asr").read_text().splitlines()
    mode = "frozen" if "frozen" in exp else "full"
    assert brain_asr[-10:] == [
        "--mode", mode, "--test_sets", "holdout", "--stage", "2", "--stop_stage", "7", "--skip_stages", "3 4 5 6"
    ]  # fmt: skip
    # the recipe's own brain_asr.sh options come first
    feature_set = "tx1_spikepow_6v" if corpus == "brain2text24" else "all"
    assert brain_asr[brain_asr.index("--feature_set") + 1] == feature_set
    assert brain_asr[brain_asr.index("--zscore") + 1] == ("train" if "zscore" in exp else "block")
    assert brain_asr[brain_asr.index("--causal") + 1] == ("true" if "causal" in exp else "false")
    assert (calls / "write_submission").read_text().splitlines() == [
        "-m", "espnet_brain.bin.write_submission", "--format", corpus, "--data_dir", "data/holdout",
        "--hyp", f"{exp}/{hyp}", "--out", f"{exp}/{out}",
    ]  # fmt: skip


@pytest.mark.parametrize("corpus, missing", [("brain2text24", "competitionHoldOut/"), ("brain2text25", "data_test")])
def test_missing_holdout_or_hypotheses_are_named(tmp_path, corpus, missing):
    recipe, calls, env = _recipe(tmp_path, corpus)
    proc = run(recipe, "--stage", "6", "--stop_stage", "6", env=env, check=False)
    assert proc.returncode != 0
    assert f"data/holdout does not exist: the corpus has no {missing}" in proc.stderr
    (recipe / "data" / "holdout").mkdir(parents=True)
    proc = run(recipe, "--stage", "6", "--stop_stage", "6", "--submit_decoder", "beam", env=env, check=False)
    assert proc.returncode != 0
    assert "decode_holdout/beam/text not found: --submit_decoder must be one of --decoders (greedy)" in proc.stderr
    assert not (calls / "write_submission").exists()
