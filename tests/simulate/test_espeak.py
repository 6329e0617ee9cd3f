import numpy as np
import pytest

from espnet_brain.simulate.espeak import SAMPLE_RATE, VOICES, get_synthesizer
from espnet_brain.simulate.phonemes import ARPABET, strip_stress


@pytest.fixture(scope="module")
def synth():
    return get_synthesizer()


def test_rendering_has_timed_phonemes_and_words(synth):
    r = synth.synthesize("I don't know where the green boat is.", voice="en-us+f3", rate=160)
    assert r.audio.dtype == np.int16 and r.sample_rate == SAMPLE_RATE and r.duration > 1.0
    assert [w.label for w in r.words] == ["I", "don't", "know", "where", "the", "green", "boat", "is"]
    starts = [p.start for p in r.phonemes]
    assert starts == sorted(starts)
    assert all(0 <= p.start < p.end <= r.duration + 1e-9 for p in r.phonemes)
    assert all(strip_stress(p.label) in ARPABET for p in r.phonemes)
    assert [strip_stress(p.label) for p in r.phonemes[:4]] == ["AY", "D", "OW", "N"]
    # every word spans at least one phoneme and words do not overlap
    for a, b in zip(r.words, r.words[1:]):
        assert a.start < a.end <= b.start


def test_synthesis_is_reproducible_regardless_of_history(synth):
    a = synth.synthesize("Sister's shoes sit here.", voice="en-us", rate=170, seed=5)
    synth.synthesize("Something completely different, first.", voice="en-gb-x-rp", rate=200, seed=9)
    b = synth.synthesize("Sister's shoes sit here.", voice="en-us", rate=170, seed=5)
    assert np.array_equal(a.audio, b.audio)
    assert [(p.start, p.label) for p in a.phonemes] == [(p.start, p.label) for p in b.phonemes]


def test_rate_and_voice_change_the_rendering(synth):
    slow = synth.synthesize("The old man saw a dog.", voice=VOICES[0], rate=120)
    fast = synth.synthesize("The old man saw a dog.", voice=VOICES[0], rate=220)
    assert slow.duration > 1.3 * fast.duration
    other = synth.synthesize("The old man saw a dog.", voice="en-us+f3", rate=120)
    assert not np.array_equal(slow.audio[:1000], other.audio[:1000])


def test_merged_words_get_their_own_spans(synth):
    # eSpeak NG reads "with the" as one word; the word timings must still list both.
    r = synth.synthesize("Every child smiled with the road.", voice="en-gb-x-rp")
    labels = [w.label for w in r.words]
    assert labels == ["Every", "child", "smiled", "with", "the", "road"]


def test_errors(synth):
    with pytest.raises(ValueError, match="empty"):
        synth.synthesize("   ")
    with pytest.raises(ValueError, match="voice not found"):
        synth.synthesize("hello", voice="xx-nonexistent")
