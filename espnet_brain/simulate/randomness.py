"""Seeding helpers: every random stream of the simulator is derived from the corpus seed and a name.

Deriving one generator per (part, item) instead of sharing one generator keeps each file
independent of which other parts or items were generated, so ``--parts speech`` writes the same
speech files as a full run with the same seed.
"""

import zlib
from typing import Union

import numpy as np


def _key_to_int(key: Union[str, int]) -> int:
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"random stream keys must be non-negative, got {key}")
        return int(key)
    # crc32 is stable across processes (unlike hash(), which is salted per interpreter).
    return zlib.crc32(str(key).encode("utf-8"))


def child_rng(seed: int, *keys: Union[str, int]) -> np.random.Generator:
    """A generator determined by ``seed`` and the names ``keys`` only.

    Args:
        seed: Corpus seed (non-negative int).
        *keys: Names of the stream, e.g. ``("speech", "voice", "train-00012")``.

    Returns:
        A fresh ``numpy.random.Generator``.
    """
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    entropy = [int(seed)] + [_key_to_int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def child_seed(seed: int, *keys: Union[str, int]) -> int:
    """A 31-bit integer seed determined by ``seed`` and ``keys`` (for C libraries that take an int)."""
    return int(child_rng(seed, *keys).integers(1, 2**31 - 1))
