"""Variance partitioning of story features: banded ridge on the LeBel TR grid, saved and reported per ROI.

Each feature space (e.g. a speech model's layer, log-mel energies, articulatory features of the phone tier) gives
per story an array on the stimulus grid, (N - 5, D_i), as the inputs of ``espnet_brain.bin.ridge_encoding``. Every
space is z-scored, delayed and cut to the response rows exactly as the story ridge does
(:func:`espnet_brain.voxelwise.stories.design_matrix`), then the joint model and every subset model (``2^k - 1``;
7 for three spaces) are fitted with :class:`~espnet_brain.voxelwise.banded.BandedRidgeCV` (one penalty per space and
voxel, chosen on shuffled contiguous chunks of the training TRs, the same folds for every model) and scored by
held-out R^2 on the test stories; :func:`~espnet_brain.voxelwise.variance_partition.partition_from_scores` cuts the
scores into unique and shared variance.

On disk (:func:`save_story_partition`, :func:`load_story_partition`)::

    <dir>/partition.json       space names, region and subset names, settings, fit times
    <dir>/unique_variance.npy  (V, k) variance explained by each space alone (after the correction), NaN off-mask
    <dir>/shared_variance.npy  (V, n_shared) the shared regions ("a&b", ..., in partition.json "shared")
    <dir>/subset_r2.npy        (V, 2^k - 1) held-out R^2 of every subset model, as measured
    <dir>/winning_space.txt    the space of each voxel with the largest unique variance ("none": nothing wins)
    <dir>/pred_<space>/        test predictions of each one-space model (<story>.npy, (N - 20, V)) and of the
                               joint model (pred_joint/), for r, the noise ceiling and paired comparisons

Shapes: ``V`` voxels, ``k`` feature spaces.
"""

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.voxelwise.ridge import ChunkedKFold
from espnet_brain.voxelwise.stories import stack_stories
from espnet_brain.voxelwise.variance_partition import (
    NO_WINNER,
    REGION_SEP,
    SUBSET_SEP,
    VariancePartition,
    partition_from_scores,
    r2_score,
    subsets,
    winning_space,
)

logger = logging.getLogger(__name__)

#: Penalty candidates of every space (himalaya convention S / (S^2 + alpha)): 1 to 1e8, every two decades. Coarser than
#: the story ridge's 17 (``ENCODING_ALPHAS``): the banded search tries ``n^k - (n - 1)^k`` space weightings (61 for 5
#: candidates and 3 spaces, 217 for 9). On the simulator's small preset (true feature blocks, 3 spaces, 400 voxels,
#: one thread) 5 candidates fit the 7 models in 13 s and 9 in 56 s, with the same recovery of the true unique
#: variance (tools/benchmarks/bench_partition_recovery.py).
PARTITION_ALPHAS = tuple(float(a) for a in np.logspace(0, 8, 5))
#: Name of the joint model's prediction directory.
JOINT = "joint"


@dataclass
class StoryPartition:
    """A variance partition fitted on stories, with the test predictions of its one-space and joint models.

    Attributes:
        partition: the per-voxel partition (regions (V,), NaN on voxels left out by the mask).
        predictions: model ("<space>" for the one-space models, :data:`JOINT`) -> {test story: (N - 20, V)}.
        settings: what was fitted (delays, alphas, folds, spaces' feature counts, fit seconds per model).
    """

    partition: VariancePartition
    predictions: Dict[str, Dict[str, np.ndarray]]
    settings: Dict = field(default_factory=dict)


def _check_spaces(feats: Mapping[str, Mapping[str, np.ndarray]], what: str) -> List[str]:
    names = list(feats)
    if len(names) < 2:
        raise ValueError(f"{what}: expected two or more feature spaces, got {names}")
    bad = [n for n in names if not n or REGION_SEP in n or SUBSET_SEP in n or "/" in n or n == JOINT]
    if bad:
        raise ValueError(
            f"{what}: space names {bad} are empty, {JOINT!r} or hold '{REGION_SEP}', '{SUBSET_SEP}' or '/'"
        )
    return names


