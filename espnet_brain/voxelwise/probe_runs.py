"""Linear probes of several feature sets (systems x layers) on families of targets, each system compared with a
reference system: the study that ``espnet_brain.bin.probe_features`` runs.

Feature sets are given as ``NAME:LAYER=SOURCE`` and target families as ``FAMILY=SOURCE[:COLS]``, where a SOURCE is an
``.scp`` or a directory of ``<story>.npy`` (:func:`espnet_brain.voxelwise.io.read_arrays`). For every (system, layer)
and family, :func:`espnet_brain.voxelwise.probes.probe_scores` fits a leave-one-story-out ridge probe; every other
system is then compared with the reference at each layer both have
(:func:`espnet_brain.voxelwise.probes.compare_probes`).

At the TR level, features and targets must have the same rows per story; features on the whole stimulus grid
((N - 5, D) per story) are cut to targets on fewer rows with ``trim=(START, END)``. At the word level
(:class:`WordLevel`), every row is a spoken word: the features are the windows heard during the word, the targets
its phonemes and, with an embedding table, its vector.

Example:
    >>> config = ProbeConfig(feats=["frozen:6=exp/frozen/feats.scp", "tuned:6=exp/tuned/feats.scp"],
    ...                      targets=["acoustic=gt/features:0-7"], trim=[10, 5])
    >>> results, comparisons, reference = run_probes(config)
    >>> results["tuned"][6]["acoustic"].mean_r
"""

import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_brain.data.textgrid import read_textgrid
from espnet_brain.voxelwise.io import read_arrays, story_names
from espnet_brain.voxelwise.probes import (
    ProbeResult,
    compare_probes,
    is_speech_label,
    phoneme_label,
    probe_scores,
    read_embedding_table,
    speech_words,
    word_embeddings,
    word_features,
    word_phonemes,
)
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")  # used in file names (probes_<family>.png)
_COLS = re.compile(r"^(\d+(-\d*)?|-\d+)(,(\d+(-\d*)?|-\d+))*$")

#: {system: {layer: {family: ProbeResult}}}
Results = Dict[str, Dict[int, Dict[str, ProbeResult]]]
#: {system: {layer: {family: compare_probes(...)}}}
Comparisons = Dict[str, Dict[int, Dict[str, dict]]]
#: {family: (its spec, {story: (n_i, K) targets})}, in the order given
Families = Dict[str, Tuple[str, Dict[str, np.ndarray]]]


@dataclass
class ProbeConfig:
    """What to probe and how (the options of ``espnet_brain.bin.probe_features``).

    Attributes:
        feats: ``NAME:LAYER=SOURCE`` per feature set; with ``words``, SOURCE is a ``windows.scp``.
        targets: ``FAMILY=SOURCE[:COLS]`` per target family (TR level only).
        words: Directory of ``<story>.TextGrid``: word-level probes (one row per spoken word).
        embeddings: With ``words``: word vectors (text or ``.npz``), the word-embedding family.
        stories: Stories probed (None: all).
        trim: (START, END) rows dropped from the start and end of every feature array (TR level), or None.
        alphas: Ridge penalties (himalaya / scikit-learn convention).
        n_inner_splits: Inner cross-validation folds (penalty choice).
        reference: System the others are compared with (None: the first of ``feats``).
        block_trs: Rows per block of the paired bootstrap.
        n_resamples: Resamples of the paired bootstrap (0: no comparison).
    """

    feats: List[str]
    targets: List[str] = field(default_factory=list)
    words: Optional[str] = None
    embeddings: Optional[str] = None
    stories: Optional[List[str]] = None
    trim: Optional[List[int]] = None
    alphas: List[float] = field(default_factory=lambda: list(HUTH_ALPHAS))
    n_inner_splits: int = 5
    reference: Optional[str] = None
    block_trs: int = 10
    n_resamples: int = 1000


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


