import filecmp
import json
import os

import pytest

from espnet_brain import __version__
from espnet_brain.simulate import PART_DIRS, ensure_corpus, make_corpus


def _files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = p
    return out


def _same_tree(a, b):
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    return [k for k in fa if not filecmp.cmp(fa[k], fb[k], shallow=False)]


def test_manifest(tiny_corpus):
    m = json.load(open(tiny_corpus / "MANIFEST.json"))
    assert m["preset"] == "tiny" and m["seed"] == 0 and m["version"] == __version__
    assert m["parts"] == ["text", "speech", "intracortical", "fmri", "ieeg"]
    assert m["speech"]["sample_rate"] == 16000 and m["lebel2023"]["tr"] == 2.0
    assert m["lebel2023"]["sound_start_s"] == 10.0 and m["lebel2023"]["trim"] == [10, 5]
    assert m["brain2text24"]["sentences"]["competitionHoldOut"] == 4
    assert set(m["ground_truth"]) == {"speech", "intracortical", "fmri", "ieeg"}
    assert "timings_s" not in m  # nothing run-dependent on disk
    for part in m["parts"]:
        assert (tiny_corpus / PART_DIRS[part]).is_dir()


def test_same_seed_identical_files_and_parts_independent(tiny_corpus, tmp_path):
    # One part regenerated alone gives byte-identical files: generation of a part does not depend on
    # the other parts (nor on what the eSpeak NG library synthesised before in this process).
    make_corpus(str(tmp_path / "again"), "tiny", 0, parts=["intracortical", "ieeg"])
    for d in ("brain2text24", "ieeg_bids"):
        assert _same_tree(tiny_corpus / d, tmp_path / "again" / d) == []


def test_other_seed_different_files(tiny_corpus, tmp_path):
    make_corpus(str(tmp_path / "other"), "tiny", 1, parts="text,intracortical")
    assert (tiny_corpus / "text" / "train.txt").read_text() != (tmp_path / "other" / "text" / "train.txt").read_text()
    differ = _same_tree(
        tiny_corpus / "brain2text24" / "ground_truth", tmp_path / "other" / "brain2text24" / "ground_truth"
    )
    assert "tuning.npy" in differ


def test_ensure_corpus_reuses_and_completes(tmp_path):
    out = str(tmp_path / "c")
    m1 = ensure_corpus(out, "tiny", 0, parts="text")
    stamp = os.path.getmtime(os.path.join(out, "text", "train.txt"))
    m2 = ensure_corpus(out, "tiny", 0, parts="text")
    assert os.path.getmtime(os.path.join(out, "text", "train.txt")) == stamp and "timings_s" not in m2
    m3 = ensure_corpus(out, "tiny", 0, parts="text,speech")
    assert m3["parts"] == ["text", "speech"] and m1["text"] == m3["text"]
    m4 = ensure_corpus(out, "tiny", 1, parts="text")  # another seed regenerates
    assert m4["seed"] == 1 and m4["parts"] == ["text"]


def test_overrides_are_recorded(tmp_path):
    m = make_corpus(str(tmp_path / "o"), "tiny", 0, parts="text", overrides=["text.n_train=12"])
    assert m["config"]["text"]["n_train"] == 12
    assert len(open(tmp_path / "o" / "text" / "train.txt").readlines()) == 12


@pytest.mark.parametrize("parts", ["speach", ["fmri", "nope"], ""])
def test_bad_parts(tmp_path, parts):
    with pytest.raises(ValueError, match="part"):
        make_corpus(str(tmp_path), "tiny", 0, parts=parts)


def test_bad_seed(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        make_corpus(str(tmp_path), "tiny", -1, parts="text")


def test_dev_count_must_cover_days(tmp_path):
    with pytest.raises(ValueError, match="n_dev"):
        make_corpus(str(tmp_path), "tiny", 0, parts="intracortical", overrides=["text.n_dev=1"])
