"""Generate the synthetic ``mini_brain`` corpus.

Example::

    python -m espnet_brain.bin.simulate --out data/mini_brain --preset small --seed 0
    python -m espnet_brain.bin.simulate --out /tmp/c --preset tiny --parts text,fmri --set fmri.n_voxels=100
"""

import argparse
import logging
import sys
from typing import List, Optional

from espnet_brain.simulate import PARTS, PRESETS, make_corpus


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_brain.bin.simulate",
        description="Generate the offline synthetic corpus (speech, intracortical, fMRI, iEEG) in the real "
        "corpora's file formats, with ground truth. The same seed gives byte-identical files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS), help="corpus size")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (non-negative)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PART.KNOB=VALUE",
        help="override a preset knob, e.g. intracortical.days=3 (repeatable)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.seed < 0:
        get_parser().error(f"--seed must be non-negative, got {args.seed}")
    try:
        manifest = make_corpus(
            args.out, args.preset, args.seed, parts=args.parts, overrides=args.overrides, progress=not args.no_progress
        )
    except ValueError as e:
        logging.error("%s", e)
        return 2
    total = sum(manifest["timings_s"].values())
    for part, seconds in manifest["timings_s"].items():
        logging.info("%-14s %7.2f s", part, seconds)
    logging.info("wrote %s (preset %s, seed %d) in %.1f s", args.out, args.preset, args.seed, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
