"""Compare the transfer modes of a BFE architecture sweep: SWEEP.md, sweep_cer.png and sweep_results.tsv.

Reads the runs of ``--out_dir``/``runs.tsv`` (``espnet_brain.bin.bfe_sweep_configs``) and each run's
``<expdir>/asr_<tag>/decode_<test_set>/score.json`` (``espnet_brain.bin.score``), and writes into ``--out_dir``
the per-mode best and median CER, the wins of ``--reference`` over each other mode on the same architecture with
a one-sided Wilcoxon signed-rank test, the CER plot and one TSV line per run
(:mod:`espnet_brain.asr.sweep.report`). Runs of ``jobs.txt`` still without a score are listed with their job log.
Exits 1 when a job of ``jobs.txt`` left no score.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.sweep.grid import read_runs, score_path
from espnet_brain.asr.sweep.report import collect_scores, plot_sweep, sweep_report, write_results_tsv


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="exp/bfe_sweep", help="The sweep's directory (runs.tsv, jobs.txt)")
    parser.add_argument("--expdir", default="exp", help="Experiment directory of the recipe")
    parser.add_argument("--test_set", default="test", help="Test set whose score.json is collected")
    parser.add_argument("--reference", default="full", help="Mode compared with every other mode")
    parser.add_argument("--title", default="BFE architecture sweep")
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    out_dir = Path(args.out_dir)
    runs = read_runs(out_dir / "runs.tsv")
    modes = list(dict.fromkeys(r.mode for r in runs))
    if args.reference not in modes:
        raise ValueError(f"--reference {args.reference}: not among the modes {modes} of {out_dir / 'runs.tsv'}")
    # Jobs of the last launch that left no score: their logs say why.
    status, failed = {}, []
    jobs = out_dir / "jobs.txt"
    if jobs.is_file():
        for n, line in enumerate(jobs.read_text(encoding="utf-8").splitlines(), 1):
            tag = line.split(" ", 1)[0]
            if not score_path(args.expdir, tag, args.test_set).exists():
                status[tag] = f"failed: no score after job {n} (see {out_dir / 'log' / f'run.{n}.log'})"
                failed.append(tag)
    scores = collect_scores(runs, args.expdir, args.test_set)
    plot_name = None
    if scores:
        plot_name = "sweep_cer.png"
        plot_sweep(runs, scores, out_dir / plot_name, args.title)
    report = sweep_report(runs, scores, args.reference, args.test_set, args.title, plot_name, status)
    (out_dir / "SWEEP.md").write_text(report, encoding="utf-8")
    write_results_tsv(runs, scores, out_dir / "sweep_results.tsv")
    print(report)
    logging.info(f"wrote {out_dir / 'SWEEP.md'}")
    if failed:
        logging.error(f"{len(failed)} runs failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
