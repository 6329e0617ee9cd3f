"""Reader of the Brain-to-text '25 files (Card et al. 2024, one ``.hdf5`` per session and partition).

Layout of the released data (Dryad doi:10.5061/dryad.dncjsxm85, ``t15_copyTask_neuralData.zip``)::

    hdf5_data_final/t15.<yyyy.mm.dd>/data_train.hdf5   labelled
                                     data_val.hdf5     labelled (not every session has one)
                                     data_test.hdf5    unlabelled (the competition's test set)

Each file holds one group per trial, ``trial_0000``, ``trial_0001``, ... with

- dataset ``input_features``: (T, 512) float, 20 ms bins; columns are 8 blocks of 64 electrodes:
  threshold crossings (-4.5 x RMS) of ventral 6v, area 4, 55b, dorsal 6v, then spike-band power of the
  same four arrays in the same order;
- dataset ``seq_class_ids``: phoneme ids (1..39 for the ARPAbet phonemes, 40 for the word boundary,
  0-padded) and dataset ``transcription``: the sentence as character codes, 0-padded (labelled files only);
- attributes ``n_time_steps`` (T), ``seq_len`` (phonemes in ``seq_class_ids``; labelled only),
  ``sentence_label`` (the sentence; labelled only), ``session``, ``block_num`` and ``trial_num``.

The same trial-group layout with any number of columns serves as this package's per-trial container
for features computed elsewhere (see :mod:`espnet_brain.data.ieeg_bids_prepare`); :func:`write_trials`
writes it.
"""

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet_brain.data.willett import zscore_by_block

N_FEATURES = 512
ELECTRODES_PER_ARRAY = 64
ARRAYS = ("v6v", "4", "55b", "d6v")
KINDS = ("tx", "sbp")  # threshold crossings, spike-band power
PARTITION_FILES = {"train": "data_train.hdf5", "val": "data_val.hdf5", "test": "data_test.hdf5"}

# name -> (kinds, arrays); columns are concatenated kind by kind, array by array (the file's own order).
FEATURE_SETS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "all": (KINDS, ARRAYS),  # 512; for files of another width (e.g. iEEG features) "all" keeps every column
    "tx_all": (("tx",), ARRAYS),  # 256 threshold crossings
    "sbp_all": (("sbp",), ARRAYS),  # 256 spike-band powers
    "tx_sbp_6v": (KINDS, ("v6v", "d6v")),  # 256: both features of ventral and dorsal 6v
}
DEFAULT_FEATURE_SET = "all"

_TRIAL_KEY = re.compile(r"trial_(\d+)")


@dataclass
class Trial:
    """One trial (sentence) of a session file.

    Attributes:
        key: Group name, e.g. ``trial_0003``.
        feats: (T, D) float32 selected features (None when only the metadata was read).
        n_frames: T.
        text: ``sentence_label`` (or the decoded ``transcription``); "" in unlabelled files.
        phonemes: (L,) int64 ``seq_class_ids[:seq_len]``, or None.
        session: ``session`` attribute, e.g. ``t15.2023.08.11``.
        block: ``block_num`` attribute.
        trial: ``trial_num`` attribute.
    """

    key: str
    feats: Optional[np.ndarray]
    n_frames: int
    text: str
    phonemes: Optional[np.ndarray]
    session: str
    block: int
    trial: int


def _str_attr(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):  # a 1-element array of str/bytes
        return _str_attr(value.reshape(-1)[0]) if value.size else ""
    return str(value)


