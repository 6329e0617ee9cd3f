"""Readers of the LeBel et al. (2023) fMRI corpus (OpenNeuro ds003020) and its synthetic twin.

Layout (``root`` = the dataset directory)::

    stimuli/<story>.wav
    derivative/TextGrids/<story>.TextGrid
    derivative/respdict.json                               {story: N TRs acquired}
    derivative/preprocessed_data/<subject>/<story>.hf5     "data" (N - 20, V)

The stimulus TR grid and its cut to the N - 20 rows of ``data`` (the lab's timing convention) are in
:mod:`espnet_brain.voxelwise.timing`. Responses can also come from 4-D NIfTI runs inside a brain mask
(:func:`load_nifti_responses`, :func:`load_mask`).
"""

import json
import logging
import os
from typing import Dict, FrozenSet, List, Tuple

import numpy as np

from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.voxelwise.brain_maps import load_mask as load_mask_and_affine

logger = logging.getLogger(__name__)

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


def load_mask(path: str) -> np.ndarray:
    """Brain mask of a 3-D NIfTI file (:func:`espnet_brain.voxelwise.brain_maps.load_mask`, which the glass-brain
    views use too, so both read the same voxels in the same order).

    Returns:
        array of shape (x, y, z), bool, True at the non-zero voxels.
    """
    return load_mask_and_affine(path)[0]


def load_nifti_responses(path: str, mask: np.ndarray, n_acquired: int) -> np.ndarray:
    """Responses of a 4-D NIfTI run inside a brain mask (voxels in the mask's C order).

    A run of N volumes is trimmed to ``[10:-10]`` (the rows of the preprocessed ``.hf5`` files); a run of N - 20
    volumes is taken as it is.

    Args:
        path: 4-D NIfTI file of (x, y, z, N or N - 20) volumes.
        mask: array of shape (x, y, z), bool; its V voxels are the columns.
        n_acquired: N, the TRs acquired (``respdict.json``).

    Returns:
        array of shape (N - 20, V), float32.
    """
    import nibabel

    img = nibabel.load(path)
    if img.shape[:3] != mask.shape:
        raise ValueError(f"{path}: volume shape {img.shape[:3]} differs from the brain mask's {mask.shape}")
    data = np.asarray(img.dataobj, dtype=np.float32)[mask]  # (x, y, z, t) -> (V, t)
    data = data.T  # (t, V)
    if data.shape[0] == n_acquired:
        data = data[10:-10]
    elif data.shape[0] != n_acquired - 20:
        raise ValueError(f"{path}: {data.shape[0]} volumes, expected {n_acquired} or {n_acquired - 20}")
    return np.ascontiguousarray(data)


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
