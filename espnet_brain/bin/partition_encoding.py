"""Variance partitioning of story features: which feature space explains which voxel, alone or shared with others.

Each feature space is named and given as ``espnet_brain.bin.ridge_encoding`` takes features: ``--train_feats
NAME=PATH`` and ``--test_feats NAME=PATH`` (a ``feats.scp`` or a directory of ``<story>.npy`` on the stimulus grid,
(N - 5, D); repeat an option to merge sources, e.g. the training and the validation stories). Every space is
z-scored, delayed and cut to the response rows as in the story ridge; banded ridge (one penalty per space and voxel,
chosen on shuffled contiguous chunks of the training TRs, the same folds for every model) is fitted for the joint
model and every subset model (7 for three spaces), each scored by held-out R^2 on the test stories, and the scores
are cut into unique and shared variance (negative estimates corrected). See
``espnet_brain.voxelwise.story_partition`` (the fit and the files) and ``espnet_brain.voxelwise.partition_results``
(the report).

Writes under ``--output_dir``: ``unique_variance.npy`` (V, k), ``shared_variance.npy``, ``subset_r2.npy``,
``winning_space.txt``, ``pred_<space>/`` and ``pred_joint/`` (test predictions), ``partition.json`` (names,
settings, fit times), ``partition.md`` (per ROI: each space's r / noise ceiling, unique and shared variance, the
fraction of voxels each space wins) and ``plots/partition_winning_space.png``. ``score_encoding --partition DIR``
adds the same section to RESULTS.md.

Penalty convention: himalaya / scikit-learn, ``S / (S^2 + alpha)``; default ``logspace(0, 8, 5)`` for every space
(the banded search tries 61 space weightings for three spaces; 217 with 9 candidates, at 4.4x the time).

Example::

    python -m espnet_brain.bin.partition_encoding \\
        --train_feats speech=exp/feats_frozen/train/feats.scp --train_feats speech=exp/feats_frozen/dev/feats.scp \\
        --test_feats speech=exp/feats_frozen/test/feats.scp \\
        --train_feats log-mel=exp/feats_logmel/train/feats.scp ... \\
        --train_responses dump/train/stories/response.scp --train_responses dump/dev/stories/response.scp \\
        --test_responses dump/test/stories/response.scp --repeats dump/test/stories/repeats.scp \\
        --voxel_mask dump/voxel_mask.npy --rois dump/rois.json --output_dir exp/partition
"""

import argparse
import json
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.voxelwise.io import read_many
from espnet_brain.voxelwise.partition_results import write_partition_report
from espnet_brain.voxelwise.ridge import parse_alphas
from espnet_brain.voxelwise.story_partition import PARTITION_ALPHAS, fit_story_partition, save_story_partition
from espnet_brain.voxelwise.variance_partition import CORRECTIONS

logger = logging.getLogger("partition_encoding")


def _named(value: str) -> Tuple[str, str]:
    if "=" not in value:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
    name, path = value.split("=", 1)
    return name.strip(), path.strip()


def _ints(value: str) -> List[int]:
    return [int(v) for v in value.replace(",", " ").split()]


def _by_space(items: Sequence[Tuple[str, str]]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for name, path in items:
        out.setdefault(name, []).append(path)
    return out


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_feats", type=_named, action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--test_feats", type=_named, action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--train_responses", action="append", required=True, help="response.scp of training stories")
    parser.add_argument("--test_responses", action="append", required=True, help="response.scp of the test stories")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--repeats", default=None, help="repeats.scp of the test story: noise ceiling in partition.md")
    parser.add_argument("--voxel_mask", default=None, help=".npy (V,) bool of the voxels to fit")
    parser.add_argument("--rois", default=None, help="JSON {roi: [voxel indices]}")
    parser.add_argument("--delays", type=_ints, default=[1, 2, 3, 4], help="FIR delays in TRs")
    parser.add_argument(
        "--alphas",
        type=parse_alphas,
        default=list(PARTITION_ALPHAS),
        help="penalty candidates of every space, himalaya/scikit-learn convention S/(S^2+alpha): list or "
        "'logspace(a,b,n)' (default logspace(0,8,5))",
    )
    parser.add_argument("--n_splits", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--chunk_len", type=int, default=40, help="TRs per contiguous cross-validation chunk")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle of the chunks over the folds")
    parser.add_argument("--score_func", choices=["r2", "correlation"], default="r2", help="validation score")
    parser.add_argument("--correction", choices=list(CORRECTIONS), default="least_squares")
    parser.add_argument("--backend", default="numpy", help="numpy, torch or torch_cuda (himalaya's backends)")
    parser.add_argument("--n_targets_batch", type=int, default=None, help="voxels per batch (memory)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    train_src, test_src = _by_space(args.train_feats), _by_space(args.test_feats)
    if list(train_src) != list(test_src):
        print(f"partition_encoding: --train_feats name the spaces {list(train_src)} but --test_feats "
              f"{list(test_src)} (expected the same, in the same order)", file=sys.stderr)  # fmt: skip
        return 1
    try:
        mask = None
        if args.voxel_mask is not None:
            mask = np.load(args.voxel_mask)
            if mask.dtype != bool:
                raise ValueError(f"{args.voxel_mask}: expected a bool array, got {mask.dtype}")
        rois = None
        if args.rois is not None:
            with open(args.rois, encoding="utf-8") as f:
                rois = {k: np.asarray(v, dtype=np.int64) for k, v in json.load(f).items()}
        test_responses = read_many(args.test_responses)
        result = fit_story_partition(
            {n: read_many(p) for n, p in train_src.items()},
            read_many(args.train_responses),
            {n: read_many(p) for n, p in test_src.items()},
            test_responses,
            delays=args.delays,
            alphas=args.alphas,
            n_splits=args.n_splits,
            chunk_len=args.chunk_len,
            seed=args.seed,
            voxel_mask=mask,
            score_func=args.score_func,
            correction=args.correction,
            backend=args.backend,
            n_targets_batch=args.n_targets_batch,
        )
        save_story_partition(result, args.output_dir)
        repeats = read_many([args.repeats]) if args.repeats else None
        write_partition_report(result, test_responses, os.path.join(args.output_dir, "partition.md"), rois, repeats,
                               mask, os.path.join(args.output_dir, "plots"))  # fmt: skip
    except ValueError as e:
        print(f"partition_encoding: {e}", file=sys.stderr)
        return 1
    logger.info(f"variance partition of {', '.join(train_src)} in {args.output_dir} (partition.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