def _int_attr(value, name: str, where: str) -> int:
    try:
        return int(np.asarray(value).reshape(-1)[0])
    except (TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{where}: attribute {name} must be an integer, got {value!r}") from e


def decode_transcription(codes) -> str:
    """Character codes up to the first 0 (the padding) -> str."""
    codes = np.asarray(codes).reshape(-1)
    end = np.flatnonzero(codes == 0)
    codes = codes[: end[0]] if end.size else codes
    return "".join(chr(int(c)) for c in codes)


def _trial_order(key: str) -> Tuple[int, str]:
    m = _TRIAL_KEY.fullmatch(key)
    return (int(m.group(1)) if m else 1 << 62, key)


def resolve_columns(feature_set: str, width: int, path: str) -> np.ndarray:
    """Column indices of ``feature_set`` in a file of ``width`` columns."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(
            f"{path}: unknown feature_set {feature_set!r} for a Brain-to-text '25 .hdf5 file; "
            f"expected one of {sorted(FEATURE_SETS)}"
        )
    if feature_set == "all":
        return np.arange(width)
    if width != N_FEATURES:
        raise ValueError(
            f"{path}: feature_set {feature_set!r} needs the {N_FEATURES} Brain-to-text '25 columns, "
            f"the file has {width}; use feature_set 'all'"
        )
    kinds, arrays = FEATURE_SETS[feature_set]
    cols = []
    for kind in kinds:
        for array in arrays:
            start = (KINDS.index(kind) * len(ARRAYS) + ARRAYS.index(array)) * ELECTRODES_PER_ARRAY
            cols.append(np.arange(start, start + ELECTRODES_PER_ARRAY))
    return np.concatenate(cols)


def read_trials(
    path: str, load_features: bool = True, require_labels: bool = False, feature_set: str = "all"
) -> List[Trial]:
    """Read and validate the trials of one file, in trial order (``trial_0000``, ``trial_0001``, ...).

    Args:
        path: ``data_{train,val,test}.hdf5``.
        load_features: Read ``input_features`` (otherwise only shapes and labels; ``feats`` is None).
        require_labels: Raise if a trial has neither ``sentence_label`` nor ``transcription``.
        feature_set: A name of :data:`FEATURE_SETS` (columns to keep).

    Returns:
        One :class:`Trial` per group; ``feats`` is (T, D) float32.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: For unreadable/truncated files, missing datasets or attributes and inconsistent
            shapes, naming the file and trial.
    """
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"Brain-to-text '25 file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: cannot read as an HDF5 file ({e})") from e
    trials = []
    width = None
    columns = None
    with f:
        keys = sorted(f.keys(), key=_trial_order)
        if not keys:
            raise ValueError(f"{path}: no trial groups (expected trial_0000, trial_0001, ...)")
        for key in keys:
            where = f"{path}: {key}"
            try:
                g = f[key]
                if not isinstance(g, h5py.Group):
                    raise ValueError(f"{where}: expected a trial group, found a {type(g).__name__}")
                if "input_features" not in g:
                    raise ValueError(f"{where}: missing dataset input_features; found {sorted(g.keys())}")
                missing = [a for a in ("session", "block_num", "trial_num") if a not in g.attrs]
                if missing:
                    raise ValueError(f"{where}: missing attribute(s) {missing}; found {sorted(g.attrs.keys())}")
                dset = g["input_features"]
                if dset.ndim != 2:
                    raise ValueError(f"{where}: input_features must be (T, features), got shape {dset.shape}")
                n_frames, w = dset.shape
                if "n_time_steps" in g.attrs:
                    n_attr = _int_attr(g.attrs["n_time_steps"], "n_time_steps", where)
                    if n_attr != n_frames:
                        raise ValueError(f"{where}: n_time_steps is {n_attr} but input_features has {n_frames} rows")
                if width is None:
                    width = w
                    columns = resolve_columns(feature_set, w, path)
                elif w != width:
                    raise ValueError(f"{where}: {w} features per bin, {keys[0]} has {width}")
                feats = np.asarray(dset[()], dtype=np.float32)[:, columns] if load_features else None
                if "sentence_label" in g.attrs:
                    text = _str_attr(g.attrs["sentence_label"])
                elif "transcription" in g:
                    text = decode_transcription(g["transcription"][()])
                else:
                    text = ""
                if require_labels and not text:
                    raise ValueError(f"{where}: no sentence_label attribute or transcription dataset (unlabelled)")
                phonemes = None
                if "seq_class_ids" in g:
                    ids = np.asarray(g["seq_class_ids"][()]).reshape(-1).astype(np.int64)
                    if "seq_len" in g.attrs:
                        seq_len = _int_attr(g.attrs["seq_len"], "seq_len", where)
                        if not 0 <= seq_len <= len(ids):
                            raise ValueError(f"{where}: seq_len {seq_len} exceeds the {len(ids)} seq_class_ids")
                        ids = ids[:seq_len]
                    phonemes = ids
                trials.append(
                    Trial(
                        key=key,
                        feats=feats,
                        n_frames=int(n_frames),
                        text=text.strip(),
                        phonemes=phonemes,
                        session=_str_attr(g.attrs["session"]),
                        block=_int_attr(g.attrs["block_num"], "block_num", where),
                        trial=_int_attr(g.attrs["trial_num"], "trial_num", where),
                    )
                )
            except (OSError, RuntimeError, KeyError, TypeError) as e:  # h5py's errors for damaged objects
                raise ValueError(f"{where}: cannot read ({type(e).__name__}: {e})") from e
    return trials


def load_session_file(
    path: str, feature_set: str = DEFAULT_FEATURE_SET, zscore: bool = True, require_labels: bool = False
) -> List[Trial]:
    """Read one file's trials with selected features, z-scored per ``block_num`` if requested.

    Args:
        path: ``data_{train,val,test}.hdf5``.
        feature_set: A name of :data:`FEATURE_SETS`.
        zscore: Z-score each feature over all bins of the file's trials of the same block (each block
            with its own statistics, see :func:`espnet_brain.data.willett.zscore_by_block`).
        require_labels: See :func:`read_trials`.

    Returns:
        Trials in file order; ``feats`` (T, D) float32.
    """
    trials = read_trials(path, load_features=True, require_labels=require_labels, feature_set=feature_set)
    if zscore:
        feats = zscore_by_block([t.feats for t in trials], [t.block for t in trials])
        for t, x in zip(trials, feats):
            t.feats = x
    return trials


def find_data_root(root: str) -> str:
    """The directory holding the session folders: ``root`` or ``root/hdf5_data_final``."""
    nested = os.path.join(root, "hdf5_data_final")
    return nested if os.path.isdir(nested) else root


def list_session_files(root: str, partition: str) -> List[str]:
    """Sorted ``<session>/data_<partition>.hdf5`` paths under :func:`find_data_root` (sessions without one skipped)."""
    if partition not in PARTITION_FILES:
        raise ValueError(f"partition must be one of {list(PARTITION_FILES)}, got {partition!r}")
    data_root = find_data_root(root)
    if not os.path.isdir(data_root):
        raise ValueError(f"Brain-to-text '25 data directory not found: {data_root}")
    out = []
    for session in sorted(os.listdir(data_root)):
        path = os.path.join(data_root, session, PARTITION_FILES[partition])
        if os.path.isfile(path):
            out.append(path)
    return out


def write_trials(path: str, trials: Sequence[Dict[str, Union[np.ndarray, str, int]]]) -> None:
    """Write trials in the trial-group layout (a container for features computed by this package).

    Args:
        path: Output ``.hdf5``.
        trials: Dicts with ``feats`` (T, D) array, ``session`` (str), ``block`` (int), ``trial`` (int) and
            optionally ``text`` (str); written as ``trial_0000``, ``trial_0001``, ... in the given order.
    """
    import h5py

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with h5py.File(path, "w") as f:
        for i, t in enumerate(trials):
            g = f.create_group(f"trial_{i:04d}")
            feats = np.asarray(t["feats"], dtype=np.float32)
            g.create_dataset("input_features", data=feats)
            g.attrs["n_time_steps"] = feats.shape[0]
            g.attrs["session"] = str(t["session"])
            g.attrs["block_num"] = int(t["block"])
            g.attrs["trial_num"] = int(t["trial"])
            if t.get("text"):
                g.attrs["sentence_label"] = str(t["text"])
