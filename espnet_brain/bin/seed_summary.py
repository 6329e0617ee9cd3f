"""Summarise the decoding results of several runs (seeds) of a recipe: mean, spread and paired differences.

Example, three seeds of ``egs2/mini_brain/asr1``::

    python -m espnet_brain.bin.seed_summary --out exp/SEEDS.md \\
        --run 0=seed0/exp/RESULTS.json --run 1=seed1/exp/RESULTS.json --run 2=seed2/exp/RESULTS.json \\
        --pair "brain: full fine-tune, greedy=brain: from scratch, greedy"

Each ``--run`` is ``label=path`` of a ``RESULTS.json`` (written by ``espnet_brain.bin.score``, or by
``espnet_brain.bin.score_encoding``, whose entries are ``"<system> | <roi>"``: then ``--metric
fraction_of_ceiling`` for instance). Systems that some run lacks are left out and named. ``--out`` gets the
Markdown table and, with the suffix ``.json``, the numbers.
"""

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.seed_summary import METRICS, pair, read_results, summarize, summary_table


def _split(value: str, what: str):
    first, sep, second = value.partition("=")
    if not sep or not first or not second:
        raise argparse.ArgumentTypeError(f"{what}: expected A=B, got {value!r}")
    return first, second


def _finite(x: float) -> Optional[float]:
    return None if math.isnan(x) else x  # JSON has no NaN


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=lambda v: _split(v, "--run"), action="append", required=True,
                        help="label=path of one run's RESULTS.json")  # fmt: skip
    parser.add_argument("--pair", type=lambda v: _split(v, "--pair"), action="append", default=[],
                        help="FIRST=SECOND: system names whose per-run difference is reported")  # fmt: skip
    parser.add_argument("--metric", default="cer",
                        help=f"statistic to summarise: {' or '.join(METRICS)} of decoding results, or a number of the "
                        "encoding report's RESULTS.json, e.g. fraction_of_ceiling")  # fmt: skip
    parser.add_argument("--title", default="Over runs")
    parser.add_argument("--out", required=True, help="Markdown output; the numbers also go to <out>.json")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    args = get_parser().parse_args(cmd)
    try:
        runs = [(label, read_results(path)) for label, path in args.run]
        rows, missing = summarize(runs, args.metric)
        pairs = [pair(rows, a, b) for a, b in args.pair]
    except ValueError as err:
        print(f"seed_summary: {err}", file=sys.stderr)
        return 1
    for name, labels in missing.items():
        logging.warning(f"left out {name!r}: not in the runs {labels}")
    labels = [label for label, _ in args.run]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(summary_table(rows, labels, pairs, args.metric, args.title), encoding="utf-8")
    numbers = {
        "metric": args.metric,
        "runs": dict(args.run),
        "systems": [{"name": r.name, "values": r.values, "mean": r.mean, "sd": _finite(r.sd)} for r in rows],
        "pairs": [{"first": p.first, "second": p.second, "differences": p.differences} for p in pairs],
        "left_out": missing,
    }
    out.with_suffix(".json").write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
