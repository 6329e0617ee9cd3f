"""Linear probes of stimulus features: how well each layer of each feature set (e.g. a frozen and a brain-tuned
speech model) linearly predicts families of interpretable targets (acoustic, phonemic, semantic) on the same TR grid.

For every ``--feats`` (system, layer) and ``--targets`` family, a ridge probe is fit with leave-one-story-out
cross-validation (:func:`espnet_brain.voxelwise.probes.probe_scores`): features z-scored with the training stories'
statistics, one penalty per target from an inner cross-validation over contiguous chunks of TRs, Pearson r of the
out-of-fold predictions of all stories per target, each story's targets and predictions centred on their own mean.

Features and targets must have the same rows per story. Features on the whole stimulus grid ((N - 5, D), e.g. the
per-layer ``feats.scp`` of ``espnet_brain.bin.fmri_encoding_inference``) can be cut to targets on fewer rows with
``--trim START END`` (rows dropped from the start and the end of every feature array).

With ``--words TEXTGRID_DIR`` the probes are word-level: one row per spoken word. Each ``--feats`` SOURCE is then the
``windows.scp`` that ``fmri_encoding_inference --write_windows`` writes (the features of every window before
resampling, ``window_ends.scp`` beside it); a word's features are the mean of the windows whose last stride overlaps
it, and its targets are its phonemes (counts, from the TextGrid's phone tier, stress digits dropped) and, with
``--embeddings``, its vector. A TR mixes the two or three words heard in it; a word-level probe asks what the model
holds about each word.

Every other system is compared with a reference system (``--reference``, default the first of ``--feats``, e.g. the
frozen model) at each layer both have and for each family (:func:`espnet_brain.voxelwise.probes.compare_probes`):
the difference in mean r with a 95 % interval and p from a paired block bootstrap over the scored TRs
(``--block_trs`` TRs per block, inside stories), and the fraction of targets that gain with Wilcoxon's p over targets.

Writes ``<output_dir>/probes.json`` (every system, layer and family: mean r and r per target; the comparisons),
``probes.md`` (mean r, rows system/layer, columns families; then the comparisons) and ``probes_<family>.png`` (mean r
per layer, one line per system).

Example::

    python -m espnet_brain.bin.probe_features \\
        --feats frozen:3=exp/frozen_layer3/train/feats.scp --feats frozen:6=exp/frozen_layer6/train/feats.scp \\
        --feats tuned:3=exp/tuned_layer3/train/feats.scp --feats tuned:6=exp/tuned_layer6/train/feats.scp \\
        --targets acoustic=lebel2023/derivative/ground_truth/UTS01/features:0-7 \\
        --targets semantic=lebel2023/derivative/ground_truth/UTS01/features:9- \\
        --stories $(cut -d' ' -f1 exp/frozen_layer3/train/feats.scp) --output_dir exp/probes

(per-layer features as ``fmri_encoding_inference --layer 3 6 --output_dir 'exp/frozen_layer{layer}/train'`` writes
them; the simulator's ground-truth features are 8 acoustic bands, the word rate, then the word embedding).
"""

import argparse
import json
import logging
import os
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.bin.ridge_encoding import _floats
from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.voxelwise.io import read_arrays, story_names
from espnet_brain.voxelwise.probes import (
    ProbeResult,
    compare_probes,
    is_speech_label,
    phoneme_label,
    plot_probe_layers,
    probe_scores,
    read_embedding_table,
    speech_words,
    word_embeddings,
    word_features,
    word_phonemes,
)
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS

logger = logging.getLogger("probe_features")

_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")  # used in file names (probes_<family>.png)
_COLS = re.compile(r"^(\d+(-\d*)?|-\d+)(,(\d+(-\d*)?|-\d+))*$")


def parse_feats(spec: str) -> Tuple[str, int, str]:
    """``NAME:LAYER=SOURCE`` -> (name, layer, source)."""
    head, sep, source = spec.partition("=")
    name, colon, layer = head.rpartition(":")
    # a system name is free text (it only labels rows); a family name also names a file, hence _NAME there
    if not sep or not colon or not source or not name.strip() or not re.fullmatch(r"\d+", layer):
        raise ValueError(f"--feats {spec!r}: expected NAME:LAYER=SOURCE, e.g. frozen:6=exp/feats/layer6.scp")
    return name, int(layer), source


def parse_targets(spec: str) -> Tuple[str, str, Optional[str]]:
    """``FAMILY=SOURCE[:COLS]`` -> (family, source, cols or None)."""
    family, sep, rest = spec.partition("=")
    if not sep or not rest or not _NAME.match(family):
        raise ValueError(f"--targets {spec!r}: expected FAMILY=SOURCE[:COLS], e.g. acoustic=gt/features:0-31")
    source, colon, cols = rest.rpartition(":")
    if colon and source and _COLS.match(cols):
        return family, source, cols
    return family, rest, None


