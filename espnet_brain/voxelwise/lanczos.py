"""Lanczos resampling of feature time series onto the fMRI TR grid (NumPy).

Each new sample is a weighted sum of the old samples, with weights ``lanczos((t_new - t_old) / tr)`` where
``lanczos(x) = sinc(x) sinc(x / a)`` for ``|x| < a`` (``a = window``, 3 by default) and 0 elsewhere, and
``sinc(x) = sin(pi x) / (pi x)``. The cutoff is the TR's Nyquist-matched rate ``cutoff_mult / tr``. As in the
Huth-lab code the weights are not normalised by default (a TR of 2 s over features every 0.25 s gives weights
summing to ~8); features are z-scored afterwards anyway. ``normalize=True`` divides each row by its sum.

Shapes: ``T_old`` feature times (e.g. window-end times), ``T_new`` TR times, ``D`` features. The differentiable
torch version, for training through the resampling, is :mod:`espnet_brain.fmri.lanczos`.
"""

from typing import Optional

import numpy as np


def lanczos_cutoff(new_times: np.ndarray, tr: Optional[float] = None, cutoff_mult: float = 1.0) -> float:
    """Cutoff frequency ``cutoff_mult / tr`` of the resampling.

    Args:
        new_times: array of shape (T_new,), seconds; their mean spacing is the TR when ``tr`` is None.
        tr: new sampling period in seconds.
        cutoff_mult: multiplies the cutoff ``1 / tr``.

    Returns:
        The cutoff in Hz.
    """
    if tr is None:
        if len(new_times) < 2:
            raise ValueError("tr: needed when fewer than two new times are given (the TR cannot be inferred)")
        tr = float(np.mean(np.diff(new_times)))
    if not tr > 0:
        raise ValueError(f"tr: expected > 0 (new times increasing), got {tr}")
    return cutoff_mult / tr


def lanczos_matrix_np(
    old_times: np.ndarray,
    new_times: np.ndarray,
    window: int = 3,
    tr: Optional[float] = None,
    cutoff_mult: float = 1.0,
    normalize: bool = False,
) -> np.ndarray:
    """Lanczos weights from old to new times.

    Args:
        old_times: array of shape (T_old,), seconds.
        new_times: array of shape (T_new,), seconds (e.g. TR onsets or centres).
        window: Lanczos parameter ``a`` (lobes on each side).
        tr: new sampling period in seconds; by default the mean spacing of ``new_times``.
        cutoff_mult: multiplies the cutoff ``1 / tr``.
        normalize: divide each row by its sum (rows with zero sum stay zero).

    Returns:
        array of shape (T_new, T_old), float64 weights.
    """
    old_times = np.asarray(old_times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if old_times.ndim != 1 or new_times.ndim != 1:
        raise ValueError(f"times: expected 1-D arrays, got {old_times.shape} and {new_times.shape}")
    x = (new_times[:, None] - old_times[None, :]) * lanczos_cutoff(new_times, tr, cutoff_mult)
    weights = np.where(np.abs(x) < window, np.sinc(x) * np.sinc(x / window), 0.0)
    if normalize:
        total = weights.sum(1, keepdims=True)
        weights = np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)
    return weights


def lanczos_downsample_np(
    data: np.ndarray,
    old_times: np.ndarray,
    new_times: np.ndarray,
    window: int = 3,
    tr: Optional[float] = None,
    cutoff_mult: float = 1.0,
    normalize: bool = False,
) -> np.ndarray:
    """Resample features onto new times with Lanczos weights (see :func:`lanczos_matrix_np`).

    Args:
        data: array of shape (T_old, D), features at ``old_times``.
        old_times: array of shape (T_old,), seconds.
        new_times: array of shape (T_new,), seconds.
        window, tr, cutoff_mult, normalize: see :func:`lanczos_matrix_np`.

    Returns:
        array of shape (T_new, D).
    """
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != len(old_times):
        raise ValueError(f"data: expected shape (T_old={len(old_times)}, D), got {data.shape}")
    weights = lanczos_matrix_np(old_times, new_times, window, tr, cutoff_mult, normalize)
    return weights @ data
