"""Reader of the Brain-to-text '24 files (Willett et al. 2023, one MATLAB ``.mat`` per recording day).

A day file holds ``sentenceText`` (a char array, one space-padded row per sentence, or a cell array),
``spikePow`` and ``tx1``..``tx4`` (1 x S cell arrays of T x C arrays of 20 ms bins; ``tx1`` counts
threshold crossings at -3.5 x RMS, ``tx2``..``tx4`` at stricter thresholds) and ``blockIdx``
(S x 1). Columns ``0 .. C/2 - 1`` come from area 6v, ``C/2 .. C - 1`` from area 44 (C = 256).

The usual input is ``tx1`` and ``spikePow`` of area 6v (256 features), z-scored per recording
block. The recipes hold out the last block of each day of ``train/`` as their dev set
(:func:`split_last_block`).
"""

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

FIELDS = ("spikePow", "tx1", "tx2", "tx3", "tx4")
AREAS = ("6v", "44")

# name -> (fields, areas); features are concatenated field by field, area by area.
FEATURE_SETS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "tx1_spikepow_6v": (("tx1", "spikePow"), ("6v",)),
    "all_thresholds_6v": (("tx1", "tx2", "tx3", "tx4", "spikePow"), ("6v",)),
    "tx1_spikepow_44": (("tx1", "spikePow"), ("44",)),
    "tx1_spikepow_all": (("tx1", "spikePow"), ("6v", "44")),
    "all": (("tx1", "tx2", "tx3", "tx4", "spikePow"), ("6v", "44")),
}
DEFAULT_FEATURE_SET = "tx1_spikepow_6v"


@dataclass
class WillettSentence:
    """One sentence (trial) of a day file.

    Attributes:
        text: ``sentenceText`` with the padding stripped ("" for unlabelled hold-out trials).
        feats: (T, D) float32 selected features (z-scored per block if requested).
        block: ``blockIdx`` of the trial.
        index: Position of the trial in the file.
        day: File stem, e.g. ``t12.2022.06.14``.
    """

    text: str
    feats: np.ndarray
    block: int
    index: int
    day: str


def _texts(value, path: str) -> List[str]:
    arr = np.asarray(value)
    if arr.dtype.kind == "U":  # char matrix -> (S,) strings (scipy's chars_as_strings)
        return [str(s).strip() for s in arr.reshape(-1)]
    if arr.dtype == object:  # cell array of char arrays
        out = []
        for cell in arr.reshape(-1):
            cell = np.asarray(cell)
            if cell.size == 0:
                out.append("")
            elif cell.dtype.kind == "U":
                out.append("".join(str(s) for s in cell.reshape(-1)).strip())
            else:
                raise ValueError(f"{path}: sentenceText cells must hold text, got dtype {cell.dtype}")
        return out
    raise ValueError(f"{path}: sentenceText must be a char array or a cell array of strings, got dtype {arr.dtype}")


def _cells(value, name: str, path: str) -> List[np.ndarray]:
    arr = np.asarray(value)
    if arr.dtype != object:
        raise ValueError(
            f"{path}: {name} must be a 1 x S cell array of T x C arrays, got a {arr.dtype} array {arr.shape}"
        )
    cells = [np.asarray(c) for c in arr.reshape(-1)]
    for i, c in enumerate(cells):
        if c.ndim != 2:
            raise ValueError(f"{path}: {name}{{{i + 1}}} must be a T x C matrix, got shape {c.shape}")
    return cells


def read_willett_mat(path: str, fields: Sequence[str] = FIELDS, require_text: bool = True) -> dict:
    """Load and validate the raw content of a day file.

    Args:
        path: ``.mat`` file.
        fields: Neural fields to load (subset of :data:`FIELDS`).
        require_text: Raise if ``sentenceText`` is missing; otherwise texts are ``""``.

    Returns:
        ``{"text": [S str], "blocks": (S,) int64, "<field>": [S arrays (T_i, C)], "channels": C}``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: For unreadable/truncated files, missing fields and inconsistent lengths or shapes,
            naming the file.
    """
    import scipy.io

    if not os.path.isfile(path):
        raise FileNotFoundError(f"Willett day file not found: {path}")
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ValueError(f"unknown Willett field(s) {unknown}; expected a subset of {list(FIELDS)}")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises many types for damaged files (ValueError, zlib.error, ...)
        raise ValueError(f"{path}: cannot read as a MATLAB v5 file ({type(e).__name__}: {e})") from e
    missing = [k for k in ["blockIdx", *fields] if k not in mat]
    if "sentenceText" not in mat and require_text:
        missing.insert(0, "sentenceText")
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: missing field(s) {missing}; found {found}")
    out = {f: _cells(mat[f], f, path) for f in fields}
    n = len(out[fields[0]]) if fields else None
    blocks = np.asarray(mat["blockIdx"]).reshape(-1)
    if n is None:
        n = len(blocks)
    texts = _texts(mat["sentenceText"], path) if "sentenceText" in mat else [""] * n
    lengths = {"sentenceText": len(texts), "blockIdx": len(blocks), **{f: len(out[f]) for f in fields}}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: fields disagree on the number of sentences: {lengths}")
    channels = None
    for i in range(n):
        shapes = {f: out[f][i].shape for f in fields}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"{path}: sentence {i} has fields of different shapes: {shapes}")
        c = next(iter(shapes.values()))[1] if shapes else None
        if channels is None:
            channels = c
        elif c != channels:
            raise ValueError(f"{path}: sentence {i} has {c} channels, sentence 0 has {channels}")
    if channels is not None and channels % 2:
        raise ValueError(f"{path}: expected an even number of channels (area 6v | area 44 halves), got {channels}")
    out.update(text=texts, blocks=blocks.astype(np.int64), channels=channels)
    return out


