"""Readout heads of an encoding model: TR-grid features -> voxel responses.

Per-feature normalisation, FIR delays (``delays.py``: delay d means the response at TR t sees the features of
TR t - d), then a linear map to the voxels, either full (Linear(D*k -> V)) or through a low-rank bottleneck
(Linear(D*k -> r) -> Linear(r -> V), BrainWavLM's 3072 -> 100 -> V).

The task selects them by name, with the rank fixed by the choice so that a YAML names what it gets:
``head: fir_linear`` is :class:`FIRLinearHead` (full map, no ``rank`` option) and ``head: fir_lowrank`` is
:class:`FIRLowRankHead` (``rank``, 100 by default); both are :class:`FIRReadout`.
"""

from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from typeguard import typechecked

from espnet_brain.fmri.delays import make_delayed

NORMALIZATIONS = ("batch", "time", "none")


class FeatureNorm(nn.Module):
    """Per-feature normalisation of (B, T, D) features over valid frames.

    Args:
        size: D.
        mode: "batch" (statistics over the valid frames of the batch while training, running averages at
            evaluation, like BatchNorm without affine parameters), "time" (z-score each sequence over its own valid
            frames, as z-scoring a story), or "none".
        momentum: running-average momentum of "batch".
        eps: added to the variance.
    """

    @typechecked
    def __init__(self, size: int, mode: str = "batch", momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        if mode not in NORMALIZATIONS:
            raise ValueError(f"normalize: expected one of {NORMALIZATIONS}, got {mode!r}")
        self.mode, self.momentum, self.eps = mode, momentum, eps
        if mode == "batch":
            self.register_buffer("running_mean", torch.zeros(size))
            self.register_buffer("running_var", torch.ones(size))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D); mask: (B, T) bool of valid frames. Returns (B, T, D), padded frames set to 0."""
        if self.mode == "none":
            return x * mask[..., None]
        m = mask[..., None].to(x.dtype)  # (B, T, 1)
        if self.mode == "time":
            n = m.sum(1, keepdim=True).clamp_min(1)
            mean = (x * m).sum(1, keepdim=True) / n  # (B, 1, D)
            var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / n
        elif self.training:
            n = m.sum().clamp_min(1)
            mean = (x * m).sum((0, 1)) / n  # (D,)
            var = (((x - mean) * m) ** 2).sum((0, 1)) / n
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + self.eps) * m

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class FIRReadout(nn.Module):
    """Normalise, delay and map TR-grid features to voxel responses.

    Args:
        input_size: D, features per TR.
        n_voxels: V, voxels predicted.
        delays: FIR delays in TRs (default 1..4, as BrainWavLM); the linear input is D * len(delays).
        rank: bottleneck size r (Linear(D*k -> r, no bias) -> Linear(r -> V)); None for a full Linear(D*k -> V).
        normalize: per-feature normalisation mode of :class:`FeatureNorm` ("batch", "time", "none").
        dropout: dropout on the delayed features.
        bias: output bias per voxel.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        n_voxels: int,
        delays: Sequence[int] = (1, 2, 3, 4),
        rank: Optional[int] = 100,
        normalize: str = "batch",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        if input_size < 1 or n_voxels < 1:
            raise ValueError(f"input_size, n_voxels: expected >= 1, got {input_size}, {n_voxels}")
        if rank is not None and rank < 1:
            raise ValueError(f"rank: expected >= 1 or None, got {rank}")
        self.delays = list(delays)
        if not self.delays:
            raise ValueError("delays: expected at least one delay")
        self.input_size, self.n_voxels, self.rank = input_size, n_voxels, rank
        self.norm = FeatureNorm(input_size, normalize)
        self.dropout = nn.Dropout(dropout)
        in_dim = input_size * len(self.delays)
        if rank is None:
            self.proj = nn.Linear(in_dim, n_voxels, bias=bias)
        else:
            self.proj = nn.Sequential(nn.Linear(in_dim, rank, bias=False), nn.Linear(rank, n_voxels, bias=bias))

    def output_size(self) -> int:
        return self.n_voxels

    def forward(
        self, feats: torch.Tensor, feats_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predict responses.

        Args:
            feats: (B, T, D) features on the TR grid (right-padded).
            feats_lengths: (B,) valid TRs (None: all T).

        Returns:
            pred (B, T, V) (padded TRs carry no meaning) and lengths (B,).
        """
        if feats.dim() != 3 or feats.shape[-1] != self.input_size:
            raise ValueError(f"feats: expected shape (B, T, {self.input_size}), got {tuple(feats.shape)}")
        n_batch, n_time, _ = feats.shape
        if feats_lengths is None:
            feats_lengths = torch.full((n_batch,), n_time, dtype=torch.long, device=feats.device)
        mask = torch.arange(n_time, device=feats.device)[None, :] < feats_lengths[:, None]  # (B, T)
        x = self.norm(feats, mask)
        x = make_delayed(x, self.delays)  # (B, T, D) -> (B, T, D * k)
        return self.proj(self.dropout(x)), feats_lengths  # (B, T, V)


class FIRLinearHead(FIRReadout):
    """:class:`FIRReadout` with a full Linear(D * len(delays) -> V) (``head: fir_linear``); arguments as there."""

    @typechecked
    def __init__(
        self,
        input_size: int,
        n_voxels: int,
        delays: Sequence[int] = (1, 2, 3, 4),
        normalize: str = "batch",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__(
            input_size, n_voxels, delays=delays, rank=None, normalize=normalize, dropout=dropout, bias=bias
        )


class FIRLowRankHead(FIRReadout):
    """:class:`FIRReadout` through a rank-``rank`` bottleneck (``head: fir_lowrank``); arguments as there.

    ``rank`` is 100 by default, as BrainWavLM's Linear(3072 -> 100) -> Linear(100 -> V).
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        n_voxels: int,
        delays: Sequence[int] = (1, 2, 3, 4),
        rank: int = 100,
        normalize: str = "batch",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__(
            input_size, n_voxels, delays=delays, rank=rank, normalize=normalize, dropout=dropout, bias=bias
        )
