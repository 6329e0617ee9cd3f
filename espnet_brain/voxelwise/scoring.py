"""Scoring of encoding models the way the field reports them: voxelwise Pearson r on held-out data,
normalised by a noise ceiling, summarised per region of interest, and plotted.

Shapes: ``T`` TRs, ``V`` voxels.
"""

import os
import textwrap
from typing import Dict, Mapping, Optional, Union

import numpy as np

RoiIndex = Union[np.ndarray, slice]


def pearson_r(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Voxelwise Pearson correlation over time.

    Args:
        y_true: (T, V) measured responses.
        y_pred: (T, V) predicted responses.

    Returns:
        (V,) float64 correlations. A voxel whose response or prediction is constant gets 0 (no predictable
        variance); NaN or inf inputs raise ValueError instead of being silently replaced.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and y_pred: expected equal shapes (T, V), got {y_true.shape} and {y_pred.shape}")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: contains {int(np.sum(~np.isfinite(a)))} NaN or inf values")
    t = y_true - y_true.mean(0)
    p = y_pred - y_pred.mean(0)
    denom = np.sqrt((t * t).sum(0) * (p * p).sum(0))
    # (t * p).sum(0) per column without a (T, V) product temporary beyond the centred copies
    numer = np.einsum("tv,tv->v", t, p)
    return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), 0.0)


def normalized_correlation(r: np.ndarray, ceiling: np.ndarray, min_ceiling: float = 0.0) -> np.ndarray:
    """Correlation as a fraction of the noise ceiling (the best correlation a model could reach).

    Args:
        r: (V,) model correlations.
        ceiling: (V,) noise ceiling, e.g. ``noise_ceiling(repeats)`` from ``espnet_brain.voxelwise.noise_ceiling``.
        min_ceiling: voxels with a ceiling at or below this get NaN (the ratio is meaningless for noise voxels).

    Returns:
        (V,) r / ceiling, NaN where the ceiling is too low.
    """
    r = np.asarray(r, dtype=np.float64)
    ceiling = np.asarray(ceiling, dtype=np.float64)
    if r.shape != ceiling.shape:
        raise ValueError(f"r and ceiling: expected equal shapes (V,), got {r.shape} and {ceiling.shape}")
    ok = np.isfinite(ceiling) & (ceiling > min_ceiling)
    return np.where(ok, r / np.where(ok, ceiling, 1.0), np.nan)


