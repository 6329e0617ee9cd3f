"""The Brain-to-text '25 corpus (Card et al. 2024 layout) as rows of Kaldi-style data directories.

:func:`collect` reads ``<corpus>[/hdf5_data_final]/<session>/data_{train,val,test}.hdf5`` (checked by
:func:`check_corpus`) into the rows of the sets train, dev (the last block of each session's ``data_train.hdf5``),
test (``data_val.hdf5``) and holdout (``data_test.hdf5``). The program is
``python -m espnet_brain.bin.prepare_brain2text25``.
"""

import logging
import os
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_brain.data.brain2text25 import PARTITION_FILES, find_data_root, list_session_files, read_trials
from espnet_brain.data.datadir import Row
from espnet_brain.data.text import normalize_transcript

DRYAD = "Card et al. 2024, Dryad doi:10.5061/dryad.dncjsxm85 (t15_copyTask_neuralData.zip)"

# set name -> partition file
SETS = {"train": "train", "test": "val", "holdout": "test"}


def check_corpus(corpus: Path) -> Dict[str, List[str]]:
    """Session files per partition; raises naming what is missing and where to get the corpus."""
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"Brain-to-text '25 corpus not found at {corpus}; it needs hdf5_data_final/<session>/"
            f"data_{{train,val,test}}.hdf5 ({DRYAD}, unzipped); set BRAIN2TEXT25 in db.sh"
        )
    files = {part: list_session_files(str(corpus), part) for part in PARTITION_FILES}
    missing = [PARTITION_FILES[p] for p in ("train", "val") if not files[p]]
    if missing:
        raise FileNotFoundError(
            f"Brain-to-text '25 corpus at {find_data_root(str(corpus))} is incomplete: no session folder holds "
            f"{' or '.join(missing)}. Download and unzip {DRYAD}"
        )
    if not files["test"]:
        logging.warning(f"no {PARTITION_FILES['test']} under {find_data_root(str(corpus))}: no holdout set")
    return files


def _session(path: str) -> str:
    return os.path.basename(os.path.dirname(path))


def collect(corpus: Path, dev_blocks: str) -> Tuple[Dict[str, List[Row]], List[str], Dict[str, int]]:
    """Read the trials' labels and blocks (features are left to the dump stage).

    Returns:
        (sets, days, skipped): rows per set name, sorted session names, and skipped-trial counts per set.
    """
    files = check_corpus(corpus)
    sets: Dict[str, List[Row]] = {"train": [], "dev": [], "test": [], "holdout": []}
    skipped = {name: 0 for name in sets}
    days = sorted({_session(p) for paths in files.values() for p in paths})
    for name, part in SETS.items():
        labelled = name != "holdout"
        for path in files[part]:
            session = _session(path)
            trials = read_trials(path, load_features=False, require_labels=labelled)
            last_block = max(t.block for t in trials)
            if name == "train" and dev_blocks == "last" and all(t.block == last_block for t in trials):
                logging.warning(f"{path}: one block only; all of its trials go to dev, none to train")
            for t in trials:
                if t.session and t.session != session:
                    logging.warning(f"{path}: {t.key} has session attribute {t.session!r}, the folder is {session}")
                target = name
                if name == "train" and dev_blocks == "last" and t.block == last_block:
                    target = "dev"
                norm = normalize_transcript(t.text) if labelled else ""
                if labelled and not norm:
                    skipped[target] += 1
                    continue
                utt = f"{session}-{part}-{t.key}"
                sets[target].append(Row(utt, os.path.abspath(path), t.key, session, norm))
    return sets, days, skipped
