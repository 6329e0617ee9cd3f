"""Linear probes of what stimulus features represent: how well a cross-validated ridge regression on a speech
model's features (one layer, on the stimulus TR grid) predicts interpretable targets on the same grid, e.g. acoustic
band energies, phoneme counts or word embeddings per TR; or, word by word, how well the features computed while a
word is heard predict its embedding and its phonemes (:func:`word_features`, :func:`word_embeddings`,
:func:`word_phonemes`; the rows of :func:`probe_scores` are then words instead of TRs).

The probe holds out whole stories (leave-one-story-out): neighbouring TRs are correlated, so splitting a story
between training and evaluation would let a probe score by interpolation instead of by what the features encode.
In each fold the features are z-scored with the training stories' statistics and a
:class:`~espnet_brain.voxelwise.ridge.VoxelwiseRidgeCV` picks one penalty per target by an inner cross-validation over
contiguous chunks of the training TRs. The out-of-fold predictions of all stories are concatenated and scored per
target with Pearson r.

Target builders take what :func:`espnet_brain.data.textgrid.read_textgrid` gives (``[(start, end, label), ...]``
per tier) and the window starts of the stimulus grid, ``stimulus_tr_times(N, midpoint=False)`` of
:mod:`espnet_brain.voxelwise.timing`: TR ``k`` covers ``[grid_times[k], grid_times[k] + tr)``.

Example:
    >>> result = probe_scores({"a": feats_a, "b": feats_b}, {"a": targets_a, "b": targets_b})
    >>> result.mean_r, result.r.shape  # mean over targets, (K,)

Shapes: ``D`` features, ``K`` targets, ``n_i`` TRs of story ``i``.
"""

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from espnet_brain.voxelwise.bootstrap import block_bootstrap_difference
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS, ChunkedKFold, VoxelwiseRidgeCV
from espnet_brain.voxelwise.scoring import _pyplot, paired_difference, pearson_r, save_figure

logger = logging.getLogger(__name__)

Interval = Tuple[float, float, str]

#: Silence and pause labels of the LeBel / Montreal Forced Aligner tiers (compared lower-cased).
SILENCE_LABELS = frozenset(["", "sp", "sil"])


def is_speech_label(label: str) -> bool:
    """False for silences ("", "sp", "sil") and bracketed non-speech tokens ("{BR}", "{NS}", "{LG}", ...)."""
    label = label.strip()
    return label.lower() not in SILENCE_LABELS and not (label.startswith("{") and label.endswith("}"))


@dataclass
class ProbeResult:
    """Scores of one probe (one feature set, one target family).

    Attributes:
        r: (K,) Pearson r of the out-of-fold predictions per target; NaN for targets without variance.
        mean_r: mean of the finite entries of ``r`` (NaN when there is none).
        target_names: K names of the targets, or None.
        n_samples: number of TRs scored (all stories).
        y_true: (n_samples, K) the targets as scored (centred per story with ``center_per_story``), or None.
        y_pred: (n_samples, K) the out-of-fold predictions as scored (0 for targets without variance), or None.
        groups: (n_samples,) index of the story of each row, or None.

    Two results on the same targets and rows can be compared with :func:`compare_probes`.
    """

    r: np.ndarray
    mean_r: float
    target_names: Optional[List[str]]
    n_samples: int
    y_true: Optional[np.ndarray] = field(default=None, repr=False)
    y_pred: Optional[np.ndarray] = field(default=None, repr=False)
    groups: Optional[np.ndarray] = field(default=None, repr=False)

    def as_dict(self) -> Dict[str, object]:
        """JSON-ready dict: ``mean_r``, ``r`` (list, NaN as None), ``target_names``, ``n_samples``, ``n_targets``."""
        return {
            "mean_r": _json_float(self.mean_r),
            "r": [_json_float(v) for v in self.r],
            "target_names": None if self.target_names is None else list(self.target_names),
            "n_samples": int(self.n_samples),
            "n_targets": int(self.r.size),
        }


def _json_float(v: float) -> Optional[float]:
    return float(v) if np.isfinite(v) else None


