"""Learning rates of a brain decoder chosen on the dev set from short training runs (``brain_asr.sh --lr_grid``).

Two uses (see :mod:`espnet_brain.asr.sweep.lr_search`):

* ``--short_run LR:ENCODER_LR``: print the trainer arguments of one short run of the search (its length, its rates
  written as YAML floats, and the transfer schedule of the full run scaled to its length), given the full run's
  ``--config`` and, after ``--``, its other trainer arguments;
* ``--run DIR:LR:ENCODER_LR ... --out PREFIX``: read each short run's best dev loss and write the table and the
  choice (``<out>.json``, ``<out>.md``); print the trainer arguments of the choice (``--optim_conf lr=...
  --encoder_lr ...``) for the full run. A run that has no dev loss (it failed) or only non-finite ones (it diverged)
  is reported and never chosen; if no run has a finite loss the program fails.

Example::

    python -m espnet_brain.bin.select_lr --short_run 1e-3:1e-4 --epochs 5 --config conf/train_brain_full.yaml \\
        -- --scheduler_conf freeze_steps=700
    python -m espnet_brain.bin.select_lr --run exp/lr/lr0.001_enc0.0001:0.001:0.0001 \\
        --run exp/lr/lr0.0001_enc1e-05:0.0001:1e-05 --out exp/asr_brain_full/lr_selection
"""

import argparse
import sys
from typing import Optional, Sequence, Tuple

from espnet_brain.asr.sweep.lr_search import select_rates, short_run_args, write_selection


def _rates(value: str) -> Tuple[float, float]:
    try:
        lr, encoder_lr = value.split(":")
        return float(lr), float(encoder_lr)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--short_run: expected LR:ENCODER_LR, got {value!r}") from err


def _run(value: str) -> Tuple[str, float, float]:
    try:
        path, lr, encoder_lr = value.rsplit(":", 2)
        return path, float(lr), float(encoder_lr)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--run: expected DIR:LR:ENCODER_LR, got {value!r}") from err


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short_run", type=_rates, default=None, help="LR:ENCODER_LR: print this short run's args")
    parser.add_argument("--epochs", type=int, default=5, help="length of a short run (with --short_run)")
    parser.add_argument("--config", default=None, help="training YAML of the full run (with --short_run)")
    parser.add_argument("trainer_args", nargs="*", help="after --: the full run's other trainer arguments")
    parser.add_argument("--run", type=_run, action="append", default=[], help="DIR:LR:ENCODER_LR of a short run")
    parser.add_argument("--out", default=None, help="output prefix (.json and .md are added)")
    parser.add_argument("--criterion", default="loss", help="the dev statistic to minimise (ESPnet's reporter key)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.short_run is not None:
        if args.run or args.config is None:
            parser.error("--short_run needs --config (and no --run)")
        try:
            run_args, note = short_run_args(*args.short_run, args.epochs, args.config, args.trainer_args)
        except (OSError, ValueError) as err:
            print(f"select_lr: {err}", file=sys.stderr)
            return 1
        print(f"select_lr: short run schedule: {note}", file=sys.stderr)
        print(" ".join(run_args))
        return 0
    if not args.run or args.out is None:
        parser.error("give --short_run, or --run (one or more) and --out")
    rows, best = select_rates(args.run, args.criterion)
    if best is None:
        print(f"select_lr: no run has a finite dev {args.criterion}: {rows}", file=sys.stderr)
        return 1
    print(write_selection(rows, best, args.out, args.criterion))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
