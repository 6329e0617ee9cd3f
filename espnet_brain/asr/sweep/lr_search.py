"""Learning rates of a brain decoder chosen on the dev set from short training runs (``brain_asr.sh --lr_grid``).

Settings tuned for 8.8k sentences (Fiedler et al.'s 1e-4 / 1e-5) are far from the best on a few hundred: a user
with a small SEEG or intracortical corpus needs rates chosen on their own data. The recipe trains one short run per
(lr, encoder_lr) pair with everything else as configured (:func:`short_run_args` gives each run's trainer
arguments), then :func:`select_rates` reads each run's ESPnet reporter (``checkpoint.pth``: the per-epoch statistics
the trainer keeps for resuming), takes its best dev loss and picks the pair with the lowest.

A short run must train what the full run trains, or it cannot compare the rate of the pretrained transformer: the
``transferlr`` schedule holds it still for ``freeze_steps`` updates, then warms it up over ``warmup_steps``, numbers
set for the full run's length (Fiedler et al.: 7 of up to 100 epochs). A search run of 5 epochs under a 7-epoch
freeze never moves the transformer, and every encoder rate scores the same. So the short runs keep the full run's
schedule as fractions of the run: both step counts are scaled by ``short epochs / full max_epoch``.
"""

import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from espnet_brain.tasks.options import trainer_options
from espnet_brain.tasks.reporter import curve, read_epoch_stats

# The learning-rate schedule whose step counts the short runs scale (espnet_brain.schedulers.transfer_lr).
TRANSFER_SCHEDULER = "transferlr"
SCHEDULE_KEYS = ("freeze_steps", "warmup_steps")


def yaml_float(x: float) -> str:
    """``x`` written so that YAML reads it back as a float (ESPnet parses ``--optim_conf lr=VALUE`` with PyYAML,
    whose YAML 1.1 floats need a dot: ``1e-05`` would stay a string, ``1.0e-05`` is a float)."""
    mantissa, e, exponent = f"{float(x):g}".partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}{e}{exponent}"


def trainer_schedule(config: str, trainer_args: Sequence[str]) -> Tuple[Optional[str], Dict[str, Any], Optional[int]]:
    """The scheduler, its ``scheduler_conf`` and ``max_epoch`` that ESPnet's trainer would use with ``config`` and
    then ``trainer_args`` (see :func:`espnet_brain.tasks.options.trainer_options`).

    Returns:
        (scheduler name or None, scheduler_conf, max_epoch or None when neither gives one).
    """
    options = {"scheduler": (str, None), "scheduler_conf": (dict, {}), "max_epoch": (int, None)}
    got = trainer_options(["--config", config, *trainer_args], options)
    return got["scheduler"], got["scheduler_conf"], got["max_epoch"]


def short_run_args(
    lr: float, encoder_lr: float, epochs: int, config: str, trainer_args: Sequence[str] = ()
) -> Tuple[List[str], str]:
    """Trainer arguments of one short run of the search, to come after ``trainer_args`` (they override them).

    Its length and rates, one kept checkpoint, and, under the ``transferlr`` schedule, ``freeze_steps`` and
    ``warmup_steps`` scaled by ``epochs / max_epoch`` (rounded; never scaled up), so that the pretrained transformer
    trains in the same fraction of the short run as of the full one.

    Args:
        lr: Learning rate of the brain frontend and the CTC head (``optim_conf.lr``).
        encoder_lr: Learning rate of the pretrained transformer.
        epochs: Length of the short run.
        config: The training YAML of the full run.
        trainer_args: The full run's other trainer arguments (transfer mode, user's), in order.

    Returns:
        (the arguments, a sentence on the schedule for the log).

    Raises:
        ValueError: ``epochs`` < 1, or a ``transferlr`` schedule without a ``max_epoch`` to scale it by (the message
            names the config).
    """
    if epochs < 1:
        raise ValueError(f"the short runs need at least 1 epoch, got {epochs}")
    args = ["--max_epoch", str(epochs), "--optim_conf", f"lr={yaml_float(lr)}", "--encoder_lr", f"{encoder_lr:g}"]
    args += ["--keep_nbest_models", "1"]
    scheduler, scheduler_conf, max_epoch = trainer_schedule(config, trainer_args)
    if scheduler != TRANSFER_SCHEDULER:
        return args, f"scheduler {scheduler}: nothing to scale"
    steps = {key: int(scheduler_conf.get(key, 0)) for key in SCHEDULE_KEYS}
    if not any(steps.values()):
        return args, "no freeze or warm-up of the transformer"
    if max_epoch is None:
        raise ValueError(
            f"{config}: the {TRANSFER_SCHEDULER} schedule ({steps}) is set for the full run, but neither the config "
            "nor the trainer arguments give its max_epoch, so the short runs of the learning-rate search cannot "
            "scale it to their length; set max_epoch"
        )
    scale = min(1.0, epochs / max_epoch)
    scaled = {key: int(round(value * scale)) for key, value in steps.items()}
    for key in SCHEDULE_KEYS:
        args += ["--scheduler_conf", f"{key}={scaled[key]}"]
    note = ", ".join(f"{key} {steps[key]} -> {scaled[key]}" for key in SCHEDULE_KEYS)
    return args, f"{note} ({epochs} of {max_epoch} epochs)"


