"""Dumping of neural features for the decoding wing: a data directory's ``neural.scp`` to Kaldi ark/scp.

Reads ``<data_dir>/neural.scp`` (``utt_id <file> <key>``), loads each file once, selects the feature
set, normalises the features, and writes ``feats.ark``/``feats.scp``, ``feats_shape`` (``utt T,D``), and
copies ``text``, ``utt2spk`` and ``utt2day``. NaN or Inf values stop the dump with the file and utterance
named: a model would silently train on them otherwise. The program is ``python -m espnet_brain.bin.dump_neural``;
its help describes the normalisations.
"""

import functools
import logging
import os
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import kaldiio
import numpy as np
from tqdm import tqdm

from espnet_brain.asr.online_norm import DEFAULT_TIME_CONSTANT, OnlineZScore
from espnet_brain.data import brain2text25, datadir, willett
from espnet_brain.data.datadir import read_2columns
from espnet_brain.data.willett import DEFAULT_FEATURE_SET

HDF5_SUFFIXES = (".hdf5", ".h5")
FEATURE_SET_CHOICES = sorted(set(willett.FEATURE_SETS) | set(brain2text25.FEATURE_SETS))
ZSCORE_CHOICES = ("block", "train", "online", "none")
STATS_ZSCORES = ("train", "online")  # the normalisations that start from training-set statistics
ALL_DAYS = "<all>"  # the day group of a data directory without utt2day
EPS = 1e-8  # added to the std, as in willett.zscore_by_block


@dataclass
class TrainStats:
    """Per-day feature statistics of a training set, applied to every set by ``--zscore train`` (and the starting
    point of ``--zscore online``).

    Attributes:
        days: G day names (from the training set's ``days``/``utt2day``).
        mean: (G, D) mean of each feature over all bins of the day's training utterances.
        std: (G, D) standard deviation, likewise.
        count: (G,) number of bins per day.
        pooled_mean: (D,) mean over all training bins (for days absent from the training set).
        pooled_std: (D,) standard deviation over all training bins.
        feature_set: The feature set the statistics were computed on.
    """

    days: List[str]
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    pooled_mean: np.ndarray
    pooled_std: np.ndarray
    feature_set: str

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # a file object keeps the name as given (np.savez would append .npz)
            np.savez(
                f,
                days=np.array(self.days, dtype=str),
                mean=self.mean,
                std=self.std,
                count=self.count,
                pooled_mean=self.pooled_mean,
                pooled_std=self.pooled_std,
                feature_set=np.array(self.feature_set),
            )

    @classmethod
    def load(cls, path: Path) -> "TrainStats":
        with np.load(path) as z:
            return cls(
                days=[str(d) for d in z["days"]],
                mean=z["mean"],
                std=z["std"],
                count=z["count"],
                pooled_mean=z["pooled_mean"],
                pooled_std=z["pooled_std"],
                feature_set=str(z["feature_set"]),
            )

    def day_stats(self, day: str) -> Tuple[np.ndarray, np.ndarray]:
        """(D,) mean and (D,) std of ``day``; those of all training days for a day absent from the training set."""
        if day in self.days:
            i = self.days.index(day)
            return self.mean[i], self.std[i]
        return self.pooled_mean, self.pooled_std

    def normalise(self, x: np.ndarray, day: str) -> np.ndarray:
        """Z-score (T, D) features of one utterance of ``day`` with the training statistics; (T, D) float32."""
        mean, std = self.day_stats(day)
        return ((x - mean) / (std + EPS)).astype(np.float32)


class _StatsAccumulator:
    """Running per-day sums of features (float64, shifted by a first estimate of the mean for accuracy)."""

    def __init__(self):
        self.n: Dict[str, int] = {}
        self.shift: Dict[str, np.ndarray] = {}
        self.s1: Dict[str, np.ndarray] = {}
        self.s2: Dict[str, np.ndarray] = {}

    def add(self, x: np.ndarray, day: str) -> None:
        x = np.asarray(x, dtype=np.float64)
        if not len(x):
            return
        if day not in self.n:
            self.n[day], self.shift[day] = 0, x.mean(axis=0)
            self.s1[day], self.s2[day] = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        d = x - self.shift[day]
        self.n[day] += len(x)
        self.s1[day] += d.sum(axis=0)
        self.s2[day] += (d * d).sum(axis=0)

    def result(self, feature_set: str) -> TrainStats:
        days = sorted(self.n)
        if not days:
            raise ValueError("no feature frames to compute training statistics from")
        n = np.array([self.n[d] for d in days], dtype=np.int64)
        mean = np.stack([self.shift[d] + self.s1[d] / self.n[d] for d in days])
        # E[x^2] per day around its own mean, then pooled with the law of total variance.
        var = np.stack([np.maximum(self.s2[d] / self.n[d] - (self.s1[d] / self.n[d]) ** 2, 0.0) for d in days])
        pooled_mean = (n[:, None] * mean).sum(axis=0) / n.sum()
        pooled_var = (n[:, None] * (var + (mean - pooled_mean) ** 2)).sum(axis=0) / n.sum()
        return TrainStats(days, mean, np.sqrt(var), n, pooled_mean, np.sqrt(pooled_var), feature_set)


