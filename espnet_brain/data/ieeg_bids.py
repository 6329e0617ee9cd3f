"""Reader of iEEG-BIDS sentence recordings (SEEG/ECoG) into high-gamma features per sentence.

Reads a recording with ``mne_bids.read_raw_bids``, keeps SEEG/ECoG channels, drops the channels
marked ``bad`` in ``channels.tsv``, optionally re-references, extracts the high-gamma envelope
(band-pass with MNE's FIR filter, Hilbert amplitude), resamples it, z-scores each channel over the
recording and cuts one segment per sentence row of ``events.tsv`` (see :func:`sentence_rows`).

The sentence text comes from any ``events.tsv`` column (``sentence`` by default). Datasets converted from
MNE annotations by MNE-BIDS keep each annotation's description, here the sentence itself, in
``trial_type``: read them with ``text_column="trial_type"`` and no trial-type filter (``trial_type=None``).
"""

import csv
import logging
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

IEEG_TYPES = ("seeg", "ecog")


@dataclass
class IEEGSentence:
    """One sentence of a recording.

    Attributes:
        feats: (T, C) float32 high-gamma envelope at ``sfreq``.
        text: Sentence text from ``events.tsv``.
        sent_id: Value of the ``sent_id`` column if present, else None.
        onset, duration: Seconds (from ``events.tsv``).
        ch_names: The C channel names.
        sfreq: Frame rate of ``feats`` (Hz).
    """

    feats: np.ndarray
    text: str
    sent_id: Optional[str]
    onset: float
    duration: float
    ch_names: List[str]
    sfreq: float


def find_recordings(root: str, task: Optional[str] = None) -> list:
    """BIDSPaths of all iEEG recordings (``*_ieeg.<ext>``) under ``root``, sorted."""
    import mne_bids

    paths = mne_bids.find_matching_paths(
        root, tasks=task, datatypes="ieeg", suffixes="ieeg", extensions=[".vhdr", ".edf", ".fif", ".nwb", ".set"]
    )
    return sorted(paths, key=lambda p: str(p.fpath))