def best_valid_loss(run_dir: str, criterion: str = "loss") -> Tuple[float, int, int]:
    """(best dev loss, its epoch, epochs run) of a training run, from its ``checkpoint.pth``.

    Raises:
        ValueError: no checkpoint, or no dev statistics in it (the run failed before its first epoch ended).
    """
    losses = curve(read_epoch_stats(run_dir), "valid", criterion)
    if not losses:
        raise ValueError(f"{run_dir}/checkpoint.pth: no valid/{criterion} statistics")
    finite = [(loss, epoch) for epoch, loss in losses if math.isfinite(loss)]
    if not finite:
        return float("nan"), -1, len(losses)
    loss, epoch = min(finite)
    return loss, epoch, len(losses)


def select_rates(
    runs: Sequence[Tuple[str, float, float]], criterion: str = "loss"
) -> Tuple[List[dict], Optional[dict]]:
    """Each run's best dev loss, and the run with the lowest.

    Args:
        runs: (run directory, lr, encoder_lr) of each short run.
        criterion: The dev statistic to minimise (ESPnet's reporter key).

    Returns:
        One row per run (``run``, ``lr``, ``encoder_lr``, ``valid_loss``, and ``best_epoch`` and ``epochs``, or
        ``error``), and the chosen row; None when no run has a finite loss (all failed or diverged).
    """
    rows: List[dict] = []
    for path, lr, encoder_lr in runs:
        row = dict(run=path, lr=lr, encoder_lr=encoder_lr)
        try:
            loss, epoch, n_epochs = best_valid_loss(path, criterion)
            row.update(valid_loss=loss, best_epoch=epoch, epochs=n_epochs)
        except ValueError as err:
            row.update(valid_loss=float("nan"), error=str(err))
        rows.append(row)
    usable = [r for r in rows if math.isfinite(r["valid_loss"])]
    return rows, (min(usable, key=lambda r: r["valid_loss"]) if usable else None)


def write_selection(rows: List[dict], best: dict, out: str, criterion: str = "loss") -> str:
    """Write ``<out>.json`` (every run, the choice) and ``<out>.md`` (a table); return the full run's arguments."""
    with open(f"{out}.json", "w", encoding="utf-8") as f:
        json.dump({"criterion": f"valid/{criterion}", "runs": rows, "chosen": best}, f, indent=2)
    lines = [f"| lr | encoder_lr | best dev {criterion} | at epoch | |", "|---:|---:|---:|---:|---|"]
    for r in rows:
        note = "chosen" if r is best else r.get("error", "")
        loss = f"{r['valid_loss']:.4f}" if math.isfinite(r["valid_loss"]) else "-"
        lines.append(f"| {r['lr']:g} | {r['encoder_lr']:g} | {loss} | {r.get('best_epoch', '-')} | {note} |")
    with open(f"{out}.md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return f"--optim_conf lr={yaml_float(best['lr'])} --encoder_lr {best['encoder_lr']:g}"
