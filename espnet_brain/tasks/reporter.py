"""Per-epoch statistics of an ESPnet training run, read back from its ``checkpoint.pth``.

ESPnet's trainer keeps its ``Reporter`` state in the checkpoint it resumes from: ``{"reporter": {"stats": {epoch:
{"train": {key: value}, "valid": {key: value}, ...}}}}``. Reading it there (rather than parsing ``train.log``) gives
the numbers the trainer itself used to pick its best epochs.
"""

import math
import os
from typing import Dict, List, Tuple

EpochStats = Dict[int, Dict[str, Dict[str, float]]]


def read_epoch_stats(run_dir: str) -> EpochStats:
    """``{epoch: {"train": {...}, "valid": {...}}}`` of a run (epochs in order, values as floats).

    Raises:
        ValueError: no ``checkpoint.pth`` in ``run_dir`` (the run did not finish an epoch), or no statistics in it.
    """
    import torch

    path = os.path.join(run_dir, "checkpoint.pth")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError as err:
        raise ValueError(f"{path}: no checkpoint (the run did not finish an epoch)") from err
    stats = (state.get("reporter") or {}).get("stats") or {}
    if not stats:
        raise ValueError(f"{path}: no per-epoch statistics in its reporter state")
    out: EpochStats = {}
    for epoch in sorted(stats):
        out[int(epoch)] = {
            phase: {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
            for phase, values in stats[epoch].items()
            if isinstance(values, dict)
        }
    return out


def curve(stats: EpochStats, phase: str = "valid", key: str = "loss") -> List[Tuple[int, float]]:
    """``[(epoch, value)]`` of one statistic, for the epochs that have it."""
    return [(e, s[phase][key]) for e, s in stats.items() if key in s.get(phase, {})]


def stability(points: List[Tuple[int, float]]) -> Dict[str, float]:
    """How steadily a loss curve falls.

    Returns:
        ``best`` (lowest finite value) and ``best_epoch``, ``final``, ``n_worse`` (epochs whose value is above the
        previous epoch's), ``max_rise`` (largest such rise, 0 when none) and ``final_minus_best``.
    """
    values = [v for _, v in points]
    finite = [(v, e) for e, v in points if math.isfinite(v)]
    if not finite:
        return {"best": float("nan"), "best_epoch": -1, "final": float("nan"), "n_worse": 0, "max_rise": 0.0}
    best, best_epoch = min(finite)
    rises = [b - a for a, b in zip(values, values[1:]) if b > a]
    return {
        "best": best,
        "best_epoch": best_epoch,
        "final": values[-1],
        "n_worse": len(rises),
        "max_rise": max(rises, default=0.0),
        "final_minus_best": values[-1] - best,
    }