def select_columns(cols: Optional[str], n_cols: int, what: str) -> np.ndarray:
    """Column indices of a COLS string: comma-separated ``I``, ``A-B`` (inclusive), ``A-`` (to the end), ``-B``.

    Args:
        cols: the COLS string, or None for all columns.
        n_cols: number of columns of the arrays.
        what: the argument, for error messages.

    Returns:
        (n_selected,) int indices, in the order given.
    """
    if cols is None:
        return np.arange(n_cols)
    out: List[int] = []
    for item in cols.split(","):
        first, dash, last = item.partition("-")
        lo = int(first) if first else 0
        hi = (int(last) if last else n_cols - 1) if dash else lo
        if lo > hi or hi >= n_cols:
            raise ValueError(f"{what}: columns {item!r} out of the {n_cols} columns (0-{n_cols - 1}) of its arrays")
        out.extend(range(lo, hi + 1))
    return np.array(out, dtype=np.int64)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--feats",
        action="append",
        required=True,
        help="NAME:LAYER=SOURCE (repeated): features of system NAME (e.g. frozen, tuned) at layer LAYER (an int); "
        "SOURCE an .scp or a directory of <story>.npy",
    )
    parser.add_argument(
        "--targets",
        action="append",
        default=[],
        help="FAMILY=SOURCE[:COLS] (repeated): targets of family FAMILY (e.g. acoustic); COLS selects columns: "
        "'0-31', '33-', '5', '0-3,7' (inclusive ranges)",
    )
    parser.add_argument(
        "--words",
        default=None,
        metavar="TEXTGRID_DIR",
        help="word-level probes: one row per spoken word instead of per TR. Each --feats SOURCE is then a windows.scp "
        "of fmri_encoding_inference --write_windows (window_ends.scp beside it); the targets are each word's "
        "phonemes (from the phone tier of TEXTGRID_DIR/<story>.TextGrid) and, with --embeddings, its embedding",
    )
    parser.add_argument(
        "--embeddings",
        default=None,
        help="with --words: word vectors (text 'word v1 v2 ...' or .npz of words/vectors), the semantic target",
    )
    parser.add_argument("--stories", nargs="+", default=None, help="probe only these stories (default: all)")
    parser.add_argument(
        "--trim",
        nargs=2,
        type=int,
        default=None,
        metavar=("START", "END"),
        help="drop START rows from the start and END from the end of every feature array (e.g. 10 5: the stimulus "
        "grid cut to the response rows); default: none, and feature and target rows must match",
    )
    parser.add_argument(
        "--alphas",
        type=_floats,
        default=list(HUTH_ALPHAS),
        help="ridge penalties, himalaya/scikit-learn convention: list or 'logspace(a,b,n)' (default logspace(2,8,10))",
    )
    parser.add_argument("--n_inner_splits", type=int, default=5, help="inner cross-validation folds (penalty choice)")
    parser.add_argument(
        "--reference",
        default=None,
        help="system the others are compared with, at each layer both have (default: the first of --feats)",
    )
    parser.add_argument(
        "--block_trs", type=int, default=10, help="TRs (words with --words) per block of the paired bootstrap"
    )
    parser.add_argument("--n_resamples", type=int, default=1000, help="resamples of the paired bootstrap (0: none)")
    parser.add_argument("--output_dir", required=True)
    return parser


