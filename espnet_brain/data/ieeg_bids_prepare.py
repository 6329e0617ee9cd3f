"""Kaldi-style data directories and high-gamma features from an iEEG-BIDS dataset (SEEG/ECoG sentences).

:func:`prepare` computes the features of every recording (:func:`espnet_brain.data.ieeg_bids.load_ieeg_sentences`),
writes them in the Brain-to-text '25 trial-group layout, keeps the channels good in all of a subject's recordings
(:func:`common_channels`) and writes the sets train, dev and test, split by an ``events.tsv`` column or by sentence
text (:func:`text_split`). The program is ``python -m espnet_brain.bin.prepare_ieeg_bids``; its help describes the
processing.
"""

import hashlib
import logging
import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_brain.data.brain2text25 import write_trials
from espnet_brain.data.datadir import Row, write_set
from espnet_brain.data.ieeg_bids import IEEG_TYPES, find_recordings, load_ieeg_sentences, read_events_tsv, sentence_rows
from espnet_brain.data.text import normalize_transcript

SETS = ("train", "dev", "test")
HELP_GET = (
    "IEEG_BIDS (db.sh) must be the root of an iEEG-BIDS dataset (sub-*/[ses-*/]ieeg/*_ieeg.<ext> with "
    "channels.tsv and events.tsv giving each sentence's onset, duration and text), e.g. an iEEG dataset from "
    "OpenNeuro (https://openneuro.org) or one converted with MNE-BIDS (https://mne.tools/mne-bids)"
)


def day_of(bids_path) -> str:
    """``sub-XX_ses-YY`` (or ``sub-XX`` without sessions): one input layer per subject and session."""
    return f"sub-{bids_path.subject}" + (f"_ses-{bids_path.session}" if bids_path.session else "")


def recording_name(bids_path) -> str:
    """The BIDS basename without suffix and extension, e.g. ``sub-01_ses-01_task-sentences_run-01``."""
    return bids_path.copy().update(suffix=None, extension=None).basename


def text_split(texts: Sequence[str], dev_fraction: float, test_fraction: float) -> Dict[str, str]:
    """Assign each distinct text to a set by its hash rank.

    Args:
        texts: Normalised sentence texts (repeats allowed).
        dev_fraction: Fraction of the distinct texts for dev (at least one if > 0).
        test_fraction: Fraction of the distinct texts for test (at least one if > 0).

    Returns:
        {text: "train" | "dev" | "test"}.
    """
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"--{name} must be in [0, 1), got {value}")
    distinct = sorted(set(texts), key=lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())
    n_test = math.ceil(test_fraction * len(distinct))
    n_dev = math.ceil(dev_fraction * len(distinct))
    if n_test + n_dev >= len(distinct):
        raise ValueError(
            f"{len(distinct)} distinct sentences cannot give {n_test} to test, {n_dev} to dev and some to train; "
            "lower --dev_fraction/--test_fraction or give --split_column"
        )
    return {t: ("test" if i < n_test else "dev" if i < n_test + n_dev else "train") for i, t in enumerate(distinct)}


def _selection(trial_type: Optional[str], text_column: str) -> str:
    """Which events.tsv rows are sentences, in words (for messages)."""
    rows = f"rows of trial_type {trial_type!r}" if trial_type else "all rows"
    return f"{rows} with a text in column {text_column!r}"


def common_channels(names: Dict[str, List[str]]) -> List[str]:
    """Channels present in every recording (``names``: recording -> channel names), in the first one's order."""
    first = next(iter(names.values()))
    keep = [c for c in first if all(c in chans for chans in names.values())]
    for rec, chans in names.items():
        dropped = [c for c in chans if c not in keep]
        if dropped:
            logging.warning(f"{rec}: channels {dropped} are not good in every recording of the subject; dropped")
    return keep


