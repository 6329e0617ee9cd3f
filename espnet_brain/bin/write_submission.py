"""Write decoded holdout sentences in a Brain-to-text competition's submission format.

The order is the corpus's own, not the sorted order of ESPnet's ``text`` files: the trials of
``<data_dir>/neural.scp`` sorted by file path (days / sessions in date order), then by their position in
the file. Every holdout utterance needs a hypothesis (an empty one is allowed and written as an empty
sentence); hypotheses of other utterances are an error.

Formats:

- ``brain2text24`` (Brain-to-text Benchmark '24, Willett et al. 2023): a text file with one decoded
  sentence per line for the ``competitionHoldOut`` trials (1200 in the released corpus);
- ``brain2text25`` (Brain-to-text '25, Card et al. 2024): a CSV file with the header ``id,text`` and
  one row per ``data_test.hdf5`` trial, ids 0, 1, ... in that order.

Sentences are written the way both benchmarks score them: lower case, no punctuation but the
apostrophe, single spaces.

Example::

    python -m espnet_brain.bin.write_submission --format brain2text24 --data_dir data/holdout \\
        --hyp exp/asr_brain_full/decode_holdout/text --out exp/asr_brain_full/submission.txt
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.submission import FORMATS, write_submission


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--data_dir", type=Path, required=True, help="the holdout data directory (neural.scp)")
    parser.add_argument("--hyp", type=Path, required=True, help="decoded text (utt_id text), e.g. decode_*/text")
    parser.add_argument("--out", type=Path, required=True, help="submission file to write")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    write_submission(args.format, args.data_dir, args.hyp, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
