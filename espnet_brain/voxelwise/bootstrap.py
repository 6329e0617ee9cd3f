"""Paired block bootstrap of a difference in correlation between two predictions of the same targets.

Two systems (e.g. ridge on frozen and on tuned features, or probes of a layer before and after tuning) predict the
same targets (voxels, probe targets) on the same time points. The question is whether the mean Pearson r over targets
differs by more than the choice of time points explains. Neighbouring TRs are correlated, so time points are
resampled in contiguous blocks (a moving-block bootstrap; blocks never straddle two stories), and both systems are
scored on the same resample: the test is paired.

Each resample only reweights blocks, so the five sums that define Pearson r (``n``, ``sum y``, ``sum p``,
``sum y^2``, ``sum p^2``, ``sum y p``) are computed once per block and a resample is a weighted sum of them: a
thousand resamples cost about as much as a few hundred correlations on the full data.

Example:
    >>> out = block_bootstrap_difference(y, pred_frozen, pred_tuned, groups=story_of_row, block_size=10)
    >>> out["mean_diff"], out["ci_low"], out["ci_high"], out["p"]

Shapes: ``n`` time points, ``K`` targets.
"""

from typing import Dict, Optional

import numpy as np


def _blocks(n: int, block_size: int, groups: Optional[np.ndarray]) -> np.ndarray:
    """Block index of each row: consecutive runs of ``block_size`` rows within each group (story)."""
    if groups is None:
        return np.arange(n) // block_size
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), one label per row, got {groups.shape}")
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    if len(np.unique(groups)) != len(starts):
        raise ValueError("groups: the rows of each group (story) must be contiguous")
    position = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    # a new block where a group starts or every block_size rows inside a group
    new_block = (position % block_size) == 0
    return np.cumsum(new_block) - 1


def _block_sums(y: np.ndarray, p: np.ndarray, block: np.ndarray) -> np.ndarray:
    """(n_blocks, 5, K) sums of p, p^2, y p and y, y^2 per block (blocks are contiguous runs of rows)."""
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    return np.stack([np.add.reduceat(v, starts, axis=0) for v in (p, p * p, y * p, y, y * y)], axis=1)


def _resampled_mean_r(weights: np.ndarray, size: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Mean r over targets of each resample: weights (B, n_blocks), size (n_blocks,), sums (n_blocks, 5, K) -> (B,).

    Resamples go in batches that keep the (batch, 5, K) sums near 160 MB, so that a whole cortex (~10^5 voxels) fits.
    """
    n_blocks, _, n_targets = sums.shape
    flat = sums.reshape(n_blocks, 5 * n_targets)
    batch = max(1, int(2e7 // (5 * n_targets)))
    out = []
    for i in range(0, len(weights), batch):
        w = weights[i : i + batch]
        out.append(_mean_r(w @ size, (w @ flat).reshape(len(w), 5, n_targets)))  # a matrix product (BLAS)
    return np.concatenate(out)


def _mean_r(count: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Mean over targets of Pearson r from weighted sums: count (B,), sums (B, 5, K) -> (B,)."""
    n = count[:, None]
    sp, spp, syp, sy, syy = (sums[:, j] for j in range(5))
    cov = n * syp - sy * sp
    var = (n * syy - sy**2) * (n * spp - sp**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    return np.nanmean(r, axis=1)


def block_bootstrap_difference(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    groups: Optional[np.ndarray] = None,
    block_size: int = 10,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict[str, float]:
    """Whether prediction B tracks the targets better than prediction A: paired block bootstrap of the mean r.

    Args:
        y_true: (n, K) targets (responses, probe targets); columns where the targets or either prediction have no
            variance are left out.
        pred_a: (n, K) predictions of system A.
        pred_b: (n, K) predictions of system B, same rows and columns.
        groups: (n,) story label of each row (contiguous runs); blocks stay inside a story. None: one story.
        block_size: rows per block, about the autocorrelation length (10 TRs = 20 s covers the hemodynamic
            response and most of a sentence).
        n_resamples: bootstrap resamples.
        confidence: level of the percentile interval.
        seed: seed of the resampling.

    Returns:
        {"mean_r_a", "mean_r_b", "mean_diff" (B - A on all rows), "ci_low", "ci_high" (percentile interval of
        the difference), "p" (two-sided: twice the smaller fraction of resamples on either side of 0, with the
        +1 correction, at most 1), "n_blocks", "n_resamples"}.

    Raises:
        ValueError: shapes that differ, fewer than 2 blocks, non-finite values, or bad settings.
    """
    y = np.asarray(y_true, dtype=np.float64)
    a = np.asarray(pred_a, dtype=np.float64)
    b = np.asarray(pred_b, dtype=np.float64)
    if y.ndim == 1:  # one target
        y, a, b = (v.reshape(len(v), -1) for v in (y, a, b))
    if y.ndim != 2 or a.shape != y.shape or b.shape != y.shape:
        raise ValueError(
            f"block_bootstrap_difference: y_true {np.shape(y_true)}, pred_a {np.shape(pred_a)} and pred_b "
            f"{np.shape(pred_b)} must all be (n, K)"
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("block_bootstrap_difference: NaN or inf in the targets or predictions")
    if block_size < 1 or n_resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"block_size {block_size} and n_resamples {n_resamples} must be >= 1, confidence {confidence} in (0, 1)"
        )
    # a correlation needs variance in the targets and in both predictions (a constant prediction has no r)
    keep = (y.std(axis=0) > 0) & (a.std(axis=0) > 0) & (b.std(axis=0) > 0)
    y, a, b = y[:, keep], a[:, keep], b[:, keep]
    block = _blocks(len(y), block_size, groups)
    n_blocks = int(block.max()) + 1 if len(block) else 0
    if n_blocks < 2 or not keep.any():
        raise ValueError(
            f"block_bootstrap_difference: {n_blocks} block(s) of {block_size} rows and {int(keep.sum())} target(s) "
            "where the targets and both predictions vary; need at least 2 blocks and 1 target"
        )
    size = np.bincount(block, minlength=n_blocks).astype(np.float64)
    sums_a = _block_sums(y, a, block)
    sums_b = _block_sums(y, b, block)
    ones = np.ones((1, n_blocks))
    observed_a = float(_resampled_mean_r(ones, size, sums_a)[0])
    observed_b = float(_resampled_mean_r(ones, size, sums_b)[0])
    rng = np.random.default_rng(seed)
    # a resample draws n_blocks blocks with replacement: a multinomial count per block
    weights = rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_resamples).astype(np.float64)
    diff = _resampled_mean_r(weights, size, sums_b) - _resampled_mean_r(weights, size, sums_a)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        raise ValueError("block_bootstrap_difference: no resample had a finite correlation for both predictions")
    tail = (1.0 - confidence) / 2.0
    below, above = np.sum(diff <= 0), np.sum(diff >= 0)
    p = min(1.0, 2.0 * (min(below, above) + 1) / (len(diff) + 1))
    return {
        "mean_r_a": observed_a,
        "mean_r_b": observed_b,
        "mean_diff": observed_b - observed_a,
        "ci_low": float(np.quantile(diff, tail)),
        "ci_high": float(np.quantile(diff, 1.0 - tail)),
        "p": float(p),
        "n_blocks": float(n_blocks),
        "n_resamples": float(len(diff)),
    }


__all__ = ["block_bootstrap_difference"]
