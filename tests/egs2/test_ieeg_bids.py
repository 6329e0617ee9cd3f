"""egs2/ieeg_bids/asr1 on the synthetic iEEG-BIDS part of the embedded corpus (BrainVision + BIDS sidecars).

The slow test runs the recipe as a user would: high-gamma features and data directories, one short training
of the full fine-tuning mode with a tiny local Wav2Vec2, decoding and scoring of the test set.
"""

import csv
import json
import shutil
from pathlib import Path

import h5py
import pytest
import yaml
from fixtures.recipes import (
    REFERENCE_SETTINGS,
    REPO,
    TRANSFER_MODE_DIFFERENCES,
    check_hub_id_fails_offline,
    copy_recipe,
    full_mode_outputs,
    mode_differences,
    reference_settings,
    run,
    run_full_mode,
)

from espnet_brain.bin import prepare_ieeg_bids
from espnet_brain.data.text import normalize_transcript
from espnet_brain.simulate import ensure_corpus

FEAT_TAG = "hg70-170_50hz_none"
SPLIT = ("--dev_fraction", "0.2", "--test_fraction", "0.2")  # enough dev and test sentences in the tiny corpus


@pytest.fixture(scope="module")
def bids(tmp_path_factory):
    root = tmp_path_factory.mktemp("ieeg") / "corpus"
    ensure_corpus(str(root), "tiny", 0, parts="ieeg")
    return root / "ieeg_bids"


def _events(bids_root: Path):
    out = {}
    for path in sorted(bids_root.glob("sub-*/ses-*/ieeg/*_events.tsv")):
        with open(path, newline="") as f:
            out[path.name.replace("_events.tsv", "")] = list(csv.DictReader(f, delimiter="\t"))
    return out


def _edit_tsv(path: Path, edit) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rows, fields = edit(rows)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, bids):
    """The recipe run once: stages 1 (features, data), 2 (full fine-tuning), 5 (RESULTS.md)."""
    return run_full_mode(tmp_path_factory.mktemp("repo"), "ieeg_bids", "--bids_root", str(bids), *SPLIT)


@pytest.mark.slow
def test_features_are_high_gamma_segments_of_the_good_channels_at_50_hz(recipe, bids):
    rec, _ = recipe
    events = _events(bids)
    shapes = {}
    for s in ("train", "dev", "test"):
        for line in (rec / "dump" / FEAT_TAG / "neural" / s / "feats_shape").read_text().splitlines():
            utt, shape = line.split()
            shapes[utt] = tuple(int(v) for v in shape.split(","))
    assert len(shapes) == sum(len(rows) for rows in events.values())
    for name, rows in events.items():
        for i, row in enumerate(rows):
            frames, channels = shapes[f"{name}-{i:04d}"]
            assert channels == 7  # 8 contacts, LA1 marked bad in channels.tsv
            assert frames == round((float(row["onset"]) + float(row["duration"])) * 50) - round(
                float(row["onset"]) * 50
            )
    with h5py.File(rec / "data" / "local" / "features" / "sub-01_ses-02_task-sentences_run-01.hdf5", "r") as f:
        assert f["trial_0003"].attrs["session"] == "sub-01_ses-02"
    assert (rec / "data" / "train" / "days").read_text() == "0 sub-01_ses-01\n1 sub-01_ses-02\n"


@pytest.mark.slow
def test_sets_never_share_a_sentence(recipe, bids):
    rec, _ = recipe
    texts = {s: (rec / "data" / s / "text").read_text().splitlines() for s in ("train", "dev", "test")}
    by_set = {s: {line.split(" ", 1)[1] for line in lines} for s, lines in texts.items()}
    assert not (by_set["train"] & by_set["dev"]) and not (by_set["train"] & by_set["test"])
    assert not (by_set["dev"] & by_set["test"]) and all(by_set.values())
    events = _events(bids)
    name = "sub-01_ses-01_task-sentences_run-01"
    all_text = dict(line.split(" ", 1) for lines in texts.values() for line in lines)
    assert all_text[f"{name}-0002"] == normalize_transcript(events[name][2]["sentence"])


