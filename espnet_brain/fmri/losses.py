"""Training losses for encoding models that predict fMRI responses.

- spatial correlation: at each TR, the correlation across voxels between the predicted and measured response
  maps; the loss is minus its mean over TRs (BrainWavLM's objective; insensitive to each TR's offset and scale);
- temporal correlation: per voxel, the correlation over time; the loss is minus its mean over voxels;
- MSE.

All take ``pred`` and ``target`` of shape (B, T, V) (or (T, V), read as B = 1), an optional voxel mask (train on a
region only) and optional lengths (B,) for right-padded batches. Correlations of constant vectors are 0.
"""

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from typeguard import typechecked

LOSS_TYPES = ("spatial_corr", "temporal_corr", "mse")


def _prepare(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor],
    lengths: Optional[torch.Tensor],
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes, select voxels, and build the (B, T) mask of valid TRs."""
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target: expected equal shapes (B, T, V), got {tuple(pred.shape)}, " f"{tuple(target.shape)}"
        )
    if pred.dim() == 2:
        pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    if pred.dim() != 3:
        raise ValueError(f"pred: expected shape (B, T, V) or (T, V), got {tuple(pred.shape)}")
    if voxel_mask is not None:
        voxel_mask = torch.as_tensor(voxel_mask, device=pred.device)
        if voxel_mask.dtype != torch.bool or voxel_mask.shape != pred.shape[-1:]:
            raise ValueError(
                f"voxel_mask: expected a bool tensor of shape ({pred.shape[-1]},), got "
                f"{voxel_mask.dtype} {tuple(voxel_mask.shape)}"
            )
        if not voxel_mask.any():
            raise ValueError("voxel_mask: selects no voxel")
        pred, target = pred[..., voxel_mask], target[..., voxel_mask]
    n_batch, n_time = pred.shape[:2]
    if lengths is None:
        time_mask = torch.ones(n_batch, n_time, dtype=torch.bool, device=pred.device)
    else:
        if lengths.shape != (n_batch,):
            raise ValueError(f"lengths: expected shape ({n_batch},), got {tuple(lengths.shape)}")
        time_mask = torch.arange(n_time, device=pred.device)[None, :] < lengths.to(pred.device)[:, None]
    return pred, target, time_mask


def spatial_correlation(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor] = None,
    lengths: Optional[torch.Tensor] = None,
    eps: float = 1e-8,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Correlation across voxels at each TR.

    Args:
        pred, target: (B, T, V) or (T, V).
        voxel_mask: (V,) bool, voxels to use.
        lengths: (B,) valid TRs per sequence.
        eps: floor of the norms (constant maps give 0).

    Returns:
        corr (B, T) and the (B, T) bool mask of valid TRs.
    """
    pred, target, time_mask = _prepare(pred, target, voxel_mask, lengths)
    p = F.normalize(pred - pred.mean(-1, keepdim=True), dim=-1, eps=eps)
    t = F.normalize(target - target.mean(-1, keepdim=True), dim=-1, eps=eps)
    return (p * t).sum(-1), time_mask


def temporal_correlation(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor] = None,
    lengths: Optional[torch.Tensor] = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Correlation over (valid) time per voxel.

    Args:
        pred, target: (B, T, V) or (T, V).
        voxel_mask: (V,) bool, voxels to use.
        lengths: (B,) valid TRs per sequence.
        eps: floor of the norms (constant series give 0).

    Returns:
        (B, V') correlations, V' the selected voxels.
    """
    pred, target, time_mask = _prepare(pred, target, voxel_mask, lengths)
    m = time_mask.unsqueeze(-1).to(pred.dtype)  # (B, T, 1)
    n = m.sum(1, keepdim=True).clamp_min(1)

    def centred(x: torch.Tensor) -> torch.Tensor:
        return (x - (x * m).sum(1, keepdim=True) / n) * m

    p = F.normalize(centred(pred), dim=1, eps=eps)
    t = F.normalize(centred(target), dim=1, eps=eps)
    return (p * t).sum(1)


def spatial_correlation_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor] = None,
    lengths: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Minus the across-voxel correlation, averaged over valid TRs (scalar)."""
    corr, time_mask = spatial_correlation(pred, target, voxel_mask, lengths)
    return -(corr * time_mask).sum() / time_mask.sum().clamp_min(1)


def temporal_correlation_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor] = None,
    lengths: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Minus the per-voxel correlation over time, averaged over voxels and sequences (scalar)."""
    return -temporal_correlation(pred, target, voxel_mask, lengths).mean()


def mse_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    voxel_mask: Optional[torch.Tensor] = None,
    lengths: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Mean squared error over valid TRs and selected voxels (scalar)."""
    pred, target, time_mask = _prepare(pred, target, voxel_mask, lengths)
    sq = ((pred - target) ** 2).mean(-1)  # (B, T)
    return (sq * time_mask).sum() / time_mask.sum().clamp_min(1)


_LOSSES = {
    "spatial_corr": spatial_correlation_loss,
    "temporal_corr": temporal_correlation_loss,
    "mse": mse_loss,
}


class EncodingLoss(torch.nn.Module):
    """A configurable encoding loss with an optional fixed voxel mask.

    Args:
        loss_type: "spatial_corr" (default, BrainWavLM), "temporal_corr" or "mse".
        voxel_mask: optional (V,) booleans: train on these voxels only (e.g. an ROI or the reliable voxels).
    """

    @typechecked
    def __init__(
        self, loss_type: str = "spatial_corr", voxel_mask: Optional[Union[Sequence[bool], torch.Tensor]] = None
    ):
        super().__init__()
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type: expected one of {LOSS_TYPES}, got {loss_type!r}")
        self.loss_type = loss_type
        mask = None if voxel_mask is None else torch.as_tensor(voxel_mask, dtype=torch.bool)
        self.register_buffer("voxel_mask", mask, persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """pred, target: (B, T, V); lengths: (B,). Returns a scalar loss."""
        return _LOSSES[self.loss_type](pred, target, self.voxel_mask, lengths)

    def extra_repr(self) -> str:
        n_mask = "all" if self.voxel_mask is None else int(self.voxel_mask.sum())
        return f"loss_type={self.loss_type!r}, voxels={n_mask}"
