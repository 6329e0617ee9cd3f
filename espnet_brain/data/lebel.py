"""Readers of the LeBel et al. (2023) fMRI corpus (OpenNeuro ds003020) and its synthetic twin.

Layout (``root`` = the dataset directory)::

    stimuli/<story>.wav
    derivative/TextGrids/<story>.TextGrid
    derivative/respdict.json                               {story: N TRs acquired}
    derivative/preprocessed_data/<subject>/<story>.hf5     "data" (N - 20, V)

Timing convention of the lab's public code (``load_simulated_trfiles(respdict, tr=2.0,
start_time=10.0, pad=5)``, then ``[5 + 5 : -5]``): volume ``k`` is acquired at scanner time ``k * TR``
and the story audio starts at scanner time 10 s, so the stimulus grid ``k = 0 .. N - 6`` covers audio
time ``[k * TR - 10, k * TR - 10 + TR)``; features downsampled to that grid are cut with ``[10:-5]``
to match the N - 20 rows of ``data`` (:func:`stimulus_tr_times`, :func:`trim_to_responses`).
"""

import json
import logging
import os
from typing import Dict, FrozenSet, List, Optional, Tuple

import numpy as np

from espnet_brain.data.textgrid import read_textgrid

logger = logging.getLogger(__name__)

TR = 2.0
SOUND_START_S = 10.0
GRID_PAD = 5  # the grid has N - 5 entries
TRIM_START, TRIM_END = 10, 5
TEST_STORY = "wheretheressmoke"
# Non-word tokens of the word tiers (compared lower-cased with braces stripped), as in the lab code.
BAD_WORDS: FrozenSet[str] = frozenset(["sentence_start", "sentence_end", "br", "lg", "ls", "ns", "sp", "sl", ""])


def load_respdict(root: str) -> Dict[str, int]:
    """``{story: N}`` from ``root/derivative/respdict.json`` (or a path to the JSON itself)."""
    path = root if root.endswith(".json") else os.path.join(root, "derivative", "respdict.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"respdict.json not found: {path}")
    with open(path, encoding="utf-8") as f:
        resp = json.load(f)
    if not isinstance(resp, dict) or not all(isinstance(v, int) for v in resp.values()):
        raise ValueError(f"{path}: expected a JSON object {{story: number of TRs}}")
    return resp


def stimulus_tr_times(
    n_acquired: int, tr: float = TR, sound_start: float = SOUND_START_S, midpoint: bool = True
) -> np.ndarray:
    """Times (s, relative to the story audio start) of the stimulus TR grid.

    Args:
        n_acquired: N from ``respdict.json``.
        tr: Repetition time.
        sound_start: Scanner time at which the audio starts.
        midpoint: Return window midpoints ``k * tr - sound_start + tr / 2`` (where the lab code
            samples features) instead of window starts.

    Returns:
        (N - 5,) float64 for ``k = 0 .. N - 6``.
    """
    if n_acquired <= TRIM_START + TRIM_END + GRID_PAD:
        raise ValueError(
            f"n_acquired must be > {TRIM_START + TRIM_END + GRID_PAD} (N - 20 response rows), got {n_acquired}"
        )
    t = np.arange(n_acquired - GRID_PAD) * tr - sound_start
    return t + tr / 2 if midpoint else t


def trim_to_responses(x: np.ndarray, n_acquired: Optional[int] = None) -> np.ndarray:
    """Cut features on the stimulus grid to the response rows: ``x[10:-5]``.

    Args:
        x: (N - 5, ...) features on the grid of :func:`stimulus_tr_times`.
        n_acquired: If given, check that ``len(x) == n_acquired - 5``.

    Returns:
        (N - 20, ...) view of ``x``.
    """
    if n_acquired is not None and len(x) != n_acquired - GRID_PAD:
        raise ValueError(f"trim_to_responses: expected {n_acquired - GRID_PAD} grid rows (N - 5), got {len(x)}")
    if len(x) <= TRIM_START + TRIM_END:
        raise ValueError(f"trim_to_responses: need more than {TRIM_START + TRIM_END} rows, got {len(x)}")
    return x[TRIM_START:-TRIM_END]


def response_path(root: str, subject: str, story: str) -> str:
    return os.path.join(root, "derivative", "preprocessed_data", subject, f"{story}.hf5")


def load_responses(path: str, dataset: str = "data") -> np.ndarray:
    """Responses of one subject and story.

    Args:
        path: ``.hf5`` file.
        dataset: ``"data"`` (TRs x voxels) or ``"individual_repeats"`` (repeats x TRs x voxels).

    Returns:
        float32 array as stored.
    """
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"response file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise ValueError(f"{path}: no dataset {dataset!r}; found {sorted(f.keys())}")
            return np.asarray(f[dataset][...], dtype=np.float32)
    except OSError as e:
        raise ValueError(f"{path}: cannot read as HDF5 ({e})") from e


def load_repeats(path: str) -> np.ndarray:
    """``individual_repeats`` of the test story, (R, N - 20, V) float32."""
    return load_responses(path, "individual_repeats")


def load_story_wav(path: str, sample_rate: int = 16000) -> np.ndarray:
    """Story audio as mono float32 at ``sample_rate`` (channels averaged, polyphase resampling).

    Returns:
        (S,) float32 in [-1, 1].
    """
    import soundfile
    from scipy.signal import resample_poly

    if not os.path.isfile(path):
        raise FileNotFoundError(f"story audio not found: {path}")
    audio, sr = soundfile.read(path, dtype="float32", always_2d=True)  # (S, channels)
    if audio.shape[1] > 1:
        logger.info("%s: mixing %d channels down to mono", path, audio.shape[1])
    audio = audio.mean(axis=1)
    if sr != sample_rate:
        logger.info("%s: resampling from %d Hz to %d Hz", path, sr, sample_rate)
        g = np.gcd(int(sr), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, sr // g).astype(np.float32)
    return audio


def _tier(tiers, name: str, index: int, path: str):
    if name in tiers:
        return tiers[name]
    keys = list(tiers)
    if len(keys) > index:  # the lab code addresses tiers by position: 0 phones, 1 words
        return tiers[keys[index]]
    raise ValueError(f"{path}: no tier {name!r} and fewer than {index + 1} tiers (found {keys})")


def load_textgrid_words(path: str, bad_words: FrozenSet[str] = BAD_WORDS) -> List[Tuple[float, float, str]]:
    """Words of a story TextGrid (tier ``word``, else the second tier), non-words removed.

    Returns:
        [(start, end, word)] with lower-case words, in time order.
    """
    tiers = read_textgrid(path)
    words = []
    for a, b, lab in _tier(tiers, "word", 1, path):
        w = lab.strip().lower()
        if w.strip("{}").strip() in bad_words:
            continue
        words.append((a, b, w))
    return words


def load_textgrid_phones(path: str) -> List[Tuple[float, float, str]]:
    """Phones of a story TextGrid (tier ``phone``, else the first tier) without silences and ``sp``."""
    tiers = read_textgrid(path)
    return [(a, b, lab.strip()) for a, b, lab in _tier(tiers, "phone", 0, path) if lab.strip().lower() not in BAD_WORDS]
