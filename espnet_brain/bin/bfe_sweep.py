"""Sweep brain feature extractor (BFE) architectures over the transfer modes and compare the modes.

Fiedler et al. (2025) trained every BFE of a grid (GRU layers x hidden units x FC stack) in three
transfer modes (full fine-tuning of the pretrained transformer, the same model from scratch, a frozen
pretrained transformer) and asked how often full fine-tuning wins on the same BFE. This program runs
that comparison for any recipe:

1. writes one training config per (architecture, mode): the mode's base config with the grid's
   ``frontend_conf`` keys (``num_layers``, ``hidden_size``, ``fc_sizes``, ...) replaced;
2. with ``--run true``, trains, decodes and scores each with the recipe's stage script
   (``./brain_asr.sh --stage 6 --stop_stage 8 --asr_config <config> --asr_tag <tag>``), skipping runs that
   already have a score, so an interrupted sweep resumes where it stopped;
3. reads each ``<expdir>/asr_<tag>/decode_<test_set>/score.txt`` and writes ``SWEEP.md`` (per-mode best and
   median CER; wins of the reference mode on the same architecture and a one-sided Wilcoxon signed-rank
   test), ``sweep_cer.png`` (CER per architecture, one marker per mode) and ``sweep_results.tsv``.

Run it from a recipe directory whose data, token list, pretrained model and shape statistics exist
(stages 1-5 of ``brain_asr.sh``)::

    python -m espnet_brain.bin.bfe_sweep --out_dir exp/bfe_sweep --test_set brain_test --run true \\
        --base_config full=conf/train_brain_full.yaml --base_config scratch=conf/train_brain_scratch.yaml \\
        --base_config frozen=conf/train_brain_frozen.yaml \\
        --num_layers 1 3 5 --hidden_size 256 512 1024 --fc_sizes none 128 256 512 512,128 \\
        --recipe_args "--feats_type neural --train_set brain_train --valid_set brain_dev --test_sets brain_test"

A grid file (YAML or JSON) holds either a mapping ``frontend_conf key -> list of values`` (their product)
or a list of architectures (mappings of ``frontend_conf`` overrides). Without a grid, the 45 architectures
of Fiedler et al. are used.
"""

import argparse
import copy
import inspect
import itertools
import logging
import re
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import yaml

# The grid of Fiedler et al. (2025): 3 x 3 x 5 = 45 BFE architectures.
PAPER_GRID: Dict[str, List[Any]] = {
    "num_layers": [1, 3, 5],
    "hidden_size": [256, 512, 1024],
    "fc_sizes": [[], [128], [256], [512], [512, 128]],
}
# Short names of frequent keys in run tags (l5_h512_fcnone); other keys keep their name.
SHORT_NAMES = {"num_layers": "l", "hidden_size": "h", "fc_sizes": "fc"}
# encoder_conf.mode that a base config of each usual mode name must have.
ENCODER_MODE = {"full": "finetune", "scratch": "scratch", "frozen": "frozen"}
# frontend_conf keys fixed by the data and the transformer, not by the BFE architecture.
NOT_SWEPT = ("input_size", "output_size", "n_days")

Grid = Union[Dict[str, List[Any]], List[Dict[str, Any]]]


@dataclass
class Run:
    """One training run of the sweep."""

    tag: str  # experiment name: <expdir>/asr_<tag>
    mode: str  # transfer mode label (full, scratch, frozen, ...)
    arch_id: str  # e.g. l5_h512_fcnone
    arch: Dict[str, Any]  # frontend_conf overrides
    config: Path  # the written training config


@dataclass
class Score:
    """Corpus-level error rates of one run (from its ``score.txt``)."""

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


# ----------------------------------------------------------------------------------------------------------------
# Grid and configs


def parse_fc_sizes(text: str) -> List[int]:
    """``"none"`` or ``""`` -> ``[]``; ``"512,128"`` -> ``[512, 128]``."""
    text = text.strip()
    if text.lower() in ("", "none", "[]"):
        return []
    try:
        sizes = [int(s) for s in text.strip("[]").split(",")]
    except ValueError:
        raise ValueError(f"--fc_sizes: expected 'none' or comma-separated ints such as 512,128, got '{text}'")
    if any(s < 1 for s in sizes):
        raise ValueError(f"--fc_sizes: expected positive sizes, got '{text}'")
    return sizes


