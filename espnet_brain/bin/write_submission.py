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
import csv
import logging
import re
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from espnet_brain.data.datadir import read_2columns, read_neural_scp

FORMATS = ("brain2text24", "brain2text25")
_NOT_KEPT = re.compile(r"[^a-z' ]+")


def submission_text(text: str) -> str:
    """Lower case, letters/apostrophes/spaces only, single spaces."""
    return " ".join(_NOT_KEPT.sub(" ", text.lower()).split())


def _key_order(key: str) -> Tuple[int, str]:
    digits = re.findall(r"\d+", key)
    return (int(digits[-1]) if digits else -1, key)


def corpus_order(neural_scp: Path) -> List[str]:
    """Utterance ids of ``neural.scp`` in the corpus's order (file path, then trial position)."""
    rows = sorted((file, _key_order(key), utt) for utt, file, key in read_neural_scp(neural_scp))
    if not rows:
        raise ValueError(f"{neural_scp}: no utterances")
    return [utt for _, _, utt in rows]


def write_submission(fmt: str, data_dir: Path, hyp: Path, out: Path) -> int:
    """Write the submission file; returns the number of sentences."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {fmt!r}")
    order = corpus_order(data_dir / "neural.scp")
    hyps = {utt: text.strip() for utt, text in read_2columns(hyp).items()}
    missing = [u for u in order if u not in hyps]
    if missing:
        raise ValueError(
            f"{hyp}: no hypothesis for {len(missing)} of the {len(order)} utterances of {data_dir}, "
            f"e.g. {missing[:3]}; decode the whole set"
        )
    extra = sorted(set(hyps) - set(order))
    if extra:
        raise ValueError(f"{hyp}: {len(extra)} hypotheses for utterances not in {data_dir}, e.g. {extra[:3]}")
    sentences = [submission_text(hyps[u]) for u in order]
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "brain2text24":
        out.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    else:
        with open(out, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["id", "text"])
            for i, s in enumerate(sentences):
                writer.writerow([i, s])
    empty = sum(1 for s in sentences if not s)
    logging.info(f"{out}: {len(sentences)} sentences ({fmt}), {empty} empty")
    return len(sentences)


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
