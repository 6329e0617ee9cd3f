"""prepare_lebel: story-level data directories from the ds003020 layout, and the checks that protect them."""

import json

import pytest
from fixtures.lebel_encoding import editable_copy, tiny_lebel

from espnet_brain.bin.prepare_lebel import CorpusError, main, prepare


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_lebel(tmp_path_factory.mktemp("corpus"))


def _lines(path):
    return [line.split(maxsplit=1) for line in path.read_text().splitlines()]


def test_sets_and_files(root, tmp_path):
    roi = root / "derivative" / "ground_truth" / "UTS01" / "roi.json"
    sets = prepare(str(root), "UTS01", str(tmp_path), n_dev=1, roi_file=str(roi))
    assert sets == {"train": ["abrightmorning", "alittlebird"], "dev": ["theoldhouse"], "test": ["wheretheressmoke"]}
    respdict = json.loads((root / "derivative" / "respdict.json").read_text())
    for name, stories in sets.items():
        d = tmp_path / name
        assert [k for k, _ in _lines(d / "wav.scp")] == stories
        assert dict(_lines(d / "num_trs")) == {s: str(respdict[s]) for s in stories}
        assert all(v.endswith(f"UTS01/{k}.hf5") for k, v in _lines(d / "resp.scp"))
        assert all(v.endswith(".TextGrid") for _, v in _lines(d / "textgrid.scp"))
        assert (d / "utt2spk").read_text().split() == [x for s in stories for x in (s, "UTS01")]
        assert (d / "repeats.scp").is_file() == (name == "test")
    assert json.loads((tmp_path / "rois.json").read_text()) == json.loads(roi.read_text())


def test_explicit_dev_stories_and_a_missing_test_story(root, tmp_path):
    sets = prepare(str(root), "UTS01", str(tmp_path), dev_stories=["abrightmorning"])
    assert sets["dev"] == ["abrightmorning"] and sets["train"] == ["alittlebird", "theoldhouse"]
    with pytest.raises(ValueError, match="--test_stories"):
        prepare(str(root), "UTS01", str(tmp_path), test_stories=["nosuchstory"])
    with pytest.raises(ValueError, match="--dev_stories"):
        prepare(str(root), "UTS01", str(tmp_path), dev_stories=["wheretheressmoke"])


def test_missing_corpus_says_what_is_missing_and_where_to_get_it(tmp_path):
    with pytest.raises(CorpusError, match="LEBEL2023 is not set.*ds003020"):
        prepare("", "UTS01", str(tmp_path / "data"))
    (tmp_path / "corpus" / "stimuli").mkdir(parents=True)
    with pytest.raises(CorpusError, match=r"respdict\.json.*openneuro\.org/datasets/ds003020"):
        prepare(str(tmp_path / "corpus"), "UTS01", str(tmp_path / "data"))


def test_a_textgrid_that_does_not_parse_is_named(root, tmp_path):
    corpus = editable_copy(root, tmp_path / "corpus", edit=("derivative/TextGrids",))
    bad = corpus / "derivative" / "TextGrids" / "alittlebird.TextGrid"
    bad.write_text('File type = "ooTextFile"\nObject class = "TextGrid"\nxmin = 0\nxmax = \n')
    with pytest.raises(ValueError, match=r"TextGrid .*alittlebird\.TextGrid does not parse"):
        prepare(str(corpus), "UTS01", str(tmp_path / "data"))
    assert not (tmp_path / "data" / "train").exists()  # nothing written before every story is checked


def test_tr_count_that_does_not_fit_the_audio_is_named(root, tmp_path):
    corpus = editable_copy(root, tmp_path / "corpus", edit=("derivative/respdict.json",))
    path = corpus / "derivative" / "respdict.json"
    respdict = json.loads(path.read_text())
    respdict["theoldhouse"] += 8  # 16 s more scanning than audio
    path.write_text(json.dumps(respdict))
    with pytest.raises(ValueError, match="story theoldhouse: .* TRs in respdict.json do not match its audio"):
        prepare(str(corpus), "UTS01", str(tmp_path / "data"))


def test_response_rows_must_be_n_minus_20(root, tmp_path):
    import h5py
    import numpy as np

    corpus = editable_copy(root, tmp_path / "corpus", edit=("derivative/preprocessed_data",))
    path = corpus / "derivative" / "preprocessed_data" / "UTS01" / "alittlebird.hf5"
    with h5py.File(path, "r") as f:
        data = f["data"][...]
    with h5py.File(path, "w") as f:
        f["data"] = np.concatenate([data, data[:3]])
    with pytest.raises(ValueError, match=r"alittlebird\.hf5: .* response rows, expected N - 20"):
        prepare(str(corpus), "UTS01", str(tmp_path / "data"))


def test_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nothing"), "--dst", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prepare_lebel: incomplete LeBel corpus") and "ds003020" in err
