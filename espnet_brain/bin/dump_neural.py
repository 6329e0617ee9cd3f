"""Dump neural features of a data directory to Kaldi ark/scp with kaldiio.

Reads ``<data_dir>/neural.scp`` (``utt_id <file> <key>``), loads each file once, selects the feature
set, z-scores per recording block (over all trials of the block in that file, labelled or not), and
writes ``feats.ark``/``feats.scp``, ``feats_shape`` (``utt T,D``), and copies ``text``, ``utt2spk``
and ``utt2day``. NaN or Inf values stop the dump with the file and utterance named: a model would
silently train on them otherwise.

The reader is chosen by the file's extension:

- ``.mat``: a Brain-to-text '24 day file (Willett et al. 2023); the key is the trial index (0-based);
  feature sets of :data:`espnet_brain.data.willett.FEATURE_SETS`;
- ``.hdf5`` / ``.h5``: a Brain-to-text '25 session file (Card et al. 2024) or this package's per-trial
  container in the same layout; the key is the trial group (``trial_0003``); feature sets of
  :data:`espnet_brain.data.brain2text25.FEATURE_SETS` (``all`` keeps every column).

Example::

    python -m espnet_brain.bin.dump_neural --data_dir data/train --out_dir dump/neural/train
"""

import argparse
import logging
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
from tqdm import tqdm

from espnet_brain.data import brain2text25, willett
from espnet_brain.data.willett import DEFAULT_FEATURE_SET

HDF5_SUFFIXES = (".hdf5", ".h5")
FEATURE_SET_CHOICES = sorted(set(willett.FEATURE_SETS) | set(brain2text25.FEATURE_SETS))


def read_neural_scp(path: Path) -> List[Tuple[str, str, str]]:
    """Rows ``(utt_id, file, key)`` of a ``neural.scp``; a ``.mat`` file's key must be a trial index."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise ValueError(f"{path}:{n}: expected 'utt_id <file> <key>', got {line.strip()!r}")
            suffix = os.path.splitext(parts[1])[1].lower()
            if suffix == ".mat" and not parts[2].isdigit():
                raise ValueError(f"{path}:{n}: expected 'utt_id <file.mat> <trial index>', got {line.strip()!r}")
            if suffix != ".mat" and suffix not in HDF5_SUFFIXES:
                raise ValueError(
                    f"{path}:{n}: no reader for {parts[1]!r}; expected a .mat (Brain-to-text '24) or "
                    f".hdf5/.h5 (Brain-to-text '25 layout) file"
                )
            key = str(int(parts[2])) if suffix == ".mat" else parts[2]
            rows.append((parts[0], parts[1], key))
    return rows


def load_file(path: str, feature_set: str, zscore: bool) -> Dict[str, np.ndarray]:
    """Features of every trial of one file, by neural.scp key: {key: (T, D) float32}."""
    if os.path.splitext(path)[1].lower() == ".mat":
        if feature_set not in willett.FEATURE_SETS:
            raise ValueError(
                f"{path}: feature_set {feature_set!r} is not one of a Willett .mat file's "
                f"{sorted(willett.FEATURE_SETS)}"
            )
        sentences = willett.load_willett_day(path, feature_set=feature_set, zscore=zscore, require_text=False)
        return {str(s.index): s.feats for s in sentences}
    trials = brain2text25.load_session_file(path, feature_set=feature_set, zscore=zscore)
    return {t.key: t.feats for t in trials}


def dump(data_dir: Path, out_dir: Path, feature_set: str = DEFAULT_FEATURE_SET, zscore: str = "block") -> int:
    """Write the features; returns the number of utterances."""
    if zscore not in ("block", "none"):
        raise ValueError(f"--zscore must be block or none, got {zscore!r}")
    rows = read_neural_scp(data_dir / "neural.scp")
    by_file: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for utt, path, key in rows:
        by_file[path].append((utt, key))
    out_dir.mkdir(parents=True, exist_ok=True)
    # Written file by file as they are read (a whole corpus does not fit in memory), then the scp is sorted.
    shapes: Dict[str, Tuple[int, int]] = {}
    with kaldiio.WriteHelper(f"ark,scp:{out_dir / 'feats.ark'},{out_dir / 'feats.scp'}") as writer:
        for path, items in tqdm(sorted(by_file.items()), desc=f"dump {data_dir.name}", unit="file", file=sys.stderr):
            trials = load_file(path, feature_set, zscore == "block")
            for utt, key in items:
                if key not in trials:
                    raise ValueError(
                        f"{path}: utterance {utt} refers to trial {key}, the file has {len(trials)} trials"
                    )
                x = trials[key]
                bad = ~np.isfinite(x)
                if bad.any():
                    t, c = np.argwhere(bad)[0]
                    raise ValueError(
                        f"{path}: utterance {utt} (trial {key}) has {int(bad.sum())} NaN/Inf values, "
                        f"first at bin {t}, feature {c}"
                    )
                if shapes and x.shape[1] != next(iter(shapes.values()))[1]:
                    first, (_, d) = next(iter(shapes.items()))
                    raise ValueError(
                        f"{data_dir}: utterance {utt} ({path}) has {x.shape[1]} features per bin, {first} has {d}"
                    )
                writer(utt, x)
                shapes[utt] = x.shape
    scp = out_dir / "feats.scp"
    scp.write_text("".join(sorted(scp.read_text().splitlines(keepends=True))))
    (out_dir / "feats_shape").write_text("".join(f"{u} {shapes[u][0]},{shapes[u][1]}\n" for u in sorted(shapes)))
    for name in ("text", "utt2spk", "spk2utt", "utt2day", "days"):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, out_dir / name)
    (out_dir / "feats_type").write_text(f"neural {feature_set} zscore={zscore}\n")
    dim = next(iter(shapes.values()))[1] if shapes else 0
    logging.info(f"{out_dir}: {len(shapes)} utterances, {dim} features per bin")
    return len(shapes)


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument(
        "--feature_set",
        choices=FEATURE_SET_CHOICES,
        default=DEFAULT_FEATURE_SET,
        help=f"Willett .mat: {sorted(willett.FEATURE_SETS)}; .hdf5: {sorted(brain2text25.FEATURE_SETS)}",
    )
    parser.add_argument("--zscore", choices=["block", "none"], default="block")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    dump(args.data_dir, args.out_dir, args.feature_set, args.zscore)


if __name__ == "__main__":
    main(sys.argv[1:])
