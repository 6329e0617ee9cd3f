"""Scores of the same systems over several runs (seeds): mean, spread and paired differences.

One run is one draw: on a corpus of a few hundred sentences, another seed (other sentences, other simulated
neurons or voxels, another initialisation) moves a system's CER by points, as much as many differences between
transfer modes. This module reads the ``RESULTS.json`` of each run (written by :mod:`espnet_brain.bin.score`, or by
:mod:`espnet_brain.bin.score_encoding`, whose entries are "<system> | <roi>"), keeps the systems every run has, and
gives per system one statistic (CER, WER, or any number the entries hold, such as ``fraction_of_ceiling``) in each
run, its mean, sample standard deviation and range; and for a pair of systems their difference in every run
(paired: the same test set), its mean and in how many runs the first is lower.
"""

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

METRICS = ("cer", "wer")  # of the decoding results; any other numeric key of the entries may be summarised too


@dataclass
class SystemSummary:
    """One system over the runs: ``values`` in run order."""

    name: str
    values: List[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        """Sample standard deviation (n - 1); NaN for a single run."""
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan


@dataclass
class PairSummary:
    """``first`` minus ``second`` in each run (negative: the first has fewer errors)."""

    first: str
    second: str
    differences: List[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.differences)

    @property
    def first_lower(self) -> int:
        return sum(d < 0 for d in self.differences)


def read_results(path: str) -> Dict[str, dict]:
    """The systems of one ``RESULTS.json``, by name, in its order.

    Raises:
        ValueError: not a results file of :mod:`espnet_brain.bin.score` (the message names the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        systems = data["systems"]
        return {s["name"]: s for s in systems}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path}: not a RESULTS.json of espnet_brain.bin.score or score_encoding ({type(err).__name__}: {err})"
        ) from err


def summarize(
    runs: Sequence[Tuple[str, Dict[str, dict]]], metric: str = "cer"
) -> Tuple[List[SystemSummary], Dict[str, List[str]]]:
    """Each system's ``metric`` over the runs.

    Args:
        runs: (label, systems by name) of each run, as :func:`read_results` gives them.
        metric: the statistic: ``cer`` or ``wer`` (in %) of decoding results, or another key of the entries.

    Returns:
        The systems every run has, in the first run's order, and for each system some run lacks the labels of
        the runs that lack it (left out of the summary).
    """
    if not runs:
        raise ValueError("no runs to summarize")
    names: List[str] = []
    for _, systems in runs:
        names += [n for n in systems if n not in names]
    missing = {n: [label for label, systems in runs if n not in systems] for n in names}
    missing = {n: labels for n, labels in missing.items() if labels}
    rows = []
    for n in names:
        if n in missing:
            continue
        values = [systems[n].get(metric) for _, systems in runs]
        if all(v is None for v in values):
            continue  # a statistic this entry does not have (e.g. the paired difference of the first system)
        bad = [label for (label, _), v in zip(runs, values) if not isinstance(v, (int, float))]
        if bad:
            raise ValueError(f"{n!r}: no number {metric!r} in the runs {bad}")
        rows.append(SystemSummary(n, [float(v) for v in values]))
    if not rows:
        raise ValueError(f"no system has the statistic {metric!r} in every run")
    return rows, missing


def pair(rows: Sequence[SystemSummary], first: str, second: str) -> PairSummary:
    """The paired difference ``first - second`` of two summarised systems.

    Raises:
        ValueError: a name that no summarised system has (the message lists them).
    """
    by_name = {r.name: r for r in rows}
    for name in (first, second):
        if name not in by_name:
            raise ValueError(f"no system {name!r} in every run; systems: {list(by_name)}")
    return PairSummary(first, second, [a - b for a, b in zip(by_name[first].values, by_name[second].values)])


def _cell(text: str) -> str:
    """``text`` in a Markdown table cell (the encoding report's names hold "|")."""
    return text.replace("|", "\\|")


def summary_table(
    rows: Sequence[SystemSummary],
    labels: Sequence[str],
    pairs: Sequence[PairSummary] = (),
    metric: str = "cer",
    title: str = "Over runs",
    digits: Optional[int] = None,
) -> str:
    """Markdown: one row per system (each run, mean, sd, range), then the paired differences.

    ``digits`` after the point: by default 2 for CER and WER (%), 3 for other statistics (r, fractions, p-values).
    """
    if digits is None:
        digits = 2 if metric in METRICS else 3
    f = f".{digits}f"
    unit = metric.upper() if metric in METRICS else metric
    what = f"{unit} (%)" if metric in METRICS else unit
    lines = [f"## {title}", "", f"{what} of each run, mean, sample standard deviation and range.", ""]
    lines.append("| system | " + " | ".join(labels) + " | mean | sd | range |")
    lines.append("|---|" + "---:|" * (len(labels) + 3))
    for r in rows:
        runs = " | ".join(f"{v:{f}}" for v in r.values)
        sd = "-" if math.isnan(r.sd) else f"{r.sd:{f}}"
        lines.append(f"| {_cell(r.name)} | {runs} | {r.mean:{f}} | {sd} | {min(r.values):{f}} to {max(r.values):{f}} |")
    if pairs:
        lines += ["", f"Paired differences in {unit} (first minus second, the same test set in each run).", ""]
        lines.append("| first | second | " + " | ".join(labels) + " | mean | first lower in |")
        lines.append("|---|---|" + "---:|" * (len(labels) + 2))
        for p in pairs:
            diffs = " | ".join(f"{d:+{f}}" for d in p.differences)
            n = len(p.differences)
            lines.append(f"| {_cell(p.first)} | {_cell(p.second)} | {diffs} | {p.mean:+{f}} | {p.first_lower} of {n} |")
    return "\n".join(lines) + "\n"
