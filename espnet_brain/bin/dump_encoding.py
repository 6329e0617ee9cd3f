"""Dump story-level data directories (``prepare_lebel``) into what encoding models train and are scored on.

For every set, ``<out>/<set>/stories/`` holds the whole stories: ``wav.scp`` (16 kHz mono FLAC; other sample rates
are resampled and stereo is mixed down, both logged), ``response.scp`` (Kaldi ark of (N - 20, V) float32 responses,
z-scored per story), ``num_trs`` (N acquired) and, for a test story with repeats, ``repeats.scp`` (``.npy`` of
(R, N - 20, V)). For the sets given in ``--chunk_sets`` (training and validation), ``<out>/<set>/`` also holds the
training examples: chunks of ``--chunk_trs`` consecutive TRs with the audio their predictions need
(``espnet_brain.fmri.chunking``): ``wav.scp`` (chunk audio), ``response.scp`` ((T, V)), ``tr_start`` (chunk
time of the first TR), ``utt2story``. The work is done by ``espnet_brain.fmri.dump``.

Voxels with NaN in any story are set to 0 and masked: ``<out>/voxel_mask.npy`` ((V,) bool, False for them) is what
the training loss and the scoring use, and ``<out>/nan_voxels.txt`` lists them (a warning gives their count).
``<out>/n_voxels`` gives V; ``<out>/rois.json`` is the ROI table of the data directories, checked against V.

The audio context of the chunks follows the model's settings, read from ``--train_config`` (``frontend_conf.window_s``,
``stride_s``, ``head_conf.delays``, ``model_conf.lanczos_window``, ``tr``) unless given explicitly.

Example::

    python -m espnet_brain.bin.dump_encoding --data_root data --sets train dev test --chunk_sets train dev \\
        --train_config conf/train.yaml --out dump
"""

import argparse
import logging
import sys
from typing import List, Optional, Sequence

from espnet_brain.fmri.dump import dump


def _ints(value: str) -> List[int]:
    return [int(v) for v in value.replace(",", " ").split()]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", required=True, help="directory holding the sets written by prepare_lebel")
    parser.add_argument("--sets", nargs="+", default=["train", "dev", "test"])
    parser.add_argument("--chunk_sets", nargs="*", default=["train", "dev"], help="sets cut into training chunks")
    parser.add_argument("--out", required=True)
    parser.add_argument("--chunk_trs", type=int, default=10, help="TRs per training chunk (BrainWavLM: 10)")
    parser.add_argument("--train_config", default=None, help="training YAML whose settings fix the audio context")
    parser.add_argument("--window_s", type=float, default=None)
    parser.add_argument("--stride_s", type=float, default=None)
    parser.add_argument("--delays", type=_ints, default=None)
    parser.add_argument("--lanczos_window", type=int, default=None)
    parser.add_argument("--tr", type=float, default=None)
    parser.add_argument("--sample_rate", type=int, default=None)
    parser.add_argument("--zscore", type=lambda x: x.lower() in ("true", "1", "yes"), default=True)
    parser.add_argument("--brain_mask", default=None, help="3-D NIfTI brain mask (NIfTI responses)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        dump(**vars(args))
    except ValueError as e:
        print(f"dump_encoding: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
