"""Decoded holdout sentences in a Brain-to-text competition's submission format.

:func:`write_submission` writes the hypotheses of a holdout data directory in the corpus's own order
(:func:`corpus_order`), normalised as the benchmarks score them (:func:`submission_text`), in one of
:data:`FORMATS`. The program is ``python -m espnet_brain.bin.write_submission``; its help describes the formats.
"""

import csv
import logging
import re
from pathlib import Path
from typing import List, Tuple

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