def prepare(
    bids_root: Path,
    dst: Path,
    feats_dir: Path,
    task: Optional[str] = None,
    subjects: Optional[Sequence[str]] = None,
    ch_types: Sequence[str] = IEEG_TYPES,
    reref: Optional[str] = None,
    band: Tuple[float, float] = (70.0, 170.0),
    sfreq: float = 50.0,
    trial_type: Optional[str] = "sentence",
    text_column: str = "sentence",
    split_column: Optional[str] = None,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.1,
    zscore: bool = True,
) -> Dict[str, int]:
    """Write the features and the data directories; returns the number of utterances per set."""
    if not bids_root.is_dir():
        raise FileNotFoundError(f"iEEG-BIDS dataset not found at {bids_root}. {HELP_GET}")
    recordings = find_recordings(str(bids_root), task)
    if subjects:
        recordings = [r for r in recordings if r.subject in subjects]
    if not recordings:
        what = f"task {task!r}" if task else "any task"
        who = f" of subject(s) {list(subjects)}" if subjects else ""
        raise FileNotFoundError(f"{bids_root}: no iEEG recordings{who} for {what}. {HELP_GET}")

    # Features per recording (the whole recording is needed for filtering), then a common channel set.
    loaded: "OrderedDict[str, tuple]" = OrderedDict()
    for bp in recordings:
        name = recording_name(bp)
        sentences = load_ieeg_sentences(
            bp, band=band, sfreq_out=sfreq, reref=reref, ch_types=ch_types, trial_type=trial_type,
            text_column=text_column, zscore=zscore,
        )  # fmt: skip
        events_tsv = str(bp.copy().update(suffix="events", extension=".tsv").fpath)
        # The rows load_ieeg_sentences cut, in the same order.
        rows = sentence_rows(read_events_tsv(events_tsv), trial_type, text_column, events_tsv)
        if split_column is not None:
            if rows and split_column not in rows[0]:
                raise ValueError(
                    f"{name}_events.tsv: no column {split_column!r} (--split_column); found {list(rows[0])}"
                )
            for n, r in enumerate(rows):
                if r[split_column] not in SETS:
                    got = r[split_column]
                    raise ValueError(
                        f"{name}_events.tsv: sentence {n}: {split_column} must be one of {SETS}, got {got!r}"
                    )
        if not sentences:
            logging.warning(f"{name}: no sentence events ({_selection(trial_type, text_column)}); skipped")
            continue
        loaded[name] = (bp, sentences, rows)
        logging.info(f"{name}: {len(sentences)} sentences, {len(sentences[0].ch_names)} channels")
    if not loaded:
        raise ValueError(
            f"{bids_root}: no sentence events ({_selection(trial_type, text_column)}) in any events.tsv; "
            "check --trial_type and --text_column against the events.tsv files"
        )

    keep: Dict[str, List[str]] = {}
    for subject in sorted({bp.subject for bp, _, _ in loaded.values()}):
        names = {n: s[0].ch_names for n, (bp, s, _) in loaded.items() if bp.subject == subject}
        keep[subject] = common_channels(names)
        if not keep[subject]:
            raise ValueError(f"sub-{subject}: no channel is good in all of its recordings {sorted(names)}")
    sizes = {f"sub-{s}": len(c) for s, c in keep.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"subjects keep different numbers of channels {sizes}, the decoder has one input size; "
            "prepare one subject (or subjects with equal counts) with --subjects"
        )

    days = sorted({day_of(bp) for bp, _, _ in loaded.values()})
    entries = []  # (recording, index, day, text, split from column or None)
    for name, (bp, sentences, rows) in loaded.items():
        idx = [sentences[0].ch_names.index(c) for c in keep[bp.subject]]
        path = feats_dir / f"{name}.hdf5"
        run = int(bp.run) if bp.run and str(bp.run).isdigit() else 1
        write_trials(
            str(path),
            [
                {"feats": s.feats[:, idx], "session": day_of(bp), "block": run, "trial": i, "text": s.text}
                for i, s in enumerate(sentences)
            ],
        )
        for i, s in enumerate(sentences):
            column = rows[i][split_column] if split_column is not None else None
            entries.append((name, path, i, day_of(bp), normalize_transcript(s.text), column))

    skipped = sum(1 for e in entries if not e[4])
    if skipped:
        logging.warning(f"skipped {skipped} sentences with an empty transcript")
    entries = [e for e in entries if e[4]]
    assign = None if split_column else text_split([e[4] for e in entries], dev_fraction, test_fraction)
    sets: Dict[str, List[Row]] = {name: [] for name in SETS}
    for name, path, i, day, text, column in entries:
        target = column if column is not None else assign[text]
        sets[target].append(Row(f"{name}-{i:04d}", os.path.abspath(path), f"trial_{i:04d}", day, text))
    counts = {}
    for name, rows in sets.items():
        if not rows:
            raise ValueError(f"{bids_root}: the {name} set is empty; adjust the split (--split_column or fractions)")
        write_set(rows, days, dst / name, with_text=True)
        counts[name] = len(rows)
        logging.info(f"{dst / name}: {len(rows)} utterances from {len(days)} subject sessions")
    return counts
