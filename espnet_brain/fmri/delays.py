"""Differentiable finite-impulse-response (FIR) delays of batches of feature sequences (torch).

Same lag-sign convention and column layout as the NumPy version :func:`espnet_brain.voxelwise.delays.make_delayed_np`:
delay ``d`` means the response at TR ``t`` sees the stimulus at TR ``t - d``; positive delays look into the past,
negative delays into the future; samples shifted in from outside the sequence are zeros; output columns are grouped
by delay, ``[x(t-d_0) | x(t-d_1) | ...]``.
"""

from typing import Sequence

import torch

from espnet_brain.voxelwise.delays import check_delays


def make_delayed(x: torch.Tensor, delays: Sequence[int] = (1, 2, 3, 4)) -> torch.Tensor:
    """Stack delayed copies of features (differentiable, any leading batch dimensions).

    Args:
        x: tensor of shape (..., T, D), features on the TR grid, e.g. (B, T, D). With right-padded batches,
            positive delays never move padding into valid TRs; negative delays move the (zero) padding in.
        delays: delays in TRs (see the module's lag-sign convention).

    Returns:
        tensor of shape (..., T, D * len(delays)), delayed features, zero-filled.
    """
    delays = check_delays(delays)
    if x.dim() < 2:
        raise ValueError(f"x: expected shape (..., T, D), got {tuple(x.shape)}")
    n = x.shape[-2]
    shifted = []
    for d in delays:
        d_eff = min(abs(d), n)
        zeros = x.new_zeros(x.shape[:-2] + (d_eff, x.shape[-1]))
        if d >= 0:  # (..., T, D) -> zeros on top, drop the last d rows
            shifted.append(torch.cat([zeros, x[..., : n - d_eff, :]], dim=-2))
        else:
            shifted.append(torch.cat([x[..., d_eff:, :], zeros], dim=-2))
    return torch.cat(shifted, dim=-1)  # (..., T, D * k)
