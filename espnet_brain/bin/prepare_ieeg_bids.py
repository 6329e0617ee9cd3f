"""Kaldi-style data directories and high-gamma features from an iEEG-BIDS dataset (SEEG/ECoG sentences).

For every recording (``sub-*/[ses-*/]ieeg/*_ieeg.{vhdr,edf,fif,nwb,set}``, read with MNE-BIDS):
keep the SEEG/ECoG channels that ``channels.tsv`` does not mark ``bad``, optionally re-reference
(common average or bipolar), take the high-gamma envelope (``--band``, Hilbert amplitude), resample it
to ``--sfreq`` (50 Hz by default: the 20 ms bins the brain feature extractor expects), z-score each
channel over the whole recording and cut one segment per ``events.tsv`` row of ``--trial_type``, whose
text is in ``--text_column`` (see :func:`espnet_brain.data.ieeg_bids.load_ieeg_sentences`). The text may be
in any column: datasets written by MNE-BIDS from annotations whose descriptions are the sentences have
it in ``trial_type``; read those with ``--text_column trial_type --trial_type ''`` (an empty trial type
selects every row that has a text).

Unlike the intracortical corpora, the features are computed here and not by the dump stage: the band-pass,
Hilbert transform and resampling need the continuous recording (segments would suffer edge effects), and
the z-score uses the whole recording, silence included (``--zscore recording``, the default: a test
recording is normalised with its own statistics). With ``--zscore none`` the envelopes are written as they
are, to be normalised by the dump stage with statistics of the training set only
(``espnet_brain.bin.dump_neural --zscore train``). They are written, one file per recording, in the
Brain-to-text '25 trial-group layout (``<feats_dir>/<recording>.hdf5``, groups ``trial_NNNN`` with
``input_features`` (T, C)), so that ``espnet_brain.bin.dump_neural`` reads them like any other corpus
(with ``--feature_set all --zscore none``).

Every recording of a subject keeps the channels that are good in all of that subject's recordings, in one
order; all subjects must end with the same number of channels (the decoder has one input size; the
per-session input layers absorb which electrode is where). Each subject/session is a "day" with its own
input layer (``utt2day``, ``days``).

Sets ``train``/``dev``/``test``: from an ``events.tsv`` column (``--split_column``, values ``train``,
``dev``, ``test``), or else by sentence text: the distinct normalised texts, ranked by a hash of the
text, give the first ``--test_fraction`` to test and the next ``--dev_fraction`` to dev, so that a sentence
read several times never appears in two sets.

Example::

    python -m espnet_brain.bin.prepare_ieeg_bids --bids_root /data/ds_ieeg --dst data \\
        --feats_dir data/local/features --band 70 170 --sfreq 50 --reref average
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.data.ieeg_bids import IEEG_TYPES
from espnet_brain.data.ieeg_bids_prepare import prepare


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bids_root", type=Path, required=True, help="root of the iEEG-BIDS dataset")
    parser.add_argument("--dst", type=Path, required=True, help="where the data directories go (e.g. data)")
    parser.add_argument("--feats_dir", type=Path, required=True, help="where the per-recording features go")
    parser.add_argument("--task", default=None, help="BIDS task to read (default: every task)")
    parser.add_argument("--subjects", default="", help="comma-separated subject labels (default: all), e.g. 01,03")
    parser.add_argument("--ch_types", default=",".join(IEEG_TYPES), help="channel types to keep, e.g. seeg,ecog")
    parser.add_argument("--reref", choices=["none", "average", "bipolar"], default="none")
    parser.add_argument("--band", type=float, nargs=2, default=[70.0, 170.0], metavar=("LOW", "HIGH"))
    parser.add_argument("--sfreq", type=float, default=50.0, help="feature rate in Hz (50: 20 ms bins)")
    parser.add_argument(
        "--trial_type",
        default="sentence",
        help="events.tsv trial_type of the sentence rows; '' (empty): no filter, every row with a text",
    )
    parser.add_argument(
        "--text_column",
        default="sentence",
        help="events.tsv column with the sentence text; trial_type (with --trial_type '') for events that "
        "MNE-BIDS wrote from annotations whose descriptions are the sentences",
    )
    parser.add_argument("--split_column", default=None, help="events.tsv column with train/dev/test per sentence")
    parser.add_argument(
        "--zscore",
        choices=["recording", "none"],
        default="recording",
        help="recording: z-score each channel over its whole recording; none: leave it to the dump stage "
        "(dump_neural --zscore train normalises with training-set statistics only)",
    )
    parser.add_argument("--dev_fraction", type=float, default=0.1)
    parser.add_argument("--test_fraction", type=float, default=0.1)
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    prepare(
        args.bids_root,
        args.dst,
        args.feats_dir,
        task=args.task,
        subjects=[s[4:] if s.startswith("sub-") else s for s in args.subjects.split(",") if s],
        ch_types=[t for t in args.ch_types.split(",") if t],
        reref=None if args.reref == "none" else args.reref,
        band=tuple(args.band),
        sfreq=args.sfreq,
        trial_type=args.trial_type or None,
        text_column=args.text_column,
        split_column=args.split_column,
        dev_fraction=args.dev_fraction,
        test_fraction=args.test_fraction,
        zscore=args.zscore == "recording",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
