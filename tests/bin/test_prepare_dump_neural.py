import logging

import kaldiio
import numpy as np
import pytest
import scipy.io

from espnet_brain.asr import dump as neural_dump
from espnet_brain.bin import dump_neural, prepare_willett


def _write_day(path, texts, blocks, n_bins=12, channels=8, seed=0, nan_at=None):
    """A Willett-layout day file: char-array sentenceText, 1 x S cells of T x C arrays, S x 1 blockIdx."""
    rng = np.random.default_rng(seed)
    cells = {name: np.empty((1, len(texts)), dtype=object) for name in ("tx1", "tx2", "tx3", "tx4", "spikePow")}
    for i in range(len(texts)):
        for name in cells:
            x = rng.poisson(2.0, size=(n_bins + i, channels)).astype(np.float32)
            if nan_at is not None and name == "tx1" and i == nan_at:
                x[3, 1] = np.nan
            cells[name][0, i] = x
    width = max(len(t) for t in texts) or 1
    mat = {"sentenceText": np.array([t.ljust(width) for t in texts]), "blockIdx": np.array(blocks)[:, None]}
    mat.update(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), mat)


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "competitionData"
    _write_day(root / "train" / "t12.2022.05.01.mat", ["Hello there.", "", "Good day!", "Last one."], [1, 1, 2, 2])
    _write_day(root / "train" / "t12.2022.05.03.mat", ["A b c.", "D e.", "F g."], [3, 4, 4], seed=1)
    _write_day(root / "test" / "t12.2022.05.03.mat", ["Test me."], [5], seed=2)
    _write_day(root / "competitionHoldOut" / "t12.2022.05.07.mat", ["", ""], [6, 6], seed=3)
    return root


def test_sets_dev_split_day_ids_and_skipped_empty_transcripts(corpus, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        prepare_willett.main(["--corpus", str(corpus), "--dst", str(tmp_path / "data"), "--prefix", "b_"])
    data = tmp_path / "data"
    train = (data / "b_train" / "text").read_text().splitlines()
    dev = (data / "b_dev" / "text").read_text().splitlines()
    # Day 1: block 2 is its last block -> dev; its empty sentence (block 1) is skipped and reported.
    assert train == ["t12.2022.05.01-train-0000 HELLO THERE", "t12.2022.05.03-train-0000 A B C"]
    assert dev == [
        "t12.2022.05.01-train-0002 GOOD DAY",
        "t12.2022.05.01-train-0003 LAST ONE",
        "t12.2022.05.03-train-0001 D E",
        "t12.2022.05.03-train-0002 F G",
    ]
    assert "skipped 1 sentences with an empty transcript" in caplog.text
    # One day-id mapping over all partitions, identical in every set.
    days = (data / "b_train" / "days").read_text()
    assert days == "0 t12.2022.05.01\n1 t12.2022.05.03\n2 t12.2022.05.07\n"
    assert (data / "b_holdout" / "days").read_text() == days
    assert (data / "b_test" / "utt2day").read_text() == "t12.2022.05.03-test-0000 1\n"
    assert not (data / "b_holdout" / "text").exists()
    assert len((data / "b_holdout" / "neural.scp").read_text().splitlines()) == 2


def test_dump_writes_block_zscored_features_and_shapes(corpus, tmp_path):
    prepare_willett.main(["--corpus", str(corpus), "--dst", str(tmp_path / "data")])
    out = tmp_path / "dump" / "dev"
    dump_neural.main(["--data_dir", str(tmp_path / "data" / "dev"), "--out_dir", str(out)])
    feats = dict(kaldiio.load_scp(str(out / "feats.scp")))
    assert sorted(feats) == sorted(line.split()[0] for line in (out / "text").read_text().splitlines())
    shapes = dict(line.split() for line in (out / "feats_shape").read_text().splitlines())
    for key, x in feats.items():
        assert shapes[key] == f"{x.shape[0]},{x.shape[1]}"
        assert x.shape[1] == 8  # tx1 + spikePow of area 6v = 2 x (8 / 2)
    # Day 2's block 4 holds two dev trials: together they are z-scored to mean 0, std 1.
    block4 = np.concatenate([feats["t12.2022.05.03-train-0001"], feats["t12.2022.05.03-train-0002"]])
    np.testing.assert_allclose(block4.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(block4.std(0), 1.0, atol=1e-3)
    assert (out / "utt2day").read_text() == (tmp_path / "data" / "dev" / "utt2day").read_text()


def test_nan_in_features_names_the_file_and_utterance(tmp_path):
    _write_day(tmp_path / "c" / "train" / "t12.2022.01.01.mat", ["One.", "Two.", "Three."], [1, 1, 2], nan_at=0)
    _write_day(tmp_path / "c" / "test" / "t12.2022.01.01.mat", ["Four."], [3])
    prepare_willett.main(["--corpus", str(tmp_path / "c"), "--dst", str(tmp_path / "data")])
    with pytest.raises(ValueError, match=r"t12\.2022\.01\.01\.mat: utterance t12\.2022\.01\.01-train-0000 .*NaN/Inf"):
        dump_neural.main(["--data_dir", str(tmp_path / "data" / "train"), "--out_dir", str(tmp_path / "dump")])


def test_missing_corpus_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dryad"):
        prepare_willett.main(["--corpus", str(tmp_path / "nowhere"), "--dst", str(tmp_path / "data")])


def test_malformed_neural_scp_line_is_reported(tmp_path):
    (tmp_path / "neural.scp").write_text("u1 /x.mat 0\nu2 /x.mat\n")
    with pytest.raises(ValueError, match=r"neural.scp:2"):
        neural_dump.read_neural_scp(tmp_path / "neural.scp")