@pytest.mark.slow
def test_trains_from_the_local_model_decodes_and_scores_the_test_set(recipe):
    rec, model = recipe
    log, config, row = full_mode_outputs(rec, FEAT_TAG)
    assert f"CTC layer initialised from {model}" in log and "2epoch results" in log
    assert (config["frontend_conf"]["input_size"], config["frontend_conf"]["n_days"]) == (7, 2)
    # 9 training sentences at batch 8: 2 updates per epoch; 7 and 4 epochs of them.
    assert (config["scheduler_conf"]["freeze_steps"], config["scheduler_conf"]["warmup_steps"]) == (14, 8)
    assert row[1] == str(len((rec / "data" / "test" / "text").read_text().splitlines()))


@pytest.mark.slow
def test_learning_rates_chosen_on_the_dev_set_from_short_runs(recipe):
    """brain_asr.sh --lr_grid: one short run per pair, the best dev loss picks the rates of the full run."""
    rec, model = recipe
    run(
        rec, "--feature_set", "all", "--zscore", "none", "--tag", FEAT_TAG, "--feats_type", "neural",
        "--train_set", "train", "--valid_set", "dev", "--test_sets", "test", "--pretrained_model", str(model),
        "--confdir", "conf/tiny", "--mode", "full", "--asr_tag", "lr_search", "--stage", "6", "--stop_stage", "6",
        "--lr_grid", "0.001:0.0001 1e-9:1e-9", "--lr_grid_epochs", "1", "--asr_args", "--max_epoch 1",
        script="./brain_asr.sh",
    )  # fmt: skip
    exp = rec / "exp" / "asr_lr_search"
    selection = json.loads((exp / "lr_selection.json").read_text())
    assert [(r["lr"], r["encoder_lr"]) for r in selection["runs"]] == [(0.001, 0.0001), (1e-9, 1e-9)]
    assert all((exp / "lr_search" / d / "checkpoint.pth").is_file() for d in ("lr0.001_enc0.0001", "lr1e-9_enc1e-9"))
    # a rate of 1e-9 learns nothing in one epoch: the usable rate wins and the full run trains with it
    assert (selection["chosen"]["lr"], selection["chosen"]["encoder_lr"]) == (0.001, 0.0001)
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["optim_conf"]["lr"] == 0.001 and config["encoder_lr"] == 0.0001
    assert "| 0.001 | 0.0001 |" in (exp / "lr_selection.md").read_text()


def test_missing_dataset_names_the_variable_and_what_it_needs(tmp_path):
    rec = copy_recipe(tmp_path, "ieeg_bids")
    proc = run(rec, "--stage", "1", "--stop_stage", "1", env={"IEEG_BIDS": ""}, check=False)
    assert proc.returncode != 0 and "IEEG_BIDS" in proc.stderr and "events.tsv" in proc.stderr
    with pytest.raises(FileNotFoundError, match=r"iEEG-BIDS dataset not found at .*nowhere"):
        prepare_ieeg_bids.main(["--bids_root", str(tmp_path / "nowhere"), "--dst", "d", "--feats_dir", "f"])