def _sweepable_keys() -> List[str]:
    from espnet_brain.asr.frontend.brain_gru import BrainGRUFrontend

    params = inspect.signature(BrainGRUFrontend.__init__).parameters
    return [k for k in params if k != "self" and k not in NOT_SWEPT]


def load_grid(path: Union[str, Path]) -> Grid:
    """Read a grid file (YAML or JSON: JSON is YAML too)."""
    with open(path, encoding="utf-8") as f:
        grid = yaml.safe_load(f)
    if not isinstance(grid, (dict, list)) or not grid:
        raise ValueError(
            f"{path}: expected a mapping 'frontend_conf key -> list of values' or a list of architectures, "
            f"got {type(grid).__name__}"
        )
    return grid


def expand_grid(grid: Grid, source: str = "grid") -> List[Dict[str, Any]]:
    """Architectures (``frontend_conf`` overrides) of a grid, in order.

    Args:
        grid: Mapping ``key -> list of values`` (their product; num_layers varies slowest, then hidden_size,
            fc_sizes, then other keys in the given order) or a list of mappings.
        source: Name of the grid's origin for error messages.

    Returns:
        One dict per architecture.
    """
    if isinstance(grid, dict):
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{source}: '{key}' must be a non-empty list of values, got {values!r}")
        keys = _canonical_order(grid)
        archs = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    elif isinstance(grid, list):
        if not all(isinstance(a, dict) and a for a in grid):
            raise ValueError(f"{source}: a list grid must hold non-empty mappings of frontend_conf overrides")
        archs = [{k: a[k] for k in _canonical_order(a)} for a in grid]
    else:
        raise TypeError(f"{source}: expected a dict or a list, got {type(grid).__name__}")

    allowed = _sweepable_keys()
    for arch in archs:
        unknown = sorted(set(arch) - set(allowed))
        if unknown:
            raise ValueError(
                f"{source}: unknown or fixed frontend_conf keys {unknown}; the brain_gru frontend's sweepable keys "
                f"are {allowed} ({list(NOT_SWEPT)} come from the data and the transformer)"
            )
        if "fc_sizes" in arch:
            fc = arch["fc_sizes"]
            arch["fc_sizes"] = parse_fc_sizes(fc) if isinstance(fc, str) else list(fc or [])
    ids = [arch_id(a) for a in archs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: architectures appear more than once: {duplicates}")
    return archs


def _canonical_order(keys) -> List[str]:
    # Layers, hidden units, FC stack first (as in the paper's grid), whatever order a file lists them in.
    return [k for k in SHORT_NAMES if k in keys] + [k for k in keys if k not in SHORT_NAMES]


def _format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value) if value else "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def arch_id(arch: Dict[str, Any]) -> str:
    """Short name of an architecture for run tags and tables.

    ``{"num_layers": 5, "hidden_size": 512, "fc_sizes": [512, 128]}`` -> ``l5_h512_fc512-128``; keys without a
    short name appear as ``<key>-<value>`` (``dropout-0.3``).
    """
    parts = []
    for key in _canonical_order(arch):
        value = arch[key]
        name = SHORT_NAMES.get(key, key)
        parts.append(f"{name}{_format_value(value)}" if key in SHORT_NAMES else f"{name}-{_format_value(value)}")
    return "_".join(parts)


def make_config(base: Dict[str, Any], arch: Dict[str, Any], source: str = "base config") -> Dict[str, Any]:
    """A copy of a brain_gru training config with the architecture's ``frontend_conf`` keys replaced."""
    if base.get("frontend") != "brain_gru":
        raise ValueError(
            f"{source}: expected 'frontend: brain_gru' (the BFE being swept), got {base.get('frontend')!r}"
        )
    config = copy.deepcopy(base)
    config["frontend_conf"] = {**(config.get("frontend_conf") or {}), **copy.deepcopy(arch)}
    return config


def check_mode(base: Dict[str, Any], mode: str, source: str) -> None:
    """A base config labelled full/scratch/frozen must set the matching ``encoder_conf.mode``."""
    if mode not in ENCODER_MODE:
        return
    got = (base.get("encoder_conf") or {}).get("mode", "finetune")
    if got != ENCODER_MODE[mode]:
        raise ValueError(f"{source}: mode '{mode}' expects encoder_conf.mode: {ENCODER_MODE[mode]}, got {got!r}")


