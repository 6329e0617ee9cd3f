"""Kaldi-style data directories from Brain-to-text '24 day files (Willett et al. 2023 layout).

Reads ``<corpus>/train``, ``<corpus>/test`` and (when present) ``<corpus>/competitionHoldOut``
and writes, under ``--dst``, the sets ``<prefix>train``, ``<prefix>dev`` (the last block of each
training day, as users of this corpus do), ``<prefix>test`` and ``<prefix>holdout`` (unlabelled;
decoding only). Each set holds:

- ``neural.scp``: ``utt_id <day .mat path> <trial index>`` (features are read and normalised per
  block by ``espnet_brain.bin.dump_neural``),
- ``text``: normalised transcript (``<prefix>holdout`` has none),
- ``utt2spk`` / ``spk2utt``: the recording day is the speaker,
- ``utt2day``: integer day id, the same mapping in every set (``days`` lists it).

Sentences with an empty transcript in labelled partitions are skipped, counted and reported.

Example::

    python -m espnet_brain.bin.prepare_willett --corpus /data/competitionData --dst data --prefix ""
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.data.datadir import write_set
from espnet_brain.data.willett_corpus import collect


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus", type=Path, required=True, help="directory with train/, test/[, competitionHoldOut/]"
    )
    parser.add_argument("--dst", type=Path, required=True, help="where the data directories go (e.g. data)")
    parser.add_argument("--prefix", default="", help="prefix of the set names, e.g. brain_")
    parser.add_argument("--dev_blocks", choices=["last", "none"], default="last")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    sets, days, skipped = collect(args.corpus, args.dev_blocks)
    for name, rows in sets.items():
        if name == "holdout" and not rows:
            continue
        write_set(rows, days, args.dst / f"{args.prefix}{name}", with_text=name != "holdout")
        logging.info(f"{args.dst / (args.prefix + name)}: {len(rows)} utterances from {len(days)} days")
        if skipped[name]:
            logging.warning(f"{args.prefix}{name}: skipped {skipped[name]} sentences with an empty transcript")


if __name__ == "__main__":
    main(sys.argv[1:])
