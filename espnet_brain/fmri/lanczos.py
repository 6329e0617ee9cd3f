"""Lanczos resampling of feature time series onto the fMRI TR grid (NumPy, and torch inside autograd).

Each new sample is a weighted sum of the old samples, with weights ``lanczos((t_new - t_old) / tr)`` where
``lanczos(x) = sinc(x) sinc(x / a)`` for ``|x| < a`` (``a = window``, 3 by default) and 0 elsewhere, and
``sinc(x) = sin(pi x) / (pi x)``. The cutoff is the TR's Nyquist-matched rate ``cutoff_mult / tr``. As in the
Huth-lab code the weights are not normalised by default (a TR of 2 s over features every 0.25 s gives weights
summing to ~8); features are z-scored afterwards anyway. ``normalize=True`` divides each row by its sum.

Shapes: ``T_old`` feature times (e.g. window-end times), ``T_new`` TR times, ``D`` features.
"""

from typing import Optional, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def _cutoff(new_times: np.ndarray, tr: Optional[float], cutoff_mult: float) -> float:
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
        old_times: (T_old,) seconds.
        new_times: (T_new,) seconds (e.g. TR onsets or centres).
        window: Lanczos parameter ``a`` (lobes on each side).
        tr: new sampling period in seconds; by default the mean spacing of ``new_times``.
        cutoff_mult: multiplies the cutoff ``1 / tr``.
        normalize: divide each row by its sum (rows with zero sum stay zero).

    Returns:
        (T_new, T_old) float64 weights.
    """
    old_times = np.asarray(old_times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if old_times.ndim != 1 or new_times.ndim != 1:
        raise ValueError(f"times: expected 1-D arrays, got {old_times.shape} and {new_times.shape}")
    x = (new_times[:, None] - old_times[None, :]) * _cutoff(new_times, tr, cutoff_mult)
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
    """Resample (T_old, D) features to (T_new, D) with Lanczos weights (see :func:`lanczos_matrix_np`)."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != len(old_times):
        raise ValueError(f"data: expected shape (T_old={len(old_times)}, D), got {data.shape}")
    weights = lanczos_matrix_np(old_times, new_times, window, tr, cutoff_mult, normalize)
    return weights @ data


def lanczos_matrix(
    old_times: ArrayLike,
    new_times: ArrayLike,
    window: int = 3,
    tr: Optional[float] = None,
    cutoff_mult: float = 1.0,
    normalize: bool = False,
    dtype: torch.dtype = torch.float32,
    device: Optional[Union[str, torch.device]] = None,
) -> torch.Tensor:
    """Torch version of :func:`lanczos_matrix_np`: (T_new, T_old) weights of ``dtype`` on ``device``."""
    old_t = torch.as_tensor(old_times, dtype=torch.float64, device=device)
    new_t = torch.as_tensor(new_times, dtype=torch.float64, device=device)
    if old_t.dim() != 1 or new_t.dim() != 1:
        raise ValueError(f"times: expected 1-D, got {tuple(old_t.shape)} and {tuple(new_t.shape)}")
    cutoff = _cutoff(new_t.detach().cpu().numpy(), tr, cutoff_mult)
    x = (new_t[:, None] - old_t[None, :]) * cutoff
    weights = torch.where(x.abs() < window, torch.sinc(x) * torch.sinc(x / window), torch.zeros_like(x))
    if normalize:
        total = weights.sum(1, keepdim=True)
        weights = torch.where(total != 0, weights / torch.where(total != 0, total, torch.ones_like(total)), weights)
    return weights.to(dtype)


def lanczos_downsample(
    data: torch.Tensor,
    old_times: ArrayLike,
    new_times: ArrayLike,
    window: int = 3,
    tr: Optional[float] = None,
    cutoff_mult: float = 1.0,
    normalize: bool = False,
) -> torch.Tensor:
    """Differentiable Lanczos resampling in torch (gradients flow to ``data``).

    Args:
        data: (..., T_old, D) features, any leading batch dimensions (all sharing the same times).
        old_times: (T_old,) seconds.
        new_times: (T_new,) seconds.
        window, tr, cutoff_mult, normalize: see :func:`lanczos_matrix_np`.

    Returns:
        (..., T_new, D) resampled features, same dtype and device as ``data``.
    """
    if data.dim() < 2 or data.shape[-2] != len(old_times):
        raise ValueError(f"data: expected shape (..., T_old={len(old_times)}, D), got {tuple(data.shape)}")
    weights = lanczos_matrix(old_times, new_times, window, tr, cutoff_mult, normalize, data.dtype, data.device)
    return weights @ data  # (T_new, T_old) @ (..., T_old, D) -> (..., T_new, D)