def _check_stories(
    features: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray], stories: Optional[Sequence[str]]
) -> List[str]:
    if stories is None:
        only_f = sorted(set(features) - set(targets))
        only_t = sorted(set(targets) - set(features))
        if only_f or only_t:
            raise ValueError(
                f"stories with features but no targets: {only_f}; with targets but no features: {only_t} "
                "(pass stories= to probe a subset)"
            )
        stories = sorted(features)
    else:
        stories = list(stories)
        for story in stories:
            for what, arrays in (("features", features), ("targets", targets)):
                if story not in arrays:
                    raise ValueError(f"story {story!r} has no {what}")
    if len(set(stories)) != len(stories):
        raise ValueError(f"stories: duplicates in {stories}")
    if len(stories) < 2:
        raise ValueError(
            f"probe_scores needs at least 2 stories (leave-one-story-out cross-validation), got {len(stories)}: "
            f"{stories}"
        )
    for story in stories:
        f, t = np.shape(features[story]), np.shape(targets[story])
        if len(f) != 2 or len(t) != 2 or f[0] != t[0]:
            raise ValueError(
                f"story {story!r}: features of shape {f} and targets of shape {t}, expected (n, D) and (n, K) "
                "with the same number of rows (TRs)"
            )
    return stories


def _zscore_with(train: np.ndarray, test: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Both arrays z-scored with the column statistics of ``train``; constant columns become 0."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    ok = std > 0
    scale = np.where(ok, std, 1.0)
    # a constant training column carries no information; zeroing it keeps test values from leaking in unscaled
    return ((train - mean) / scale) * ok, ((test - mean) / scale) * ok


def probe_scores(
    features: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    alphas: Optional[Sequence[float]] = None,
    n_inner_splits: int = 5,
    stories: Optional[Sequence[str]] = None,
    target_names: Optional[Sequence[str]] = None,
    center_per_story: bool = True,
) -> ProbeResult:
    """Cross-validated linear probes of targets from features, holding out one story at a time.

    With ``center_per_story`` (the default), each story's targets are centred on their own mean and each held-out
    story's predictions on theirs, so r measures how well the probe tracks a target's variation within stories. Without
    it, the probe's intercept is the training stories' target mean, which moves opposite to the held-out story's own
    mean (leave-one-out): with few stories, a target whose level differs between stories scores strongly negative
    even when the features know nothing of it.

    Args:
        features: {story: (n_i, D)} features on the TR grid.
        targets: {story: (n_i, K)} targets on the same grid (same rows per story).
        alphas: ridge penalties (himalaya convention, see :mod:`espnet_brain.voxelwise.ridge`); None: ``HUTH_ALPHAS``.
        n_inner_splits: folds of the inner cross-validation (contiguous chunks of the training TRs) that picks the
            penalty of each target; fewer (with a warning) when the training TRs are too few.
        stories: stories to use, in order; None: all (then both dicts must have the same stories).
        target_names: optional K names stored in the result.
        center_per_story: score within-story variation only (see above); False scores the raw concatenation.

    Returns:
        :class:`ProbeResult` with per-target r of the concatenated out-of-fold predictions; a target without variance
        (within stories, with ``center_per_story``) gets NaN.

    Raises:
        ValueError: a story in one dict and not the other, row counts that differ, fewer than 2 stories, non-finite
            values, or target names that do not match K.
    """
    stories = _check_stories(features, targets, stories)
    xs = [np.asarray(features[s], dtype=np.float64) for s in stories]
    ys = [np.asarray(targets[s], dtype=np.float64) for s in stories]
    n_targets = {y.shape[1] for y in ys}
    if len(n_targets) != 1 or len({x.shape[1] for x in xs}) != 1:
        shapes = {s: (x.shape[1], y.shape[1]) for s, x, y in zip(stories, xs, ys)}
        raise ValueError(f"stories differ in their (feature, target) column counts: {shapes}")
    k = n_targets.pop()
    if target_names is not None and len(target_names) != k:
        raise ValueError(f"target_names: {len(target_names)} names for {k} targets")
    for story, x, y in zip(stories, xs, ys):
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError(f"story {story!r}: features or targets contain NaN or inf")
    if center_per_story:
        ys = [y - y.mean(axis=0) for y in ys]
    y_all = np.concatenate(ys)
    # a target without variance cannot be correlated with anything: NaN, and not fitted
    varies = y_all.std(axis=0) > 0
    if not varies.any():
        logger.warning(f"probe_scores: none of the {k} targets varies; every r is NaN")
    cols = np.flatnonzero(varies)
    lengths = np.array([len(x) for x in xs])
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    x_all = np.concatenate(xs)
    pred = np.zeros((len(y_all), cols.size))
    alphas = HUTH_ALPHAS if alphas is None else alphas
    for i, story in enumerate(stories if cols.size else []):
        test = slice(bounds[i], bounds[i + 1])
        train = np.r_[0 : bounds[i], bounds[i + 1] : bounds[-1]]
        x_train, x_test = _zscore_with(x_all[train], x_all[test])
        y_train = y_all[train][:, cols]
        y_mean = y_train.mean(axis=0)
        # the ridge has no intercept: centre the targets with the training mean, add it back to the predictions
        cv = ChunkedKFold(n_splits=n_inner_splits).adapted_to(len(train))
        model = VoxelwiseRidgeCV(alphas=alphas, cv=cv, dtype="float64").fit(x_train, y_train - y_mean)
        pred[test] = model.predict(x_test) + y_mean
        if center_per_story:
            pred[test] -= pred[test].mean(axis=0)
        logger.debug(f"probe fold {i + 1}/{len(stories)}: held out {story} ({lengths[i]} TRs)")
    r = np.full(k, np.nan)
    y_pred = np.zeros_like(y_all)
    if cols.size:
        r[cols] = pearson_r(y_all[:, cols], pred)
        y_pred[:, cols] = pred
    finite = r[np.isfinite(r)]
    mean_r = float(finite.mean()) if finite.size else float("nan")
    return ProbeResult(
        r=r,
        mean_r=mean_r,
        target_names=None if target_names is None else [str(n) for n in target_names],
        n_samples=int(len(y_all)),
        y_true=y_all,
        y_pred=y_pred,
        groups=np.repeat(np.arange(len(stories)), lengths),
    )


def compare_probes(
    a: ProbeResult, b: ProbeResult, block_size: int = 10, n_resamples: int = 1000, seed: int = 0
) -> Dict[str, float]:
    """Whether probe B predicts the same targets better than probe A (e.g. a layer after vs before tuning).

    Two tests of the difference in mean r over targets: a paired block bootstrap over the scored TRs (blocks of
    ``block_size`` TRs inside each story; :func:`espnet_brain.voxelwise.bootstrap.block_bootstrap_difference`),
    which asks whether the gain holds beyond the particular time points, and Wilcoxon's signed-rank test over
    targets (:func:`espnet_brain.voxelwise.scoring.paired_difference`), which asks whether the typical target gains.

    Args:
        a: the reference probe (e.g. frozen features), from :func:`probe_scores`.
        b: the probe compared with it, on the same targets, stories and rows.
        block_size: TRs per bootstrap block.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        {"mean_diff", "ci_low", "ci_high", "p" (bootstrap), "wins" (fraction of targets where B > A),
        "p_targets" (Wilcoxon over targets; NaN with fewer than 6 targets), "n_targets", "n_blocks"}.

    Raises:
        ValueError: results without their predictions, or on different targets or rows.
    """
    for name, res in (("a", a), ("b", b)):
        if res.y_true is None or res.y_pred is None or res.groups is None:
            raise ValueError(f"compare_probes: probe {name} carries no predictions (made by probe_scores?)")
    if a.y_true.shape != b.y_true.shape or not np.array_equal(a.groups, b.groups):
        raise ValueError(
            f"compare_probes: the probes scored different rows or targets: {a.y_true.shape} vs {b.y_true.shape}"
        )
    if not np.allclose(a.y_true, b.y_true):
        raise ValueError("compare_probes: the probes were scored on different target values")
    out = block_bootstrap_difference(
        a.y_true, a.y_pred, b.y_pred, groups=a.groups, block_size=block_size, n_resamples=n_resamples, seed=seed
    )
    per_target = paired_difference(a.r, b.r)
    return {
        "mean_diff": out["mean_diff"],
        "ci_low": out["ci_low"],
        "ci_high": out["ci_high"],
        "p": out["p"],
        "wins": per_target["wins"],
        "p_targets": per_target["p"],
        "n_targets": per_target["n_voxels"],
        "n_blocks": out["n_blocks"],
    }


def _window_index(times: np.ndarray, grid_times: np.ndarray, tr: float) -> np.ndarray:
    """Index k of the window ``[grid_times[k], grid_times[k] + tr)`` holding each time, -1 for none."""
    grid_times = np.asarray(grid_times, dtype=np.float64)
    if grid_times.ndim != 1 or grid_times.size == 0:
        raise ValueError(f"grid_times: expected a non-empty 1-D array of window starts, got shape {grid_times.shape}")
    if np.any(np.diff(grid_times) <= 0):
        raise ValueError("grid_times: window starts must increase")
    if not tr > 0:
        raise ValueError(f"tr: expected > 0, got {tr}")
    # side="right": a time exactly on a boundary belongs to the later window, [t, t + tr)
    k = np.searchsorted(grid_times, times, side="right") - 1
    inside = (k >= 0) & (times < grid_times[np.clip(k, 0, None)] + tr)
    return np.where(inside, k, -1)


def _midpoints(intervals: Sequence[Interval]) -> np.ndarray:
    return np.array([(float(a) + float(b)) / 2.0 for a, b, _ in intervals], dtype=np.float64)


def interval_targets(
    intervals: Sequence[Interval], grid_times: np.ndarray, tr: float, vocab: Optional[Sequence[str]] = None
) -> Tuple[np.ndarray, List[str]]:
    """Counts of labelled intervals per TR window, one column per label (e.g. phoneme identity per TR).

    An interval counts in the window ``[t, t + tr)`` that holds its midpoint. Silences ("", "sp", "sil") and
    bracketed non-speech tokens ("{BR}", "{NS}", "{LG}") are skipped; labels are compared as written (stripped).

    Args:
        intervals: [(start_s, end_s, label), ...], e.g. ``read_textgrid(path)["phone"]``, times relative to the
            story audio.
        grid_times: (n_grid,) window starts in the same time frame, e.g. ``stimulus_tr_times(N, midpoint=False)``.
        tr: window length (s).
        vocab: the labels to count, in column order (others are ignored); None: every speech label present, sorted.

    Returns:
        ((n_grid, n_labels) float64 counts, the n_labels labels).
    """
    speech = [(a, b, lab.strip()) for a, b, lab in intervals if is_speech_label(lab)]
    labels = sorted({lab for _, _, lab in speech}) if vocab is None else [str(v) for v in vocab]
    if len(set(labels)) != len(labels):
        raise ValueError("vocab: duplicate labels")
    column = {lab: j for j, lab in enumerate(labels)}
    speech = [iv for iv in speech if iv[2] in column]
    counts = np.zeros((len(grid_times), len(labels)))
    rows = _window_index(_midpoints(speech), grid_times, tr)
    cols = np.array([column[lab] for _, _, lab in speech], dtype=np.int64)
    inside = rows >= 0
    np.add.at(counts, (rows[inside], cols[inside]), 1.0)
    return counts, labels


def _lower_table(table: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The table keyed by lower-cased words; an entry already lower-case wins over one that differs only in case."""
    lower: Dict[str, np.ndarray] = {}
    for word, vec in table.items():
        if word == word.lower() or word.lower() not in lower:
            lower[word.lower()] = vec
    return lower


def embedding_targets(
    words: Sequence[Interval], table: Mapping[str, np.ndarray], grid_times: np.ndarray, tr: float
) -> Tuple[np.ndarray, float]:
    """Mean word embedding per TR window (a semantic probe target).

    A word belongs to the window ``[t, t + tr)`` that holds its midpoint; words are looked up lower-cased (an entry
    already lower-case wins over one that differs only in case). Silences and non-speech tokens are skipped.

    Args:
        words: [(start_s, end_s, word), ...], e.g. ``read_textgrid(path)["word"]``.
        table: {word: (E,) vector}, e.g. from :func:`read_embedding_table`.
        grid_times: (n_grid,) window starts, e.g. ``stimulus_tr_times(N, midpoint=False)``.
        tr: window length (s).

    Returns:
        ((n_grid, E) float64 mean vectors, zeros in windows without a known word; the fraction of the speech words
        that are missing from the table, 0.0 when there is no speech word).
    """
    if not table:
        raise ValueError("table: empty embedding table")
    lower = _lower_table(table)
    dim = {np.shape(v) for v in lower.values()}
    if len(dim) != 1 or len(next(iter(dim))) != 1:
        raise ValueError(f"table: expected vectors of one shape (E,), got shapes {sorted(dim)}")
    (n_dim,) = dim.pop()
    speech = [(a, b, w.strip().lower()) for a, b, w in words if is_speech_label(w)]
    known = [iv for iv in speech if iv[2] in lower]
    missing = (len(speech) - len(known)) / len(speech) if speech else 0.0
    sums = np.zeros((len(grid_times), n_dim))
    counts = np.zeros(len(grid_times))
    rows = _window_index(_midpoints(known), grid_times, tr)
    for row, (_, _, w) in zip(rows, known):
        if row >= 0:
            sums[row] += lower[w]
            counts[row] += 1
    return sums / np.maximum(counts, 1)[:, None], float(missing)


def speech_words(words: Sequence[Interval], table: Optional[Mapping[str, np.ndarray]] = None) -> List[Interval]:
    """The spoken words of a word tier, lower-cased, in order: silences and non-speech tokens dropped, and with a
    ``table`` the words it lacks (the rows of word-level probes must be the same for every target family)."""
    keep = [(float(a), float(b), w.strip().lower()) for a, b, w in words if is_speech_label(w)]
    if table is not None:
        known = {w.lower() for w in table}
        keep = [iv for iv in keep if iv[2] in known]
    return keep


def word_features(
    window_feats: np.ndarray, window_ends: np.ndarray, words: Sequence[Interval], stride: Optional[float] = None
) -> np.ndarray:
    """Features of each word: the mean over the windows whose last ``stride`` seconds overlap the word.

    A window's feature summarises the audio up to its end (pooled over its last stride, or its last frame), so the
    windows that end inside the word, and the first one after it, hold what the model computed while hearing it.

    Args:
        window_feats: (N, D) features of the windows, in time order (``windows.scp`` of
            :func:`espnet_brain.fmri.inference.infer_dir`).
        window_ends: (N,) end times (s) of the windows, in the words' time frame (story time), evenly spaced.
        words: [(start_s, end_s, word), ...], e.g. from :func:`speech_words`.
        stride: spacing of the window ends (s); None: the median spacing of ``window_ends``.

    Returns:
        (n_words, D) float64.

    Raises:
        ValueError: shapes that do not match, window ends that do not increase, or a word outside the windows.
    """
    feats = np.asarray(window_feats, dtype=np.float64)
    ends = np.asarray(window_ends, dtype=np.float64).reshape(-1)
    if feats.ndim != 2 or len(feats) != len(ends) or len(ends) < 2:
        raise ValueError(
            f"window_feats {feats.shape} and window_ends {np.shape(window_ends)}: expected (N, D) and (N,), N >= 2"
        )
    if np.any(np.diff(ends) <= 0):
        raise ValueError("window_ends: the end times must increase")
    stride = float(np.median(np.diff(ends))) if stride is None else float(stride)
    out = np.zeros((len(words), feats.shape[1]))
    for i, (a, b, w) in enumerate(words):
        # windows i with (ends[i] - stride, ends[i]) overlapping (a, b): a < ends[i] < b + stride
        lo, hi = np.searchsorted(ends, a, side="right"), np.searchsorted(ends, b + stride, side="left")
        if lo >= hi:
            raise ValueError(
                f"word {w!r} at {a:.2f}-{b:.2f} s lies outside the windows ({ends[0] - stride:.2f}-{ends[-1]:.2f} s)"
            )
        out[i] = feats[lo:hi].mean(axis=0)
    return out


def word_embeddings(words: Sequence[Interval], table: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n_words, E) the embedding of each word (looked up lower-cased as :func:`embedding_targets` does; every word
    must be in ``table``)."""
    lower = {w: np.asarray(v, dtype=np.float64) for w, v in _lower_table(table).items()}
    missing = sorted({w for _, _, w in words if w.lower() not in lower})
    if missing:
        raise ValueError(
            f"words missing from the embedding table: {missing[:10]} (filter with speech_words(..., table))"
        )
    return (
        np.stack([lower[w.lower()] for _, _, w in words]) if words else np.zeros((0, len(next(iter(lower.values())))))
    )


def phoneme_label(label: str) -> str:
    """ARPAbet phone without its stress digit ("AH0" -> "AH"): phoneme identity, not stress."""
    return label.strip().rstrip("012")


def word_phonemes(words: Sequence[Interval], phones: Sequence[Interval], vocab: Sequence[str]) -> np.ndarray:
    """(n_words, P) how often each phoneme of ``vocab`` occurs in each word (phones whose midpoint lies inside it;
    labels compared by :func:`phoneme_label`)."""
    column = {p: j for j, p in enumerate(vocab)}
    speech = [(float(a), float(b), phoneme_label(lab)) for a, b, lab in phones if is_speech_label(lab)]
    mids = _midpoints(speech)
    out = np.zeros((len(words), len(vocab)))
    for i, (a, b, _) in enumerate(words):
        for j in np.flatnonzero((mids >= a) & (mids < b)):
            if speech[j][2] in column:
                out[i, column[speech[j][2]]] += 1.0
    return out


def read_embedding_table(path: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """Word vectors from a text file (GloVe / word2vec text format) or a ``.npz``.

    Args:
        path: a text file of lines ``word v1 v2 ...`` (an optional first line ``N D``, word2vec style, is checked
            against the rest; blank lines are skipped; the first of duplicate words is kept), or a ``.npz`` with
            arrays ``words`` (N,) str and ``vectors`` (N, E).

    Returns:
        {word: (E,) float32 vector}, words as written.

    Raises:
        ValueError: a malformed line (named by file and line number), a vector of another length, a header that
            does not match, or an ``.npz`` without those arrays.
    """
    path = str(path)
    if path.endswith(".npz"):
        return _read_npz_table(path)
    table: Dict[str, np.ndarray] = {}
    header: Optional[Tuple[int, int]] = None
    n_dim: Optional[int] = None
    dim_from = "the lines before"
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            if lineno == 1 and len(tokens) == 2 and all(t.isdigit() for t in tokens):
                header = (int(tokens[0]), int(tokens[1]))
                n_dim, dim_from = header[1], "the header"
                continue
            if len(tokens) < 2:
                raise ValueError(f"{path}:{lineno}: expected 'word v1 v2 ...', got {line.strip()!r}")
            try:
                vec = np.asarray(tokens[1:], dtype=np.float32)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: non-numeric vector value in {line.strip()[:80]!r}") from None
            if n_dim is None:
                n_dim = vec.size
            elif vec.size != n_dim:
                raise ValueError(f"{path}:{lineno}: {vec.size} values, expected {n_dim} (as in {dim_from})")
            table.setdefault(tokens[0], vec)
    if not table:
        raise ValueError(f"{path}: no word vectors")
    if header is not None and header[0] != len(table):
        logger.warning(f"{path}: header says {header[0]} words, read {len(table)} distinct words")
    return table


def _read_npz_table(path: str) -> Dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        if "words" not in data.files or "vectors" not in data.files:
            raise ValueError(f"{path}: expected arrays 'words' and 'vectors', got {sorted(data.files)}")
        try:
            words, vectors = data["words"], data["vectors"]
        except ValueError as e:
            # object arrays need pickle, which stays off for files from elsewhere
            raise ValueError(f"{path}: cannot read 'words' / 'vectors' ({e}); save words as a str array") from None
    if words.ndim != 1 or vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"{path}: expected words (N,) and vectors (N, E), got {words.shape} and {vectors.shape}")
    table: Dict[str, np.ndarray] = {}
    for word, vec in zip(words, vectors.astype(np.float32)):
        table.setdefault(str(word), vec)
    return table


def plot_probe_layers(
    results: Mapping[str, Mapping[Union[int, str], float]], path: Union[str, os.PathLike], title: str = "probe"
) -> str:
    """Line plot of the mean probe r per layer, one line per system (e.g. "frozen", "tuned"), one target family.

    Args:
        results: {system: {layer: mean_r}}; layers are ints (or their strings); NaN or None leave a gap.
        path: output .png path (parent directories are created).
        title: figure title, e.g. the target family.

    Returns:
        The path written.
    """
    if not results:
        raise ValueError("plot_probe_layers: no system to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ticks = set()
    for system, per_layer in results.items():
        layers = sorted(int(k) for k in per_layer)
        values = {int(k): np.nan if v is None else float(v) for k, v in per_layer.items()}
        ax.plot(layers, [values[k] for k in layers], marker="o", label=str(system))
        ticks.update(layers)
    ax.set_xticks(sorted(ticks))
    ax.set_xlabel("layer")
    ax.set_ylabel("mean probe r")
    ax.set_title(title)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
    return save_figure(fig, path)


__all__ = [
    "ProbeResult",
    "probe_scores",
    "compare_probes",
    "interval_targets",
    "embedding_targets",
    "read_embedding_table",
    "speech_words",
    "word_features",
    "word_embeddings",
    "word_phonemes",
    "phoneme_label",
    "plot_probe_layers",
    "is_speech_label",
]
