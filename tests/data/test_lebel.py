import logging

import numpy as np
import pytest
import soundfile

from espnet_brain.data import lebel
from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses


def test_respdict_and_tr_grid(tiny_corpus):
    root = str(tiny_corpus / "lebel2023")
    resp = lebel.load_respdict(root)
    assert lebel.TEST_STORY in resp
    n = resp[lebel.TEST_STORY]
    t = stimulus_tr_times(n)
    assert len(t) == n - 5 and t[0] == -10.0 + 1.0 and np.allclose(np.diff(t), 2.0)
    starts = stimulus_tr_times(n, midpoint=False)
    assert trim_to_responses(starts, n)[0] == 10 * 2.0 - 10.0
    data = lebel.load_responses(lebel.response_path(root, "UTS01", lebel.TEST_STORY))
    assert len(trim_to_responses(starts, n)) == data.shape[0] == n - 20
    reps = lebel.load_repeats(lebel.response_path(root, "UTS01", lebel.TEST_STORY))
    assert reps.shape[1:] == data.shape
    with pytest.raises(ValueError, match="N - 5"):
        trim_to_responses(starts[:-1], n)
    with pytest.raises(ValueError, match="individual_repeats"):
        lebel.load_repeats(lebel.response_path(root, "UTS01", "alittlebird"))


def test_story_audio_and_words(tiny_corpus, caplog):
    root = tiny_corpus / "lebel2023"
    with caplog.at_level(logging.INFO, logger="espnet_brain.data.lebel"):
        audio = lebel.load_story_wav(str(root / "stimuli" / "theoldhouse.wav"))
    assert "22050 Hz to 16000 Hz" in caplog.text
    native, sr = soundfile.read(str(root / "stimuli" / "theoldhouse.wav"))
    assert sr == 22050 and abs(len(audio) / 16000 - len(native) / sr) < 1e-3 and audio.dtype == np.float32
    words = lebel.load_textgrid_words(str(root / "derivative" / "TextGrids" / "theoldhouse.TextGrid"))
    assert words and all(w == w.lower() and w not in lebel.BAD_WORDS and not w.startswith("{") for _, _, w in words)
    assert all(0 <= a < b <= len(native) / sr for a, b, _ in words)
    phones = lebel.load_textgrid_phones(str(root / "derivative" / "TextGrids" / "theoldhouse.TextGrid"))
    assert phones and all(p not in ("", "sp") for _, _, p in phones)
    # the speech is where the words are
    a, b, _ = words[len(words) // 2]
    seg = audio[int(a * 16000) : int(b * 16000)]
    assert np.sqrt(np.mean(seg**2)) > 0.01


def test_stereo_is_mixed_down(tmp_path, caplog):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1) * 0.5
    soundfile.write(str(tmp_path / "s.wav"), stereo, 8000, subtype="PCM_16")
    with caplog.at_level(logging.INFO, logger="espnet_brain.data.lebel"):
        audio = lebel.load_story_wav(str(tmp_path / "s.wav"), sample_rate=16000)
    assert "mixing 2 channels" in caplog.text and len(audio) == 16000
    assert abs(np.abs(audio[100:-100]).max() - 0.25) < 0.02


def test_tier_fallback_by_position(tmp_path):
    from espnet_brain.data.textgrid import write_textgrid

    p = tmp_path / "x.TextGrid"
    write_textgrid(str(p), {"phones": [(0, 1, "AH0")], "words": [(0, 0.5, "{BR}"), (0.5, 1, "Hello")]}, 0, 1)
    assert lebel.load_textgrid_words(str(p)) == [(0.5, 1.0, "hello")]
    assert lebel.load_textgrid_phones(str(p)) == [(0.0, 1.0, "AH0")]
