"""Reader of the Brain-to-text '25 session files, on fixtures in the published layout."""

from pathlib import Path

import h5py
import kaldiio
import numpy as np
import pytest
from fixtures import brain2text25 as fixture

from espnet_brain.bin import dump_neural
from espnet_brain.data import brain2text25


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("b2t25") / "t15_copyTask_neuralData"
    return root, fixture.write_corpus(root)


def _file(root, session, part):
    return str(root / "hdf5_data_final" / session / f"data_{part}.hdf5")


def test_labelled_trials_in_order_with_text_and_phonemes(corpus):
    root, written = corpus
    session = "t15.2023.08.13"  # string attributes stored as bytes
    trials = brain2text25.read_trials(_file(root, session, "train"), require_labels=True)
    expected = written["train"][session]
    assert [t.key for t in trials] == [e["key"] for e in expected]
    for t, e in zip(trials, expected):
        assert t.text == e["text"] and t.block == e["block"] and t.trial == e["trial"]
        assert t.session == session and t.feats.shape == (e["n"], 512) and t.feats.dtype == np.float32
        assert t.n_frames == e["n"]
        assert t.phonemes is not None and 0 < len(t.phonemes) < fixture.PAD and t.phonemes.min() >= 1


def test_unlabelled_test_file(corpus):
    root, written = corpus
    trials = brain2text25.read_trials(_file(root, "t15.2023.08.11", "test"), load_features=False)
    assert [t.text for t in trials] == [""] * 3 and all(t.feats is None and t.phonemes is None for t in trials)
    with pytest.raises(ValueError, match=r"data_test\.hdf5: trial_0000: no sentence_label .*unlabelled"):
        brain2text25.read_trials(_file(root, "t15.2023.08.11", "test"), require_labels=True)


def test_transcription_codes_are_the_fallback_text(tmp_path):
    path = tmp_path / "s" / "data_train.hdf5"
    fixture.write_session_file(path, "t15.2024.01.01", [1, 1], np.random.default_rng(0), labelled=True)
    with h5py.File(path, "a") as f:
        label = f["trial_0001"].attrs["sentence_label"]
        del f["trial_0001"].attrs["sentence_label"]
    trials = brain2text25.read_trials(str(path), load_features=False)
    assert trials[1].text == label
    assert brain2text25.decode_transcription(np.array([72, 105, 0, 0, 33])) == "Hi"


def test_feature_sets_pick_the_documented_columns(tmp_path):
    path = tmp_path / "data_val.hdf5"
    with h5py.File(path, "w") as f:
        g = f.create_group("trial_0000")
        g.create_dataset("input_features", data=np.tile(np.arange(512, dtype=np.float32), (3, 1)))
        g.attrs.update(n_time_steps=3, session="s", block_num=1, trial_num=0)
    cols = {
        name: brain2text25.read_trials(str(path), feature_set=name)[0].feats[0] for name in brain2text25.FEATURE_SETS
    }
    np.testing.assert_array_equal(cols["all"], np.arange(512))
    np.testing.assert_array_equal(cols["tx_all"], np.arange(256))
    np.testing.assert_array_equal(cols["sbp_all"], np.arange(256, 512))
    # ventral 6v (columns 0-63 / 256-319) and dorsal 6v (192-255 / 448-511)
    np.testing.assert_array_equal(cols["tx_sbp_6v"], np.r_[0:64, 192:256, 256:320, 448:512])


