"""Lanczos resampling of feature time series onto the fMRI TR grid (NumPy).

Each new sample is a weighted sum of the old samples, with weights ``lanczos((t_new - t_old) / tr)`` where
``lanczos(x) = sinc(x) sinc(x / a)`` for ``|x| < a`` (``a = window``, 3 by default) and 0 elsewhere, and
``sinc(x) = sin(pi x) / (pi x)``. The cutoff is the TR's Nyquist-matched rate ``cutoff_mult / tr``. As in the
Huth-lab code the weights are not normalised by default (a TR of 2 s over features every 0.25 s gives weights
summing to ~8); features are z-scored afterwards anyway. ``normalize=True`` divides each row by its sum.

The other summary onto the TR grid, :func:`tr_mean_matrix_np` (``resample="tr_mean"``, the default of the encoding
model), averages the features whose spans fall in each TR: a feature at ``t_old`` summarising the audio of
``(t_old - span, t_old]`` weighs in the TR ``[t_new - tr / 2, t_new + tr / 2)`` by the overlap of the two, over
``tr``. On features every 0.25 s that summarise their own 0.25 s, each TR is the mean over exactly its audio, the
per-TR summary of the stimulus (and of the simulator's ground truth); Lanczos smooths over +-3 TRs instead and mixes
neighbouring TRs (``tools/benchmarks/bench_logmel_control.py`` measures the loss).

Shapes: ``T_old`` feature times (e.g. window-end times), ``T_new`` TR times, ``D`` features. The differentiable
torch version, for training through the resampling, is :mod:`espnet_brain.fmri.lanczos`.
"""

from typing import Optional

import numpy as np

#: Summaries of window features onto the TR grid (:func:`resample_matrix_np`).
RESAMPLERS = ("tr_mean", "lanczos")


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


def tr_mean_matrix_np(
    old_times: np.ndarray, new_times: np.ndarray, span: float, tr: Optional[float] = None
) -> np.ndarray:
    """Weights of the mean over each TR of features that summarise the spans ending at their times.

    Args:
        old_times: array of shape (T_old,), seconds: feature ``i`` summarises ``(old_times[i] - span, old_times[i]]``.
        new_times: array of shape (T_new,), seconds: TR midpoints; TR ``j`` covers
            ``[new_times[j] - tr / 2, new_times[j] + tr / 2)``.
        span: seconds summarised by each feature (the window stride).
        tr: TR in seconds; by default the mean spacing of ``new_times``.

    Returns:
        array of shape (T_new, T_old), float64: the overlap of span ``i`` with TR ``j``, over ``tr`` (rows sum to 1
        where the spans tile the TR).
    """
    old_times = np.asarray(old_times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if old_times.ndim != 1 or new_times.ndim != 1:
        raise ValueError(f"times: expected 1-D arrays, got {old_times.shape} and {new_times.shape}")
    if not span > 0:
        raise ValueError(f"span: expected > 0 (the seconds each feature summarises), got {span}")
    tr = 1.0 / lanczos_cutoff(new_times, tr)
    lo = np.maximum(old_times[None, :] - span, new_times[:, None] - tr / 2)
    hi = np.minimum(old_times[None, :], new_times[:, None] + tr / 2)
    return np.clip(hi - lo, 0.0, None) / tr


def resample_matrix_np(
    method: str,
    old_times: np.ndarray,
    new_times: np.ndarray,
    tr: Optional[float] = None,
    window: int = 3,
    span: Optional[float] = None,
) -> np.ndarray:
    """Weights from feature times to the TR grid by ``method`` (one of :data:`RESAMPLERS`).

    Args:
        method: "tr_mean" (:func:`tr_mean_matrix_np`) or "lanczos" (:func:`lanczos_matrix_np`).
        old_times: array of shape (T_old,), seconds (window ends).
        new_times: array of shape (T_new,), seconds (TR midpoints).
        tr: TR in seconds; by default the mean spacing of ``new_times``.
        window: Lanczos parameter ``a`` ("lanczos" only).
        span: seconds each feature summarises ("tr_mean" only; by default the mean spacing of ``old_times``).

    Returns:
        array of shape (T_new, T_old), float64.
    """
    if method == "lanczos":
        return lanczos_matrix_np(old_times, new_times, window, tr)
    if method == "tr_mean":
        if span is None:
            if len(old_times) < 2:
                raise ValueError("span: needed when fewer than two feature times are given")
            span = float(np.mean(np.diff(np.asarray(old_times, dtype=np.float64))))
        return tr_mean_matrix_np(old_times, new_times, span, tr)
    raise ValueError(f"resample: expected one of {RESAMPLERS}, got {method!r}")
