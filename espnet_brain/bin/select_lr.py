"""Pick the learning rates of a brain decoder on the dev set from short training runs.

Settings tuned for 8.8k sentences (Fiedler et al.'s 1e-4 / 1e-5) are far from the best on a few hundred: a user
with a small SEEG or intracortical corpus needs rates chosen on their own data. ``brain_asr.sh --lr_grid`` trains
one short run per (lr, encoder_lr) pair with everything else as in the config, then this program reads each run's
ESPnet reporter (``checkpoint.pth``: the per-epoch statistics the trainer keeps for resuming), takes its best
dev loss, and writes the table and the choice:

* ``<out>.json``: every run's rates, best dev loss and epoch, and the chosen rates;
* ``<out>.md``: the same as a table;
* stdout: the trainer arguments of the choice (``--optim_conf lr=... --encoder_lr ...``), for the full run.

A run that has no dev loss (it failed) or only non-finite ones (it diverged) is reported and never chosen; if no
run has a finite loss the program fails.

Example::

    python -m espnet_brain.bin.select_lr --run exp/lr/lr0.001_enc0.0001:0.001:0.0001 \\
        --run exp/lr/lr0.0001_enc1e-05:0.0001:1e-05 --out exp/asr_brain_full/lr_selection
"""

import argparse
import json
import math
import sys
from typing import List, Optional, Sequence, Tuple

from espnet_brain.tasks.reporter import curve, read_epoch_stats


def yaml_float(x: float) -> str:
    """``x`` written so that YAML reads it back as a float (ESPnet parses ``--optim_conf lr=VALUE`` with PyYAML,
    whose YAML 1.1 floats need a dot: ``1e-05`` would stay a string, ``1.0e-05`` is a float)."""
    mantissa, e, exponent = f"{float(x):g}".partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}{e}{exponent}"


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


def _run(value: str) -> Tuple[str, float, float]:
    try:
        path, lr, encoder_lr = value.rsplit(":", 2)
        return path, float(lr), float(encoder_lr)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--run: expected DIR:LR:ENCODER_LR, got {value!r}") from err


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=_run, action="append", required=True, help="DIR:LR:ENCODER_LR of a short run")
    parser.add_argument("--out", required=True, help="output prefix (.json and .md are added)")
    parser.add_argument("--criterion", default="loss", help="the dev statistic to minimise (ESPnet's reporter key)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    rows: List[dict] = []
    for path, lr, encoder_lr in args.run:
        row = dict(run=path, lr=lr, encoder_lr=encoder_lr)
        try:
            loss, epoch, n_epochs = best_valid_loss(path, args.criterion)
            row.update(valid_loss=loss, best_epoch=epoch, epochs=n_epochs)
        except ValueError as err:
            row.update(valid_loss=float("nan"), error=str(err))
        rows.append(row)
    usable = [r for r in rows if math.isfinite(r["valid_loss"])]
    if not usable:
        print(f"select_lr: no run has a finite dev {args.criterion}: {rows}", file=sys.stderr)
        return 1
    best = min(usable, key=lambda r: r["valid_loss"])
    with open(f"{args.out}.json", "w", encoding="utf-8") as f:
        json.dump({"criterion": f"valid/{args.criterion}", "runs": rows, "chosen": best}, f, indent=2)
    lines = [f"| lr | encoder_lr | best dev {args.criterion} | at epoch | |", "|---:|---:|---:|---:|---|"]
    for r in rows:
        note = "chosen" if r is best else r.get("error", "")
        loss = f"{r['valid_loss']:.4f}" if math.isfinite(r["valid_loss"]) else "-"
        lines.append(f"| {r['lr']:g} | {r['encoder_lr']:g} | {loss} | {r.get('best_epoch', '-')} | {note} |")
    with open(f"{args.out}.md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"--optim_conf lr={yaml_float(best['lr'])} --encoder_lr {best['encoder_lr']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
