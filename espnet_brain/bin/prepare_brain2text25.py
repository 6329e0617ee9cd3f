"""Kaldi-style data directories from Brain-to-text '25 session files (Card et al. 2024 layout).

Reads ``<corpus>[/hdf5_data_final]/<session>/data_{train,val,test}.hdf5`` and writes, under ``--dst``,
the sets

- ``<prefix>train``: ``data_train.hdf5`` without its last block per session,
- ``<prefix>dev``: that last block of each session's ``data_train.hdf5`` (the validation set for early
  stopping and checkpoint selection, so that the official validation partition stays unseen),
- ``<prefix>test``: ``data_val.hdf5`` (labelled; scored),
- ``<prefix>holdout``: ``data_test.hdf5`` (unlabelled, the competition's test set; decoding only).

Each set holds ``neural.scp`` (``utt_id <session .hdf5> trial_NNNN``), ``text`` (normalised
``sentence_label``; not for the holdout), ``utt2spk``/``spk2utt`` (the session is the speaker),
``utt2day`` and ``days`` (one integer id per session, the same mapping in every set). Labelled trials
whose transcript is empty after normalisation are skipped and reported.

Example::

    python -m espnet_brain.bin.prepare_brain2text25 --corpus /data/t15_copyTask_neuralData --dst data
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.data.brain2text25_corpus import collect
from espnet_brain.data.datadir import write_set


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus", type=Path, required=True, help="t15_copyTask_neuralData or its hdf5_data_final directory"
    )
    parser.add_argument("--dst", type=Path, required=True, help="where the data directories go (e.g. data)")
    parser.add_argument("--prefix", default="", help="prefix of the set names")
    parser.add_argument(
        "--dev_blocks",
        choices=["last", "none"],
        default="last",
        help="last: the last block of each session's data_train.hdf5 is the dev set",
    )
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    sets, days, skipped = collect(args.corpus, args.dev_blocks)
    for name, rows in sets.items():
        if not rows:
            if name in ("train", "test"):
                raise ValueError(f"{args.corpus}: no labelled {name} trials")
            continue
        write_set(rows, days, args.dst / f"{args.prefix}{name}", with_text=name != "holdout")
        logging.info(f"{args.dst / (args.prefix + name)}: {len(rows)} utterances from {len(days)} sessions")
        if skipped[name]:
            logging.warning(f"{args.prefix}{name}: skipped {skipped[name]} trials with an empty transcript")


if __name__ == "__main__":
    main(sys.argv[1:])
