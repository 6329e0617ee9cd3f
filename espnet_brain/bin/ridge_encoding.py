"""Voxelwise ridge encoding model on stimulus features of stories (frozen, fine-tuned or ground-truth features).

Per story, the features on the stimulus TR grid ((N - 5, D), e.g. ``feats.scp`` of
``espnet_brain.bin.fmri_encoding_inference``, or a directory of ``<story>.npy``) are z-scored with the statistics
of the response rows, delayed (FIR delays, default 1..4 TRs: the response at TR t sees the features of TR t - d;
the delays reach into the grid rows before the response rows instead of zero-filling) and cut to the response rows
``[10:-5]`` (N - 20 rows, LeBel timing). A :class:`~espnet_brain.voxelwise.ridge.VoxelwiseRidgeCV` is fit on the
training stories with one penalty per voxel chosen by cross-validated correlation over contiguous chunks of TRs,
then predicts the test stories.

Penalty convention: himalaya / scikit-learn, ``S / (S^2 + alpha)``; the Huth-lab grid ``logspace(1, 4, 10)``
(``S / (S^2 + a^2)``) is ``logspace(2, 8, 10)`` here, the default.

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
import time
from typing import Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
import yaml

from espnet_brain.data.lebel import TRIM_END, TRIM_START
from espnet_brain.fmri.delays import make_delayed_np
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS, ChunkedKFold, VoxelwiseRidgeCV

logger = logging.getLogger("ridge_encoding")


def read_arrays(source: str) -> Dict[str, np.ndarray]:
    """Arrays per story: a Kaldi ``.scp`` (kaldiio), an ``.scp`` of ``.npy`` files or a directory of ``<story>.npy``."""
    if os.path.isdir(source):
        names = sorted(f for f in os.listdir(source) if f.endswith(".npy"))
        if not names:
            raise ValueError(f"{source}: no .npy file")
        return {n[: -len(".npy")]: np.load(os.path.join(source, n)) for n in names}
    if not os.path.isfile(source):
        raise ValueError(f"{source} does not exist (expected a .scp file or a directory of <story>.npy)")
    with open(source, encoding="utf-8") as f:
        entries = [line.split(maxsplit=1) for line in f if line.strip()]
    if entries and all(len(e) == 2 and e[1].strip().endswith(".npy") for e in entries):
        return {k: np.load(v.strip()) for k, v in entries}  # an scp of .npy files (e.g. repeats.scp)
    return {k: np.asarray(v) for k, v in kaldiio.load_scp(source).items()}


def read_many(sources: Sequence[str]) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    for source in sources:
        out.update(read_arrays(source))
    return out


def design_matrix(feats: np.ndarray, delays: Sequence[int], story: str = "story") -> np.ndarray:
    """Z-score (statistics of the response rows), delay on the whole grid, cut to the response rows.

    Args:
        feats: (N - 5, D) features on the stimulus grid.
        delays: FIR delays in TRs.
        story: name for error messages.

    Returns:
        (N - 20, D * len(delays)) float32.
    """
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] <= TRIM_START + TRIM_END:
        raise ValueError(f"{story}: features of shape {feats.shape}, expected (N - 5, D) on the stimulus grid")
    if not np.all(np.isfinite(feats)):
        raise ValueError(f"{story}: features contain NaN or inf")
    rows = feats[TRIM_START:-TRIM_END]
    std = rows.std(axis=0)
    z = (feats - rows.mean(axis=0)) / np.where(std > 0, std, 1.0)
    z[:, ~(std > 0)] = 0.0
    return make_delayed_np(z, delays)[TRIM_START:-TRIM_END].astype(np.float32)


def stack(
    feats: Dict[str, np.ndarray], responses: Optional[Dict[str, np.ndarray]], stories: Sequence[str], delays
) -> Tuple[np.ndarray, Optional[np.ndarray], List[int]]:
    """Design matrices (and responses) of ``stories`` stacked over time; also the row count of each story."""
    xs, ys, lengths = [], [], []
    for story in stories:
        if story not in feats:
            raise ValueError(f"no features for story {story}")
        x = design_matrix(feats[story], delays, story)
        if responses is not None:
            y = np.asarray(responses[story], dtype=np.float32)
            if y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"{story}: {feats[story].shape[0]} feature rows give {x.shape[0]} response rows, but its responses "
                    f"have {y.shape[0]} (features must be on the N - 5 row stimulus grid, responses N - 20 rows)"
                )
            ys.append(y)
        xs.append(x)
        lengths.append(x.shape[0])
    return np.concatenate(xs), (np.concatenate(ys) if ys else None), lengths


def fit_predict(
    train_feats: Dict[str, np.ndarray],
    train_responses: Dict[str, np.ndarray],
    test_feats: Dict[str, np.ndarray],
    delays: Sequence[int] = (1, 2, 3, 4),
    alphas: Sequence[float] = HUTH_ALPHAS,
    n_splits: int = 5,
    chunk_len: int = 40,
    solver: str = "svd",
    backend: str = "numpy",
    n_targets_batch: Optional[int] = None,
    seed: int = 0,
) -> Tuple[Dict[str, np.ndarray], VoxelwiseRidgeCV]:
    """Fit on the training stories (those with responses), predict every test story.

    Returns:
        ({test story: (N - 20, V) predictions}, the fitted estimator; its ``cv`` holds the folds used, fewer or of
        shorter chunks than ``n_splits`` / ``chunk_len`` when the training TRs are too few for them).
    """
    train = sorted(s for s in train_responses if s in train_feats)
    missing = sorted(s for s in train_responses if s not in train_feats)
    if missing:
        raise ValueError(f"training stories without features: {missing}")
    if not train:
        raise ValueError("no training story")
    x, y, _ = stack(train_feats, train_responses, train, delays)
    # a small corpus gets fewer folds or shorter chunks (logged); model.cv holds the ones used
    cv = ChunkedKFold(n_splits=n_splits, chunk_len=chunk_len, shuffle=True, random_state=seed).adapted_to(x.shape[0])
    start = time.perf_counter()
    model = VoxelwiseRidgeCV(alphas=alphas, cv=cv, solver=solver, backend=backend, n_targets_batch=n_targets_batch).fit(
        x, y
    )
    logger.info(
        f"ridge on {len(train)} stories ({x.shape[0]} TRs, {x.shape[1]} delayed features, {y.shape[1]} voxels) in "
        f"{time.perf_counter() - start:.1f} s; median alpha {np.median(model.best_alphas_):.3g}, "
        f"mean CV r {np.mean(model.cv_scores_):.3f}"
    )
    preds = {}
    for story in sorted(test_feats):
        xt, _, _ = stack(test_feats, None, [story], delays)
        preds[story] = model.predict(xt).astype(np.float32)
    return preds, model


def _floats(value: str) -> List[float]:
    value = value.strip()
    if value.startswith("logspace(") and value.endswith(")"):
        a, b, n = (float(v) for v in value[len("logspace(") : -1].split(","))
        return [float(v) for v in np.logspace(a, b, int(n))]
    return [float(v) for v in value.replace(",", " ").split()]


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
        type=_floats,
        default=list(HUTH_ALPHAS),
        help="penalties, himalaya/scikit-learn convention S/(S^2+alpha): list or 'logspace(a,b,n)' "
        "(default logspace(2,8,10) = the Huth-lab logspace(1,4,10) squared)",
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
