"""Per-ROI summaries of a variance partition for the recipes' reports: a table (as a dict and as Markdown) and a bar
plot of the winning feature space per ROI, in the style of :mod:`espnet_brain.voxelwise.report`.

Per ROI (and "all"): the number of voxels, the mean held-out joint R^2, the mean unique variance of each space, the
mean shared variance (all shared regions together), and the fraction of voxels each space wins
(:func:`espnet_brain.voxelwise.variance_partition.winning_space`; "none" for voxels that no space explains). Voxels
whose joint R^2 is NaN (outside the voxel mask) are left out and counted. matplotlib is imported only to plot.

Shapes: ``V`` voxels.
"""

import os
from typing import Dict, List, Mapping, Union

import numpy as np

from espnet_brain.voxelwise.scoring import _pyplot, save_figure
from espnet_brain.voxelwise.variance_partition import NO_WINNER, VariancePartition, winning_space


def partition_roi_table(
    partition: VariancePartition, roi_labels: np.ndarray, by: str = "unique", min_r2: float = 0.0
) -> Dict[str, Dict[str, float]]:
    """Summary of a variance partition per region of interest.

    Args:
        partition: the per-voxel partition.
        roi_labels: (V,) ROI name of each voxel (strings).
        by: how a voxel's winning space is chosen ("unique" or "single", see ``winning_space``).
        min_r2: voxels whose joint R^2 is at most this win for nobody ("none").

    Returns:
        ROI name ("all" first, then the ROIs in order of first appearance) -> {"n_voxels", "mean_joint_r2",
        "mean_unique_<space>" per space, "mean_shared", "win_<space>" per space, "win_none"}; fractions in [0, 1].
    """
    labels = np.asarray(roi_labels).astype(str)
    joint = partition.joint_r2
    if labels.shape != joint.shape:
        raise ValueError(f"roi_labels: expected shape {joint.shape} (one label per voxel), got {labels.shape}")
    valid = np.isfinite(joint)
    winners = winning_space(partition, by=by, min_r2=min_r2)
    shared = partition.shared()
    out: Dict[str, Dict[str, float]] = {}
    order = ["all"] + [r for r in dict.fromkeys(labels.tolist()) if r != "all"]
    for roi in order:
        sel = valid if roi == "all" else valid & (labels == roi)
        n = int(sel.sum())
        row = {"n_voxels": float(n), "mean_joint_r2": _mean(joint[sel])}
        for space in partition.space_names:
            row[f"mean_unique_{space}"] = _mean(partition.unique(space)[sel])
        row["mean_shared"] = _mean(shared[sel])
        for space in (*partition.space_names, NO_WINNER):
            row[f"win_{space}"] = float(np.mean(winners[sel] == space)) if n else float("nan")
        out[roi] = row
    return out


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def format_partition_table(table: Mapping[str, Mapping[str, float]], space_names: List[str]) -> str:
    """The output of :func:`partition_roi_table` as a Markdown table (one row per ROI).

    Args:
        table: ROI -> statistics, from :func:`partition_roi_table`.
        space_names: the feature spaces, in column order.

    Returns:
        The Markdown text (header, separator, one line per ROI; no trailing newline).
    """
    head = ["ROI", "voxels", "joint R2"] + [f"unique {s}" for s in space_names] + ["shared"]
    head += [f"wins {s}" for s in space_names] + ["wins none"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for roi, row in table.items():
        cells = [roi, str(int(row["n_voxels"])), f"{row['mean_joint_r2']:.3f}"]
        cells += [f"{row[f'mean_unique_{s}']:.3f}" for s in space_names] + [f"{row['mean_shared']:.3f}"]
        cells += [f"{100 * row[f'win_{s}']:.0f} %" for s in (*space_names, NO_WINNER)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_winning_space_by_roi(
    table: Mapping[str, Mapping[str, float]],
    space_names: List[str],
    path: Union[str, os.PathLike],
    title: str = "winning feature space per ROI",
) -> str:
    """Stacked bars, one per ROI, of the fraction of voxels each feature space wins, written as a PNG.

    Args:
        table: ROI -> statistics, from :func:`partition_roi_table`.
        space_names: the feature spaces (bar segments, in this order; "none" last, in grey).
        path: output .png path (parent directories are created).
        title: figure title.

    Returns:
        The path written.
    """
    plt = _pyplot()
    rois = list(table)
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(rois) + 2), 3.5))
    bottom = np.zeros(len(rois))
    colors = plt.get_cmap("tab10").colors
    for i, space in enumerate((*space_names, NO_WINNER)):
        frac = np.nan_to_num([table[r][f"win_{space}"] for r in rois])
        color = "0.8" if space == NO_WINNER else colors[i % len(colors)]
        ax.bar(rois, frac, bottom=bottom, color=color, label=space)
        bottom += frac
    ax.set_xticks(range(len(rois)))
    ax.set_xticklabels([f"{r}\n(n={int(table[r]['n_voxels'])})" for r in rois], fontsize=8)
    ax.set_ylabel("fraction of voxels")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path)


__all__ = ["partition_roi_table", "format_partition_table", "plot_winning_space_by_roi"]
