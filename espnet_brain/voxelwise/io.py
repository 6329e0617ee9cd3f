"""Per-story arrays on disk: a Kaldi ``.scp``/``.ark`` pair (kaldiio), an ``.scp`` of ``.npy`` files, or a
directory of ``<story>.npy``; what the encoding programs read and write (features, responses, predictions).
"""

import os
from typing import Dict, List, Sequence

import kaldiio
import numpy as np


def read_arrays(source: str) -> Dict[str, np.ndarray]:
    """Arrays per story.

    Args:
        source: a Kaldi ``.scp`` (read with kaldiio), an ``.scp`` whose every entry is a ``.npy`` file (e.g.
            ``repeats.scp``), or a directory of ``<story>.npy``.

    Returns:
        {story: array}, e.g. of shape (n_samples, n_voxels) for responses; a directory's stories sorted.
    """
    if os.path.isdir(source):
        names = sorted(f for f in os.listdir(source) if f.endswith(".npy"))
        if not names:
            raise ValueError(f"{source}: no .npy file (expected a directory of <story>.npy)")
        return {n[: -len(".npy")]: np.load(os.path.join(source, n)) for n in names}
    if not os.path.isfile(source):
        raise ValueError(f"{source} does not exist (expected a .scp file or a directory of <story>.npy)")
    with open(source, encoding="utf-8") as f:
        entries = [line.split(maxsplit=1) for line in f if line.strip()]
    # kaldiio.load_scp reads ark offsets and audio files, not .npy files: those entries are loaded here
    if entries and all(len(e) == 2 and e[1].strip().endswith(".npy") for e in entries):
        return {k: np.load(v.strip()) for k, v in entries}
    return {k: np.asarray(v) for k, v in kaldiio.load_scp(source).items()}


def story_names(source: str) -> List[str]:
    """The stories of a source that :func:`read_arrays` reads, sorted, without loading their arrays."""
    if os.path.isdir(source):
        return sorted(f[: -len(".npy")] for f in os.listdir(source) if f.endswith(".npy"))
    if not os.path.isfile(source):
        raise ValueError(f"{source} does not exist (expected a .scp file or a directory of <story>.npy)")
    with open(source, encoding="utf-8") as f:
        return sorted(line.split(maxsplit=1)[0] for line in f if line.strip())


def read_many(sources: Sequence[str]) -> Dict[str, np.ndarray]:
    """:func:`read_arrays` of several sources merged into one {story: array} (later sources win)."""
    out: Dict[str, np.ndarray] = {}
    for source in sources:
        out.update(read_arrays(source))
    return out
