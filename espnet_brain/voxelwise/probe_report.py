"""The report of a probe study (:func:`espnet_brain.voxelwise.probe_runs.run_probes`): ``probes.json``,
``probes.md`` and one ``probes_<family>.png`` per target family.

``probes.json`` holds the settings, every system, layer and family (mean r and r per target) and the comparisons
with the reference (NaN written as null); ``probes.md`` the table of mean r (rows system/layer, columns families) and
then the comparisons; each plot the mean r per layer, one line per system.
"""

import json
import logging
import os
from typing import Dict, Sequence

import numpy as np

from espnet_brain.voxelwise.probe_runs import Comparisons, ProbeConfig, Results
from espnet_brain.voxelwise.probes import plot_probe_layers

logger = logging.getLogger(__name__)


def write_table(results: Results, families: Sequence[str]) -> str:
    """Markdown table of mean r: rows system/layer, columns families."""
    lines = ["| system | layer | " + " | ".join(families) + " |", "|---|---:|" + "---:|" * len(families)]
    for system, layers in results.items():
        for layer in sorted(layers):
            cells = []
            for family in families:
                mean_r = layers[layer][family].mean_r
                cells.append("n/a" if not np.isfinite(mean_r) else f"{mean_r:.3f}")
            lines.append(f"| {system} | {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{p:.2g}"


def write_comparisons(comparisons: Dict[str, Dict[int, dict]], reference: str, families: Sequence[str]) -> str:
    """Markdown table of the comparisons with the reference: one row per system, layer and family."""
    lines = [
        f"| system - {reference} | layer | targets | mean r difference [95 % CI] | p (block bootstrap) | targets up "
        "| p (Wilcoxon, targets) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for system, layers in comparisons.items():
        for layer, per_family in layers.items():
            for family in families:
                c = per_family[family]
                diff = f"{c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
                wins = f"{c['wins']:.0%} of {int(c['n_targets'])}"
                cells = [system, str(layer), family, diff, _p(c["p"]), wins, _p(c["p_targets"])]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _json(value):
    """Comparisons with NaN as None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return None if isinstance(value, float) and not np.isfinite(value) else value


def write_probe_report(
    output_dir: str, config: ProbeConfig, results: Results, comparisons: Comparisons, reference: str
) -> None:
    """Write ``probes.json``, ``probes.md`` and ``probes_<family>.png`` into ``output_dir`` (created if needed).

    Args:
        output_dir: Where the report goes.
        config: The settings of the study (written into ``probes.json``).
        results, comparisons, reference: What :func:`espnet_brain.voxelwise.probe_runs.run_probes` returned.
    """
    families = list(next(iter(next(iter(results.values())).values())))
    unit = "word" if config.words else "TR"
    os.makedirs(output_dir, exist_ok=True)
    report = {
        "feats": config.feats,
        "targets": config.targets,
        "stories": config.stories,
        "trim": config.trim,
        "words": config.words,
        "embeddings": config.embeddings,
        "rows": f"one per {unit}",
        "alphas": [float(a) for a in config.alphas],
        "cv": "leave-one-story-out; features z-scored with the training stories' statistics; per-target penalty by "
        f"{config.n_inner_splits}-fold contiguous inner CV; Pearson r of the concatenated out-of-fold predictions, "
        "each story's targets and predictions centred on their own mean",
        "results": {
            s: {str(k): {f: r.as_dict() for f, r in v.items()} for k, v in layers.items()}
            for s, layers in results.items()
        },
        "reference": reference,
        "comparisons": _json(comparisons),
        "bootstrap": {"block_trs": config.block_trs, "n_resamples": config.n_resamples},
    }
    with open(os.path.join(output_dir, "probes.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(output_dir, "probes.md"), "w", encoding="utf-8") as f:
        f.write(f"# Linear probes, one row per {unit}: mean Pearson r (leave-one-story-out)\n\n")
        f.write(write_table(results, families))
        if comparisons:
            f.write(
                f"\n## Against {reference}\n\nPaired block bootstrap over the scored {unit}s ({config.n_resamples} "
                f"resamples of blocks of {config.block_trs} {unit}s inside stories) and Wilcoxon's signed-rank test "
                "over targets.\n\n" + write_comparisons(comparisons, reference, families)
            )
    for family in families:
        per_system = {s: {k: v[family].mean_r for k, v in layers.items()} for s, layers in results.items()}
        plot_probe_layers(per_system, os.path.join(output_dir, f"probes_{family}.png"), title=f"{family} probes")
    logger.info(f"wrote {output_dir}/probes.json, probes.md and {len(families)} plot(s)")
