"""The variance-partition sections of an encoding report (``RESULTS.md``), and paired comparisons with controls.

:func:`partition_section`: for a partition saved by ``espnet_brain.bin.partition_encoding``
(:mod:`espnet_brain.voxelwise.story_partition`), per ROI (and "all"): each feature space's r on the test stories
(its one-space banded-ridge model; with a noise ceiling, as a fraction of it), the joint model's, each space's mean
unique variance, the shared variance and the fraction of voxels each space wins
(:func:`espnet_brain.voxelwise.partition_report.partition_roi_table`), and the bar plot of the winning space per ROI.

:func:`control_comparisons`: systems (e.g. ridge on each layer of a speech model) against control systems (ridge on
log-mel energies, on articulatory features), per ROI: the mean difference in r over the same voxels and p of the
paired block bootstrap over the test TRs (:func:`espnet_brain.voxelwise.bootstrap.block_bootstrap_difference`, 10-TR
blocks inside stories), as the report's comparisons with its first system.

Shapes: ``T`` test TRs (stories concatenated in sorted order), ``V`` voxels.
"""

import logging
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.voxelwise.bootstrap import block_bootstrap_difference
from espnet_brain.voxelwise.partition_report import format_partition_table, partition_roi_table
from espnet_brain.voxelwise.scoring import pearson_r
from espnet_brain.voxelwise.story_partition import JOINT, StoryPartition

logger = logging.getLogger(__name__)