def _load(source: str, what: str, cache: Dict[str, Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    if source not in cache:
        try:
            arrays = read_arrays(source)
        except (OSError, ValueError) as e:
            raise ValueError(f"{what}: {e}") from None
        for story, a in arrays.items():
            if np.ndim(a) != 2:
                raise ValueError(
                    f"{what}: {source}: story {story} has shape {np.shape(a)}, expected (n_TRs, n_columns)"
                )
        cache[source] = arrays
    return cache[source]


def _trim(arrays: Dict[str, np.ndarray], trim: Optional[Sequence[int]], what: str) -> Dict[str, np.ndarray]:
    if not trim:
        return arrays
    start, end = trim
    if start < 0 or end < 0:
        raise ValueError(f"--trim: expected non-negative row counts, got {start} {end}")
    out = {}
    for story, a in arrays.items():
        if len(a) <= start + end:
            raise ValueError(f"{what}: story {story} has {len(a)} rows, too few for --trim {start} {end}")
        out[story] = a[start : len(a) - end]
    return out


Results = Dict[str, Dict[int, Dict[str, ProbeResult]]]


class WordLevel:
    """The words of every story and their targets, and the features of a system at each word (``--words``)."""

    def __init__(self, textgrid_dir: str, embeddings: Optional[str], stories: Sequence[str]):
        if embeddings and not os.path.isfile(embeddings):
            raise ValueError(f"--embeddings {embeddings}: no such file")
        table = read_embedding_table(embeddings) if embeddings else None
        self.words: Dict[str, list] = {}
        phones: Dict[str, list] = {}
        for story in stories:
            path = os.path.join(textgrid_dir, f"{story}.TextGrid")
            if not os.path.isfile(path):
                raise ValueError(f"--words: no TextGrid for story {story}: {path}")
            tiers = read_textgrid(path)
            if "word" not in tiers or "phone" not in tiers:
                raise ValueError(f"{path}: expected tiers 'word' and 'phone', got {list(tiers)}")
            self.words[story] = speech_words(tiers["word"], table)
            phones[story] = tiers["phone"]
            n_spoken = len(speech_words(tiers["word"]))
            if table is not None and len(self.words[story]) < n_spoken:
                logger.warning(
                    f"{path}: {n_spoken - len(self.words[story])} of {n_spoken} spoken words are not in --embeddings "
                    "and are left out of the word-level probes"
                )
            if not self.words[story]:
                raise ValueError(f"{path}: no spoken word" + (" found in --embeddings" if table else ""))
        vocab = sorted({phoneme_label(lab) for p in phones.values() for _, _, lab in p if is_speech_label(lab)})
        self.families: "OrderedDict[str, Tuple[str, Dict[str, np.ndarray]]]" = OrderedDict()
        self.families["phonemes"] = (
            f"phonemes of {textgrid_dir}",
            {s: word_phonemes(self.words[s], phones[s], vocab) for s in stories},
        )
        if table is not None:
            self.families["word-embedding"] = (
                f"word embeddings of {embeddings}",
                {s: word_embeddings(self.words[s], table) for s in stories},
            )
        n_words = sum(len(w) for w in self.words.values())
        logger.info(f"word level: {n_words} words in {len(stories)} stories, {len(vocab)} phonemes")

    def features(self, source: str, what: str, cache: Dict[str, Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        windows = _load(source, what, cache)
        ends_source = os.path.join(os.path.dirname(source) if source.endswith(".scp") else source, "window_ends.scp")
        if not os.path.isfile(ends_source):
            raise ValueError(f"{what}: no {ends_source} beside the window features (fmri_encoding_inference "
                             "--write_windows writes both)")  # fmt: skip
        ends = _load(ends_source, what, cache)
        out = {}
        for story, words in self.words.items():
            if story not in windows or story not in ends:
                raise ValueError(f"{what}: story {story} has no window features or window ends")
            try:
                out[story] = word_features(windows[story], ends[story][:, 0], words)
            except ValueError as e:
                raise ValueError(f"{what}: story {story}: {e}") from None
        return out


Comparisons = Dict[str, Dict[int, Dict[str, dict]]]


def run(args: argparse.Namespace) -> Tuple[Results, Comparisons, str]:
    """Probe every (system, layer) on every target family and compare each system with the reference.

    Layer by layer, the reference first: a probe's out-of-fold predictions are kept only until the other systems of
    its layer are compared with it, so memory holds one layer's predictions, not every layer's.

    Returns:
        ({system: {layer: {family: ProbeResult}}}, {system: {layer: {family: compare_probes(...)}}}, reference).
    """
    cache: Dict[str, Dict[str, np.ndarray]] = {}
    families: "OrderedDict[str, Tuple[str, Dict[str, np.ndarray]]]" = OrderedDict()
    word_level = None
    if args.words:
        if args.targets or args.trim:
            raise ValueError("--words builds its own targets, one row per word: no --targets or --trim with it")
        first = parse_feats(args.feats[0])
        try:
            stories = args.stories or story_names(first[2])
        except ValueError as e:
            raise ValueError(f"--feats {args.feats[0]}: {e}") from None
        word_level = WordLevel(args.words, args.embeddings, stories)
        families = word_level.families
    elif not args.targets:
        raise ValueError("no targets: give --targets, or --words for word-level probes")
    elif args.embeddings:
        raise ValueError("--embeddings is the target of word-level probes: use it with --words")
    for spec in args.targets:
        family, source, cols = parse_targets(spec)
        if family in families:
            raise ValueError(f"--targets {spec!r}: family {family} given twice")
        arrays = _load(source, f"--targets {spec}", cache)
        n_cols = {a.shape[1] for a in arrays.values()}
        if len(n_cols) != 1:
            raise ValueError(f"--targets {spec}: stories of {source} differ in their column counts {sorted(n_cols)}")
        idx = select_columns(cols, n_cols.pop(), f"--targets {spec}")
        families[family] = (spec, {s: np.asarray(a[:, idx], dtype=np.float64) for s, a in arrays.items()})
        logger.info(f"targets {family}: {len(idx)} columns of {source}, {len(arrays)} stories")
    specs: List[Tuple[str, int, str, str]] = []
    for spec in args.feats:
        name, layer, source = parse_feats(spec)
        if any((name, layer) == (n, k) for n, k, _, _ in specs):
            raise ValueError(f"--feats {spec!r}: {name}:{layer} given twice")
        specs.append((name, layer, source, spec))
    names = list(OrderedDict.fromkeys(name for name, _, _, _ in specs))
    reference = args.reference or names[0]
    if args.n_resamples > 0 and reference not in names:
        raise ValueError(f"--reference {reference!r}: no such system among {names}")
    results: Results = OrderedDict((name, {}) for name in names)
    comparisons: Comparisons = OrderedDict()
    for layer in OrderedDict.fromkeys(k for _, k, _, _ in specs):
        here = sorted((item for item in specs if item[1] == layer), key=lambda item: item[0] != reference)
        for name, _, source, spec in here:
            # features are read once each: not cached (a whole subject's layer is ~100 MB)
            if word_level is not None:
                feats = word_level.features(source, f"--feats {spec}", {})
            else:
                feats = _trim(_load(source, f"--feats {spec}", {}), args.trim, f"--feats {spec}")
            per_family = results[name].setdefault(layer, {})
            for family, (tspec, targets) in families.items():
                try:
                    result = probe_scores(
                        feats, targets, alphas=args.alphas, n_inner_splits=args.n_inner_splits, stories=args.stories
                    )
                except ValueError as e:
                    hint = "" if args.trim else "; features on the whole stimulus grid: see --trim"
                    hint += "" if args.stories else "; --stories restricts the stories"
                    raise ValueError(f"--feats {spec} with --targets {tspec}: {e}{hint}") from None
                per_family[family] = result
                logger.info(
                    f"{name} layer {layer} -> {family}: mean r {result.mean_r:.3f} over {result.r.size} targets, "
                    f"{result.n_samples} rows"
                )
        if args.n_resamples > 0 and layer in results[reference]:
            for name, _, _, _ in here[1:] if here[0][0] == reference else []:
                comparisons.setdefault(name, {})[layer] = {
                    family: compare_probes(results[reference][layer][family], res, args.block_trs, args.n_resamples)
                    for family, res in results[name][layer].items()
                }
        for name, _, _, _ in here:
            for res in results[name][layer].values():
                res.y_true = res.y_pred = res.groups = None
    return results, comparisons, reference


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


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        results, comparisons, reference = run(args)
    except ValueError as e:
        print(f"probe_features: {e}", file=sys.stderr)
        return 1
    families = list(next(iter(next(iter(results.values())).values())))
    unit = "word" if args.words else "TR"
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    report = {
        "feats": args.feats,
        "targets": args.targets,
        "stories": args.stories,
        "trim": args.trim,
        "words": args.words,
        "embeddings": args.embeddings,
        "rows": f"one per {unit}",
        "alphas": [float(a) for a in args.alphas],
        "cv": "leave-one-story-out; features z-scored with the training stories' statistics; per-target penalty by "
        f"{args.n_inner_splits}-fold contiguous inner CV; Pearson r of the concatenated out-of-fold predictions, "
        "each story's targets and predictions centred on their own mean",
        "results": {
            s: {str(k): {f: r.as_dict() for f, r in v.items()} for k, v in layers.items()}
            for s, layers in results.items()
        },
        "reference": reference,
        "comparisons": _json(comparisons),
        "bootstrap": {"block_trs": args.block_trs, "n_resamples": args.n_resamples},
    }
    with open(os.path.join(out, "probes.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out, "probes.md"), "w", encoding="utf-8") as f:
        f.write(f"# Linear probes, one row per {unit}: mean Pearson r (leave-one-story-out)\n\n")
        f.write(write_table(results, families))
        if comparisons:
            f.write(
                f"\n## Against {reference}\n\nPaired block bootstrap over the scored {unit}s ({args.n_resamples} "
                f"resamples of blocks of {args.block_trs} {unit}s inside stories) and Wilcoxon's signed-rank test "
                "over targets.\n\n" + write_comparisons(comparisons, reference, families)
            )
    for family in families:
        per_system = {s: {k: v[family].mean_r for k, v in layers.items()} for s, layers in results.items()}
        plot_probe_layers(per_system, os.path.join(out, f"probes_{family}.png"), title=f"{family} probes")
    logger.info(f"wrote {out}/probes.json, probes.md and {len(families)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
