"""egs2/brain2text24/asr1 on a small corpus in the published layout (tests/fixtures/brain2text24.py).

The slow test runs the recipe as a user would: data preparation, one short training of the full fine-tuning
mode with a tiny local Wav2Vec2, decoding and scoring of the test set, then the holdout submission.
"""

import shutil

import numpy as np
import pytest
import scipy.io
from fixtures import brain2text24 as fixture
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
from espnet_brain.bin import prepare_willett
from espnet_brain.data.text import normalize_transcript

FEATURE_SET = "tx1_spikepow_6v"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("b2t24") / "competitionData"
    return root, fixture.write_corpus(root)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, corpus):
    """The recipe run once: stages 1 (data), 2 (full fine-tuning), 5 (RESULTS.md) and 6 (submission)."""
    root, _ = corpus
    return run_full_mode(tmp_path_factory.mktemp("repo"), "brain2text24", "--corpus", str(root))


@pytest.mark.slow
def test_data_sets_follow_the_corpus_partitions(recipe, corpus):
    rec, _ = recipe
    _, written = corpus
    n_train = sum(len(d["blocks"]) for d in written["train"])
    train = (rec / "data" / "train" / "text").read_text().splitlines()
    dev = (rec / "data" / "dev" / "text").read_text().splitlines()
    # Dev is the last block of each training day (block 5 of blocks 3-5, 4 sentences per block).
    assert len(dev) == 4 * len(written["train"]) and len(train) + len(dev) == n_train
    first_day = written["train"][0]
    dev_texts = [normalize_transcript(t) for t, b in zip(first_day["texts"], first_day["blocks"]) if b == 5]
    assert [line.split(" ", 1)[1] for line in dev[:4]] == dev_texts
    assert len((rec / "data" / "test" / "text").read_text().splitlines()) == 9
    assert not (rec / "data" / "holdout" / "text").exists()
    assert (rec / "data" / "train" / "days").read_text().split()[1::2] == [p["path"].stem for p in written["train"]]


@pytest.mark.slow
def test_trains_from_the_local_model_decodes_and_scores_the_test_set(recipe):
    rec, model = recipe
    log, config, row = full_mode_outputs(rec, FEATURE_SET)
    assert f"CTC layer initialised from {model}" in log and "2epoch results" in log
    assert (config["frontend_conf"]["input_size"], config["frontend_conf"]["n_days"]) == (256, 3)
    assert config["encoder_conf"]["model_name_or_path"] == str(model)
    assert row[1] == "9"  # every test sentence scored
    exp = rec / "exp" / f"asr_brain_full_{FEATURE_SET}"
    assert len((exp / "decode_test" / "text").read_text().splitlines()) == 9


@pytest.mark.slow
def test_submission_has_one_line_per_holdout_sentence_in_corpus_order(recipe, corpus):
    rec, _ = recipe
    _, written = corpus
    exp = rec / "exp" / f"asr_brain_full_{FEATURE_SET}"
    lines = (exp / "submission_brain2text24.txt").read_text().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == sum(len(d["blocks"]) for d in written["competitionHoldOut"])
    hyps = dict((line.split(" ", 1) + [""])[:2] for line in (exp / "decode_holdout" / "text").read_text().splitlines())
    expected = [
        submission.submission_text(hyps[f"{d['path'].stem}-holdout-{i:04d}"])
        for d in written["competitionHoldOut"]
        for i in range(len(d["blocks"]))
    ]
    assert lines[:-1] == expected


def test_missing_corpus_names_the_variable_and_where_to_get_it(tmp_path):
    rec = copy_recipe(tmp_path, "brain2text24")
    proc = run(rec, "--stage", "1", "--stop_stage", "1", env={"BRAIN2TEXT24": ""}, check=False)
    assert proc.returncode != 0
    assert "BRAIN2TEXT24" in proc.stderr and "doi:10.5061/dryad.x69p8czpq" in proc.stderr


