"""LeBel preparation: story-level data directories from the ds003020 layout, and the checks that protect them."""

import json
import logging

import kaldiio
import numpy as np
import pytest
from fixtures.lebel_encoding import TINY_CONF, add_bids_runs, editable_copy, tiny_lebel

from espnet_brain.data.lebel_prepare import CorpusError, prepare

BIDS_GLOB = "sub-UTS01/ses-*/func/sub-UTS01_ses-*_task-{story}_*bold.nii.gz"


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


@pytest.fixture(scope="module")
def bids(root, tmp_path_factory):
    """A copy of the corpus with NIfTI runs in ds003020's BIDS layout, in a directory whose name has a space."""
    corpus = editable_copy(root, tmp_path_factory.mktemp("bids") / "my ds003020")
    mask, runs = add_bids_runs(corpus)
    return corpus, mask, runs


def test_nifti_runs_in_the_bids_layout_are_found_and_the_test_repeats_averaged(bids, tmp_path):
    import h5py

    from espnet_brain.fmri.dump import dump, zscore_story

    corpus, mask, runs = bids
    data = tmp_path / "data"
    sets = prepare(str(corpus), "UTS01", str(data), responses="nifti", brain_mask=str(mask), n_dev=1)
    assert sets == {"train": ["abrightmorning", "alittlebird"], "dev": ["theoldhouse"], "test": ["wheretheressmoke"]}
    resp = dict(_lines(data / "train" / "resp.scp"))
    assert resp["abrightmorning"] == str(
        corpus / "sub-UTS01/ses-1/func/sub-UTS01_ses-1_task-abrightmorning_bold.nii.gz"
    )
    assert resp["alittlebird"].endswith("ses-2/func/sub-UTS01_ses-2_task-alittlebird_bold.nii.gz")
    test_file = data / "test" / "responses" / "wheretheressmoke.hf5"
    assert dict(_lines(data / "test" / "resp.scp")) == {"wheretheressmoke": str(test_file)}
    assert dict(_lines(data / "test" / "repeats.scp")) == {"wheretheressmoke": str(test_file)}
    repeats = np.stack([run[10:-10] for run in runs["wheretheressmoke"]])  # 2 runs of N volumes -> (2, N - 20, V)
    with h5py.File(test_file, "r") as f:
        assert f["individual_repeats"].shape == repeats.shape == (2, len(runs["wheretheressmoke"][0]) - 20, 12)
        np.testing.assert_allclose(f["individual_repeats"][...], repeats)
        np.testing.assert_allclose(f["data"][...], repeats.mean(0), rtol=1e-6, atol=1e-6)
        assert not np.allclose(f["data"][...], repeats[0], atol=0.1)  # really the mean, not one run
    # the dump reads both: the response of the test story is the mean, its repeats go to the noise ceiling
    dump(str(data), ["train", "dev", "test"], str(tmp_path / "dump"), chunk_sets=[], **TINY_CONF)
    stories = tmp_path / "dump" / "test" / "stories"
    got = kaldiio.load_scp(str(stories / "response.scp"))["wheretheressmoke"]
    np.testing.assert_allclose(got, zscore_story(repeats.mean(0)), atol=1e-4)
    np.testing.assert_allclose(np.load(dict(_lines(stories / "repeats.scp"))["wheretheressmoke"]), repeats)
    train = kaldiio.load_scp(str(tmp_path / "dump" / "train" / "stories" / "response.scp"))["alittlebird"]
    np.testing.assert_allclose(train, zscore_story(runs["alittlebird"][0][10:-10]), atol=1e-4)


def test_stories_without_nifti_runs_name_the_pattern_tried(bids, tmp_path, caplog):
    corpus, mask, _ = bids
    kwargs = dict(corpus=str(corpus), subject="UTS01", dst=str(tmp_path / "data"), responses="nifti")
    with pytest.raises(ValueError) as err:
        prepare(**kwargs, brain_mask=str(mask), test_stories=["nosuchstory"])
    message = str(err.value)
    assert message.startswith("--test_stories: ['nosuchstory'] have no responses for UTS01")
    assert str(corpus / BIDS_GLOB.format(story="nosuchstory")) in message and "--nifti_template" in message
    # a template that kept the quotes of a shell command line finds nothing, and shows what it looked for
    quoted = "'{root}/sub-{subject}/ses-*/func/sub-{subject}_ses-*_task-{story}_*bold.nii.gz'"
    with caplog.at_level(logging.WARNING), pytest.raises(ValueError, match="--test_stories") as err:
        prepare(**kwargs, brain_mask=str(mask), nifti_template=quoted)
    assert f"'{corpus}/sub-UTS01/ses-*/func/sub-UTS01_ses-*_task-wheretheressmoke_*bold.nii.gz'" in str(err.value)
    assert "4 stories of respdict.json have no responses for UTS01" in caplog.text
    assert f"'{corpus}/sub-UTS01/ses-*/func/sub-UTS01_ses-*_task-abrightmorning_*bold.nii.gz'" in caplog.text
    with pytest.raises(ValueError, match="--brain_mask"):
        prepare(**kwargs)
    with pytest.raises(ValueError, match=r"--nifti_template .*\{root\}, \{subject\}, \{story\}"):
        prepare(**kwargs, brain_mask=str(mask), nifti_template="{root}/{session}/{story}.nii.gz")


def test_a_run_outside_the_brain_mask_space_is_named(bids, tmp_path):
    import nibabel

    corpus, _, _ = bids
    small = tmp_path / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.ones((3, 4, 4), np.uint8), np.eye(4)), small)
    with pytest.raises(ValueError, match=r"_bold\.nii\.gz: volume shape \(3, 4, 5\) differs from the --brain_mask"):
        prepare(str(corpus), "UTS01", str(tmp_path / "data"), responses="nifti", brain_mask=str(small))
    assert not (tmp_path / "data").exists()