def read_utt_days(data_dir: Path) -> Dict[str, str]:
    """Recording day of each utterance: ``utt2day`` ids named by ``days`` (the id itself without it).

    A data directory without ``utt2day`` maps every utterance to one group (:data:`ALL_DAYS`).
    """
    if not (data_dir / "utt2day").is_file():
        return {}
    names: Dict[str, str] = {}
    if (data_dir / "days").is_file():
        names = {day_id: name.strip() or day_id for day_id, name in read_2columns(data_dir / "days").items()}
    out = {}
    for utt, day_id in read_2columns(data_dir / "utt2day").items():
        if not day_id or len(day_id.split()) != 1:
            raise ValueError(f"{data_dir / 'utt2day'}: expected 'utt_id day_id', got {utt!r} {day_id!r}")
        out[utt] = names.get(day_id, day_id)
    return out


def read_neural_scp(path: Path) -> List[Tuple[str, str, str]]:
    """Rows ``(utt_id, file, key)`` of a ``neural.scp``; a ``.mat`` file's key must be a trial index."""
    rows = []
    for utt, file, key in datadir.read_neural_scp(path):
        suffix = os.path.splitext(file)[1].lower()
        if suffix == ".mat" and not key.isdigit():
            raise ValueError(f"{path}: utterance {utt}: expected 'utt_id <file.mat> <trial index>', got key {key!r}")
        if suffix != ".mat" and suffix not in HDF5_SUFFIXES:
            raise ValueError(
                f"{path}: utterance {utt}: no reader for {file!r}; expected a .mat (Brain-to-text '24) or "
                f".hdf5/.h5 (Brain-to-text '25 layout) file"
            )
        rows.append((utt, file, str(int(key)) if suffix == ".mat" else key))
    return rows


def load_file_trials(path: str, feature_set: str, zscore: bool) -> List[Tuple[str, int, np.ndarray]]:
    """Every trial of one file in recording (file) order: ``(neural.scp key, block, (T, D) float32 features)``."""
    if os.path.splitext(path)[1].lower() == ".mat":
        if feature_set not in willett.FEATURE_SETS:
            raise ValueError(
                f"{path}: feature_set {feature_set!r} is not one of a Willett .mat file's "
                f"{sorted(willett.FEATURE_SETS)}"
            )
        sentences = willett.load_willett_day(path, feature_set=feature_set, zscore=zscore, require_text=False)
        return [(str(s.index), s.block, s.feats) for s in sentences]
    trials = brain2text25.load_session_file(path, feature_set=feature_set, zscore=zscore)
    return [(t.key, t.block, t.feats) for t in trials]


def load_file(path: str, feature_set: str, zscore: bool) -> Dict[str, np.ndarray]:
    """Features of every trial of one file, by neural.scp key: {key: (T, D) float32}."""
    return {key: x for key, _, x in load_file_trials(path, feature_set, zscore)}


def online_normalise_trials(
    trials: List[Tuple[str, int, np.ndarray]], mean: np.ndarray, std: np.ndarray, time_constant: float, where: str
) -> Dict[str, np.ndarray]:
    """``--zscore online`` of one file's trials, as a live decoder would normalise them.

    Each recording block gets one :class:`espnet_brain.asr.online_norm.OnlineZScore` that starts from the training
    statistics at the block's first trial and runs through all its trials in recording order, in and out of the
    data directory alike (the time between trials is not in the files and is skipped).

    Args:
        trials: ``(key, block, (T, D) features)`` in recording order (:func:`load_file_trials`).
        mean: (D,) training mean of the file's day.
        std: (D,) training standard deviation.
        time_constant: Moving-average time constant in bins.
        where: The file, quoted in errors.

    Returns:
        {key: (T, D) float32} for every trial.
    """
    norms: Dict[int, OnlineZScore] = {}
    out = {}
    for key, block, x in trials:
        if x.shape[1] != mean.shape[0]:
            raise ValueError(
                f"{where}: trial {key} has {x.shape[1]} features per bin, the training statistics have {mean.shape[0]}"
            )
        if block not in norms:
            norms[block] = OnlineZScore(mean, std, time_constant, EPS)
        try:
            out[key] = norms[block](x)
        except ValueError as err:
            raise ValueError(f"{where}: trial {key} (block {block}): {err}") from err
    return out


