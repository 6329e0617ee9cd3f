"""The Brain-to-text '24 corpus (Willett et al. 2023 layout) as rows of Kaldi-style data directories.

:func:`collect` reads ``<corpus>/train``, ``<corpus>/test`` and (when present) ``<corpus>/competitionHoldOut``
(checked by :func:`check_corpus`) into the rows of the sets train, dev (the last block of each training day), test
and holdout. The program is ``python -m espnet_brain.bin.prepare_willett``.
"""

import logging
import os
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_brain.data.datadir import Row
from espnet_brain.data.text import normalize_transcript
from espnet_brain.data.willett import list_day_files, read_willett_mat

PARTITIONS = {"train": "train", "test": "test", "holdout": "competitionHoldOut"}

DRYAD = "Willett et al. 2023, Dryad doi:10.5061/dryad.x69p8czpq (competitionData.tar.gz)"


def _day_stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def check_corpus(corpus: Path) -> Dict[str, List[str]]:
    """Day files per partition; raises naming everything that is missing and where to get the corpus."""
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"Brain-to-text '24 corpus not found at {corpus}; it needs train/ and test/ (and competitionHoldOut/) "
            f"with one .mat per day ({DRYAD}); set BRAIN2TEXT24 in db.sh"
        )
    files: Dict[str, List[str]] = {}
    problems = []
    for part, folder in PARTITIONS.items():
        path = corpus / folder
        if not path.is_dir():
            if part != "holdout":
                problems.append(f"{path}/ is missing")
            continue
        files[part] = list_day_files(str(corpus), folder)
        if not files[part]:
            problems.append(f"{path}/ has no .mat day files")
    if problems:
        raise FileNotFoundError(
            f"Brain-to-text '24 corpus at {corpus} is incomplete: {'; '.join(problems)}. "
            f"Download and unpack it from {DRYAD}"
        )
    if "holdout" not in files:
        logging.warning(f"{corpus / PARTITIONS['holdout']}/ not found: no holdout set (competition decoding)")
    untrained = sorted({_day_stem(f) for p in ("test", "holdout") for f in files.get(p, [])})
    untrained = [d for d in untrained if d not in {_day_stem(f) for f in files["train"]}]
    if untrained:
        logging.warning(f"days without training data (their input layers stay untrained): {untrained}")
    return files


def collect(corpus: Path, dev_blocks: str) -> Tuple[Dict[str, List[Row]], List[str], Dict[str, int]]:
    """Read the partitions' texts and blocks (features are left to the dump stage).

    Returns:
        (sets, days, skipped): rows per set name, sorted day stems, and skipped-utterance counts per set.
    """
    sets: Dict[str, List[Row]] = {"train": [], "dev": [], "test": [], "holdout": []}
    skipped = {name: 0 for name in sets}
    files = check_corpus(corpus)
    days = sorted({_day_stem(f) for paths in files.values() for f in paths})
    for part, paths in files.items():
        for path in paths:
            raw = read_willett_mat(path, fields=("tx1",), require_text=part != "holdout")
            blocks = [int(b) for b in raw["blocks"]]
            last_block = max(blocks) if blocks else None
            stem = _day_stem(path)
            for i, (text, block) in enumerate(zip(raw["text"], blocks)):
                norm = normalize_transcript(text) if part != "holdout" else ""
                name = part
                if part == "train" and dev_blocks == "last" and block == last_block:
                    name = "dev"
                if part != "holdout" and not norm:
                    skipped[name] += 1
                    continue
                utt = f"{stem}-{part}-{i:04d}"
                sets[name].append(Row(utt, os.path.abspath(path), i, stem, norm))
    return sets, days, skipped
