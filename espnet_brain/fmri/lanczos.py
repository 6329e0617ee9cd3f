"""Differentiable Lanczos resampling of feature time series onto the fMRI TR grid (torch, inside autograd).

The weights are those of :func:`espnet_brain.voxelwise.lanczos.lanczos_matrix_np` (the NumPy builder, see its
module for the kernel and the cutoff), computed from the times in float64 and moved to the features' dtype and
device; gradients flow to the features, not to the times. :func:`resample_to_grid` also offers the mean over each TR
(``method="tr_mean"``, :func:`~espnet_brain.voxelwise.lanczos.tr_mean_matrix_np`), the encoding model's default.

Shapes: ``T_old`` feature times (e.g. window-end times), ``T_new`` TR times, ``D`` features.
"""

from typing import Optional, Union

import numpy as np
import torch

from espnet_brain.voxelwise.lanczos import lanczos_matrix_np, resample_matrix_np

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_numpy(times: ArrayLike) -> np.ndarray:
    if isinstance(times, torch.Tensor):
        return times.detach().to("cpu", torch.float64).numpy()
    return np.asarray(times, dtype=np.float64)


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
    """Torch version of :func:`~espnet_brain.voxelwise.lanczos.lanczos_matrix_np`.

    Args:
        old_times: array or tensor of shape (T_old,), seconds.
        new_times: array or tensor of shape (T_new,), seconds.
        window, tr, cutoff_mult, normalize: see :func:`~espnet_brain.voxelwise.lanczos.lanczos_matrix_np`.
        dtype: dtype of the weights.
        device: device of the weights.

    Returns:
        tensor of shape (T_new, T_old), weights of ``dtype`` on ``device``.
    """
    weights = lanczos_matrix_np(_as_numpy(old_times), _as_numpy(new_times), window, tr, cutoff_mult, normalize)
    return torch.from_numpy(weights).to(device=device, dtype=dtype)


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
        data: tensor of shape (..., T_old, D), any leading batch dimensions (all sharing the same times).
        old_times: array or tensor of shape (T_old,), seconds.
        new_times: array or tensor of shape (T_new,), seconds.
        window, tr, cutoff_mult, normalize: see :func:`~espnet_brain.voxelwise.lanczos.lanczos_matrix_np`.

    Returns:
        tensor of shape (..., T_new, D), same dtype and device as ``data``.
    """
    if data.dim() < 2 or data.shape[-2] != len(old_times):
        raise ValueError(f"data: expected shape (..., T_old={len(old_times)}, D), got {tuple(data.shape)}")
    weights = lanczos_matrix(old_times, new_times, window, tr, cutoff_mult, normalize, data.dtype, data.device)
    return weights @ data  # (T_new, T_old) @ (..., T_old, D) -> (..., T_new, D)


def resample_to_grid(
    data: torch.Tensor,
    old_times: ArrayLike,
    new_times: ArrayLike,
    method: str = "tr_mean",
    window: int = 3,
    tr: Optional[float] = None,
    span: Optional[float] = None,
) -> torch.Tensor:
    """Differentiable summary of window features onto the TR grid (gradients flow to ``data``).

    Args:
        data: tensor of shape (..., T_old, D), any leading batch dimensions (all sharing the same times).
        old_times: array or tensor of shape (T_old,), seconds (window ends).
        new_times: array or tensor of shape (T_new,), seconds (TR midpoints).
        method, window, tr, span: see :func:`~espnet_brain.voxelwise.lanczos.resample_matrix_np`.

    Returns:
        tensor of shape (..., T_new, D), same dtype and device as ``data``.
    """
    if data.dim() < 2 or data.shape[-2] != len(old_times):
        raise ValueError(f"data: expected shape (..., T_old={len(old_times)}, D), got {tuple(data.shape)}")
    weights = resample_matrix_np(method, _as_numpy(old_times), _as_numpy(new_times), tr, window, span)
    return torch.from_numpy(weights).to(device=data.device, dtype=data.dtype) @ data  # (T_new, T_old) @ (.., T_old, D)