def load_arrays(source: str, what: str, cache: Dict[str, Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """The (n_i, columns) arrays of every story of ``source``, read once per ``cache``; ``what`` names the option."""
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


def trim_rows(arrays: Dict[str, np.ndarray], trim: Optional[Sequence[int]], what: str) -> Dict[str, np.ndarray]:
    """Every (n_i, D) array without its first START and last END rows (``trim=(START, END)``; None: unchanged)."""
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
        self.families: Families = OrderedDict()
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
        """{story: (n_words, D) features of each word} from a ``windows.scp`` (``window_ends.scp`` beside it)."""
        windows = load_arrays(source, what, cache)
        ends_source = os.path.join(os.path.dirname(source) if source.endswith(".scp") else source, "window_ends.scp")
        if not os.path.isfile(ends_source):
            raise ValueError(f"{what}: no {ends_source} beside the window features (fmri_encoding_inference "
                             "--write_windows writes both)")  # fmt: skip
        ends = load_arrays(ends_source, what, cache)
        out = {}
        for story, words in self.words.items():
            if story not in windows or story not in ends:
                raise ValueError(f"{what}: story {story} has no window features or window ends")
            try:
                out[story] = word_features(windows[story], ends[story][:, 0], words)
            except ValueError as e:
                raise ValueError(f"{what}: story {story}: {e}") from None
        return out


def _target_families(config: ProbeConfig, cache: Dict[str, Dict[str, np.ndarray]]) -> Families:
    """The TR-level target families of ``config.targets``, columns selected, as float64."""
    families: Families = OrderedDict()
    for spec in config.targets:
        family, source, cols = parse_targets(spec)
        if family in families:
            raise ValueError(f"--targets {spec!r}: family {family} given twice")
        arrays = load_arrays(source, f"--targets {spec}", cache)
        n_cols = {a.shape[1] for a in arrays.values()}
        if len(n_cols) != 1:
            raise ValueError(f"--targets {spec}: stories of {source} differ in their column counts {sorted(n_cols)}")
        idx = select_columns(cols, n_cols.pop(), f"--targets {spec}")
        families[family] = (spec, {s: np.asarray(a[:, idx], dtype=np.float64) for s, a in arrays.items()})
        logger.info(f"targets {family}: {len(idx)} columns of {source}, {len(arrays)} stories")
    return families


def run_probes(config: ProbeConfig) -> Tuple[Results, Comparisons, str]:
    """Probe every (system, layer) on every target family and compare each system with the reference.

    Layer by layer, the reference first: a probe's out-of-fold predictions are kept only until the other systems of
    its layer are compared with it, so memory holds one layer's predictions, not every layer's.

    Args:
        config: The feature sets, targets and settings.

    Returns:
        ({system: {layer: {family: ProbeResult}}}, {system: {layer: {family: compare_probes(...)}}}, reference).

    Raises:
        ValueError: A bad spec, a missing file, or features and targets that do not fit, naming the option.
    """
    cache: Dict[str, Dict[str, np.ndarray]] = {}
    families: Families = OrderedDict()
    word_level = None
    if config.words:
        if config.targets or config.trim:
            raise ValueError("--words builds its own targets, one row per word: no --targets or --trim with it")
        first = parse_feats(config.feats[0])
        try:
            stories = config.stories or story_names(first[2])
        except ValueError as e:
            raise ValueError(f"--feats {config.feats[0]}: {e}") from None
        word_level = WordLevel(config.words, config.embeddings, stories)
        families = word_level.families
    elif not config.targets:
        raise ValueError("no targets: give --targets, or --words for word-level probes")
    elif config.embeddings:
        raise ValueError("--embeddings is the target of word-level probes: use it with --words")
    families.update(_target_families(config, cache))
    specs: List[Tuple[str, int, str, str]] = []
    for spec in config.feats:
        name, layer, source = parse_feats(spec)
        if any((name, layer) == (n, k) for n, k, _, _ in specs):
            raise ValueError(f"--feats {spec!r}: {name}:{layer} given twice")
        specs.append((name, layer, source, spec))
    names = list(OrderedDict.fromkeys(name for name, _, _, _ in specs))
    reference = config.reference or names[0]
    if config.n_resamples > 0 and reference not in names:
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
                feats = trim_rows(load_arrays(source, f"--feats {spec}", {}), config.trim, f"--feats {spec}")
            per_family = results[name].setdefault(layer, {})
            for family, (tspec, targets) in families.items():
                try:
                    result = probe_scores(
                        feats,
                        targets,
                        alphas=config.alphas,
                        n_inner_splits=config.n_inner_splits,
                        stories=config.stories,
                    )
                except ValueError as e:
                    hint = "" if config.trim else "; features on the whole stimulus grid: see --trim"
                    hint += "" if config.stories else "; --stories restricts the stories"
                    raise ValueError(f"--feats {spec} with --targets {tspec}: {e}{hint}") from None
                per_family[family] = result
                logger.info(
                    f"{name} layer {layer} -> {family}: mean r {result.mean_r:.3f} over {result.r.size} targets, "
                    f"{result.n_samples} rows"
                )
        if config.n_resamples > 0 and layer in results[reference]:
            for name, _, _, _ in here[1:] if here[0][0] == reference else []:
                comparisons.setdefault(name, {})[layer] = {
                    family: compare_probes(results[reference][layer][family], res, config.block_trs, config.n_resamples)
                    for family, res in results[name][layer].items()
                }
        for name, _, _, _ in here:
            for res in results[name][layer].values():
                res.y_true = res.y_pred = res.groups = None
    return results, comparisons, reference
