"""The report of encoding models scored on held-out stories: voxelwise r, noise ceiling, normalised r, per-ROI
tables and plots, written as Markdown (``RESULTS.md``) with the voxel maps beside it.

For each system, the voxelwise Pearson r over the test TRs (stories concatenated) is computed against the responses.
The noise ceiling comes from the repeated presentations of the test story ((R, T, V)) as Schoppe et al.'s CC_max
(:mod:`espnet_brain.voxelwise.noise_ceiling`); with ``ceiling_reference="mean"`` it is the ceiling of a model scored
against the mean of the repeats, which is what the LeBel ``data`` of the test story is. Normalised r = r / ceiling on
voxels whose ceiling exceeds ``min_ceiling``. Voxels outside the voxel mask (voxels with NaN) are left out of every
number and counted. matplotlib is imported only when plots are asked for.

Every system after the first is also compared with the first on the same voxels, whole cortex and per ROI: the
mean difference in r, the share of voxels it wins and Wilcoxon's signed-rank p over voxels
(:func:`espnet_brain.voxelwise.scoring.paired_difference`), and p of a paired block bootstrap over the test TRs
(:func:`espnet_brain.voxelwise.bootstrap.block_bootstrap_difference`, 10-TR blocks inside stories). Voxels are
spatially correlated, which makes the test over voxels optimistic; the bootstrap asks instead whether the gain in
mean r holds beyond the particular test time points.

Shapes: ``T`` TRs, ``V`` voxels, ``R`` repeats.
"""

import json
import logging
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.voxelwise.bootstrap import block_bootstrap_difference
from espnet_brain.voxelwise.brain_maps import plot_glass_brain
from espnet_brain.voxelwise.io import read_arrays
from espnet_brain.voxelwise.noise_ceiling import noise_ceiling
from espnet_brain.voxelwise.scoring import (
    _pyplot,
    normalized_correlation,
    paired_difference,
    pearson_r,
    plot_difference_histogram,
    plot_score_histogram,
    roi_summary,
    save_figure,
)

logger = logging.getLogger(__name__)


def concat_stories(arrays: Dict[str, np.ndarray], stories: Sequence[str], what: str) -> np.ndarray:
    """The arrays of ``stories`` ({story: (T_s, V)}) concatenated in that order, (sum of T_s, V) float64.

    ``what`` names the source (a file) in the error raised when a story is missing.
    """
    missing = [s for s in stories if s not in arrays]
    if missing:
        raise ValueError(f"{what}: no entry for test stories {missing} (has {sorted(arrays)})")
    return np.concatenate([np.asarray(arrays[s], dtype=np.float64) for s in stories])


