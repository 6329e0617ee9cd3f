"""egs2/brain2text25/asr1 on a small corpus in the published layout (tests/fixtures/brain2text25.py).

The slow test runs the recipe as a user would: data preparation, one short training of the full fine-tuning
mode with a tiny local Wav2Vec2, decoding and scoring of the test set (data_val.hdf5), then the submission
for data_test.hdf5.
"""

import csv
import shutil

import pytest
from fixtures import brain2text25 as fixture
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

from espnet_brain.asr import submission
from espnet_brain.bin import prepare_brain2text25
from espnet_brain.data.text import normalize_transcript

FEATURE_SET = "all"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("b2t25") / "t15_copyTask_neuralData"
    return root, fixture.write_corpus(root)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, corpus):
    """The recipe run once: stages 1 (data), 2 (full fine-tuning), 5 (RESULTS.md) and 6 (submission)."""
    root, _ = corpus
    # The corpus comes from db.sh's variable here (run.sh's --corpus is tested by the '24 recipe).
    return run_full_mode(tmp_path_factory.mktemp("repo"), "brain2text25", env={"BRAIN2TEXT25": str(root)})


@pytest.mark.slow
def test_data_sets_follow_the_partitions(recipe, corpus):
    rec, _ = recipe
    _, written = corpus
    lines = {s: (rec / "data" / s / "neural.scp").read_text().splitlines() for s in ("train", "dev", "test", "holdout")}
    # 3 blocks of 4 per session in data_train: the last block (3) is dev.
    assert len(lines["train"]) == 3 * 8 and len(lines["dev"]) == 3 * 4
    assert len(lines["test"]) == sum(len(t) for t in written["val"].values())  # session 0 has no data_val
    assert len(lines["holdout"]) == 3 * 3 and not (rec / "data" / "holdout" / "text").exists()
    session = "t15.2023.08.13"
    texts = dict(line.split(" ", 1) for line in (rec / "data" / "test" / "text").read_text().splitlines())
    assert texts[f"{session}-val-trial_0001"] == normalize_transcript(written["val"][session][1]["text"])
    assert (rec / "data" / "train" / "days").read_text().split()[1::2] == sorted(written["train"])
    assert (rec / "dump" / FEATURE_SET / "neural" / "test" / "feats_shape").read_text().split()[1].endswith(",512")


@pytest.mark.slow
def test_trains_from_the_local_model_decodes_and_scores_the_test_set(recipe):
    rec, model = recipe
    log, config, row = full_mode_outputs(rec, FEATURE_SET)
    assert f"CTC layer initialised from {model}" in log and "2epoch results" in log
    assert (config["frontend_conf"]["input_size"], config["frontend_conf"]["n_days"]) == (512, 3)
    assert row[1] == "6"


@pytest.mark.slow
def test_submission_csv_has_an_id_per_test_trial_in_session_order(recipe, corpus):
    rec, _ = recipe
    _, written = corpus
    exp = rec / "exp" / f"asr_brain_full_{FEATURE_SET}"
    with open(exp / "submission_brain2text25.csv", newline="") as f:
        rows = list(csv.reader(f))
    hyps = dict((line.split(" ", 1) + [""])[:2] for line in (exp / "decode_holdout" / "text").read_text().splitlines())
    order = [f"{s}-test-{t['key']}" for s in sorted(written["test"]) for t in written["test"][s]]
    assert rows[0] == ["id", "text"]
    assert rows[1:] == [[str(i), submission.submission_text(hyps[u])] for i, u in enumerate(order)]


def test_missing_corpus_names_the_variable_and_where_to_get_it(tmp_path):
    rec = copy_recipe(tmp_path, "brain2text25")
    proc = run(rec, "--stage", "1", "--stop_stage", "1", env={"BRAIN2TEXT25": ""}, check=False)
    assert proc.returncode != 0
    assert "BRAIN2TEXT25" in proc.stderr and "doi:10.5061/dryad.dncjsxm85" in proc.stderr


def test_incomplete_corpus_lists_what_is_missing(tmp_path):
    fixture.write_corpus(tmp_path / "c", sessions=("t15.2023.08.11",))  # session 0: no data_val.hdf5
    with pytest.raises(FileNotFoundError, match=r"incomplete: no session folder holds data_val\.hdf5.*dncjsxm85"):
        prepare_brain2text25.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])
    shutil.rmtree(tmp_path / "c" / "hdf5_data_final")
    (tmp_path / "c" / "hdf5_data_final").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data_train\.hdf5 or data_val\.hdf5"):
        prepare_brain2text25.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])


@pytest.mark.slow
def test_hub_id_fails_clearly_offline(tmp_path, corpus):
    root, _ = corpus
    check_hub_id_fails_offline(tmp_path, "brain2text25", env={"BRAIN2TEXT25": str(root)})


def test_corrupt_session_file_stops_data_preparation_naming_it(tmp_path):
    fixture.write_corpus(tmp_path / "c")
    bad = tmp_path / "c" / "hdf5_data_final" / "t15.2023.08.13" / "data_val.hdf5"
    bad.write_bytes(bad.read_bytes()[:2000])
    with pytest.raises(ValueError, match=rf"{bad}: cannot read as an HDF5 file"):
        prepare_brain2text25.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])


def test_submission_csv_order_and_text(tmp_path):
    data = tmp_path / "holdout"
    data.mkdir()
    (data / "neural.scp").write_text(
        "b /h/t15.2023.08.13/data_test.hdf5 trial_0000\n"
        "z /h/t15.2023.08.11/data_test.hdf5 trial_0010\n"
        "a /h/t15.2023.08.11/data_test.hdf5 trial_0002\n"
    )
    hyp = tmp_path / "text"
    hyp.write_text("a I'M HERE, OK\nb\nz YES\n")
    out = tmp_path / "sub.csv"
    submission.write_submission("brain2text25", data, hyp, out)
    assert out.read_text() == "id,text\n0,i'm here ok\n1,yes\n2,\n"


@pytest.mark.parametrize("confdir", ["conf", "conf/tiny"])
def test_transfer_modes_differ_only_in_encoder_mode_and_ctc_init(confdir):
    assert mode_differences(REPO / "egs2" / "brain2text25" / "asr1" / confdir) == TRANSFER_MODE_DIFFERENCES


def test_reference_configuration_is_accepted_by_the_task():
    settings = reference_settings(REPO / "egs2" / "brain2text25" / "asr1" / "conf")
    recipe_specific = {"input_size": 512, "n_days": 45, "batch_size": 64, "scheduler_steps": (966, 552)}
    assert settings == {**REFERENCE_SETTINGS, **recipe_specific}