def _utterances(
    data_dir: Path,
    by_file: Dict[str, List[Tuple[str, str]]],
    feature_set: str,
    block_zscore: bool,
    desc: str,
    per_file: Optional[Callable[[str, List[Tuple[str, str]]], Dict[str, np.ndarray]]] = None,
) -> Iterator[Tuple[str, np.ndarray]]:
    """``(utt, feats (T, D))`` of every utterance, file by file, checked for NaN/Inf and a common width.

    ``per_file(path, [(utt, key), ...])``, when given, reads and normalises a file's trials instead of
    :func:`load_file`.
    """
    width: Optional[Tuple[str, int]] = None
    for path, items in tqdm(sorted(by_file.items()), desc=desc, unit="file", file=sys.stderr):
        trials = load_file(path, feature_set, block_zscore) if per_file is None else per_file(path, items)
        for utt, key in items:
            if key not in trials:
                raise ValueError(f"{path}: utterance {utt} refers to trial {key}, the file has {len(trials)} trials")
            x = trials[key]
            bad = ~np.isfinite(x)
            if bad.any():
                t, c = np.argwhere(bad)[0]
                raise ValueError(
                    f"{path}: utterance {utt} (trial {key}) has {int(bad.sum())} NaN/Inf values, "
                    f"first at bin {t}, feature {c}"
                )
            if width is None:
                width = (utt, x.shape[1])
            elif x.shape[1] != width[1]:
                raise ValueError(
                    f"{data_dir}: utterance {utt} ({path}) has {x.shape[1]} features per bin, {width[0]} has {width[1]}"
                )
            yield utt, x


def _online_file(
    path: str,
    items: List[Tuple[str, str]],
    feature_set: str,
    stats: TrainStats,
    utt_days: Dict[str, str],
    time_constant: float,
) -> Dict[str, np.ndarray]:
    """``--zscore online`` of one day file, from its day's training statistics (see :func:`online_normalise_trials`)."""
    days = sorted({utt_days.get(utt, ALL_DAYS) for utt, _ in items})
    if len(days) != 1:
        raise ValueError(
            f"{path}: its utterances are on {len(days)} days ({days}); --zscore online runs one normaliser per "
            "recording block of a day file"
        )
    mean, std = stats.day_stats(days[0])
    return online_normalise_trials(load_file_trials(path, feature_set, False), mean, std, time_constant, path)


def _train_stats(
    data_dir: Path,
    by_file: Dict[str, List[Tuple[str, str]]],
    feature_set: str,
    utt_days: Dict[str, str],
    stats_file: Optional[Path],
    fit_stats: bool,
    zscore: str = "train",
) -> TrainStats:
    """Compute (``fit_stats``: this is the training set) and save, or load, the training statistics of
    ``--zscore train`` and ``--zscore online``."""
    if stats_file is None:
        raise ValueError(
            f"--zscore {zscore} needs --stats_file: the .npz the training set's statistics are written to "
            "(with --fit_stats true) and read from for every other set"
        )
    if fit_stats:
        acc = _StatsAccumulator()
        for utt, x in _utterances(data_dir, by_file, feature_set, False, f"statistics of {data_dir.name}"):
            acc.add(x, utt_days.get(utt, ALL_DAYS))
        stats = acc.result(feature_set)
        stats.save(stats_file)
        logging.info(f"{stats_file}: training statistics of {len(stats.days)} days from {data_dir}")
        return stats
    if not stats_file.is_file():
        raise ValueError(
            f"{stats_file} not found: with --zscore {zscore} the training set is dumped first (with --fit_stats true "
            f"and the same --stats_file), and {data_dir} is normalised with its statistics; dump the training set "
            "before this one"
        )
    stats = TrainStats.load(stats_file)
    if stats.feature_set != feature_set:
        raise ValueError(
            f"{stats_file} holds statistics of feature set {stats.feature_set!r}, not {feature_set!r}; "
            "dump the training set again with this --feature_set (and --fit_stats true)"
        )
    absent = sorted({utt_days.get(u, ALL_DAYS) for files in by_file.values() for u, _ in files} - set(stats.days))
    if absent:
        logging.warning(
            f"{data_dir}: days {absent} are not in the training set; they use the statistics of all training days"
        )
    return stats