def _fmt(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _fmt_p(p: float) -> str:
    return "-" if not np.isfinite(p) else f"{p:.2g}"


def _roi_sel(rois: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    return {"all": slice(None), **{k: np.asarray(v, dtype=np.int64) for k, v in rois.items()}}


def partition_table(sp: StoryPartition, rois: Mapping[str, np.ndarray]) -> Dict[str, Dict[str, float]]:
    """:func:`~espnet_brain.voxelwise.partition_report.partition_roi_table` for ROIs given as voxel indices (which
    may overlap, e.g. a group of kinds): ROI ("all" first) -> statistics."""
    part = sp.partition
    n = part.joint_r2.shape[0]
    table = {"all": partition_roi_table(part, np.full(n, "all"))["all"]}
    for roi, idx in rois.items():
        labels = np.full(n, "\0rest", dtype=object)
        labels[np.asarray(idx, dtype=np.int64)] = roi
        table[roi] = partition_roi_table(part, labels.astype(str))[roi]
    return table


def partition_section(
    sp: StoryPartition,
    resp: np.ndarray,
    stories: Sequence[str],
    rois: Mapping[str, np.ndarray],
    ceiling: Optional[np.ndarray] = None,
    min_ceiling: float = 0.2,
    plot_dir: Optional[str] = None,
    out_dir: str = ".",
) -> List[str]:
    """The Markdown lines of the variance-partition section.

    Args:
        sp: the partition with its test predictions (``story_partition.load_story_partition``).
        resp: (T, V) test responses, ``stories`` concatenated in that order.
        stories: the test stories, sorted (those of the partition's predictions).
        rois: {roi: voxel indices}.
        ceiling: (V,) noise ceiling, or None.
        min_ceiling: voxels with a lower ceiling are left out of the fractions of the ceiling.
        plot_dir: where the winning-space plot goes (None: no plot).
        out_dir: the report's directory (plots are linked relative to it).

    Returns:
        Markdown lines (no trailing newline), starting with a "## " heading.
    """
    part = sp.partition
    names = list(part.space_names)
    sel = _roi_sel(rois)
    lines = ["", f"## Variance partition: {', '.join(names)}", ""]
    settings = sp.settings
    seconds = sum(settings.get("fit_seconds", {}).values())
    lines += [
        f"Banded ridge (one penalty per space and voxel) for the joint model and every subset of the {len(names)} "
        f"spaces ({2 ** len(names) - 1} models, {settings.get('cv', 'cross-validated')}; fitted in {seconds:.1f} s), "
        "scored by held-out R2 on the test TRs and cut into the variance each space explains alone (unique) and "
        f"with others (shared), negative estimates corrected ({part.correction}). r is that of each one-space model "
        "(and of the joint one); a voxel is won by the space with the largest unique variance (none: nothing "
        "explained).",
        "",
    ]
    models = names + ([JOINT] if JOINT in sp.predictions else [])
    r_maps = {}
    for model in models:
        preds = sp.predictions.get(model)
        if preds is None:
            continue
        missing = [s for s in stories if s not in preds]
        if missing:
            raise ValueError(f"partition predictions of {model}: no test stories {missing} (has {sorted(preds)})")
        pred = np.concatenate([np.asarray(preds[s], dtype=np.float64) for s in stories])
        if pred.shape != resp.shape:
            raise ValueError(f"partition predictions of {model}: shape {pred.shape}, responses {resp.shape}")
        r = np.full(resp.shape[1], np.nan)
        ok = np.all(np.isfinite(pred), axis=0)
        r[ok] = pearson_r(resp[:, ok], pred[:, ok])
        r_maps[model] = r
    roi_names = list(sel)
    head = "r" + (" (fraction of ceiling)" if ceiling is not None else "")
    lines += [f"| model: {head} | " + " | ".join(roi_names) + " |", "|---|" + "---:|" * len(roi_names)]
    for model, r in r_maps.items():
        cells = []
        for roi in roi_names:
            rs = r[sel[roi]]
            cell = _fmt(float(np.nanmean(rs))) if np.isfinite(rs).any() else "-"
            if ceiling is not None:
                cs = ceiling[sel[roi]]
                ok = np.isfinite(rs) & np.isfinite(cs) & (cs > min_ceiling)
                cell += f" ({_fmt(float(np.mean(rs[ok]) / np.mean(cs[ok])) if ok.any() else float('nan'))})"
            cells.append(cell)
        label = "joint (all spaces)" if model == JOINT else model
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    table = partition_table(sp, rois)
    lines += ["", "Mean held-out R2 per ROI: joint model, unique to each space, shared; fraction of voxels won.", ""]
    lines += format_partition_table(table, names).split("\n")
    if plot_dir is not None:
        from espnet_brain.voxelwise.partition_report import plot_winning_space_by_roi

        png = plot_winning_space_by_roi(table, names, os.path.join(plot_dir, "partition_winning_space.png"))
        lines += ["", f"- [winning feature space per ROI (fraction of voxels)]({os.path.relpath(png, out_dir)})"]
    return lines


def control_comparisons(
    resp: np.ndarray,
    preds: Mapping[str, np.ndarray],
    r_maps: Mapping[str, np.ndarray],
    controls: Sequence[str],
    compared: Sequence[str],
    rois: Mapping[str, np.ndarray],
    groups: np.ndarray,
) -> Dict[Tuple[str, str], Dict[str, Dict[str, float]]]:
    """Each compared system against each control, per ROI, with the paired block bootstrap.

    Args:
        resp: (T, V) test responses.
        preds: {system: (T, V) predictions}.
        r_maps: {system: (V,) voxelwise r, NaN where not scored}.
        controls: the control systems (e.g. log-mel, articulatory features).
        compared: the systems compared with each control (e.g. every layer of a speech model).
        rois: {roi: voxel indices}.
        groups: (T,) story of each test TR (bootstrap blocks stay inside stories).

    Returns:
        {(system, control): {roi ("all" first): {"mean_diff" (system minus control), "wins", "p_bootstrap",
        "n_voxels"}}}.
    """
    unknown = [s for s in list(controls) + list(compared) if s not in preds]
    if unknown:
        raise ValueError(f"control comparisons: no system named {unknown} (systems: {list(preds)})")
    sel = _roi_sel(rois)
    out = {}
    for system in compared:
        for control in controls:
            if system == control:
                continue
            rows = {}
            for roi, idx in sel.items():
                d = (r_maps[system] - r_maps[control])[idx]
                cols = np.arange(resp.shape[1])[idx][np.isfinite(d)]
                row = {"n_voxels": float(cols.size), "mean_diff": float("nan"), "wins": float("nan"),
                       "p_bootstrap": float("nan")}  # fmt: skip
                if cols.size:
                    row["mean_diff"] = float(np.mean(d[np.isfinite(d)]))
                    row["wins"] = float(np.mean(d[np.isfinite(d)] > 0))
                    try:
                        row["p_bootstrap"] = block_bootstrap_difference(
                            resp[:, cols], preds[control][:, cols], preds[system][:, cols], groups=groups
                        )["p"]
                    except ValueError as e:  # a test set shorter than two blocks
                        logger.warning(f"bootstrap of {system!r} vs {control!r} in {roi} skipped: {e}")
                rows[roi] = row
            out[(system, control)] = rows
    return out


def format_control_comparisons(comparisons: Mapping[Tuple[str, str], Mapping[str, Mapping[str, float]]]) -> List[str]:
    """Markdown lines of :func:`control_comparisons` (a "## " heading, a sentence, one table row per pair)."""
    if not comparisons:
        return []
    roi_names = list(next(iter(comparisons.values())))
    lines = ["", "## Speech-model features against the controls", ""]
    lines += ["Mean difference in r over the same voxels (system minus control), the fraction of voxels where the "
              "system is higher, and p of a paired bootstrap of the mean r over 10-TR blocks of the test TRs "
              "(two-sided, 1000 resamples).", ""]  # fmt: skip
    lines += ["| system - control | " + " | ".join(roi_names) + " |", "|---|" + "---:|" * len(roi_names)]
    for (system, control), rows in comparisons.items():
        cells = [f"{rows[n]['mean_diff']:+.3f} ({rows[n]['wins']:.0%}, bootstrap p={_fmt_p(rows[n]['p_bootstrap'])})"
                 if np.isfinite(rows[n]["mean_diff"]) else "-" for n in roi_names]  # fmt: skip
        lines.append(f"| {system} - {control} | " + " | ".join(cells) + " |")
    return lines


def write_partition_report(
    sp: StoryPartition,
    test_responses: Mapping[str, np.ndarray],
    out: str,
    rois: Optional[Mapping[str, np.ndarray]] = None,
    repeats: Optional[Mapping[str, np.ndarray]] = None,
    voxel_mask: Optional[np.ndarray] = None,
    plot_dir: Optional[str] = None,
    min_ceiling: float = 0.2,
) -> str:
    """Write the partition's section alone as a Markdown file (what ``partition_encoding`` leaves beside its arrays).

    Args:
        sp: the fitted partition.
        test_responses: {story: (N - 20, V)}; the test stories of the partition.
        out: the Markdown file.
        rois: {roi: voxel indices}, or None.
        repeats: {story: (R, N - 20, V)} of test stories, for a noise ceiling (CC_max against the mean of the
            repeats), or None.
        voxel_mask: (V,) bool, voxels scored (others NaN), or None.
        plot_dir: where the winning-space plot goes (None: no plot).
        min_ceiling: voxels with a lower ceiling are left out of the fractions of the ceiling.

    Returns:
        ``out``.
    """
    from espnet_brain.voxelwise.noise_ceiling import noise_ceiling

    stories = sorted(test_responses)
    resp = np.concatenate([np.asarray(test_responses[s], dtype=np.float64) for s in stories])
    ceiling = None
    if repeats:
        with_reps = [s for s in stories if s in repeats]
        if with_reps:
            reps = np.concatenate([np.asarray(repeats[s], dtype=np.float64) for s in with_reps], axis=1)
            ceiling = noise_ceiling(reps, reference="mean")
            if voxel_mask is not None:
                ceiling = np.where(voxel_mask, ceiling, np.nan)
    out_dir = os.path.dirname(os.path.abspath(out))
    lines = partition_section(sp, resp, stories, rois or {}, ceiling, min_ceiling, plot_dir, out_dir)
    lines[1] = lines[1].replace("## ", "# ", 1)
    os.makedirs(out_dir, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines[1:]) + "\n")
    return out


__all__ = [
    "partition_section",
    "partition_table",
    "control_comparisons",
    "format_control_comparisons",
    "write_partition_report",
]
