"""Voxelwise ridge encoding model on stimulus features of stories (frozen, fine-tuned or ground-truth features).

Per story, the features on the stimulus TR grid ((N - 5, D), e.g. ``feats.scp`` of
``espnet_brain.bin.fmri_encoding_inference``, or a directory of ``<story>.npy``) are z-scored with the statistics
of the response rows, delayed (FIR delays, default 1..4 TRs: the response at TR t sees the features of TR t - d;
the delays reach into the grid rows before the response rows instead of zero-filling) and cut to the response rows
``[10:-5]`` (N - 20 rows, LeBel timing). A :class:`~espnet_brain.voxelwise.ridge.VoxelwiseRidgeCV` is fit on the
training stories with one penalty per voxel chosen by cross-validated correlation over contiguous chunks of TRs,
then predicts the test stories (:mod:`espnet_brain.voxelwise.stories`).

Penalty convention: himalaya / scikit-learn, ``S / (S^2 + alpha)``; the Huth-lab grid ``logspace(1, 4, 10)``
(``S / (S^2 + a^2)``) is ``logspace(2, 8, 10)`` here. The default, ``logspace(0, 8, 17)``, reaches two decades lower
(most voxels chose the Huth-lab grid's smallest penalty on the simulator's small corpus); the fit warns when most
voxels choose a penalty at either end of the grid.

Writes ``<output_dir>/pred.scp`` (test predictions, (N - 20, V)), ``best_alphas.npy``, ``cv_scores.npy`` (V,) and
``ridge.yaml`` (the settings, the penalty convention included).

Example::

    python -m espnet_brain.bin.ridge_encoding --train_feats exp/feats_frozen/train/feats.scp \\
        --train_responses dump/train/stories/response.scp --test_feats exp/feats_frozen/test/feats.scp \\
        --output_dir exp/ridge_frozen
"""

import argparse
import logging
import os
import sys
from typing import List, Optional, Sequence

import kaldiio
import numpy as np
import yaml

from espnet_brain.voxelwise.io import read_many
from espnet_brain.voxelwise.ridge import parse_alphas
from espnet_brain.voxelwise.stories import ENCODING_ALPHAS, fit_predict

logger = logging.getLogger("ridge_encoding")


def _ints(value: str) -> List[int]:
    return [int(v) for v in value.replace(",", " ").split()]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_feats", action="append", required=True, help=".scp or directory of <story>.npy")
    parser.add_argument("--train_responses", action="append", required=True, help="response.scp of training stories")
    parser.add_argument("--test_feats", action="append", required=True, help="features of the stories to predict")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--delays", type=_ints, default=[1, 2, 3, 4], help="FIR delays in TRs")
    parser.add_argument(
        "--alphas",
        type=parse_alphas,
        default=list(ENCODING_ALPHAS),
        help="penalties, himalaya/scikit-learn convention S/(S^2+alpha): list or 'logspace(a,b,n)' "
        "(default logspace(0,8,17); the Huth-lab logspace(1,4,10) squared is logspace(2,8,10))",
    )
    parser.add_argument(
        "--n_splits", type=int, default=5, help="cross-validation folds (fewer, with a warning, for too few chunks)"
    )
    parser.add_argument(
        "--chunk_len",
        type=int,
        default=40,
        help="TRs per contiguous cross-validation chunk (halved, with a warning, when all TRs fit in one chunk)",
    )
    parser.add_argument("--solver", default="svd", choices=["svd", "himalaya"])
    parser.add_argument("--backend", default="numpy", help="numpy, torch or torch_cuda (himalaya's backends)")
    parser.add_argument("--n_targets_batch", type=int, default=None, help="voxels per batch (memory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save_coef", action="store_true", help="also save coef.npy ((D * delays, V))")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        preds, model = fit_predict(
            read_many(args.train_feats),
            read_many(args.train_responses),
            read_many(args.test_feats),
            delays=args.delays,
            alphas=args.alphas,
            n_splits=args.n_splits,
            chunk_len=args.chunk_len,
            solver=args.solver,
            backend=args.backend,
            n_targets_batch=args.n_targets_batch,
            seed=args.seed,
        )
    except ValueError as e:
        print(f"ridge_encoding: {e}", file=sys.stderr)
        return 1
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    with kaldiio.WriteHelper(f"ark,scp:{out}/pred.ark,{out}/pred.scp") as writer:
        for story, pred in preds.items():
            writer(story, pred)
    np.save(os.path.join(out, "best_alphas.npy"), model.best_alphas_)
    np.save(os.path.join(out, "cv_scores.npy"), model.cv_scores_)
    if args.save_coef:
        np.save(os.path.join(out, "coef.npy"), model.coef_)
    settings = {
        "train_feats": args.train_feats,
        "train_responses": args.train_responses,
        "test_feats": args.test_feats,
        "delays_tr": args.delays,
        "alphas": [float(a) for a in args.alphas],
        "alpha_convention": "himalaya/scikit-learn: coef = (X^T X + alpha I)^-1 X^T Y, singular values shrunk as "
        "S/(S^2 + alpha); the Huth-lab ridge uses S/(S^2 + a^2), so its a is sqrt(alpha)",
        "cv": f"{model.cv.n_splits} folds of shuffled contiguous chunks of {model.cv.chunk_len} TRs; per-voxel alpha "
        "by mean validation correlation, then refit on all training TRs",
        "solver": args.solver,
        "features": "z-scored per story (statistics of the response rows), delayed on the stimulus grid, rows [10:-5]",
    }
    with open(os.path.join(out, "ridge.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(settings, f, sort_keys=False)
    logger.info(f"predictions of {len(preds)} stories in {out}/pred.scp")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