def test_block_zscoring_and_dump_of_session_files(corpus, tmp_path):
    root, written = corpus
    path = _file(root, "t15.2023.08.18", "train")
    trials = brain2text25.load_session_file(path)
    block1 = np.concatenate([t.feats for t in trials if t.block == 1])
    np.testing.assert_allclose(block1.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(block1.std(0), 1.0, atol=1e-3)
    data = tmp_path / "data"
    data.mkdir()
    (data / "neural.scp").write_text(f"u1 {path} trial_0002\nu0 {path} trial_0000\n")
    dump_neural.main(["--data_dir", str(data), "--out_dir", str(tmp_path / "dump"), "--feature_set", "tx_all"])
    feats = dict(kaldiio.load_scp(str(tmp_path / "dump" / "feats.scp")))
    np.testing.assert_allclose(feats["u1"], trials[2].feats[:, :256], rtol=1e-6)
    assert feats["u0"].shape == (written["train"]["t15.2023.08.18"][0]["n"], 256)


def test_dump_rejects_a_feature_set_of_the_other_corpus(corpus, tmp_path):
    root, _ = corpus
    data = tmp_path / "data"
    data.mkdir()
    (data / "neural.scp").write_text(f"u0 {_file(root, 't15.2023.08.18', 'train')} trial_0000\n")
    with pytest.raises(ValueError, match=r"data_train\.hdf5: unknown feature_set 'tx1_spikepow_6v'"):
        dump_neural.main(["--data_dir", str(data), "--out_dir", str(tmp_path / "dump")])
    (data / "neural.scp").write_text(f"u0 {_file(root, 't15.2023.08.18', 'train')} trial_0099\n")
    with pytest.raises(ValueError, match=r"utterance u0 refers to trial trial_0099, the file has 12 trials"):
        dump_neural.main(["--data_dir", str(data), "--out_dir", str(tmp_path / "dump"), "--feature_set", "all"])


def _damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(b"this is not an HDF5 file" * 10)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        with h5py.File(path, "a") as f:
            g = f["trial_0001"]
            if how == "no_features":
                del g["input_features"]
            elif how == "n_time_steps":
                g.attrs["n_time_steps"] = g["input_features"].shape[0] + 3
            elif how == "no_session":
                del g.attrs["session"]
            elif how == "width":
                x = g["input_features"][()]
                del g["input_features"]
                g.create_dataset("input_features", data=x[:, :300])
            elif how == "seq_len":
                g.attrs["seq_len"] = 10_000
            elif how == "one_dim":
                del g["input_features"]
                g.create_dataset("input_features", data=np.zeros(7, dtype=np.float32))


@pytest.mark.parametrize(
    "how, message",
    [
        ("garbage", r"cannot read as an HDF5 file"),
        ("truncated", r"cannot read as an HDF5 file"),
        ("no_features", r"trial_0001: missing dataset input_features"),
        ("n_time_steps", r"trial_0001: n_time_steps is \d+ but input_features has \d+ rows"),
        ("no_session", r"trial_0001: missing attribute\(s\) \['session'\]"),
        ("width", r"trial_0001: 300 features per bin, trial_0000 has 512"),
        ("seq_len", r"trial_0001: seq_len 10000 exceeds the 500 seq_class_ids"),
        ("one_dim", r"trial_0001: input_features must be \(T, features\), got shape \(7,\)"),
    ],
)
def test_malformed_files_are_named(tmp_path, how, message):
    path = tmp_path / "t15.2024.01.01" / "data_train.hdf5"
    fixture.write_session_file(path, "t15.2024.01.01", [1, 1, 2], np.random.default_rng(1), labelled=True)
    _damage(path, how)
    with pytest.raises(ValueError, match=rf"{path}: {message}"):
        brain2text25.read_trials(str(path))


def test_missing_file_and_unknown_partition(tmp_path):
    with pytest.raises(FileNotFoundError, match="Brain-to-text '25 file not found"):
        brain2text25.read_trials(str(tmp_path / "nope.hdf5"))
    with pytest.raises(ValueError, match="partition must be one of"):
        brain2text25.list_session_files(str(tmp_path), "dev")


def test_trial_container_written_by_the_package_reads_back(tmp_path):
    feats = [np.random.default_rng(i).normal(size=(5 + i, 7)).astype(np.float32) for i in range(3)]
    path = tmp_path / "x.hdf5"
    brain2text25.write_trials(
        str(path),
        [{"feats": x, "session": "sub-01", "block": 1, "trial": i, "text": "Hi."} for i, x in enumerate(feats)],
    )
    trials = brain2text25.read_trials(str(path), require_labels=True)
    assert [t.key for t in trials] == ["trial_0000", "trial_0001", "trial_0002"]
    for t, x in zip(trials, feats):
        np.testing.assert_array_equal(t.feats, x)
        assert t.text == "Hi." and t.session == "sub-01"
    with pytest.raises(
        ValueError, match=r"feature_set 'tx_all' needs the 512 Brain-to-text '25 columns, the file has 7"
    ):
        brain2text25.read_trials(str(path), feature_set="tx_all")


def test_dump_writes_a_sorted_scp_and_refuses_mixed_feature_sizes(corpus, tmp_path):
    root, _ = corpus
    data = tmp_path / "data"
    data.mkdir()
    a, b = _file(root, "t15.2023.08.18", "train"), _file(root, "t15.2023.08.11", "train")
    # Files are read in path order (08.11 first), utterance ids sort the other way.
    (data / "neural.scp").write_text(f"a1 {a} trial_0001\nz0 {b} trial_0000\nb0 {a} trial_0000\n")
    dump_neural.main(["--data_dir", str(data), "--out_dir", str(tmp_path / "dump"), "--feature_set", "all"])
    keys = [line.split()[0] for line in (tmp_path / "dump" / "feats.scp").read_text().splitlines()]
    assert keys == ["a1", "b0", "z0"]
    assert [line.split()[0] for line in (tmp_path / "dump" / "feats_shape").read_text().splitlines()] == keys
    small = tmp_path / "x.hdf5"
    brain2text25.write_trials(str(small), [{"feats": np.zeros((4, 7)), "session": "s", "block": 1, "trial": 0}])
    (data / "neural.scp").write_text(f"a1 {a} trial_0001\nz9 {small} trial_0000\n")
    with pytest.raises(ValueError, match=r"utterance z9 \(.*x\.hdf5\) has 7 features per bin, a1 has 512"):
        dump_neural.main(["--data_dir", str(data), "--out_dir", str(tmp_path / "dump2"), "--feature_set", "all"])