def read_events_tsv(path: str) -> List[dict]:
    """Rows of a BIDS ``events.tsv`` as dicts of strings (``n/a`` kept as is)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if rows and ("onset" not in rows[0] or "duration" not in rows[0]):
        raise ValueError(f"{path}: events.tsv must have 'onset' and 'duration' columns, got {list(rows[0])}")
    return rows


def check_sentence_selection(trial_type: Optional[str], text_column: str, where: str = "events.tsv") -> None:
    """Refuse a trial-type filter when the text itself is read from ``trial_type`` (no row would differ)."""
    if trial_type and text_column == "trial_type":
        raise ValueError(
            f"{where}: the sentence text is read from trial_type, so trial_type cannot also select the sentence "
            f"rows (got trial_type={trial_type!r}); give an empty trial type (--trial_type '') to read every row"
        )


# More distinct trial types than this read as free text (sentences), not as a handful of event categories.
FREE_TEXT_TRIAL_TYPES = 10


def trial_type_holds_text(rows: Sequence[dict]) -> bool:
    """Whether the ``trial_type`` column of ``events.tsv`` rows holds free text rather than event categories.

    MNE-BIDS writes each annotation's description into ``trial_type``; when the annotations were the
    sentences, the column holds multi-word strings or many distinct values.

    Args:
        rows: Rows from :func:`read_events_tsv`.

    Returns:
        True if some ``trial_type`` has several words or there are more than ``FREE_TEXT_TRIAL_TYPES``
        distinct ones (``n/a`` and empty values ignored); False without a ``trial_type`` column.
    """
    values = {(row.get("trial_type") or "").strip() for row in rows} - {"", "n/a"}
    return any(len(v.split()) > 1 for v in values) or len(values) > FREE_TEXT_TRIAL_TYPES


def _text_column_hint(rows: Sequence[dict], text_column: str) -> str:
    """How to fix a missing text column: read the text from ``trial_type`` if it holds free text."""
    if text_column != "trial_type" and trial_type_holds_text(rows):
        return (
            "; trial_type holds free text (as MNE-BIDS writes annotations), so read the sentences from it with "
            '--text_column trial_type --trial_type ""'
        )
    return "; give the column holding the sentence text with --text_column"


def sentence_rows(
    rows: Sequence[dict], trial_type: Optional[str], text_column: str, where: str = "events.tsv"
) -> List[dict]:
    """The rows of an ``events.tsv`` that are sentences, in file order.

    Args:
        rows: Rows from :func:`read_events_tsv`.
        trial_type: Keep only rows of this ``trial_type``; None or ``""``: no filter (every row whose
            text is given). A file without a ``trial_type`` column is not filtered either.
        text_column: Column holding the sentence text (``trial_type`` included). A row whose text is
            BIDS's missing value ``n/a`` or empty is not a sentence.
        where: Name of the file, for error messages.

    Returns:
        The sentence rows.
    """
    check_sentence_selection(trial_type, text_column, where)
    if rows and text_column not in rows[0]:
        raise ValueError(
            f"{where}: no {text_column!r} column with the sentence text; found {list(rows[0])}"
            + _text_column_hint(rows, text_column)
        )
    out = []
    for row in rows:
        if trial_type and row.get("trial_type", trial_type) != trial_type:
            continue
        if (row.get(text_column) or "").strip() in ("", "n/a"):
            continue
        out.append(row)
    return out


def _bipolar_pairs(names: Sequence[str]) -> List[Tuple[str, str]]:
    """Neighbouring contacts of the same electrode (same letter prefix, consecutive numbers)."""
    parsed = []
    for n in names:
        m = re.fullmatch(r"(.*?)(\d+)", n)
        if m:
            parsed.append((m.group(1), int(m.group(2)), n))
    parsed.sort()
    return [(a[2], b[2]) for a, b in zip(parsed, parsed[1:]) if a[0] == b[0] and b[1] == a[1] + 1]


def high_gamma_envelope(raw, band: Tuple[float, float] = (70.0, 170.0), sfreq_out: float = 100.0):
    """High-gamma amplitude of every channel of ``raw`` (modified in place and returned).

    Band-pass ``band`` (MNE FIR, zero phase), Hilbert envelope, then resampling to ``sfreq_out``
    (MNE's resampling low-passes the envelope first).
    """
    lo, hi = band
    sf = raw.info["sfreq"]
    if not 0 < lo < hi:
        raise ValueError(f"high-gamma band must satisfy 0 < low < high, got {band}")
    if hi >= sf / 2:
        raise ValueError(f"high-gamma band {band} reaches the Nyquist frequency of {sf} Hz data ({sf / 2} Hz)")
    # MNE's default upper transition band is min(max(0.25 * hi, 2), sf / 2 - hi): it must fit below Nyquist.
    if hi + min(max(0.25 * hi, 2.0), sf / 2 - hi) / 2 >= sf / 2:
        raise ValueError(f"high-gamma band {band} does not fit below the Nyquist frequency of {sf} Hz data")
    raw.load_data(verbose=False)
    raw.filter(lo, hi, picks="all", verbose=False)
    raw.apply_hilbert(picks="all", envelope=True, verbose=False)
    if sfreq_out != sf:
        raw.resample(sfreq_out, verbose=False)
    return raw


def load_ieeg_sentences(
    bids_path,
    band: Tuple[float, float] = (70.0, 170.0),
    sfreq_out: float = 100.0,
    reref: Optional[str] = None,
    ch_types: Sequence[str] = IEEG_TYPES,
    trial_type: Optional[str] = "sentence",
    text_column: str = "sentence",
    zscore: bool = True,
) -> List[IEEGSentence]:
    """High-gamma features and text of each sentence of one recording.

    Args:
        bids_path: ``mne_bids.BIDSPath`` of the recording (see :func:`find_recordings`).
        band: High-gamma band (Hz).
        sfreq_out: Frame rate of the features (Hz), typically 50-100.
        reref: None, ``"average"`` (common average over the kept channels) or ``"bipolar"``
            (neighbouring contacts of the same electrode).
        ch_types: Channel types to keep.
        trial_type: ``trial_type`` of the sentence rows of ``events.tsv``; None or ``""``: every row
            with a text is a sentence.
        text_column: ``events.tsv`` column holding the sentence text, e.g. ``trial_type`` for the
            events MNE-BIDS writes from annotations whose descriptions are the sentences.
        zscore: Z-score each channel over the whole recording.

    Returns:
        One :class:`IEEGSentence` per sentence row (:func:`sentence_rows`), feats (T, C) float32.
    """
    import mne
    import mne_bids

    if reref not in (None, "average", "bipolar"):
        raise ValueError(f"reref must be None, 'average' or 'bipolar', got {reref!r}")
    check_sentence_selection(trial_type, text_column, str(bids_path.fpath))
    raw = mne_bids.read_raw_bids(bids_path, verbose=False)
    present = set(raw.get_channel_types())
    keep = [t for t in ch_types if t in present]
    if not keep:
        raise ValueError(f"{bids_path.fpath}: no channels of type {list(ch_types)}; found {sorted(present)}")
    bads = list(raw.info["bads"])
    raw.pick(keep, exclude="bads")
    if bads:
        logger.info("%s: dropped bad channels %s", bids_path.basename, bads)
    raw.load_data(verbose=False)
    if reref == "average":
        data = raw.get_data()
        raw = mne.io.RawArray(
            data - data.mean(axis=0, keepdims=True), raw.info, first_samp=raw.first_samp, verbose=False
        )
    elif reref == "bipolar":
        pairs = _bipolar_pairs(raw.ch_names)
        if not pairs:
            raise ValueError(f"{bids_path.fpath}: no neighbouring contacts found for a bipolar montage")
        raw = mne.set_bipolar_reference(
            raw, [a for a, _ in pairs], [b for _, b in pairs], drop_refs=True, copy=True, verbose=False
        )
        raw.pick([f"{a}-{b}" for a, b in pairs])
    raw = high_gamma_envelope(raw, band, sfreq_out)
    feats = raw.get_data().T.astype(np.float64)  # (C, T) -> (T, C)
    if zscore:
        feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-12)
    events_path = bids_path.copy().update(suffix="events", extension=".tsv")
    rows = sentence_rows(read_events_tsv(str(events_path.fpath)), trial_type, text_column, str(events_path.fpath))
    out = []
    for row in rows:
        onset, duration = float(row["onset"]), float(row["duration"])
        a = int(round(onset * sfreq_out))
        b = int(round((onset + duration) * sfreq_out))
        if a < 0 or b > len(feats) or b <= a:
            raise ValueError(
                f"{events_path.fpath}: event at {onset} s (duration {duration} s) outside the recording "
                f"of {len(feats) / sfreq_out:.2f} s"
            )
        sent_id = row.get("sent_id")
        out.append(
            IEEGSentence(
                feats=feats[a:b].astype(np.float32),
                text=row[text_column],
                sent_id=None if sent_id in (None, "n/a") else sent_id,
                onset=onset,
                duration=duration,
                ch_names=list(raw.ch_names),
                sfreq=float(sfreq_out),
            )
        )
    return out
