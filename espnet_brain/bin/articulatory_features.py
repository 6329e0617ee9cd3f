"""Articulatory features (de Heer et al., 2017) of LeBel-layout stories from the phone tier of their TextGrids.

For each data directory (``textgrid.scp`` and ``num_trs``, as ``espnet_brain.bin.prepare_lebel`` writes them),
writes ``<output_dir>/<story>.npy`` ((N - 5, 22): the fraction of each TR of the stimulus grid during which each of
the 22 articulatory features is active; the grid starts 10 s before the audio, LeBel timing) and ``feats.scp``: the
features ``espnet_brain.bin.ridge_encoding`` and ``partition_encoding`` read. See
``espnet_brain.data.lebel_articulatory``.

Example::

    python -m espnet_brain.bin.articulatory_features --data_dir data/train data/test \\
        --output_dir exp/feats_articulatory/train exp/feats_articulatory/test
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from espnet_brain.data.lebel_articulatory import write_many
from espnet_brain.voxelwise.timing import TR


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", nargs="+", required=True, help="data directories (textgrid.scp, num_trs)")
    parser.add_argument("--output_dir", nargs="+", required=True, help="one output directory per data directory")
    parser.add_argument("--tr", type=float, default=TR, help="repetition time in seconds")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        n = write_many(args.data_dir, args.output_dir, args.tr)
    except (ValueError, FileNotFoundError) as e:
        print(f"articulatory_features: {e}", file=sys.stderr)
        return 1
    logging.info(f"articulatory features of {n} stories in {', '.join(args.output_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