def roi_summary(
    scores: np.ndarray, rois: Mapping[str, RoiIndex], ceiling: Optional[np.ndarray] = None
) -> Dict[str, Dict[str, float]]:
    """Summaries of voxelwise scores per region of interest.

    Args:
        scores: (V,) voxelwise scores (e.g. Pearson r).
        rois: ROI name -> voxel selection: (V,) bool mask, integer indices, or a slice. "all" is added.
        ceiling: optional (V,) noise ceiling; adds the mean normalised correlation and mean ceiling.

    Returns:
        ROI name -> {"n_voxels", "mean", "median", "p90", "max"[, "mean_ceiling", "mean_normalized"]}.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores: expected shape (V,), got {scores.shape}")
    out: Dict[str, Dict[str, float]] = {}
    for name, sel in {"all": slice(None), **dict(rois)}.items():
        sel_arr = np.asarray(sel) if not isinstance(sel, slice) else sel
        if isinstance(sel_arr, np.ndarray) and sel_arr.dtype == bool and sel_arr.shape != scores.shape:
            raise ValueError(f"rois[{name!r}]: boolean mask of shape {sel_arr.shape}, expected {scores.shape}")
        s = scores[sel_arr]
        s = s[np.isfinite(s)]
        row = {
            "n_voxels": float(s.size),
            "mean": float(s.mean()) if s.size else float("nan"),
            "median": float(np.median(s)) if s.size else float("nan"),
            "p90": float(np.percentile(s, 90)) if s.size else float("nan"),
            "max": float(s.max()) if s.size else float("nan"),
        }
        if ceiling is not None:
            c = np.asarray(ceiling, dtype=np.float64)[sel_arr]
            row["mean_ceiling"] = float(np.nanmean(c)) if c.size else float("nan")
            norm = normalized_correlation(scores[sel_arr], c)
            row["mean_normalized"] = float(np.nanmean(norm)) if np.isfinite(norm).any() else float("nan")
        out[name] = row
    return out


def paired_difference(r_a: np.ndarray, r_b: np.ndarray, min_voxels: int = 6) -> Dict[str, float]:
    """Whether model B scores higher than model A on the same voxels: a paired test over voxels.

    Wilcoxon's signed-rank test (scipy) on the voxelwise differences ``r_b - r_a``, two-sided: voxels are the
    pairs, so it asks whether B beats A on the typical voxel, without assuming normal differences. (Voxels are
    spatially correlated, so p is optimistic on real data; a bootstrap over test TRs is the stricter test.)

    Args:
        r_a: (V,) voxelwise r of model A (NaN: not scored).
        r_b: (V,) voxelwise r of model B, same voxels.
        min_voxels: with fewer finite pairs, p is NaN (too few for the test).

    Returns:
        {"n_voxels", "mean_diff", "median_diff", "wins" (fraction of voxels where B > A), "p"}.
    """
    from scipy.stats import wilcoxon

    if r_a.shape != r_b.shape:
        raise ValueError(f"paired_difference: r_a {r_a.shape} and r_b {r_b.shape} must have the same shape")
    d = np.asarray(r_b, dtype=np.float64) - np.asarray(r_a, dtype=np.float64)
    d = d[np.isfinite(d)]
    out = {"n_voxels": float(d.size), "mean_diff": float("nan"), "median_diff": float("nan"), "wins": float("nan"),
           "p": float("nan")}  # fmt: skip
    if d.size == 0:
        return out
    out.update(mean_diff=float(d.mean()), median_diff=float(np.median(d)), wins=float((d > 0).mean()))
    if d.size < min_voxels:
        return out
    # all-zero differences (B is A) have no ranks: no evidence of a difference
    out["p"] = 1.0 if not np.any(d) else float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return out


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Union[str, os.PathLike]) -> str:
    """Write ``fig`` as a PNG at ``path`` (parent directories created) and close it; returns the path."""
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return str(path)


def plot_score_histogram(
    scores: np.ndarray, path: Union[str, os.PathLike], title: str = "voxelwise correlation", bins: int = 50
) -> str:
    """Histogram of voxelwise scores, written as a PNG.

    Args:
        scores: (V,) scores; non-finite values are left out (and counted in the legend).
        path: output .png path (parent directories are created).
        title: figure title.
        bins: number of histogram bins.

    Returns:
        The path written.
    """
    plt = _pyplot()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    finite = scores[np.isfinite(scores)]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(finite, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(np.mean(finite) if finite.size else 0.0, color="k", ls="--", label=f"mean {np.mean(finite):.3f}")
    ax.set_xlabel("Pearson r")
    ax.set_ylabel("voxels")
    ax.set_title(f"{title} (n={finite.size}, {scores.size - finite.size} non-finite)")
    ax.legend()
    return save_figure(fig, path)


def plot_difference_histogram(
    diff: np.ndarray,
    rois: Mapping[str, np.ndarray],
    path: Union[str, os.PathLike],
    title: str = "B minus A",
    bins: int = 40,
) -> str:
    """Histogram of voxelwise differences in r (e.g. tuned minus frozen), all voxels and each ROI, as a PNG.

    Args:
        diff: (V,) differences; non-finite values (masked voxels) are left out.
        rois: {roi: voxel indices}, each drawn as its own outline on the same bins; may be empty.
        path: output .png path (parent directories are created).
        title: figure title, e.g. the two systems.
        bins: number of bins over the range of all finite differences.

    Returns:
        The path written.
    """
    plt = _pyplot()
    diff = np.asarray(diff, dtype=np.float64).ravel()
    finite = np.isfinite(diff)
    values = diff[finite]
    lo, hi = (values.min(), values.max()) if values.size else (-1.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.hist(values, bins=edges, color="0.75", label=f"all (n={values.size}, mean {values.mean():+.3f})")
    for name, idx in rois.items():
        part = diff[np.asarray(idx, dtype=np.int64)]
        part = part[np.isfinite(part)]
        if part.size:
            ax.hist(part, bins=edges, histtype="step", lw=1.5, label=f"{name} (mean {part.mean():+.3f})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("difference in Pearson r")
    ax.set_ylabel("voxels")
    ax.set_title("\n".join(textwrap.wrap(title, 70)[:3]), fontsize=8)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_roi_bars(
    summary: Mapping[str, Mapping[str, float]],
    path: Union[str, os.PathLike],
    key: str = "mean",
    title: str = "mean correlation per ROI",
) -> str:
    """Bar plot of one statistic of :func:`roi_summary` per ROI, written as a PNG.

    Args:
        summary: output of :func:`roi_summary`.
        path: output .png path.
        key: which statistic ("mean", "median", "p90", "mean_normalized", ...).
        title: figure title.

    Returns:
        The path written.
    """
    names = list(summary)
    missing = [n for n in names if key not in summary[n]]
    if missing:
        raise ValueError(
            f"key: {key!r} is not in the summary of ROIs {missing}; available: {sorted(summary[names[0]])}"
        )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3, 0.8 * len(names) + 1), 3.5))
    ax.bar(names, [summary[n][key] for n in names], color="tab:orange")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.axhline(0, color="k", lw=0.5)
    return save_figure(fig, path)
