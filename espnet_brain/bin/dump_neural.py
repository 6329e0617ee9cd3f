"""Dump neural features of a data directory to Kaldi ark/scp with kaldiio.

Reads ``<data_dir>/neural.scp`` (``utt_id <day .mat> <trial index>``), loads each day file once,
selects the feature set, z-scores per recording block (over all trials of the block in that day
file, labelled or not), and writes ``feats.ark``/``feats.scp``, ``feats_shape`` (``utt T,D``),
and copies ``text``, ``utt2spk`` and ``utt2day``. NaN or Inf values stop the dump with the file
and utterance named: a model would silently train on them otherwise.

Example::

    python -m espnet_brain.bin.dump_neural --data_dir data/train --out_dir dump/neural/train
"""

import argparse
import logging
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
from tqdm import tqdm

from espnet_brain.data.willett import DEFAULT_FEATURE_SET, FEATURE_SETS, load_willett_day


def read_neural_scp(path: Path) -> List[Tuple[str, str, int]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or not parts[2].isdigit():
                raise ValueError(f"{path}:{n}: expected 'utt_id <file> <trial index>', got {line.strip()!r}")
            rows.append((parts[0], parts[1], int(parts[2])))
    return rows


def dump(data_dir: Path, out_dir: Path, feature_set: str = DEFAULT_FEATURE_SET, zscore: str = "block") -> int:
    """Write the features; returns the number of utterances."""
    if zscore not in ("block", "none"):
        raise ValueError(f"--zscore must be block or none, got {zscore!r}")
    rows = read_neural_scp(data_dir / "neural.scp")
    by_file: Dict[str, List[Tuple[str, int]]] = defaultdict(list)
    for utt, path, index in rows:
        by_file[path].append((utt, index))
    feats: Dict[str, np.ndarray] = {}
    for path, items in tqdm(sorted(by_file.items()), desc=f"dump {data_dir.name}", unit="day", file=sys.stderr):
        sentences = load_willett_day(path, feature_set=feature_set, zscore=zscore == "block", require_text=False)
        for utt, index in items:
            if index >= len(sentences):
                raise ValueError(f"{path}: utterance {utt} refers to trial {index}, the file has {len(sentences)}")
            x = sentences[index].feats
            bad = ~np.isfinite(x)
            if bad.any():
                t, c = np.argwhere(bad)[0]
                raise ValueError(
                    f"{path}: utterance {utt} (trial {index}) has {int(bad.sum())} NaN/Inf values, "
                    f"first at bin {t}, feature {c}"
                )
            feats[utt] = x
    out_dir.mkdir(parents=True, exist_ok=True)
    dims = {x.shape[1] for x in feats.values()}
    if len(dims) > 1:
        raise ValueError(f"{data_dir}: utterances have different feature sizes {sorted(dims)}")
    with (
        kaldiio.WriteHelper(f"ark,scp:{out_dir / 'feats.ark'},{out_dir / 'feats.scp'}") as writer,
        open(out_dir / "feats_shape", "w") as f_shape,
    ):
        for utt in sorted(feats):
            writer(utt, feats[utt])
            f_shape.write(f"{utt} {feats[utt].shape[0]},{feats[utt].shape[1]}\n")
    for name in ("text", "utt2spk", "spk2utt", "utt2day", "days"):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, out_dir / name)
    (out_dir / "feats_type").write_text(f"neural {feature_set} zscore={zscore}\n")
    logging.info(f"{out_dir}: {len(feats)} utterances, {dims.pop() if dims else 0} features per bin")
    return len(feats)


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--feature_set", choices=sorted(FEATURE_SETS), default=DEFAULT_FEATURE_SET)
    parser.add_argument("--zscore", choices=["block", "none"], default="block")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    dump(args.data_dir, args.out_dir, args.feature_set, args.zscore)


if __name__ == "__main__":
    main(sys.argv[1:])