def _resolve(feature_set) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    if isinstance(feature_set, str):
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown feature_set {feature_set!r}; expected one of {sorted(FEATURE_SETS)}")
        return FEATURE_SETS[feature_set]
    fields, areas = feature_set
    fields, areas = tuple(fields), tuple(areas)
    bad = [f for f in fields if f not in FIELDS] + [a for a in areas if a not in AREAS]
    if bad or not fields or not areas:
        raise ValueError(
            f"feature_set=(fields, areas) expects fields in {FIELDS} and areas in {AREAS}, got {feature_set}"
        )
    return fields, areas


def zscore_by_block(feats: Sequence[np.ndarray], blocks: Sequence[int], eps: float = 1e-8) -> List[np.ndarray]:
    """Z-score each feature with the mean and std over all bins of the trials of the same block.

    This is the reference pipeline's normalisation: every block, a test block included, is normalised with
    its own statistics. For statistics of the training set only (what an online decoder can use), dump with
    ``python -m espnet_brain.bin.dump_neural --zscore train``.

    Args:
        feats: S arrays (T_i, D).
        blocks: (S,) block ids.
        eps: Added to the std (constant features, e.g. dead channels, become 0).

    Returns:
        S float32 arrays (T_i, D).
    """
    blocks = np.asarray(blocks)
    if len(blocks) != len(feats):
        raise ValueError(f"zscore_by_block: {len(feats)} trials but {len(blocks)} block ids")
    out: List[Optional[np.ndarray]] = [None] * len(feats)
    for b in np.unique(blocks):
        idx = np.flatnonzero(blocks == b)
        allf = np.concatenate([feats[i] for i in idx]).astype(np.float64)
        mean, std = allf.mean(axis=0), allf.std(axis=0)
        for i in idx:
            out[i] = ((feats[i] - mean) / (std + eps)).astype(np.float32)
    return out


def load_willett_day(
    path: str,
    feature_set: Union[str, Tuple[Sequence[str], Sequence[str]]] = DEFAULT_FEATURE_SET,
    zscore: bool = True,
    require_text: bool = True,
) -> List[WillettSentence]:
    """Read one day file into sentences with selected features.

    Args:
        path: ``.../{train,test,competitionHoldOut}/t12.<date>.mat``.
        feature_set: A name of :data:`FEATURE_SETS` or ``(fields, areas)``, e.g.
            ``(("tx1", "spikePow"), ("6v",))`` (the default: 128 + 128 = 256 features).
        zscore: Z-score per block (:func:`zscore_by_block`).
        require_text: See :func:`read_willett_mat`.

    Returns:
        One :class:`WillettSentence` per trial, in file order; ``feats`` is (T, D) float32 with
        D = len(fields) * len(areas) * C / 2.
    """
    fields, areas = _resolve(feature_set)
    raw = read_willett_mat(path, fields, require_text=require_text)
    half = raw["channels"] // 2 if raw["channels"] else 0
    cols = {"6v": slice(0, half), "44": slice(half, 2 * half)}
    feats = [
        np.concatenate([raw[f][i][:, cols[a]] for f in fields for a in areas], axis=1).astype(np.float32)
        for i in range(len(raw["text"]))
    ]
    if zscore and feats:
        feats = zscore_by_block(feats, raw["blocks"])
    day = os.path.splitext(os.path.basename(path))[0]
    return [
        WillettSentence(text=t, feats=f, block=int(b), index=i, day=day)
        for i, (t, f, b) in enumerate(zip(raw["text"], feats, raw["blocks"]))
    ]


def list_day_files(root: str, partition: str) -> List[str]:
    """Sorted day files of ``root/<partition>`` (``train``, ``test`` or ``competitionHoldOut``)."""
    d = os.path.join(root, partition)
    if not os.path.isdir(d):
        raise ValueError(f"Willett partition directory not found: {d}")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".mat"))


def split_last_block(sentences: Sequence[WillettSentence]) -> Tuple[List[WillettSentence], List[WillettSentence]]:
    """Split a day's train sentences into (train, dev): dev is the block with the largest ``blockIdx``."""
    if not sentences:
        return [], []
    last = max(s.block for s in sentences)
    return [s for s in sentences if s.block != last], [s for s in sentences if s.block == last]
