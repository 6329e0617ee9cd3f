"""Dump neural features of a data directory to Kaldi ark/scp with kaldiio.

Reads ``<data_dir>/neural.scp`` (``utt_id <file> <key>``), loads each file once, selects the feature
set, normalises the features (``--zscore``), and writes ``feats.ark``/``feats.scp``, ``feats_shape``
(``utt T,D``), and copies ``text``, ``utt2spk`` and ``utt2day``. NaN or Inf values stop the dump with the
file and utterance named: a model would silently train on them otherwise.

Normalisation (``--zscore``):

- ``block`` (default, as the reference pipeline): each feature is z-scored with the mean and std over
  all trials of its recording block in that file, labelled or not. A test block is therefore normalised
  with its own statistics, which an online decoder does not have before the block is over.
- ``train``: the mean and std of each feature come from the training set only, per recording day
  (``utt2day``/``days``; a day absent from the training set uses the statistics of all training days), and
  are applied to every set. The training set is dumped first with ``--fit_stats true``, which writes them
  to ``--stats_file`` (an ``.npz``, e.g. beside the training dump); dev and test dumps read that file and
  never look at their own statistics.
- ``online``: what a live (streaming) decoder can compute. The same training statistics as ``train`` (the same
  ``--stats_file``/``--fit_stats`` steps) are the starting point of a running z-score whose mean and variance
  follow the recording with exponential moving averages (``--online_time_constant`` bins); the output at a bin
  never reads a later bin. Each recording block starts again from the day's training statistics and runs through
  the block's trials in recording order (all trials of the file's block, whether this data directory lists them
  or not), so every set, the training set included, is normalised the way it will be seen live
  (:class:`espnet_brain.asr.online_norm.OnlineZScore`).
- ``none``: the features as read.

The reader is chosen by the file's extension:

- ``.mat``: a Brain-to-text '24 day file (Willett et al. 2023); the key is the trial index (0-based);
  feature sets of :data:`espnet_brain.data.willett.FEATURE_SETS`;
- ``.hdf5`` / ``.h5``: a Brain-to-text '25 session file (Card et al. 2024) or this package's per-trial
  container in the same layout; the key is the trial group (``trial_0003``); feature sets of
  :data:`espnet_brain.data.brain2text25.FEATURE_SETS` (``all`` keeps every column).

Example::

    python -m espnet_brain.bin.dump_neural --data_dir data/train --out_dir dump/neural/train

    # Training-set statistics: the training set first, then the others with the same stats file.
    python -m espnet_brain.bin.dump_neural --data_dir data/train --out_dir dump/neural/train \\
        --zscore train --stats_file dump/neural/train/zscore_stats.npz --fit_stats true
    python -m espnet_brain.bin.dump_neural --data_dir data/test --out_dir dump/neural/test \\
        --zscore train --stats_file dump/neural/train/zscore_stats.npz

    # Online normalisation (streaming): the same two steps with --zscore online
    python -m espnet_brain.bin.dump_neural --data_dir data/train --out_dir dump/neural/train \\
        --zscore online --stats_file dump/neural/train/zscore_stats.npz --fit_stats true
    python -m espnet_brain.bin.dump_neural --data_dir data/test --out_dir dump/neural/test \\
        --zscore online --stats_file dump/neural/train/zscore_stats.npz --online_time_constant 3000
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet2.utils.types import str2bool

from espnet_brain.asr.dump import FEATURE_SET_CHOICES, ZSCORE_CHOICES, dump
from espnet_brain.asr.online_norm import DEFAULT_TIME_CONSTANT
from espnet_brain.data import brain2text25, willett
from espnet_brain.data.willett import DEFAULT_FEATURE_SET


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
    parser.add_argument(
        "--zscore",
        choices=ZSCORE_CHOICES,
        default="block",
        help="block: per recording block with the block's own statistics (test blocks included); train: per day "
        "with statistics of the training set only (see --stats_file); online: a running z-score that starts from "
        "the training statistics and never reads a later bin; none: as read",
    )
    parser.add_argument(
        "--stats_file",
        type=Path,
        default=None,
        help="--zscore train/online: .npz of the training statistics, written with --fit_stats true, read otherwise",
    )
    parser.add_argument(
        "--fit_stats",
        type=str2bool,
        default=False,
        help="--zscore train/online: this is the training set; compute the statistics and write --stats_file",
    )
    parser.add_argument(
        "--online_time_constant",
        type=float,
        default=None,
        help=f"--zscore online: time constant of the running mean and variance in bins (default "
        f"{DEFAULT_TIME_CONSTANT:g}, i.e. {DEFAULT_TIME_CONSTANT * 0.02:g} s at 20 ms bins; inf: never adapt)",
    )
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    dump(
        args.data_dir,
        args.out_dir,
        args.feature_set,
        args.zscore,
        args.stats_file,
        args.fit_stats,
        args.online_time_constant,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
