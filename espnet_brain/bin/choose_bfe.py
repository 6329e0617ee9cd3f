"""The brain feature extractor's window and projection chosen on the dev set (``bfe_choice.sh``).

Two uses (see :mod:`espnet_brain.asr.sweep.bfe_choice`):

* ``--plan --grid GRID --base_config CONFIG --out_dir DIR``: write one training config per grid point
  (``DIR/conf/``) and the run list (``DIR/runs.tsv``); print one tab-separated line per point: ``<setting>
  <config> <run dir>`` (the run dir being ``brain_asr.sh --expdir DIR --asr_tag <setting>``'s experiment);
* ``--out_dir DIR``: read each run's best dev loss, write ``DIR/choice.md``, ``DIR/choice.json`` and
  ``DIR/frontend_args``, and print the chosen trainer arguments (``--frontend_conf kernel_size=8 ...``). A run that
  did not finish or never had a finite dev loss is reported and never chosen; if no run is usable, the program
  fails (exit code 1) and ``frontend_args`` is removed.

Example::

    python -m espnet_brain.bin.choose_bfe --plan --grid conf/bfe_small_corpus.yaml \\
        --base_config conf/train_brain_bfe.yaml --out_dir exp/bfe_choice/tx1_spikepow_6v
    python -m espnet_brain.bin.choose_bfe --out_dir exp/bfe_choice/tx1_spikepow_6v
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_brain.asr.sweep.bfe_choice import choose_setting, plan_choice, read_choice_runs, run_dir, write_choice


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", action="store_true", help="write the configs and list the runs")
    parser.add_argument("--grid", default=None, help="grid YAML of frontend_conf keys (with --plan)")
    parser.add_argument("--base_config", default=None, help="the BFE-only control's training YAML (with --plan)")
    parser.add_argument("--out_dir", required=True, help="the choice's directory")
    parser.add_argument("--criterion", default="loss", help="the dev statistic to minimise (ESPnet's reporter key)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.plan:
        if args.grid is None or args.base_config is None:
            parser.error("--plan needs --grid and --base_config")
        try:
            runs = plan_choice(args.grid, args.base_config, args.out_dir)
        except (OSError, ValueError) as err:
            print(f"choose_bfe: {err}", file=sys.stderr)
            return 1
        for run in runs:
            print(f"{run.arch_id}\t{run.config}\t{run_dir(args.out_dir, run)}")
        return 0
    try:
        runs = read_choice_runs(args.out_dir)
    except ValueError as err:
        print(f"choose_bfe: {err}", file=sys.stderr)
        return 1
    rows, best = choose_setting(runs, args.out_dir, args.criterion)
    chosen = write_choice(rows, best, args.out_dir, args.criterion)
    if chosen is None:
        failures = "; ".join(f"{row['setting']}: {row['error']}" for row in rows)
        print(f"choose_bfe: no run finished with a finite dev {args.criterion} ({failures})", file=sys.stderr)
        return 1
    print(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
