"""Phoneme inventory of the simulator: ARPAbet labels, articulatory features, eSpeak NG mapping.

The 39 ARPAbet phonemes are those of the Willett et al. (2023) phoneme decoder (CMUdict without
stress). Alignments carry CMUdict-style stress digits on vowels (``AH0``, ``EY1``), as the phone tiers
of the LeBel et al. (2023) TextGrids do; :func:`strip_stress` removes them.
"""

import logging
from typing import Dict, Optional, Tuple, Union

import numpy as np

logger = logging.getLogger(__name__)

PAUSE = "<pause>"

ARPABET = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH",
    "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})

ARTICULATORY_FEATURES = (
    "vowel", "voiced", "bilabial", "labiodental", "dental", "alveolar", "postalveolar", "palatal", "velar",
    "glottal", "stop", "fricative", "affricate", "nasal", "approximant", "lateral", "rhotic", "high", "mid",
    "low", "front", "central", "back", "rounded", "diphthong",
)  # fmt: skip

_FEATURES_OF: Dict[str, Tuple[str, ...]] = {
    "P": ("bilabial", "stop"),
    "B": ("bilabial", "stop", "voiced"),
    "M": ("bilabial", "nasal", "voiced"),
    "W": ("bilabial", "approximant", "voiced", "rounded", "velar"),
    "F": ("labiodental", "fricative"),
    "V": ("labiodental", "fricative", "voiced"),
    "TH": ("dental", "fricative"),
    "DH": ("dental", "fricative", "voiced"),
    "T": ("alveolar", "stop"),
    "D": ("alveolar", "stop", "voiced"),
    "S": ("alveolar", "fricative"),
    "Z": ("alveolar", "fricative", "voiced"),
    "N": ("alveolar", "nasal", "voiced"),
    "L": ("alveolar", "approximant", "lateral", "voiced"),
    "SH": ("postalveolar", "fricative"),
    "ZH": ("postalveolar", "fricative", "voiced"),
    "CH": ("postalveolar", "affricate"),
    "JH": ("postalveolar", "affricate", "voiced"),
    "R": ("postalveolar", "approximant", "rhotic", "voiced"),
    "Y": ("palatal", "approximant", "voiced"),
    "K": ("velar", "stop"),
    "G": ("velar", "stop", "voiced"),
    "NG": ("velar", "nasal", "voiced"),
    "HH": ("glottal", "fricative"),
    "IY": ("vowel", "voiced", "high", "front"),
    "IH": ("vowel", "voiced", "high", "front"),
    "EY": ("vowel", "voiced", "mid", "front", "diphthong"),
    "EH": ("vowel", "voiced", "mid", "front"),
    "AE": ("vowel", "voiced", "low", "front"),
    "AH": ("vowel", "voiced", "mid", "central"),
    "ER": ("vowel", "voiced", "mid", "central", "rhotic"),
    "AA": ("vowel", "voiced", "low", "back"),
    "AO": ("vowel", "voiced", "low", "back", "rounded"),
    "OW": ("vowel", "voiced", "mid", "back", "rounded", "diphthong"),
    "UH": ("vowel", "voiced", "high", "back", "rounded"),
    "UW": ("vowel", "voiced", "high", "back", "rounded"),
    "AY": ("vowel", "voiced", "low", "front", "diphthong"),
    "AW": ("vowel", "voiced", "low", "back", "diphthong", "rounded"),
    "OY": ("vowel", "voiced", "mid", "back", "rounded", "diphthong"),
}

