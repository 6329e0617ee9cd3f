"""The fMRI dump: chunks carry the right audio and responses, NaN voxels are masked and reported, inputs are
resampled and mixed down with a log message, NIfTI input gives the same responses as the .hf5 files."""

import json
import logging

import h5py
import kaldiio
import numpy as np
import pytest
import soundfile
from espnet2.fileio.read_text import read_2columns_text
from fixtures.lebel_encoding import TINY_CONF, editable_copy, prepare_and_dump, tiny_lebel

from espnet_brain.data.lebel import load_story_wav
from espnet_brain.data.lebel_prepare import prepare
from espnet_brain.fmri.chunking import cut_audio, split_rows
from espnet_brain.fmri.dump import dump, geometry_from_config, zscore_story
from espnet_brain.voxelwise.timing import stimulus_tr_times


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_lebel(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def dumped(root, tmp_path_factory):
    return prepare_and_dump(root, tmp_path_factory.mktemp("dumped"))


def _hf5(root, story, key="data"):
    with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / f"{story}.hf5", "r") as f:
        return f[key][...]


def test_chunks_hold_the_story_audio_and_responses_at_the_right_times(root, dumped):
    wavs = read_2columns_text(str(dumped / "train" / "wav.scp"))
    tr_start = {k: float(v) for k, v in read_2columns_text(str(dumped / "train" / "tr_start")).items()}
    resp = kaldiio.load_scp(str(dumped / "train" / "response.scp"))
    utt2story = read_2columns_text(str(dumped / "train" / "utt2story"))
    respdict = json.loads((root / "derivative" / "respdict.json").read_text())
    g = geometry_from_config(None, **TINY_CONF)
    for story in ("abrightmorning", "alittlebird"):
        audio = load_story_wav(str(root / "stimuli" / f"{story}.wav"))
        y = zscore_story(_hf5(root, story))
        keys = sorted(k for k, s in utt2story.items() if s == story)
        spans = split_rows(len(y), 10)
        assert len(keys) == len(spans)
        times = stimulus_tr_times(respdict[story])[10:-5]
        np.testing.assert_allclose(np.concatenate([resp[k] for k in keys]), y, atol=1e-6)
        for key, (r0, r1) in zip(keys, spans):
            assert key == f"{story}-{r0:04d}" and resp[key].shape == (r1 - r0, 60)
            chunk, sr = soundfile.read(wavs[key], dtype="float32")
            assert sr == 16000
            # the chunk starts tr_start seconds before its first TR; that TR is response row r0 = grid row r0 + 10
            start = int(round((times[r0] - tr_start[key]) * sr))
            np.testing.assert_allclose(chunk, cut_audio(audio, start, start + len(chunk)), atol=1.5 / 32768)
            g.check_coverage(len(chunk), tr_start[key], r1 - r0, key)
    assert (dumped / "n_voxels").read_text().strip() == "60"
    assert np.load(dumped / "voxel_mask.npy").all() and (dumped / "nan_voxels.txt").read_text() == ""


def test_stories_and_repeats_are_dumped_for_every_set(root, dumped):
    for name in ("train", "dev", "test"):
        stories = read_2columns_text(str(dumped / name / "stories" / "wav.scp"))
        resp = kaldiio.load_scp(str(dumped / name / "stories" / "response.scp"))
        for story, path in stories.items():
            info = soundfile.info(path)
            assert info.samplerate == 16000 and info.channels == 1
            np.testing.assert_allclose(resp[story], zscore_story(_hf5(root, story)), atol=1e-6)
    assert not (dumped / "test" / "wav.scp").exists()  # the test story is not cut into training chunks
    reps = read_2columns_text(str(dumped / "test" / "stories" / "repeats.scp"))
    np.testing.assert_allclose(np.load(reps["wheretheressmoke"]), _hf5(root, "wheretheressmoke", "individual_repeats"))
    rois = json.loads((dumped / "rois.json").read_text())
    assert rois.keys() == {"auditory_primary", "speech", "semantic", "mixed_spectral_articulatory",
                           "mixed_articulatory_semantic", "noise", "auditory"}  # fmt: skip


