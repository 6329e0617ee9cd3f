"""Kaldi-style data directories: the writer every corpus preparer uses and the two-column reader."""

import pytest

from espnet_brain.data.datadir import Row, read_2columns, write_set


def test_read_2columns_rejects_duplicates(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 hello\nu2\nu1 again\n")
    with pytest.raises(ValueError, match="u1"):
        read_2columns(str(p))


def test_read_2columns_keeps_empty_values_and_file_order(tmp_path):
    p = tmp_path / "text"
    p.write_text("u2 two  words\nu1\n")
    assert list(read_2columns(p).items()) == [("u2", "two  words"), ("u1", "")]


def test_write_set_writes_a_sorted_data_directory_with_shared_day_ids(tmp_path):
    rows = [Row("d2-0001", "/c/d2.mat", 1, "d2", "YES"), ("d1-0000", "/c/d1.mat", 0, "d1", "HELLO THERE")]
    write_set(rows, ["d1", "d2", "d3"], tmp_path / "train", with_text=True)
    out = tmp_path / "train"
    assert (out / "neural.scp").read_text() == "d1-0000 /c/d1.mat 0\nd2-0001 /c/d2.mat 1\n"
    assert read_2columns(out / "text") == {"d1-0000": "HELLO THERE", "d2-0001": "YES"}
    assert (out / "utt2day").read_text() == "d1-0000 0\nd2-0001 1\n"
    assert (out / "utt2spk").read_text() == "d1-0000 d1\nd2-0001 d2\n"
    assert (out / "spk2utt").read_text() == "d1 d1-0000\nd2 d2-0001\n"
    assert (out / "days").read_text() == "0 d1\n1 d2\n2 d3\n"
    write_set(rows, ["d1", "d2"], tmp_path / "holdout", with_text=False)
    assert not (tmp_path / "holdout" / "text").exists()
    with pytest.raises(ValueError, match="d2"):
        write_set(rows, ["d1"], tmp_path / "bad", with_text=True)
