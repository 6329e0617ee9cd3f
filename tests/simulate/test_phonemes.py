import numpy as np
import pytest

from espnet_brain.simulate.phonemes import (
    ARPABET,
    ARTICULATORY_FEATURES,
    PAUSE,
    articulatory_matrix,
    espeak_to_arpabet,
    phoneme_index,
    strip_stress,
)


@pytest.mark.parametrize(
    "name, expected",
    [("'oU", ("OW1",)), (",aI", ("AY2",)), ("@", ("AH0",)), ("D", ("DH",)), ("'A@", ("AA1", "R")), ("t#", ("T",))],
)
def test_espeak_mapping(name, expected):
    assert espeak_to_arpabet(name) == expected


def test_pauses_and_markers():
    assert espeak_to_arpabet("_:") == PAUSE and espeak_to_arpabet("_") == PAUSE
    assert espeak_to_arpabet(";") is None


def test_articulatory_matrix_distinguishes_phonemes():
    m = articulatory_matrix()
    assert m.shape == (39, len(ARTICULATORY_FEATURES))
    assert m[ARPABET.index("B"), ARTICULATORY_FEATURES.index("voiced")] == 1
    assert m[ARPABET.index("P"), ARTICULATORY_FEATURES.index("voiced")] == 0
    assert len({tuple(r) for r in m}) >= 30  # features separate most phonemes
    assert np.all(m[[phoneme_index(v) for v in ("AA", "IY", "UW")], ARTICULATORY_FEATURES.index("vowel")] == 1)


def test_strip_stress():
    assert strip_stress("AH0") == "AH" and strip_stress("SH") == "SH" and phoneme_index("EY1") == ARPABET.index("EY")
