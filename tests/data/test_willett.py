import numpy as np
import pytest
import scipy.io

from espnet_brain.data.willett import (
    FEATURE_SETS,
    list_day_files,
    load_willett_day,
    read_willett_mat,
    split_last_block,
    zscore_by_block,
)


@pytest.fixture(scope="module")
def day(tiny_corpus):
    return list_day_files(str(tiny_corpus / "brain2text24"), "train")[0]


def test_read_simulated_day(day, tiny_corpus):
    sents = load_willett_day(day)
    mat = scipy.io.loadmat(day)
    assert len(sents) == len(mat["sentenceText"])
    for i, s in enumerate(sents):
        assert s.feats.shape == (mat["tx1"][0, i].shape[0], 256) and s.feats.dtype == np.float32
        assert s.text == mat["sentenceText"][i].strip() and s.index == i and s.day == day.split("/")[-1][:-4]
        np.testing.assert_array_equal(np.isfinite(s.feats), True)
    train, dev = split_last_block(sents)
    dev_text = {line.split(" ", 1)[1].strip() for line in open(tiny_corpus / "text" / "dev.txt")}
    assert dev and {s.text for s in dev} <= dev_text and not {s.text for s in train} & dev_text
    holdout = load_willett_day(list_day_files(str(tiny_corpus / "brain2text24"), "competitionHoldOut")[0])
    assert holdout and all(s.text == "" for s in holdout)


def test_feature_sets_select_the_right_columns(day):
    mat = scipy.io.loadmat(day)
    tx1, pow_, tx3 = mat["tx1"][0, 0], mat["spikePow"][0, 0], mat["tx3"][0, 0]
    sets = {name: load_willett_day(day, name, zscore=False)[0].feats for name in FEATURE_SETS}
    np.testing.assert_array_equal(sets["tx1_spikepow_6v"], np.concatenate([tx1[:, :128], pow_[:, :128]], 1))
    np.testing.assert_array_equal(sets["tx1_spikepow_44"], np.concatenate([tx1[:, 128:], pow_[:, 128:]], 1))
    assert sets["all_thresholds_6v"].shape[1] == 640 and sets["all"].shape[1] == 1280
    np.testing.assert_array_equal(sets["all_thresholds_6v"][:, 256:384], tx3[:, :128])
    custom = load_willett_day(day, (("tx4",), ("44", "6v")), zscore=False)[0].feats
    np.testing.assert_array_equal(custom, np.concatenate([mat["tx4"][0, 0][:, 128:], mat["tx4"][0, 0][:, :128]], 1))


def test_zscore_per_block(day):
    sents = load_willett_day(day)
    blocks = np.array([s.block for s in sents])
    for b in np.unique(blocks):
        x = np.concatenate([s.feats for s, bb in zip(sents, blocks) if bb == b])
        live = x.std(0) > 0
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(x.std(0)[live], 1, atol=1e-3)
    with pytest.raises(ValueError, match="block ids"):
        zscore_by_block([np.zeros((3, 2))], [1, 2])


def _write(path, **fields):
    scipy.io.savemat(path, fields)
    return str(path)


def _cells(arrs):
    c = np.empty((1, len(arrs)), dtype=object)
    for i, a in enumerate(arrs):
        c[0, i] = a
    return c


def _valid_fields(n=2, t=5, c=4):
    arrs = [np.ones((t, c), np.float32) for _ in range(n)]
    return dict(
        sentenceText=np.array(["a.", "bb."][:n]), blockIdx=np.ones((n, 1)),
        **{f: _cells(arrs) for f in ("spikePow", "tx1", "tx2", "tx3", "tx4")},
    )  # fmt: skip


def test_cell_array_text_is_accepted(tmp_path):
    fields = _valid_fields()
    fields["sentenceText"] = _cells([np.array(["Hi there."]), np.array(["You."])])
    raw = read_willett_mat(_write(tmp_path / "cell.mat", **fields))
    assert raw["text"] == ["Hi there.", "You."]


def test_errors_name_the_file(tmp_path, day):
    with pytest.raises(FileNotFoundError):
        read_willett_mat(str(tmp_path / "nope.mat"))
    data = open(day, "rb").read()
    trunc = tmp_path / "truncated.mat"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.mat"):
        load_willett_day(str(trunc))
    fields = _valid_fields()
    del fields["tx1"]
    with pytest.raises(ValueError, match=r"missing.*tx1"):
        read_willett_mat(_write(tmp_path / "missing.mat", **fields))
    fields = _valid_fields()
    fields["blockIdx"] = np.ones((3, 1))
    with pytest.raises(ValueError, match="number of sentences"):
        read_willett_mat(_write(tmp_path / "len.mat", **fields))
    fields = _valid_fields()
    fields["spikePow"] = _cells([np.ones((5, 4), np.float32), np.ones((6, 4), np.float32)])
    with pytest.raises(ValueError, match="different shapes"):
        read_willett_mat(_write(tmp_path / "shape.mat", **fields))
    fields = _valid_fields()
    fields["tx1"] = np.ones((5, 4))
    with pytest.raises(ValueError, match="cell array"):
        read_willett_mat(_write(tmp_path / "notcell.mat", **fields))
    with pytest.raises(ValueError, match="unknown feature_set"):
        load_willett_day(day, "everything")
