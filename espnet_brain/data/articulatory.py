"""Articulatory features of ARPAbet phones on a TR grid (de Heer et al., 2017), without torch.

De Heer, Huth, Griffiths, Gallant and Theunissen (2017, J. Neurosci. 37(27), "The hierarchical cortical
organization of human speech processing") describe every phone by 22 binary articulatory features and fit them
to story-listening fMRI: they explain the lateral superior temporal cortex, between the spectral features of
primary auditory cortex and the semantic features of the wider network. The 22 features are those of the Huth
lab's feature code: 8 places of articulation, 6 manners, voicing (voiced, unvoiced), 3 vowel heights and 3 vowel
backnesses. Lip rounding is not one of them.

The phone -> feature table (:data:`PHONE_FEATURES`) is ours, written from the standard description of General
American English phones:

* consonants: place, manner and voicing; ``W`` is labial-velar (bilabial + velar), ``L`` a lateral approximant
  (lateral + approximant), ``R`` the alveolar approximant /ɹ/;
* vowels: voiced, height and backness; a diphthong has the features of both its targets (``AY`` /aɪ/: low,
  central, high, front), so that its span carries what the tongue does during it. ``AH`` covers both /ʌ/ and
  schwa (mid central), ``ER`` is mid central, ``AO`` /ɔ/ mid back. ``IH``/``IY`` and ``UH``/``UW`` share their
  features (the 22 do not separate tense from lax).

On a TR grid the feature matrix is the **fraction of each TR during which each feature is active**
(:func:`articulatory_features`): a phone adds ``overlap(phone, TR) / TR`` to every feature it has. A TR full of
speech thus has ``voiced + unvoiced`` near 1 (less the pauses), and the features keep the phones' timing within
the TR, as band envelopes keep the sound's. Silences and non-speech labels (``""``, ``sp``, ``sil``, ``spn``,
``{NS}``, ...) add nothing.
"""

from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

PLACES = ("bilabial", "labiodental", "dental", "alveolar", "postalveolar", "palatal", "velar", "glottal")
MANNERS = ("stop", "fricative", "affricate", "nasal", "lateral", "approximant")
VOICING = ("voiced", "unvoiced")
HEIGHTS = ("high", "mid", "low")
BACKNESS = ("front", "central", "back")
ARTICULATORY_FEATURES: Tuple[str, ...] = PLACES + MANNERS + VOICING + HEIGHTS + BACKNESS  # 22

PHONE_FEATURES: Dict[str, Tuple[str, ...]] = {
    # consonants: place, manner, voicing
    "P": ("bilabial", "stop", "unvoiced"),
    "B": ("bilabial", "stop", "voiced"),
    "M": ("bilabial", "nasal", "voiced"),
    "W": ("bilabial", "velar", "approximant", "voiced"),
    "F": ("labiodental", "fricative", "unvoiced"),
    "V": ("labiodental", "fricative", "voiced"),
    "TH": ("dental", "fricative", "unvoiced"),
    "DH": ("dental", "fricative", "voiced"),
    "T": ("alveolar", "stop", "unvoiced"),
    "D": ("alveolar", "stop", "voiced"),
    "S": ("alveolar", "fricative", "unvoiced"),
    "Z": ("alveolar", "fricative", "voiced"),
    "N": ("alveolar", "nasal", "voiced"),
    "L": ("alveolar", "lateral", "approximant", "voiced"),
    "R": ("alveolar", "approximant", "voiced"),
    "SH": ("postalveolar", "fricative", "unvoiced"),
    "ZH": ("postalveolar", "fricative", "voiced"),
    "CH": ("postalveolar", "affricate", "unvoiced"),
    "JH": ("postalveolar", "affricate", "voiced"),
    "Y": ("palatal", "approximant", "voiced"),
    "K": ("velar", "stop", "unvoiced"),
    "G": ("velar", "stop", "voiced"),
    "NG": ("velar", "nasal", "voiced"),
    "HH": ("glottal", "fricative", "unvoiced"),
    # vowels: voiced, height, backness (diphthongs: both targets)
    "IY": ("voiced", "high", "front"),
    "IH": ("voiced", "high", "front"),
    "EY": ("voiced", "mid", "high", "front"),
    "EH": ("voiced", "mid", "front"),
    "AE": ("voiced", "low", "front"),
    "AH": ("voiced", "mid", "central"),
    "ER": ("voiced", "mid", "central"),
    "AA": ("voiced", "low", "back"),
    "AO": ("voiced", "mid", "back"),
    "OW": ("voiced", "mid", "high", "back"),
    "UH": ("voiced", "high", "back"),
    "UW": ("voiced", "high", "back"),
    "AY": ("voiced", "low", "high", "central", "front"),
    "AW": ("voiced", "low", "high", "central", "back"),
    "OY": ("voiced", "mid", "high", "back", "front"),
}
PHONES: Tuple[str, ...] = tuple(sorted(PHONE_FEATURES))