def plan_runs(
    base_configs: Dict[str, Union[str, Path]],
    archs: Sequence[Dict[str, Any]],
    conf_dir: Union[str, Path],
    tag_prefix: str = "bfe",
) -> List[Run]:
    """Write one config per (architecture, mode) into ``conf_dir``.

    Args:
        base_configs: Mode label -> base training YAML (``frontend: brain_gru``).
        archs: Architectures from :func:`expand_grid`.
        conf_dir: Where ``<tag>.yaml`` files go.
        tag_prefix: Run tags are ``<tag_prefix>_<arch_id>_<mode>``.

    Returns:
        The runs, architecture-major (every mode of the first architecture first).
    """
    conf_dir = Path(conf_dir)
    conf_dir.mkdir(parents=True, exist_ok=True)
    bases = {}
    for mode, path in base_configs.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", mode):
            raise ValueError(f"--base_config: mode label must be a plain name (letters, digits, _ . -), got '{mode}'")
        with open(path, encoding="utf-8") as f:
            base = yaml.safe_load(f)
        if not isinstance(base, dict):
            raise ValueError(f"{path}: expected a YAML mapping (an ESPnet training config)")
        check_mode(base, mode, str(path))
        bases[mode] = (base, str(path))
    runs = []
    for arch in archs:
        aid = arch_id(arch)
        for mode, (base, source) in bases.items():
            tag = f"{tag_prefix}_{aid}_{mode}"
            config = make_config(base, arch, source)
            path = conf_dir / f"{tag}.yaml"
            text = yaml.safe_dump(config, sort_keys=False)
            # Rewrite only on change: an unchanged file keeps its time stamp for make-like tools.
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            runs.append(Run(tag=tag, mode=mode, arch_id=aid, arch=dict(arch), config=path))
    return runs


# ----------------------------------------------------------------------------------------------------------------
# Running and collecting

_SCORE_RE = re.compile(
    r"CER\s+(?P<cer>\S+)\s*%\s*\((?P<ce>\d+)/(?P<nc>\d+)\)\s+"
    r"WER\s+(?P<wer>\S+)\s*%\s*\((?P<we>\d+)/(?P<nw>\d+)\)\s+over\s+(?P<n>\d+)\s+utterances"
)


def score_path(expdir: Union[str, Path], tag: str, test_set: str) -> Path:
    """Where ``brain_asr.sh`` stage 8 leaves a run's corpus scores."""
    return Path(expdir) / f"asr_{tag}" / f"decode_{test_set}" / "score.txt"


def read_score(path: Union[str, Path]) -> Score:
    """Parse a ``score.txt`` written by ``espnet_brain.bin.score``.

    The rates are recomputed from the error counts (the file rounds them to two decimals).
    """
    text = Path(path).read_text(encoding="utf-8")
    m = _SCORE_RE.search(text)
    if m is None:
        raise ValueError(
            f"{path}: expected 'CER x % (errors/chars) WER y % (errors/words) over N utterances', got {text.strip()!r}"
        )
    ce, nc, we, nw = (int(m.group(k)) for k in ("ce", "nc", "we", "nw"))
    if nc == 0 or nw == 0:
        raise ValueError(f"{path}: no reference characters or words were scored")
    return Score(
        cer=100.0 * ce / nc,
        wer=100.0 * we / nw,
        char_errors=ce,
        n_chars=nc,
        word_errors=we,
        n_words=nw,
        n_utts=int(m.group("n")),
    )


