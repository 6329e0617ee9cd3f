"""Finite-impulse-response (FIR) delays: stack time-shifted copies of stimulus features so that a linear model
can learn a voxel's hemodynamic response (NumPy).

Lag-sign convention: delay ``d`` means the response at TR ``t`` sees the stimulus at TR ``t - d``, i.e.
``out[t, i*D:(i+1)*D] = x[t - delays[i]]``; positive delays look into the past (the usual 1..4 TRs, ~2-8 s
for a 2 s TR), negative delays into the future. Samples shifted in from outside the sequence are zeros.

Output columns are grouped by delay: ``[x(t-d_0) | x(t-d_1) | ...]`` (D columns each). The differentiable torch
version, for batches of sequences, is :mod:`espnet_brain.fmri.delays`.
"""

from typing import List, Sequence

import numpy as np


def check_delays(delays: Sequence[int]) -> List[int]:
    """The delays as a list of Python ints; ValueError unless a non-empty sequence of integers."""
    delays = list(delays)
    if not delays or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in delays):
        raise ValueError(f"delays: expected a non-empty list of integers (TRs), got {delays!r}")
    return [int(d) for d in delays]


def make_delayed_np(x: np.ndarray, delays: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """Stack delayed copies of features.

    Args:
        x: array of shape (T, D), features on the TR grid.
        delays: delays in TRs (see the module's lag-sign convention).

    Returns:
        array of shape (T, D * len(delays)), delayed features, zero-filled, of the dtype of ``x``.
    """
    delays = check_delays(delays)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x: expected shape (T, D), got {x.shape}")
    n, dim = x.shape
    out = np.zeros((n, dim * len(delays)), dtype=x.dtype)
    for i, d in enumerate(delays):
        cols = slice(i * dim, (i + 1) * dim)
        if d >= 0:
            out[d:, cols] = x[: max(n - d, 0)]
        else:
            out[: max(n + d, 0), cols] = x[-d:]
    return out