_SILENCE = frozenset({"", "SP", "SIL", "SPN", "NS", "BR", "LG", "LS", "CG", "IG", "PAU"})


def normalize_phone(label: str) -> Optional[str]:
    """The ARPAbet phone of a phone-tier label, or None for a silence / non-speech label.

    ``"AH0"`` -> ``"AH"``, ``"ey1"`` -> ``"EY"``, ``"sp"`` / ``""`` / ``"{NS}"`` -> None. Other labels are
    returned upper-cased without stress digits (and may not be in :data:`PHONE_FEATURES`).
    """
    core = label.strip().upper()
    if core.startswith("{") or core.startswith("<"):
        return None
    core = core.rstrip("012")
    return None if core in _SILENCE else core


def articulatory_matrix(phones: Sequence[str] = PHONES) -> np.ndarray:
    """Binary phone x feature table.

    Args:
        phones: ARPAbet phones (stress digits allowed).

    Returns:
        (len(phones), 22) float64, columns in :data:`ARTICULATORY_FEATURES` order.

    Raises:
        ValueError: for a phone not in :data:`PHONE_FEATURES`.
    """
    out = np.zeros((len(phones), len(ARTICULATORY_FEATURES)))
    for i, phone in enumerate(phones):
        core = normalize_phone(phone)
        if core not in PHONE_FEATURES:
            raise ValueError(f"phone {phone!r} has no articulatory features; expected one of {list(PHONES)}")
        out[i, [ARTICULATORY_FEATURES.index(f) for f in PHONE_FEATURES[core]]] = 1.0
    return out


def articulatory_features(
    phones: Iterable[Tuple[float, float, str]],
    n_trs: int,
    tr: float,
    start: float = 0.0,
    unknown: str = "error",
) -> np.ndarray:
    """Fraction of each TR during which each articulatory feature is active.

    Args:
        phones: ``(start_s, end_s, label)`` intervals of a phone tier (ARPAbet, stress digits allowed; silences
            and non-speech labels are skipped). Overlapping intervals add up.
        n_trs: number of TRs of the grid.
        tr: TR length in seconds.
        start: time (in the phones' clock) at which TR 0 begins: TR ``k`` covers ``[start + k tr, start + (k+1)
            tr)``. For the LeBel layout, whose audio starts 10 s into the scan, ``start = -10``.
        unknown: ``"error"`` (raise) or ``"ignore"`` (skip) for labels that are neither phones nor silences.

    Returns:
        (n_trs, 22) float64: ``out[k, f] = sum over phones p having feature f of |p ∩ TR k| / tr``.

    Raises:
        ValueError: for an unknown label (with ``unknown="error"``), a bad ``unknown`` or a non-positive ``tr``.
    """
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown: expected 'error' or 'ignore', got {unknown!r}")
    if tr <= 0 or n_trs < 0:
        raise ValueError(f"need tr > 0 and n_trs >= 0, got tr={tr}, n_trs={n_trs}")
    spans, labels = [], []
    for a, b, label in phones:
        core = normalize_phone(label)
        if core is None:
            continue
        if core not in PHONE_FEATURES:
            if unknown == "error":
                raise ValueError(
                    f"phone label {label!r} (at {a:.3f}-{b:.3f} s) is neither an ARPAbet phone nor a silence; "
                    "pass unknown='ignore' to skip such labels"
                )
            continue
        spans.append((a, b))
        labels.append(core)
    out = np.zeros((n_trs, len(ARTICULATORY_FEATURES)))
    if not spans or n_trs == 0:
        return out
    span = np.asarray(spans, float)
    edges = start + tr * np.arange(n_trs + 1)
    # time of each phone before each TR edge: integral of its indicator up to the edge
    before = np.clip(edges[:, None] - span[None, :, 0], 0.0, np.maximum(span[:, 1] - span[:, 0], 0.0)[None])
    overlap = np.diff(before, axis=0) / tr  # (n_trs, P)
    return overlap @ articulatory_matrix(labels)