def test_no_recording_of_the_task(bids, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no iEEG recordings for task 'reading'"):
        prepare_ieeg_bids.main(
            [
                "--bids_root",
                str(bids),
                "--dst",
                str(tmp_path / "d"),
                "--feats_dir",
                str(tmp_path / "f"),
                "--task",
                "reading",
            ]
        )


@pytest.mark.slow
def test_hub_id_fails_clearly_offline(tmp_path, bids):
    check_hub_id_fails_offline(tmp_path, "ieeg_bids", *SPLIT, env={"IEEG_BIDS": str(bids)})


def _prepare(bids_root: Path, tmp_path: Path, *args: str) -> Path:
    prepare_ieeg_bids.main(
        ["--bids_root", str(bids_root), "--dst", str(tmp_path / "data"), "--feats_dir", str(tmp_path / "feats"), *args]
    )
    return tmp_path / "data"


def test_channels_bad_in_one_session_are_dropped_from_all(bids, tmp_path):
    copy = tmp_path / "bids"
    shutil.copytree(bids, copy)
    tsv = next(copy.glob("sub-01/ses-02/ieeg/*_channels.tsv"))

    def mark_la3(rows):
        for r in rows:
            if r["name"] == "LA3":
                r["status"] = "bad"
        return rows, list(rows[0])

    _edit_tsv(tsv, mark_la3)
    data = _prepare(copy, tmp_path, "--dev_fraction", "0.2", "--test_fraction", "0.2")
    for path in sorted((tmp_path / "feats").glob("*.hdf5")):
        with h5py.File(path, "r") as f:
            assert f["trial_0000"]["input_features"].shape[1] == 6  # LA1 (both) and LA3 (ses-02) dropped
    assert (data / "train" / "utt2day").is_file()


def test_text_and_split_columns_band_rate_and_rereference(bids, tmp_path):
    copy = tmp_path / "bids"
    shutil.copytree(bids, copy)
    for tsv in copy.glob("sub-01/ses-*/ieeg/*_events.tsv"):

        def rename(rows):
            for i, r in enumerate(rows):
                r["transcript"] = r.pop("sentence")
                r["split"] = ("train", "train", "dev", "test")[i % 4]
            return rows, list(rows[0])

        _edit_tsv(tsv, rename)
    with pytest.raises(ValueError, match=r"no 'sentence' column"):
        _prepare(copy, tmp_path / "a")
    data = _prepare(copy, tmp_path / "b", "--text_column", "transcript", "--split_column", "split", "--sfreq", "100",
                    "--band", "60", "150", "--reref", "bipolar")  # fmt: skip
    assert [len((data / s / "text").read_text().splitlines()) for s in ("train", "dev", "test")] == [8, 4, 4]
    name = "sub-01_ses-01_task-sentences_run-01"
    row = _events(copy)[name][2]
    dev = dict(line.split(" ", 1) for line in (data / "dev" / "text").read_text().splitlines())
    assert dev[f"{name}-0002"] == normalize_transcript(row["transcript"])
    with h5py.File(tmp_path / "b" / "feats" / f"{name}.hdf5", "r") as f:
        frames, channels = f["trial_0002"]["input_features"].shape
    assert channels == 6  # bipolar pairs of the 7 good contacts LA2..LA8
    assert frames == round((float(row["onset"]) + float(row["duration"])) * 100) - round(float(row["onset"]) * 100)


def test_split_fractions_that_leave_no_training_sentences_are_refused(bids, tmp_path):
    with pytest.raises(ValueError, match=r"cannot give .* to test, .* to dev and some to train"):
        _prepare(bids, tmp_path, "--dev_fraction", "0.5", "--test_fraction", "0.5")


@pytest.mark.parametrize("confdir", ["conf", "conf/tiny"])
def test_transfer_modes_differ_only_in_encoder_mode_and_ctc_init(confdir):
    assert mode_differences(REPO / "egs2" / "ieeg_bids" / "asr1" / confdir) == TRANSFER_MODE_DIFFERENCES


def test_reference_configuration_is_accepted_by_the_task():
    settings = reference_settings(REPO / "egs2" / "ieeg_bids" / "asr1" / "conf")
    # Overt speech needs a finer stride than attempted speech for CTC (40 ms steps instead of 80 ms).
    recipe_specific = {
        "input_size": 64,
        "n_days": 4,
        "batch_size": 16,
        "scheduler_steps": (140, 80),
        "bfe_filter": (32, 2, 0.45, 2.0),
    }
    assert settings == {**REFERENCE_SETTINGS, **recipe_specific}