def test_nan_voxels_are_masked_and_reported(root, tmp_path, caplog):
    corpus = editable_copy(root, tmp_path / "corpus", edit=("derivative/preprocessed_data",))
    path = corpus / "derivative" / "preprocessed_data" / "UTS01" / "alittlebird.hf5"
    data = _hf5(root, "alittlebird")
    data[5:9, 3] = np.nan
    data[:, 17] = np.nan
    with h5py.File(path, "w") as f:
        f["data"] = data
    with caplog.at_level(logging.WARNING):
        out = prepare_and_dump(corpus, tmp_path, roi=False)
    mask = np.load(out / "voxel_mask.npy")
    assert mask.dtype == bool and np.flatnonzero(~mask).tolist() == [3, 17]
    assert (out / "nan_voxels.txt").read_text().split() == ["3", "17"]
    assert "2 of 60 voxels have NaN" in caplog.text and "alittlebird: 2" in caplog.text
    resp = kaldiio.load_scp(str(out / "train" / "stories" / "response.scp"))["alittlebird"]
    assert np.isfinite(resp).all() and np.all(resp[:, 17] == 0) and np.all(resp[5:9, 3] == 0)
    assert np.all(resp[:5, 3] != 0)  # the voxel's other TRs are kept (z-scored without the NaN)


def test_other_sample_rates_and_stereo_are_converted_with_a_log_message(root, tmp_path, caplog):
    corpus = editable_copy(root, tmp_path / "corpus", edit=("stimuli/theoldhouse.wav",))
    path = corpus / "stimuli" / "theoldhouse.wav"
    mono, sr = soundfile.read(path, dtype="float32")
    assert sr == 22050  # the corpus's own rate, resampled too
    soundfile.write(path, np.stack([mono, 0.5 * mono], axis=1), sr)
    with caplog.at_level(logging.INFO):
        out = prepare_and_dump(corpus, tmp_path, roi=False)
    assert "theoldhouse.wav: mixing 2 channels down to mono" in caplog.text
    assert "resampling from 22050 Hz to 16000 Hz" in caplog.text
    wav, sr = soundfile.read(
        read_2columns_text(str(out / "dev" / "stories" / "wav.scp"))["theoldhouse"], dtype="float32"
    )
    assert sr == 16000 and wav.ndim == 1
    expected = 0.75 * load_story_wav(str(root / "stimuli" / "theoldhouse.wav"))
    np.testing.assert_allclose(wav, expected, atol=2 / 32768)


def test_the_model_settings_of_the_training_config_set_the_audio_context(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("frontend_conf: {window_s: 3.0, stride_s: 0.25}\nhead_conf: {delays: [1, 2]}\n")
    g = geometry_from_config(str(config))
    assert (g.window_s, g.stride_s, g.delays, g.lanczos_window, g.tr) == (3.0, 0.25, (1, 2), 3, 2.0)
    assert geometry_from_config(str(config), window_s=1.0).window_s == 1.0  # explicit arguments win
    config.write_text("model_conf: {tr: 1.5}\n")
    with pytest.raises(ValueError, match="model_conf.tr"):
        dump(str(tmp_path), ["train"], str(tmp_path / "dump"), train_config=str(config))


def test_nifti_responses_inside_a_brain_mask_match_the_hf5_ones(root, dumped, tmp_path):
    import nibabel

    respdict = json.loads((root / "derivative" / "respdict.json").read_text())
    mask = np.zeros((4, 5, 6), dtype=np.uint8)
    mask.flat[np.random.default_rng(0).choice(mask.size, 60, replace=False)] = 1
    nibabel.save(nibabel.Nifti1Image(mask, np.eye(4)), tmp_path / "mask.nii.gz")
    for story, n in respdict.items():
        y = _hf5(root, story)  # (N - 20, V) -> a run of N volumes (the 10 + 10 trimmed ones are noise)
        rng = np.random.default_rng(1)
        run = np.concatenate([rng.normal(size=(10, 60)), y, rng.normal(size=(10, 60))]).astype(np.float32)
        vol = np.zeros(mask.shape + (n,), np.float32)
        vol[mask.astype(bool)] = run.T
        (tmp_path / "nifti").mkdir(exist_ok=True)
        nibabel.save(nibabel.Nifti1Image(vol, np.eye(4)), tmp_path / "nifti" / f"{story}.nii.gz")
    prepare(
        str(root), "UTS01", str(tmp_path / "data"), responses="nifti",
        nifti_template=str(tmp_path / "nifti" / "{story}.nii.gz"), brain_mask=str(tmp_path / "mask.nii.gz"),
    )  # fmt: skip
    dump(str(tmp_path / "data"), ["train", "dev", "test"], str(tmp_path / "dump"), chunk_sets=[], **TINY_CONF)
    for name in ("train", "test"):
        got = kaldiio.load_scp(str(tmp_path / "dump" / name / "stories" / "response.scp"))
        want = kaldiio.load_scp(str(dumped / name / "stories" / "response.scp"))
        for story in want:
            np.testing.assert_allclose(got[story], want[story], atol=1e-5)
    with pytest.raises(ValueError, match="--brain_mask"):
        prepare(str(root), "UTS01", str(tmp_path / "d2"), responses="nifti", nifti_template="{story}.nii.gz")