def test_incomplete_corpus_lists_what_is_missing(tmp_path):
    fixture.write_corpus(tmp_path / "c", days=("t12.2022.05.05",), holdout_days=())
    shutil.rmtree(tmp_path / "c" / "test")
    with pytest.raises(FileNotFoundError, match=r"incomplete: .*test/ is missing.*dryad\.x69p8czpq"):
        prepare_willett.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])


@pytest.mark.slow
def test_hub_id_fails_clearly_offline(tmp_path, corpus):
    root, _ = corpus
    check_hub_id_fails_offline(tmp_path, "brain2text24", "--corpus", str(root))


def test_char_matrix_and_cell_array_texts_and_both_cell_orientations(corpus, tmp_path):
    root, written = corpus
    raw = [scipy.io.loadmat(str(d["path"])) for d in written["train"][:2]]
    assert raw[0]["sentenceText"].dtype.kind == "U" and raw[1]["sentenceText"].dtype == object
    assert raw[0]["tx1"].shape[0] == 1 and raw[1]["tx1"].shape[1] == 1
    prepare_willett.main(["--corpus", str(root), "--dst", str(tmp_path / "data")])
    texts = dict(line.split(" ", 1) for line in (tmp_path / "data" / "train" / "text").read_text().splitlines())
    for d in written["train"][:2]:
        assert texts[f"{d['path'].stem}-train-0000"] == normalize_transcript(d["texts"][0])


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate", r"cannot read as a MATLAB v5 file"),
        ("no_blockIdx", r"missing field\(s\) \['blockIdx'\]"),
        ("short_text", r"fields disagree on the number of sentences"),
    ],
)
def test_malformed_day_file_is_named(tmp_path, damage, message):
    fixture.write_corpus(tmp_path / "c", days=("t12.2022.05.05", "t12.2022.05.17"), holdout_days=())
    bad = tmp_path / "c" / "train" / "t12.2022.05.17.mat"
    if damage == "truncate":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])
    else:
        mat = {k: v for k, v in scipy.io.loadmat(str(bad)).items() if not k.startswith("__")}
        if damage == "no_blockIdx":
            del mat["blockIdx"]
        else:
            mat["sentenceText"] = np.asarray(mat["sentenceText"])[:-1]
        scipy.io.savemat(str(bad), mat)
    with pytest.raises(ValueError, match=rf"{bad}: .*{message}"):
        prepare_willett.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])


def test_submission_follows_file_and_trial_order_not_utterance_ids(tmp_path):
    data = tmp_path / "holdout"
    data.mkdir()
    # Utterance ids that sort differently from the corpus order (day files, then trial index 2 < 10).
    (data / "neural.scp").write_text(
        "b /c/t12.2022.06.02.mat 0\nz /c/t12.2022.05.05.mat 10\na /c/t12.2022.05.05.mat 2\n"
    )
    hyp = tmp_path / "text"
    hyp.write_text("a HELLO, THERE\nb\nz IT'S ME\n")
    out = tmp_path / "sub.txt"
    assert submission.write_submission("brain2text24", data, hyp, out) == 3
    assert out.read_text() == "hello there\nit's me\n\n"
    hyp.write_text("a HELLO\nz X\n")
    with pytest.raises(ValueError, match=r"no hypothesis for 1 of the 3 utterances.*\['b'\]"):
        submission.write_submission("brain2text24", data, hyp, out)


@pytest.mark.parametrize("confdir", ["conf", "conf/tiny"])
def test_transfer_modes_differ_only_in_encoder_mode_and_ctc_init(confdir):
    assert mode_differences(REPO / "egs2" / "brain2text24" / "asr1" / confdir) == TRANSFER_MODE_DIFFERENCES


def test_reference_configuration_is_accepted_by_the_task():
    settings = reference_settings(REPO / "egs2" / "brain2text24" / "asr1" / "conf")
    recipe_specific = {"input_size": 256, "n_days": 24, "batch_size": 64, "scheduler_steps": (966, 552)}
    assert settings == {**REFERENCE_SETTINGS, **recipe_specific}