def even_chunk_splits(
    n_samples: int, n_splits: int, chunk_len: int, seed: int = 0
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds of shuffled contiguous chunks of about ``chunk_len`` samples, with no short remainder.

    :class:`~espnet_brain.voxelwise.ridge.ChunkedKFold` cuts ``chunk_len``-sample chunks and a shorter last one; when
    that one lands alone in a fold (201 TRs in chunks of 40 over 5 folds: a 1-TR fold), its held-out R^2 is
    meaningless (no variance to explain: -1e11 for any prediction) and decides the penalty of every voxel. Here the
    chunk length is stretched so that the samples split into ``round(n / chunk_len)`` chunks of near-equal length.

    Args:
        n_samples: training samples (TRs).
        n_splits: folds (fewer, with a warning, when there are fewer chunks).
        chunk_len: the chunk length aimed at.
        seed: seed of the shuffle of the chunks over the folds.

    Returns:
        [(train indices, validation indices)] per fold.
    """
    n_chunks = max(1, int(round(n_samples / chunk_len)))
    even = int(np.ceil(n_samples / n_chunks))
    cv = ChunkedKFold(n_splits=n_splits, chunk_len=even, shuffle=True, random_state=seed).adapted_to(n_samples)
    return list(cv.split(np.zeros((n_samples, 1))))


def fit_story_partition(
    train_feats: Mapping[str, Mapping[str, np.ndarray]],
    train_responses: Mapping[str, np.ndarray],
    test_feats: Mapping[str, Mapping[str, np.ndarray]],
    test_responses: Mapping[str, np.ndarray],
    delays: Sequence[int] = (1, 2, 3, 4),
    alphas: Sequence[float] = PARTITION_ALPHAS,
    n_splits: int = 5,
    chunk_len: int = 40,
    seed: int = 0,
    voxel_mask: Optional[np.ndarray] = None,
    score_func: str = "r2",
    correction: str = "least_squares",
    backend: str = "numpy",
    n_targets_batch: Optional[int] = None,
) -> StoryPartition:
    """Fit the joint and every subset banded-ridge model on the training stories and partition the test R^2.

    Args:
        train_feats: space -> {story: (N - 5, D_i)} on the stimulus grid, covering the training stories.
        train_responses: {story: (N - 20, V)} of the training stories (those with features in every space are used).
        test_feats: space -> {story: (N - 5, D_i)}, covering the test stories; the same spaces as ``train_feats``.
        test_responses: {story: (N - 20, V)} of the test stories (stories concatenated in sorted order).
        delays: FIR delays in TRs.
        alphas: penalty candidates of every space (himalaya convention ``S / (S^2 + alpha)``).
        n_splits: cross-validation folds (fewer, with a warning, for a small corpus).
        chunk_len: TRs per contiguous cross-validation chunk, about (:func:`even_chunk_splits`).
        seed: seed of the shuffle of the chunks over the folds.
        voxel_mask: (V,) bool, the voxels fitted (others get NaN); None: all.
        score_func: the penalty search's validation score ("r2", the partition's unit, or "correlation").
        correction: correction of negative estimates ("least_squares", "clip", "none").
        backend: himalaya backend ("numpy", "torch", "torch_cuda").
        n_targets_batch: voxels per batch (None: all).

    Returns:
        The :class:`StoryPartition`.
    """
    from espnet_brain.voxelwise.banded import BandedRidgeCV

    names = _check_spaces(train_feats, "train_feats")
    if list(test_feats) != names:
        raise ValueError(f"test_feats: expected the spaces {names} of train_feats, got {list(test_feats)}")
    train = sorted(s for s in train_responses if all(s in train_feats[n] for n in names))
    lacking = {n: sorted(s for s in train_responses if s not in train_feats[n]) for n in names}
    lacking = {n: s for n, s in lacking.items() if s}
    if lacking:
        raise ValueError(f"training stories without features: {lacking}")
    if not train:
        raise ValueError("no training story")
    test = sorted(test_responses)
    missing = {n: [s for s in test if s not in test_feats[n]] for n in names}
    missing = {n: s for n, s in missing.items() if s}
    if missing:
        raise ValueError(f"test stories without features: {missing}")
    xs_train, xs_test = [], []
    y_train = y_test = None
    for n in names:
        x, y, _ = stack_stories(train_feats[n], train_responses, train, delays)
        xt, yt, lengths = stack_stories(test_feats[n], test_responses, test, delays)
        xs_train.append(x)
        xs_test.append(xt)
        y_train, y_test = y, yt
    n_voxels = y_train.shape[1]
    if y_test.shape[1] != n_voxels:
        raise ValueError(f"test responses have {y_test.shape[1]} voxels, training responses {n_voxels}")
    mask = np.ones(n_voxels, bool) if voxel_mask is None else np.asarray(voxel_mask, bool)
    if mask.shape != (n_voxels,):
        raise ValueError(f"voxel_mask: expected shape ({n_voxels},), got {mask.shape}")
    cols = np.flatnonzero(mask)
    splits = even_chunk_splits(y_train.shape[0], n_splits, chunk_len, seed)
    params = dict(
        alphas=list(alphas), cv=splits, score_func=score_func, backend=backend, n_targets_batch=n_targets_batch
    )
    scores: Dict[str, np.ndarray] = {}
    penalties: Dict[str, np.ndarray] = {}
    predictions: Dict[str, Dict[str, np.ndarray]] = {}
    seconds: Dict[str, float] = {}
    bounds = np.cumsum([0] + lengths)
    for subset in subsets(len(names)):
        key = SUBSET_SEP.join(names[i] for i in subset)
        start = time.perf_counter()
        model = BandedRidgeCV(**params).fit([xs_train[i] for i in subset], y_train[:, cols])
        pred = np.full(y_test.shape, np.nan, np.float32)
        pred[:, cols] = model.predict([xs_test[i] for i in subset])
        seconds[key] = round(time.perf_counter() - start, 3)
        score = np.full(n_voxels, np.nan)
        score[cols] = r2_score(y_test[:, cols], pred[:, cols])
        scores[key] = score
        penalties[key] = model.penalties_
        if len(subset) == 1 or len(subset) == len(names):
            label = names[subset[0]] if len(subset) == 1 else JOINT
            predictions[label] = {s: pred[a:b] for s, a, b in zip(test, bounds, bounds[1:])}
        logger.info(f"banded ridge {key}: {seconds[key]:.1f} s, mean held-out R2 {np.nanmean(score):.4f}")
    partition = partition_from_scores({k: np.nan_to_num(v) for k, v in scores.items()}, names, correction)
    partition.subset_r2 = scores  # NaN off the mask, as measured elsewhere
    partition.regions = {k: np.where(mask, v, np.nan) for k, v in partition.regions.items()}
    partition.penalties = penalties
    settings = {
        "spaces": {n: int(x.shape[1] // len(delays)) for n, x in zip(names, xs_train)},
        "delays_tr": [int(d) for d in delays],
        "alphas": [float(a) for a in alphas],
        "alpha_convention": "himalaya/scikit-learn S/(S^2 + alpha), one penalty per space and voxel",
        "cv": f"{len(splits)} folds of shuffled contiguous chunks of about {chunk_len} TRs, the same for every model; "
        f"penalties chosen by validation {score_func}",
        "score": "held-out R2 on the test stories (1 - SSE/SST per voxel)",
        "correction": correction,
        "train_stories": train,
        "test_stories": test,
        "n_train_trs": int(y_train.shape[0]),
        "n_test_trs": int(y_test.shape[0]),
        "n_voxels_fitted": int(cols.size),
        "fit_seconds": seconds,
    }
    return StoryPartition(partition, predictions, settings)


def save_story_partition(result: StoryPartition, out_dir: str) -> None:
    """Write a :class:`StoryPartition` to ``out_dir`` in the layout of the module docstring."""
    part = result.partition
    names = list(part.space_names)
    os.makedirs(out_dir, exist_ok=True)
    shared = [k for k in part.regions if REGION_SEP in k]
    np.save(os.path.join(out_dir, "unique_variance.npy"), np.stack([part.regions[n] for n in names], axis=1))
    np.save(os.path.join(out_dir, "shared_variance.npy"), np.stack([part.regions[k] for k in shared], axis=1))
    np.save(os.path.join(out_dir, "subset_r2.npy"), np.stack(list(part.subset_r2.values()), axis=1))
    winners = winning_space(_finite(part))
    winners[~np.isfinite(part.joint_r2)] = NO_WINNER
    with open(os.path.join(out_dir, "winning_space.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{w}\n" for w in winners)
    for model, preds in result.predictions.items():
        pdir = os.path.join(out_dir, f"pred_{model}")
        os.makedirs(pdir, exist_ok=True)
        for story, pred in preds.items():
            np.save(os.path.join(pdir, f"{story}.npy"), pred)
    meta = {
        "space_names": names,
        "shared": shared,
        "subsets": list(part.subset_r2),
        "correction": part.correction,
        "winning_space": "the space with the largest unique variance per voxel ('none': joint R2 <= 0)",
        **result.settings,
    }
    with open(os.path.join(out_dir, "partition.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)


def _finite(part: VariancePartition) -> VariancePartition:
    """The partition with NaN (masked voxels) as 0, for functions that rank values."""
    return VariancePartition(
        space_names=part.space_names,
        regions={k: np.nan_to_num(v) for k, v in part.regions.items()},
        subset_r2={k: np.nan_to_num(v) for k, v in part.subset_r2.items()},
        correction=part.correction,
    )


def load_story_partition(out_dir: str) -> StoryPartition:
    """Read what :func:`save_story_partition` wrote (predictions included)."""
    from espnet_brain.voxelwise.io import read_arrays

    path = os.path.join(out_dir, "partition.json")
    if not os.path.isfile(path):
        raise ValueError(f"{out_dir}: no partition.json (expected the output of espnet_brain.bin.partition_encoding)")
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    names = meta["space_names"]
    unique = np.load(os.path.join(out_dir, "unique_variance.npy"))
    shared = np.load(os.path.join(out_dir, "shared_variance.npy"))
    r2 = np.load(os.path.join(out_dir, "subset_r2.npy"))
    regions = {n: unique[:, i] for i, n in enumerate(names)}
    regions.update({k: shared[:, i] for i, k in enumerate(meta["shared"])})
    part = VariancePartition(
        space_names=tuple(names),
        regions=regions,
        subset_r2={k: r2[:, i] for i, k in enumerate(meta["subsets"])},
        correction=meta["correction"],
    )
    predictions = {}
    for model in list(names) + [JOINT]:
        pdir = os.path.join(out_dir, f"pred_{model}")
        if os.path.isdir(pdir):
            predictions[model] = read_arrays(pdir)
    settings = {k: v for k, v in meta.items() if k not in ("space_names", "shared", "subsets", "correction")}
    return StoryPartition(part, predictions, settings)


__all__ = [
    "StoryPartition",
    "fit_story_partition",
    "even_chunk_splits",
    "save_story_partition",
    "load_story_partition",
    "PARTITION_ALPHAS",
]