def dump(
    data_dir: Path,
    out_dir: Path,
    feature_set: str = DEFAULT_FEATURE_SET,
    zscore: str = "block",
    stats_file: Optional[Path] = None,
    fit_stats: bool = False,
    online_time_constant: Optional[float] = None,
) -> int:
    """Write the features; returns the number of utterances.

    Args:
        data_dir: Data directory with ``neural.scp`` (and ``utt2day``/``days`` for per-day statistics).
        out_dir: Where ``feats.scp``/``feats.ark`` and the copied files go.
        feature_set: Columns to keep (:data:`FEATURE_SET_CHOICES`).
        zscore: ``block``, ``train``, ``online`` or ``none`` (see the module docstring).
        stats_file: ``--zscore train/online``: the ``.npz`` of the training statistics.
        fit_stats: ``--zscore train/online``: ``data_dir`` is the training set; compute the statistics from it and
            write them to ``stats_file`` (otherwise they are read from it).
        online_time_constant: ``--zscore online``: time constant of the moving averages in bins (None:
            :data:`espnet_brain.asr.online_norm.DEFAULT_TIME_CONSTANT`).
    """
    if zscore not in ZSCORE_CHOICES:
        raise ValueError(f"--zscore must be one of {ZSCORE_CHOICES}, got {zscore!r}")
    if zscore not in STATS_ZSCORES and (stats_file is not None or fit_stats):
        raise ValueError(
            f"--stats_file and --fit_stats are only used with --zscore train or online, got --zscore {zscore}"
        )
    if online_time_constant is not None and zscore != "online":
        raise ValueError(f"--online_time_constant is only used with --zscore online, got --zscore {zscore}")
    time_constant = DEFAULT_TIME_CONSTANT if online_time_constant is None else float(online_time_constant)
    if not time_constant > 0:
        raise ValueError(f"--online_time_constant: expected > 0 bins, got {online_time_constant}")
    rows = read_neural_scp(data_dir / "neural.scp")
    by_file: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for utt, path, key in rows:
        by_file[path].append((utt, key))
    stats, utt_days = None, {}
    if zscore in STATS_ZSCORES:
        utt_days = read_utt_days(data_dir)
        stats = _train_stats(data_dir, by_file, feature_set, utt_days, stats_file, fit_stats, zscore)
    per_file = None
    if zscore == "online":
        per_file = functools.partial(
            _online_file, feature_set=feature_set, stats=stats, utt_days=utt_days, time_constant=time_constant
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # Written file by file as they are read (a whole corpus does not fit in memory), then the scp is sorted.
    shapes: Dict[str, Tuple[int, int]] = {}
    with kaldiio.WriteHelper(f"ark,scp:{out_dir / 'feats.ark'},{out_dir / 'feats.scp'}") as writer:
        for utt, x in _utterances(data_dir, by_file, feature_set, zscore == "block", f"dump {data_dir.name}", per_file):
            if zscore == "train":
                if x.shape[1] != stats.mean.shape[1]:
                    raise ValueError(
                        f"{data_dir}: utterance {utt} has {x.shape[1]} features per bin, the training statistics "
                        f"in {stats_file} have {stats.mean.shape[1]}"
                    )
                x = stats.normalise(x, utt_days.get(utt, ALL_DAYS))
            writer(utt, x)
            shapes[utt] = x.shape
    scp = out_dir / "feats.scp"
    scp.write_text("".join(sorted(scp.read_text().splitlines(keepends=True))))
    (out_dir / "feats_shape").write_text("".join(f"{u} {shapes[u][0]},{shapes[u][1]}\n" for u in sorted(shapes)))
    for name in ("text", "utt2spk", "spk2utt", "utt2day", "days"):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, out_dir / name)
    feats_type = f"neural {feature_set} zscore={zscore}"
    if zscore == "online":
        feats_type += f" time_constant={time_constant:g}"
    (out_dir / "feats_type").write_text(feats_type + "\n")
    dim = next(iter(shapes.values()))[1] if shapes else 0
    logging.info(f"{out_dir}: {len(shapes)} utterances, {dim} features per bin")
    return len(shapes)
