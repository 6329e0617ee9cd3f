"""Statistics and report of a BFE architecture sweep: per-mode best and median CER, paired comparisons.

Reads each run's ``<expdir>/asr_<tag>/decode_<test_set>/score.json`` (written by ``espnet_brain.bin.score``)
and writes ``SWEEP.md`` (per-mode best and median CER; wins of the reference mode on the same architecture and
a one-sided Wilcoxon signed-rank test), ``sweep_cer.png`` (CER per architecture, one marker per mode) and
``sweep_results.tsv``. The runs come from :mod:`espnet_brain.asr.sweep.grid`.
"""

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from espnet_brain.asr.sweep.grid import Run, check_existing_run, score_path

SCORE_KEYS = ("char_errors", "n_chars", "word_errors", "n_words", "n_utts")


@dataclass
class Score:
    """Corpus-level error rates of one run (from its ``score.json``)."""

    cer: float  # %
    wer: float  # %
    char_errors: int
    n_chars: int
    word_errors: int
    n_words: int
    n_utts: int


@dataclass
class ModeSummary:
    """CER of one mode over the architectures it was scored on."""

    mode: str
    n_runs: int
    best_cer: float
    best_arch: str
    median_cer: float
    median_wer: float


@dataclass
class Comparison:
    """Paired comparison of the reference mode with another mode on the same architectures.

    ``p_value`` is the one-sided Wilcoxon signed-rank test of H1: CER(reference) < CER(other); pairs with
    equal CER are dropped by the test (and count as ties, not wins). NaN when no pair differs.
    """

    reference: str
    other: str
    n_pairs: int
    wins: int  # architectures where the reference has the lower CER
    ties: int
    median_diff: float  # median of CER(other) - CER(reference), in CER points
    statistic: float  # scipy's W: sum of the ranks of pairs where the reference is worse
    p_value: float


