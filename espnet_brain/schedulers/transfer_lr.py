"""Freeze-then-warm-up learning rate schedule for transferring a pretrained encoder."""

from typing import Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler
from typeguard import typechecked

try:  # ESPnet's scheduler bases decide when the trainer calls step() (per batch here).
    from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
except ImportError:  # pragma: no cover - ESPnet is a hard dependency; kept for the docs build
    AbsBatchStepScheduler = object


class TransferLR(LRScheduler, AbsBatchStepScheduler):
    """Keep pretrained parameter groups frozen for some steps, then warm them up linearly.

    Parameter groups whose ``"name"`` is in ``groups`` (by default the encoder group that
    :meth:`espnet_brain.tasks.brain_asr.BrainASRTask.build_optimizers` creates) get a learning
    rate factor of 0 for the first ``freeze_steps`` updates, a linear ramp from 0 to 1 over the
    next ``warmup_steps``, then 1. Every other group (the brain frontend, the CTC head) trains at
    its base rate from the first step. A factor of 0 under Adam/AdamW leaves the parameters
    untouched (the update and the decoupled or L2 weight decay are all scaled by the rate).

    The same schedule is used in every transfer mode; in ``frozen`` mode the encoder has no
    trainable parameters, so its group is simply absent.

    Args:
        optimizer: Optimizer whose param groups carry a ``"name"`` key.
        freeze_steps: Updates during which the named groups do not move.
        warmup_steps: Length of the linear warm-up after the freeze.
        groups: Names of the groups the schedule applies to.
    """

    @typechecked
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        freeze_steps: int = 0,
        warmup_steps: int = 0,
        groups: Sequence[str] = ("encoder",),
        last_epoch: int = -1,
    ):
        if freeze_steps < 0 or warmup_steps < 0:
            raise ValueError(f"freeze_steps and warmup_steps must be >= 0, got {freeze_steps} and {warmup_steps}")
        self.freeze_steps = freeze_steps
        self.warmup_steps = warmup_steps
        self.groups = tuple(groups)
        super().__init__(optimizer, last_epoch)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(freeze_steps={self.freeze_steps}, warmup_steps={self.warmup_steps}, "
            f"groups={self.groups})"
        )

    def factor(self, step: int) -> float:
        """Learning-rate factor of the scheduled groups before update number ``step`` (0-based)."""
        if step < self.freeze_steps:
            return 0.0
        if self.warmup_steps == 0:
            return 1.0
        return min(1.0, (step - self.freeze_steps + 1) / self.warmup_steps)

    def get_lr(self):
        step = self.last_epoch
        return [
            base * (self.factor(step) if group.get("name") in self.groups else 1.0)
            for base, group in zip(self.base_lrs, self.optimizer.param_groups)
        ]