def check_existing_run(run: Run, expdir: Union[str, Path]) -> None:
    """Refuse to reuse an experiment directory trained with another architecture or mode under the same tag."""
    trained = Path(expdir) / f"asr_{run.tag}" / "config.yaml"
    if not trained.exists():
        return
    with open(trained, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    frontend_conf = config.get("frontend_conf") or {}
    mismatched = {k: (frontend_conf.get(k), v) for k, v in run.arch.items() if frontend_conf.get(k) != v}
    want_mode = ENCODER_MODE.get(run.mode)
    got_mode = (config.get("encoder_conf") or {}).get("mode", "finetune")
    if want_mode is not None and got_mode != want_mode:
        mismatched["encoder_conf.mode"] = (got_mode, want_mode)
    if mismatched:
        detail = ", ".join(f"{k}: trained {a!r}, sweep wants {b!r}" for k, (a, b) in mismatched.items())
        raise ValueError(
            f"{trained}: this experiment was trained with another configuration ({detail}); "
            "remove the directory or choose another --tag_prefix"
        )


def recipe_command(run: Run, brain_asr: str, expdir: str, recipe_args: str = "", asr_args: str = "") -> List[str]:
    """The stage-script call that trains (6), decodes (7) and scores (8) one run."""
    cmd = [brain_asr, "--stage", "6", "--stop_stage", "8", "--expdir", expdir]
    cmd += ["--asr_config", str(run.config.resolve()), "--asr_tag", run.tag]
    cmd += shlex.split(recipe_args)
    if asr_args:
        cmd += ["--asr_args", asr_args]
    return cmd


def run_sweep(
    runs: Sequence[Run],
    recipe_dir: Union[str, Path] = ".",
    brain_asr: str = "./brain_asr.sh",
    expdir: str = "exp",
    test_set: str = "test",
    recipe_args: str = "",
    asr_args: str = "",
    log_dir: Union[str, Path] = "exp/bfe_sweep/log",
    nj: int = 1,
) -> Dict[str, str]:
    """Train, decode and score every run that has no score yet.

    Args:
        runs: From :func:`plan_runs`.
        recipe_dir: Recipe directory (``brain_asr.sh``'s working directory).
        brain_asr: Stage script, relative to ``recipe_dir`` or absolute.
        expdir: Experiment directory, relative to ``recipe_dir`` or absolute (passed as ``--expdir``).
        test_set: Test set whose ``score.txt`` marks a run as finished.
        recipe_args: Extra stage-script options (data sets, ``--ngpu``, ``--decoding``, ...), shell-quoted.
        asr_args: Extra trainer options, passed as ``--asr_args``.
        log_dir: One ``<tag>.log`` per run.
        nj: Runs at the same time.

    Returns:
        Tag -> ``"done"`` (scored before), ``"ran"`` (scored now) or ``"failed: <reason>"``.
    """
    from tqdm import tqdm

    recipe_dir = Path(recipe_dir)
    exp_abs = Path(expdir) if Path(expdir).is_absolute() else recipe_dir / expdir
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    status: Dict[str, str] = {}
    todo = []
    for run in runs:
        check_existing_run(run, exp_abs)
        if score_path(exp_abs, run.tag, test_set).exists():
            status[run.tag] = "done"
        else:
            todo.append(run)
    logging.info(f"{len(runs) - len(todo)} of {len(runs)} runs already scored; {len(todo)} to run")

    def one(run: Run) -> str:
        cmd = recipe_command(run, brain_asr, expdir, recipe_args, asr_args)
        log_file = log_dir / f"{run.tag}.log"
        with open(log_file, "w", encoding="utf-8") as log:
            log.write("# " + shlex.join(cmd) + "\n")
            log.flush()
            rc = subprocess.call(cmd, cwd=recipe_dir, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            return f"failed: exit status {rc} (see {log_file})"
        if not score_path(exp_abs, run.tag, test_set).exists():
            return f"failed: no {score_path(expdir, run.tag, test_set)} after the run (is '{test_set}' decoded?)"
        return "ran"

    with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
        for run, result in tqdm(zip(todo, pool.map(one, todo)), total=len(todo), desc="BFE sweep", unit="run"):
            status[run.tag] = result
            if result.startswith("failed"):
                logging.warning(f"{run.tag}: {result}")
    return status


def collect_scores(runs: Sequence[Run], expdir: Union[str, Path], test_set: str) -> Dict[str, Score]:
    """Scores of the runs that have a ``score.txt`` (tag -> score)."""
    scores = {}
    for run in runs:
        path = score_path(expdir, run.tag, test_set)
        if path.exists():
            check_existing_run(run, expdir)
            scores[run.tag] = read_score(path)
    return scores


# ----------------------------------------------------------------------------------------------------------------
# Statistics


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


# ----------------------------------------------------------------------------------------------------------------
# Report


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


# ----------------------------------------------------------------------------------------------------------------
# Command line


def _str2bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def _mode_path(value: str):
    mode, sep, path = value.partition("=")
    if not sep or not mode or not path:
        raise argparse.ArgumentTypeError(f"expected mode=path (e.g. full=conf/train_brain_full.yaml), got '{value}'")
    return mode, path


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base_config",
        type=_mode_path,
        action="append",
        required=True,
        help="mode=path of a brain_gru training YAML; once per mode (full, scratch, frozen, ...)",
    )
    parser.add_argument("--grid", default=None, help="YAML/JSON grid file (default: the 45-architecture paper grid)")
    parser.add_argument("--num_layers", type=int, nargs="+", default=None, help="GRU layers to sweep")
    parser.add_argument("--hidden_size", type=int, nargs="+", default=None, help="GRU hidden units to sweep")
    parser.add_argument(
        "--fc_sizes", type=parse_fc_sizes, nargs="+", default=None, help="FC stacks to sweep: none, 128, 512,128 ..."
    )
    parser.add_argument("--reference", default="full", help="Mode compared with every other mode")
    parser.add_argument("--out_dir", default="exp/bfe_sweep", help="Configs, logs, SWEEP.md, plot and TSV")
    parser.add_argument("--tag_prefix", default="bfe", help="Run tags are <prefix>_<architecture>_<mode>")
    parser.add_argument("--run", type=_str2bool, default=False, help="Train, decode and score runs without a score")
    parser.add_argument("--recipe_dir", default=".", help="Recipe directory where the stage script runs")
    parser.add_argument("--brain_asr", default="./brain_asr.sh", help="Stage script (relative to --recipe_dir)")
    parser.add_argument("--expdir", default="exp", help="Experiment directory (relative to --recipe_dir)")
    parser.add_argument("--test_set", default="test", help="Test set whose score.txt is collected")
    parser.add_argument("--recipe_args", default="", help="Extra stage-script options, e.g. '--ngpu 1 --train_set x'")
    parser.add_argument("--asr_args", default="", help="Extra trainer options, e.g. '--max_epoch 20'")
    parser.add_argument("--nj", type=int, default=1, help="Runs trained at the same time")
    parser.add_argument("--title", default="BFE architecture sweep")
    parser.add_argument("--log_level", default="INFO")
    return parser


def build_grid(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Grid from --grid and the per-key CLI lists (the lists replace the file's values for their key)."""
    cli = {k: getattr(args, k) for k in ("num_layers", "hidden_size", "fc_sizes") if getattr(args, k) is not None}
    if args.grid is None:
        grid: Grid = {**PAPER_GRID, **cli}
        return expand_grid(grid, "command-line grid" if cli else "paper grid")
    grid = load_grid(args.grid)
    if isinstance(grid, list):
        if cli:
            raise ValueError(f"{args.grid}: a list of architectures cannot be combined with --{', --'.join(cli)}")
        return expand_grid(grid, args.grid)
    return expand_grid({**grid, **cli}, args.grid)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    base_configs = dict(args.base_config)
    if len(base_configs) != len(args.base_config):
        raise ValueError("--base_config: each mode may be given once")
    if args.reference not in base_configs:
        raise ValueError(f"--reference {args.reference}: not among the --base_config modes {list(base_configs)}")
    archs = build_grid(args)
    out_dir = Path(args.out_dir)
    runs = plan_runs(base_configs, archs, out_dir / "conf", args.tag_prefix)
    logging.info(f"{len(archs)} architectures x {len(base_configs)} modes: {len(runs)} configs in {out_dir / 'conf'}")

    recipe_dir = Path(args.recipe_dir)
    expdir = Path(args.expdir) if Path(args.expdir).is_absolute() else recipe_dir / args.expdir
    status = None
    if args.run:
        status = run_sweep(
            runs,
            recipe_dir=recipe_dir,
            brain_asr=args.brain_asr,
            expdir=args.expdir,
            test_set=args.test_set,
            recipe_args=args.recipe_args,
            asr_args=args.asr_args,
            log_dir=out_dir / "log",
            nj=args.nj,
        )
    scores = collect_scores(runs, expdir, args.test_set)
    plot_name = None
    if scores:
        plot_name = "sweep_cer.png"
        plot_sweep(runs, scores, out_dir / plot_name, args.title)
    report = sweep_report(runs, scores, args.reference, args.test_set, args.title, plot_name, status)
    (out_dir / "SWEEP.md").write_text(report, encoding="utf-8")
    write_results_tsv(runs, scores, out_dir / "sweep_results.tsv")
    print(report)
    logging.info(f"wrote {out_dir / 'SWEEP.md'}")
    failed = [t for t, s in (status or {}).items() if s.startswith("failed")]
    if failed:
        logging.error(f"{len(failed)} runs failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