def voxel_scores(pred: np.ndarray, resp: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    """(V,) Pearson r over time of (T, V) predictions and responses; NaN outside the (V,) bool mask."""
    if pred.shape != resp.shape:
        raise ValueError(f"predictions of shape {pred.shape} but responses of shape {resp.shape}")
    r = pearson_r(resp, pred)
    if mask is not None:
        r = np.where(mask, r, np.nan)
    return r


def summarize(
    r: np.ndarray, rois: Dict[str, np.ndarray], ceiling: Optional[np.ndarray], min_ceiling: float
) -> Dict[str, Dict[str, float]]:
    """Per ROI ("all" first): n_voxels, mean, median r; with a ceiling: mean ceiling, mean r / mean ceiling and the
    mean normalised r over the voxels whose ceiling exceeds ``min_ceiling``.

    Args:
        r: (V,) voxelwise r, NaN for masked voxels.
        rois: {roi: voxel indices}.
        ceiling: (V,) noise ceiling, or None.
        min_ceiling: voxels with a lower ceiling are left out of the ceiling columns.

    Returns:
        {roi: {statistic: value}}.
    """
    out = roi_summary(r, rois)
    for name, sel in {"all": slice(None), **rois}.items():
        row = out[name]
        if ceiling is None:
            continue
        rs, cs = r[sel], ceiling[sel]
        ok = np.isfinite(rs) & np.isfinite(cs) & (cs > min_ceiling)
        row["n_ceiling"] = float(ok.sum())
        row["mean_ceiling"] = float(np.mean(cs[ok])) if ok.any() else float("nan")
        row["fraction_of_ceiling"] = float(np.mean(rs[ok]) / np.mean(cs[ok])) if ok.any() else float("nan")
        norm = normalized_correlation(rs[ok], cs[ok], min_ceiling)
        row["mean_normalized"] = float(np.nanmean(norm)) if ok.any() else float("nan")
    return out


def plot_systems_by_roi(
    results: Dict[str, Dict[str, Dict[str, float]]],
    rois: Dict[str, np.ndarray],
    ceiling: Optional[np.ndarray],
    path: str,
) -> str:
    """Grouped bars of the mean r of every system per ROI ("all" first), the mean noise ceiling as a black mark.

    Args:
        results: {system: output of :func:`summarize`}.
        rois: {roi: voxel indices}.
        ceiling: (V,) noise ceiling, or None.
        path: output .png path (parent directories are created).

    Returns:
        The path written.
    """
    plt = _pyplot()
    names = ["all"] + list(rois)
    systems = list(results)
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names) + 2), 4))
    x = np.arange(len(names))
    for i, system in enumerate(systems):
        offset = (i - (len(systems) - 1) / 2) * width
        ax.bar(x + offset, [results[system][n]["mean"] for n in names], width, label=system)
    if ceiling is not None:
        sel = {"all": slice(None), **rois}
        levels = [np.nanmean(ceiling[sel[n]]) for n in names]
        ax.hlines(levels, x - 0.45, x + 0.45, color="k", lw=1.5, label="noise ceiling (mean CC_max)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x, names)
    ax.set_ylabel("mean voxelwise r")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "system"


def _fmt_p(p: float) -> str:
    return "-" if not np.isfinite(p) else f"{p:.2g}"


def _fmt(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"


def score(
    responses: str,
    systems: Sequence[Tuple[str, str]],
    out: str,
    repeats: Optional[str] = None,
    voxel_mask: Optional[str] = None,
    rois: Optional[str] = None,
    plot_dir: Optional[str] = None,
    title: str = "fMRI encoding",
    ceiling_reference: str = "mean",
    min_ceiling: float = 0.2,
    notes: Sequence[str] = (),
    brain_mask: Optional[str] = None,
    brain_mask_order: str = "C",
    partition: Optional[str] = None,
    controls: Sequence[str] = (),
    compared: Sequence[str] = (),
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Score every system and write the Markdown report, ``r_<system>.npy`` and ``noise_ceiling.npy`` beside it.

    Args:
        responses: test responses, (T_s, V) per story (``response.scp`` or a directory of ``<story>.npy``).
        systems: (name, predictions) pairs; predictions as ``responses``, one entry per test story.
        out: Markdown report to write.
        repeats: repeated presentations of the test story, (R, T_s, V) per story; None: no noise ceiling.
        voxel_mask: ``.npy`` of (V,) bool, the voxels scored.
        rois: JSON {roi: [voxel indices]}.
        plot_dir: where the PNG plots go; None: no plots (and no matplotlib import).
        title: heading of the report.
        ceiling_reference: "mean" (a model scored against the mean of the repeats) or "single".
        min_ceiling: voxels with a lower ceiling are left out of the normalised numbers.
        notes: lines added to the report's header.
        brain_mask: a 3-D NIfTI mask mapping the V voxels into a volume (:mod:`espnet_brain.voxelwise.brain_maps`):
            with ``plot_dir`` and nilearn installed, glass-brain views of every system's r and of each difference
            from the first system.
        brain_mask_order: "C" or "F", the order in which the mask's voxels were flattened.
        partition: a directory written by ``espnet_brain.bin.partition_encoding``: its section (per ROI: each feature
            space's r / ceiling, unique and shared variance, the winning space) is added
            (:mod:`espnet_brain.voxelwise.partition_results`).
        controls: control systems (e.g. the log-mel and articulatory ridge): every system of ``compared`` (default:
            every other system) is compared with each, per ROI, with the paired block bootstrap.
        compared: the systems compared with the controls (e.g. the speech model's layers).

    Returns:
        {system: output of :func:`summarize`}.
    """
    unknown = [c for c in list(controls) + list(compared) if c not in [name for name, _ in systems]]
    if unknown:
        raise ValueError(f"--control/--compare: no system named {unknown} (systems: {[n for n, _ in systems]})")
    resp_arrays = read_arrays(responses)
    stories = sorted(resp_arrays)
    resp = concat_stories(resp_arrays, stories, responses)
    n_voxels = resp.shape[1]
    mask = None
    if voxel_mask is not None:
        mask = np.load(voxel_mask)
        if mask.dtype != bool or mask.shape != (n_voxels,):
            raise ValueError(f"{voxel_mask}: expected bool ({n_voxels},), got {mask.dtype} {mask.shape}")
    roi_table: Dict[str, np.ndarray] = {}
    if rois is not None:
        with open(rois, encoding="utf-8") as f:
            roi_table = {k: np.asarray(v, dtype=np.int64) for k, v in json.load(f).items()}
    ceiling = None
    n_repeats = 0
    if repeats is not None:
        rep_arrays = read_arrays(repeats)
        with_reps = [s for s in stories if s in rep_arrays]
        if with_reps:
            reps = np.concatenate([np.asarray(rep_arrays[s], dtype=np.float64) for s in with_reps], axis=1)
            n_repeats = reps.shape[0]
            ceiling = noise_ceiling(reps, reference=ceiling_reference)
            if mask is not None:
                ceiling = np.where(mask, ceiling, np.nan)
            if len(with_reps) < len(stories):
                logger.warning(f"noise ceiling from {with_reps} only; other test stories have no repeats")
    results: Dict[str, Dict[str, Dict[str, float]]] = {}
    r_maps: Dict[str, np.ndarray] = {}
    preds: Dict[str, np.ndarray] = {}
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    for name, path in systems:
        pred = concat_stories(read_arrays(path), stories, path)
        r = voxel_scores(pred, resp, mask)
        r_maps[name] = r
        preds[name] = pred
        results[name] = summarize(r, roi_table, ceiling, min_ceiling)
        np.save(os.path.join(out_dir, f"r_{_slug(name)}.npy"), r)
    if ceiling is not None:
        np.save(os.path.join(out_dir, "noise_ceiling.npy"), ceiling)
    names = list(r_maps)
    diffs = {name: r_maps[name] - r_maps[names[0]] for name in names[1:]}  # each system minus the first, per voxel
    plots: List[Tuple[str, str]] = []
    if plot_dir is not None:
        bars = plot_systems_by_roi(results, roi_table, ceiling, os.path.join(plot_dir, "roi_mean_r.png"))
        plots.append(("mean r per ROI, every system (black: mean noise ceiling)", os.path.relpath(bars, out_dir)))
        for name, r in r_maps.items():
            hist = plot_score_histogram(r, os.path.join(plot_dir, f"{_slug(name)}_hist.png"), title=name[:40])
            plots.append((f"histogram of voxelwise r: {name}", os.path.relpath(hist, out_dir)))
        for name, diff in diffs.items():
            png = os.path.join(plot_dir, f"{_slug(name)}_minus_first_hist.png")
            plot_difference_histogram(diff, roi_table, png, title=f"{name} minus {names[0]}")
            plots.append(
                (f"voxelwise r of {name} minus {names[0]}, all voxels and per ROI", os.path.relpath(png, out_dir))
            )
        if brain_mask is not None:
            maps = [(name, r_maps[name], False, f"{_slug(name)}_glass.png") for name in names]
            maps += [(f"{name} minus {names[0]}", diff, True, f"{_slug(name)}_minus_first_glass.png")
                     for name, diff in diffs.items()]  # fmt: skip
            for what, values, symmetric, png in maps:
                drawn = plot_glass_brain(values, brain_mask, os.path.join(plot_dir, png), what, brain_mask_order,
                                         symmetric)  # fmt: skip
                if drawn is not None:
                    plots.append((f"glass brain: {what}", os.path.relpath(drawn, out_dir)))
    # every other system against the first (the frozen-feature ridge in the recipes), per ROI
    sel = {"all": slice(None), **roi_table}
    groups = np.repeat(np.arange(len(stories)), [len(resp_arrays[s]) for s in stories])
    paired = {}
    for name in names[1:]:
        paired[name] = {}
        for roi, idx in sel.items():
            row = paired_difference(r_maps[names[0]][idx], r_maps[name][idx])
            scored = np.isfinite(diffs[name][idx])  # voxels scored for both systems
            row["p_bootstrap"] = _bootstrap_p(resp, preds[names[0]], preds[name], np.arange(n_voxels)[idx][scored],
                                              groups, f"{name!r} vs {names[0]!r}")  # fmt: skip
            paired[name][roi] = row
    _write_markdown(
        out, title, stories, resp.shape[0], n_voxels, mask, results, roi_table, ceiling, n_repeats, ceiling_reference,
        min_ceiling, plots, notes, paired,
    )  # fmt: skip
    extra = _partition_and_controls(partition, controls, compared, resp, stories, preds, r_maps, roi_table, ceiling,
                                    min_ceiling, groups, plot_dir, out_dir)  # fmt: skip
    if extra:
        with open(out, "a", encoding="utf-8") as f:
            f.write("\n".join(extra) + "\n")
    json_out = write_results_json(out, title, results, paired, names[0])
    logger.info(f"wrote {out} and {json_out}")
    return results


def write_results_json(
    out: str,
    title: str,
    results: Dict[str, Dict[str, Dict[str, float]]],
    paired: Dict[str, Dict[str, Dict[str, float]]],
    first: str,
) -> str:
    """Write the report's numbers beside it (``RESULTS.json`` for ``RESULTS.md``), one entry per (system, ROI).

    Each entry is named ``"<system> | <roi>"`` and holds the ROI's statistics (:func:`summarize`) and, for every
    system but the first, its paired difference from the first (``minus_first_mean_r``, ``minus_first_wins``,
    ``minus_first_p``, ``minus_first_p_bootstrap``), so that runs can be compared by program
    (``espnet_brain.bin.seed_summary --metric fraction_of_ceiling``). NaN is written as null.

    Returns:
        The path written.
    """

    def finite(x: float) -> Optional[float]:
        return None if not np.isfinite(x) else float(x)

    systems = []
    for name, rois in results.items():
        for roi, stats in rois.items():
            entry = {"name": f"{name} | {roi}", "system": name, "roi": roi}
            entry.update({k: finite(v) for k, v in stats.items()})
            if name in paired and roi in paired[name]:
                diff = paired[name][roi]
                entry.update(
                    minus_first_mean_r=finite(diff["mean_diff"]), minus_first_wins=finite(diff["wins"]),
                    minus_first_p=finite(diff["p"]), minus_first_p_bootstrap=finite(diff["p_bootstrap"]),
                )  # fmt: skip
            systems.append(entry)
    path = os.path.splitext(out)[0] + ".json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"title": title, "first": first, "systems": systems}, f, indent=2)
        f.write("\n")
    return path


def _partition_and_controls(
    partition, controls, compared, resp, stories, preds, r_maps, roi_table, ceiling, min_ceiling, groups, plot_dir,
    out_dir,
) -> List[str]:  # fmt: skip
    """Markdown lines of the control comparisons and the variance-partition section (empty without them)."""
    from espnet_brain.voxelwise.partition_results import (
        control_comparisons,
        format_control_comparisons,
        partition_section,
    )
    from espnet_brain.voxelwise.story_partition import load_story_partition

    lines: List[str] = []
    if controls:
        others = list(compared) or [n for n in preds if n not in controls]
        lines += format_control_comparisons(
            control_comparisons(resp, preds, r_maps, controls, others, roi_table, groups)
        )
    if partition is not None:
        lines += partition_section(load_story_partition(partition), resp, stories, roi_table, ceiling, min_ceiling,
                                   plot_dir, out_dir)  # fmt: skip
    return lines


def _bootstrap_p(resp, pred_a, pred_b, cols, groups, what: str) -> float:
    """p of the paired block bootstrap over test TRs on the voxels ``cols``."""
    try:
        return block_bootstrap_difference(resp[:, cols], pred_a[:, cols], pred_b[:, cols], groups=groups)["p"]
    except ValueError as e:  # no voxel left, or a test set shorter than two blocks
        logger.warning(f"bootstrap of {what} skipped: {e}")
        return float("nan")


def _write_markdown(
    out, title, stories, n_trs, n_voxels, mask, results, roi_table, ceiling, n_repeats, reference, min_ceiling, plots,
    notes, paired=None,
):  # fmt: skip
    n_valid = n_voxels if mask is None else int(mask.sum())
    lines = [f"# {title}", ""]
    lines += [f"- Test: {', '.join(stories)} ({n_trs} TRs), {n_voxels} voxels ({n_voxels - n_valid} masked: NaN in "
              "the data)"]  # fmt: skip
    if ceiling is not None:
        lines.append(
            f"- Noise ceiling: CC_max from {n_repeats} repeats (Schoppe et al. 2016), reference = {reference} of the "
            f"repeats; fraction of ceiling = mean r / mean ceiling and normalised r = mean of r / ceiling, both over "
            f"voxels with a ceiling above {min_ceiling}"
        )
    else:
        lines.append("- No repeats of the test story: no noise ceiling")
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Whole cortex", ""]
    head = "| system | voxels | mean r | median r |"
    sep = "|---|---:|---:|---:|"
    if ceiling is not None:
        head += " mean ceiling | fraction of ceiling | mean normalised r |"
        sep += "---:|---:|---:|"
    lines += [head, sep]
    for name, summary in results.items():
        row = summary["all"]
        line = f"| {name} | {int(row['n_voxels'])} | {_fmt(row['mean'])} | {_fmt(row['median'])} |"
        if ceiling is not None:
            line += (
                f" {_fmt(row['mean_ceiling'])} | {_fmt(row['fraction_of_ceiling'])} | {_fmt(row['mean_normalized'])} |"
            )
        lines.append(line)
    if roi_table:
        names = ["all"] + list(roi_table)
        lines += ["", "## Per ROI: mean r" + (" (fraction of ceiling)" if ceiling is not None else ""), ""]
        lines += ["| system | " + " | ".join(f"{n} ({int(next(iter(results.values()))[n]['n_voxels'])})" for n in names)
                  + " |", "|---|" + "---:|" * len(names)]  # fmt: skip
        for name, summary in results.items():
            cells = []
            for n in names:
                cell = _fmt(summary[n]["mean"])
                if ceiling is not None:
                    cell += f" ({_fmt(summary[n]['fraction_of_ceiling'])})"
                cells.append(cell)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if ceiling is not None:
            sel = {"all": slice(None), **roi_table}
            cells = [_fmt(float(np.nanmean(ceiling[sel[n]]))) for n in names]
            lines.append("| noise ceiling (mean CC_max) | " + " | ".join(cells) + " |")
    if paired:
        first = next(iter(results))
        names = ["all"] + list(roi_table)
        lines += ["", f'## Paired differences from "{first}"', ""]
        lines += ["Mean difference in r over the same voxels (system minus the first row), the fraction of voxels "
                  "where the system is higher, Wilcoxon's signed-rank p over voxels (two-sided), and p of a paired "
                  "bootstrap of the mean r over 10-TR blocks of the test TRs (two-sided, 1000 resamples).",
                  ""]  # fmt: skip
        lines += ["| system | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for name, rows in paired.items():
            cells = [f"{rows[n]['mean_diff']:+.3f} ({rows[n]['wins']:.0%}, p={_fmt_p(rows[n]['p'])}, "
                     f"bootstrap p={_fmt_p(rows[n]['p_bootstrap'])})"
                     if np.isfinite(rows[n]["mean_diff"]) else "-" for n in names]  # fmt: skip
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"- [{what}]({path})" for what, path in plots]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