def read_score(path: Union[str, Path]) -> Score:
    """Read a ``score.json`` written by ``espnet_brain.bin.score``; the rates are recomputed from the counts."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err}); rescore with python -m espnet_brain.bin.score") from err
    missing = [k for k in SCORE_KEYS if not isinstance(data, dict) or not isinstance(data.get(k), int)]
    if missing:
        raise ValueError(
            f"{path}: expected the integer counts {list(SCORE_KEYS)} of espnet_brain.bin.score, " f"missing {missing}"
        )
    ce, nc, we, nw, n = (data[k] for k in SCORE_KEYS)
    if nc == 0 or nw == 0:
        raise ValueError(f"{path}: no reference characters or words were scored")
    return Score(
        cer=100.0 * ce / nc, wer=100.0 * we / nw, char_errors=ce, n_chars=nc, word_errors=we, n_words=nw, n_utts=n
    )


def collect_scores(runs: Sequence[Run], expdir: Union[str, Path], test_set: str) -> Dict[str, Score]:
    """Scores of the runs that have a ``score.json`` (tag -> score)."""
    scores = {}
    for run in runs:
        path = score_path(expdir, run.tag, test_set)
        if path.exists():
            check_existing_run(run, expdir)
            scores[run.tag] = read_score(path)
    return scores


def _by_arch(runs: Sequence[Run], scores: Dict[str, Score], mode: str) -> Dict[str, Score]:
    return {r.arch_id: scores[r.tag] for r in runs if r.mode == mode and r.tag in scores}


def summarize_mode(runs: Sequence[Run], scores: Dict[str, Score], mode: str) -> Optional[ModeSummary]:
    """Best and median CER of one mode over its scored architectures (None if none is scored)."""
    by_arch = _by_arch(runs, scores, mode)
    if not by_arch:
        return None
    best = min(by_arch, key=lambda a: by_arch[a].cer)
    return ModeSummary(
        mode=mode,
        n_runs=len(by_arch),
        best_cer=by_arch[best].cer,
        best_arch=best,
        median_cer=statistics.median(s.cer for s in by_arch.values()),
        median_wer=statistics.median(s.wer for s in by_arch.values()),
    )


def compare_modes(
    ref: Sequence[float], other: Sequence[float], reference: str = "full", name: str = "other"
) -> Comparison:
    """Paired comparison of CERs on the same architectures.

    Args:
        ref: (n_pairs,) CER of the reference mode per architecture.
        other: (n_pairs,) CER of the other mode on the same architectures.
        reference: Reference mode label.
        name: Other mode label.

    Returns:
        Wins (reference strictly lower), ties, median difference and the one-sided Wilcoxon signed-rank
        test of H1: reference < other (``scipy.stats.wilcoxon(ref, other, alternative="less")``).
    """
    from scipy.stats import wilcoxon

    ref_a, other_a = np.asarray(ref, dtype=float), np.asarray(other, dtype=float)
    if ref_a.shape != other_a.shape or ref_a.ndim != 1:
        raise ValueError(
            f"compare_modes: expected two equal-length 1-D CER lists, got {ref_a.shape} and {other_a.shape}"
        )
    n = ref_a.size
    diff = other_a - ref_a
    wins, ties = int((diff > 0).sum()), int((diff == 0).sum())
    if n - ties == 0:  # nothing to rank: no evidence either way
        statistic = p_value = float("nan")
    else:
        result = wilcoxon(ref_a, other_a, alternative="less")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return Comparison(
        reference=reference,
        other=name,
        n_pairs=n,
        wins=wins,
        ties=ties,
        median_diff=float(np.median(diff)) if n else float("nan"),
        statistic=statistic,
        p_value=p_value,
    )


def compare_with_reference(runs: Sequence[Run], scores: Dict[str, Score], reference: str, other: str) -> Comparison:
    """:func:`compare_modes` on the architectures scored in both modes."""
    ref_by, other_by = _by_arch(runs, scores, reference), _by_arch(runs, scores, other)
    common = [a for a in ref_by if a in other_by]
    return compare_modes([ref_by[a].cer for a in common], [other_by[a].cer for a in common], reference, other)


def _modes(runs: Sequence[Run]) -> List[str]:
    return list(dict.fromkeys(r.mode for r in runs))


def _archs(runs: Sequence[Run]) -> List[str]:
    return list(dict.fromkeys(r.arch_id for r in runs))


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if p != p:
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def plot_sweep(runs: Sequence[Run], scores: Dict[str, Score], path: Union[str, Path], title: str = "") -> None:
    """CER per architecture, one marker per mode (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs, modes = _archs(runs), _modes(runs)
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(archs) + 3.0), 4.5))
    x = np.arange(len(archs))
    for i, mode in enumerate(modes):
        by_arch = _by_arch(runs, scores, mode)
        xs = [j for j, a in enumerate(archs) if a in by_arch]
        ax.plot(
            xs,
            [by_arch[archs[j]].cer for j in xs],
            linestyle="none",
            marker=markers[i % len(markers)],
            label=mode,
            alpha=0.85,
        )
    ax.set_xticks(x)
    ax.set_xticklabels(archs, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("BFE architecture (GRU layers, hidden units, FC stack)")
    ax.set_ylabel("CER (%)")
    ax.set_title(title or "CER per BFE architecture and transfer mode")
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(title="mode", loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over the markers
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sweep_report(
    runs: Sequence[Run],
    scores: Dict[str, Score],
    reference: str = "full",
    test_set: str = "test",
    title: str = "BFE architecture sweep",
    plot_name: Optional[str] = "sweep_cer.png",
    status: Optional[Dict[str, str]] = None,
) -> str:
    """Markdown report: per-mode summary, reference-vs-mode comparisons, per-architecture table."""
    modes, archs = _modes(runs), _archs(runs)
    lines = [f"# {title}", ""]
    lines.append(
        f"Test set `{test_set}`; {len(archs)} BFE architecture(s) x {len(modes)} mode(s) ({', '.join(modes)}); "
        f"{len(scores)} of {len(runs)} runs scored. CER/WER in %, corpus level (errors summed over utterances)."
    )
    lines += ["", "## Per mode", "", "| mode | runs | best CER | best architecture | median CER | median WER |"]
    lines.append("|---|---:|---:|---|---:|---:|")
    for mode in modes:
        s = summarize_mode(runs, scores, mode)
        if s is None:
            lines.append(f"| {mode} | 0 | n/a | n/a | n/a | n/a |")
        else:
            lines.append(
                f"| {mode} | {s.n_runs} | {_fmt(s.best_cer)} | {s.best_arch} | {_fmt(s.median_cer)} | "
                f"{_fmt(s.median_wer)} |"
            )
    others = [m for m in modes if m != reference]
    if reference in modes and others:
        lines += ["", f"## {reference} vs each other mode, on the same architecture", ""]
        lines.append(
            f"| mode | pairs | {reference} wins | ties | median CER(mode) - CER({reference}) "
            "| Wilcoxon W | one-sided p |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for other in others:
            c = compare_with_reference(runs, scores, reference, other)
            lines.append(
                f"| {other} | {c.n_pairs} | {c.wins}/{c.n_pairs} | {c.ties} | {_fmt(c.median_diff)} | "
                f"{_fmt(c.statistic, 1)} | {_fmt_p(c.p_value)} |"
            )
        lines += [
            "",
            f"Wins: architectures where {reference} has the strictly lower CER. Test: Wilcoxon signed-rank, "
            f"H1: CER({reference}) < CER(mode) (`scipy.stats.wilcoxon(..., alternative='less')`; equal pairs are "
            "dropped; W is the rank sum of the pairs where the reference is worse; p from scipy's "
            "`method='auto'`: exact for up to 50 pairs without ties or zero differences, a permutation test or "
            "the normal approximation otherwise). With n pairs the smallest possible p is 2^-n, so a few "
            "architectures cannot reach significance.",
        ]
    lines += ["", "## Per architecture (CER / WER)", ""]
    lines.append("| architecture | " + " | ".join(modes) + " |")
    lines.append("|---|" + "---:|" * len(modes))
    table = {(r.arch_id, r.mode): scores.get(r.tag) for r in runs}
    for aid in archs:
        cells = []
        for mode in modes:
            s = table.get((aid, mode))
            cells.append("-" if s is None else f"{_fmt(s.cer)} / {_fmt(s.wer)}")
        lines.append(f"| {aid} | " + " | ".join(cells) + " |")
    if plot_name:
        lines += ["", f"![CER per architecture and mode]({plot_name})"]
    missing = [r.tag for r in runs if r.tag not in scores]
    if missing:
        lines += ["", "## Runs without a score", ""]
        for tag in missing:
            why = (status or {}).get(tag, "not run")
            lines.append(f"- `{tag}`: {why}")
    return "\n".join(lines) + "\n"


def write_results_tsv(runs: Sequence[Run], scores: Dict[str, Score], path: Union[str, Path]) -> None:
    """One line per run: tag, architecture, mode, CER, WER, error counts."""
    rows = ["tag\tarchitecture\tmode\tcer\twer\tchar_errors\tn_chars\tword_errors\tn_words\tn_utts"]
    for r in runs:
        s = scores.get(r.tag)
        if s is None:
            rows.append(f"{r.tag}\t{r.arch_id}\t{r.mode}\t\t\t\t\t\t\t")
        else:
            rows.append(
                f"{r.tag}\t{r.arch_id}\t{r.mode}\t{s.cer:.4f}\t{s.wer:.4f}\t{s.char_errors}\t{s.n_chars}\t"
                f"{s.word_errors}\t{s.n_words}\t{s.n_utts}"
            )
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")
