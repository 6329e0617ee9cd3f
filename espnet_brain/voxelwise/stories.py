"""Ridge encoding models of whole stories: design matrices on the LeBel TR grid, fit on training stories,
prediction of test stories.

Per story, the features on the stimulus TR grid (array of shape (N - 5, D), see :mod:`espnet_brain.voxelwise.timing`)
are z-scored with the statistics of the response rows, delayed (FIR delays, default 1..4 TRs: the response at TR t
sees the features of TR t - d; the delays reach into the grid rows before the response rows instead of zero-filling)
and cut to the response rows ``[10:-5]`` (N - 20 rows). A :class:`~espnet_brain.voxelwise.ridge.VoxelwiseRidgeCV` is
fit on the training stories with one penalty per voxel chosen by cross-validated correlation over contiguous chunks
of TRs, then predicts the test stories. The default grid, :data:`ENCODING_ALPHAS` = ``logspace(0, 8, 17)``, reaches
two decades below the Huth-lab grid (``logspace(2, 8, 10)`` in this convention): on the simulator's small corpus
(560 training TRs, 32 log-mel bands x 4 delays) three voxels in four chose that grid's smallest penalty and the
lower ones gained (``tools/benchmarks/bench_logmel_control.py``).
"""

import logging
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.voxelwise.delays import make_delayed_np
from espnet_brain.voxelwise.ridge import ChunkedKFold, VoxelwiseRidgeCV
from espnet_brain.voxelwise.timing import TRIM_END, TRIM_START

logger = logging.getLogger(__name__)

#: Penalties of the story ridge (himalaya convention S / (S^2 + alpha)): 1 to 1e8, half a decade apart.
ENCODING_ALPHAS = tuple(float(a) for a in np.logspace(0, 8, 17))


def design_matrix(feats: np.ndarray, delays: Sequence[int], story: str = "story") -> np.ndarray:
    """Z-score (statistics of the response rows), delay on the whole grid, cut to the response rows.

    Args:
        feats: array of shape (N - 5, D), features on the stimulus grid.
        delays: FIR delays in TRs.
        story: name for error messages.

    Returns:
        array of shape (N - 20, D * len(delays)), float32.
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


def stack_stories(
    feats: Dict[str, np.ndarray],
    responses: Optional[Dict[str, np.ndarray]],
    stories: Sequence[str],
    delays: Sequence[int],
) -> Tuple[np.ndarray, Optional[np.ndarray], List[int]]:
    """Design matrices (and responses) of ``stories`` stacked over time.

    Args:
        feats: {story: array of shape (N - 5, D)}, features on the stimulus grid.
        responses: {story: array of shape (N - 20, V)}, or None for features only.
        stories: the stories to stack, in order.
        delays: FIR delays in TRs.

    Returns:
        X of shape (n_samples, D * len(delays)), Y of shape (n_samples, V) (None without ``responses``), and the
        row count of each story (summing to n_samples).
    """
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
    alphas: Sequence[float] = ENCODING_ALPHAS,
    n_splits: int = 5,
    chunk_len: int = 40,
    solver: str = "svd",
    backend: str = "numpy",
    n_targets_batch: Optional[int] = None,
    seed: int = 0,
) -> Tuple[Dict[str, np.ndarray], VoxelwiseRidgeCV]:
    """Fit on the training stories (those with responses), predict every test story.

    Args:
        train_feats: {story: array of shape (N - 5, D)}, features of (at least) the training stories.
        train_responses: {story: array of shape (N - 20, V)}, responses of the training stories.
        test_feats: {story: array of shape (N - 5, D)}, features of the stories to predict.
        delays: FIR delays in TRs.
        alphas: penalties, himalaya / scikit-learn convention ``S / (S^2 + alpha)`` (default
            :data:`ENCODING_ALPHAS`, 1 to 1e8).
        n_splits: cross-validation folds.
        chunk_len: TRs per contiguous cross-validation chunk.
        solver: a key of ``RIDGE_CV_SOLVERS`` ("svd" or "himalaya").
        backend: "numpy", "torch" or "torch_cuda".
        n_targets_batch: voxels per batch (None: all).
        seed: seed of the shuffle of the chunks over the folds.

    Returns:
        ({test story: array of shape (N - 20, V), float32 predictions}, the fitted estimator; its ``cv`` holds the
        folds used, fewer or of shorter chunks than ``n_splits`` / ``chunk_len`` when the training TRs are too few
        for them).
    """
    train = sorted(s for s in train_responses if s in train_feats)
    missing = sorted(s for s in train_responses if s not in train_feats)
    if missing:
        raise ValueError(f"training stories without features: {missing}")
    if not train:
        raise ValueError("no training story")
    x, y, _ = stack_stories(train_feats, train_responses, train, delays)
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
        xt, _, _ = stack_stories(test_feats, None, [story], delays)
        preds[story] = model.predict(xt).astype(np.float32)
    return preds, model