# eSpeak NG English phoneme mnemonics (stress marks removed) -> ARPAbet.  None marks a zero-content
# marker whose span belongs to the preceding sound.
_ESPEAK: Dict[str, Optional[Union[str, Tuple[str, ...]]]] = {
    "0": "AA", "A:": "AA", "A": "AA", "A@": ("AA", "R"), "aa": "AE", "a": "AE", "a#": "AH", "a2": "AH",
    "E": "EH", "e": "EH", "e@": ("EH", "R"), "E2": "EH", "E3": "EH",
    "I": "IH", "I#": "IH", "I2": "IH", "i": "IY", "i:": "IY", "i@": ("IH", "R"), "i@3": ("IH", "R"), "iA": "IY",
    "O": "AO", "O:": "AO", "O2": "AO", "O@": ("AO", "R"), "o@": ("AO", "R"), "oU": "OW", "o": "OW", "OI": "OY",
    "U": "UH", "U@": ("UH", "R"), "u:": "UW", "u": "UW", "u@": ("UH", "R"), "V": "AH",
    "3:": "ER", "3": "ER", "@": "AH", "@2": "AH", "@5": "AH", "@L": ("AH", "L"), "@-": "AH",
    "aI": "AY", "aI@": ("AY", "ER"), "aI3": ("AY", "ER"), "aU": "AW", "aU@": ("AW", "ER"), "eI": "EY",
    "b": "B", "d": "D", "D": "DH", "dZ": "JH", "f": "F", "g": "G", "h": "HH", "j": "Y", "k": "K", "l": "L",
    "l/": "L", "l-": "L", "m": "M", "m-": "M", "n": "N", "n-": "N", "N": "NG", "p": "P", "r": "R", "r-": "R",
    "s": "S", "S": "SH", "t": "T", "t#": "T", "t2": "T", "d#": "D", "tS": "CH", "T": "TH", "v": "V", "w": "W",
    "z": "Z", "Z": "ZH", "x": "HH", "?": "T", "n^": "N", "w#": "W",
    ";": None, "#": None, "=": None,
}  # fmt: skip

_warned = set()


def strip_stress(label: str) -> str:
    """``"AH0"`` -> ``"AH"``."""
    return label.rstrip("012")


def espeak_to_arpabet(name: str) -> Optional[Union[str, Tuple[str, ...]]]:
    """Map one eSpeak NG phoneme event name to ARPAbet with a stress digit on vowels.

    Args:
        name: Event name, possibly with a stress mark (``"'oU"``, ``",aI"``, ``"_:"``).

    Returns:
        :data:`PAUSE` for pauses, ``None`` for zero-content markers, otherwise a tuple of ARPAbet
        labels (``("OW1",)``, ``("AA1", "R")``).
    """
    if name.startswith("_") or name == "":
        return PAUSE
    stress = "0"
    core = name
    while core and core[0] in "',%=":
        if core[0] == "'":
            stress = "1"
        elif core[0] == "," and stress == "0":
            stress = "2"
        core = core[1:]
    if core in _ESPEAK:
        mapped = _ESPEAK[core]
    else:
        trimmed = core.rstrip("#0123456789")
        mapped = _ESPEAK.get(trimmed, "AH" if trimmed[:1] in "aeiouAEIOU@3" else None)
        if name not in _warned:
            _warned.add(name)
            logger.warning("eSpeak phoneme %r has no ARPAbet mapping; using %r", name, mapped)
    if mapped is None:
        return None
    labels = (mapped,) if isinstance(mapped, str) else mapped
    out = []
    first_vowel = True
    for lab in labels:
        if lab in VOWELS:
            out.append(lab + (stress if first_vowel else "0"))
            first_vowel = False
        else:
            out.append(lab)
    return tuple(out)


def articulatory_matrix() -> np.ndarray:
    """Binary articulatory feature matrix.

    Returns:
        (len(ARPABET), len(ARTICULATORY_FEATURES)) float32, rows in :data:`ARPABET` order.
    """
    mat = np.zeros((len(ARPABET), len(ARTICULATORY_FEATURES)), np.float32)
    for i, ph in enumerate(ARPABET):
        for f in _FEATURES_OF[ph]:
            mat[i, ARTICULATORY_FEATURES.index(f)] = 1.0
    return mat


def phoneme_index(label: str) -> int:
    """Index in :data:`ARPABET` of a label with or without stress digit."""
    return ARPABET.index(strip_stress(label))
