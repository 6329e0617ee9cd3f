#!/usr/bin/env python3
"""Does the variance partition recover the simulated cortex? Estimated unique variance against the simulator's truth.

On the simulator's fMRI corpus (``python -m espnet_brain.bin.simulate --parts fmri``; generated under ``--corpus``
when missing, a few seconds), the banded-ridge partition of ``espnet_brain.bin.partition_encoding`` is fitted on the
simulator's TRUE feature blocks as three spaces (spectral: band envelopes; articulatory: the 22 features of the phone
tier; semantic: word rate and word embeddings), trained on the training stories and scored on the test story (the
mean of its repeats). Printed (Markdown), from ``espnet_brain.simulate.partition_recovery``:

* per space, the Pearson r over signal voxels between the estimated unique variance and the truth
  (``ground_truth/<subject>/unique_variance.npy``): raw (held-out R^2 of the noisy test data), as a share (divided by
  each voxel's explainable R^2 from its SNR and the repeats), and as a share against the truth recomputed for
  exactly these three spaces (the simulator's word rate merged into semantic);
* per planted voxel kind, the fraction of voxels whose winning space (largest unique variance) is a space planted in
  the voxel, and the fraction agreeing with the space of largest TRUE unique variance;
* the fit time of the 7 banded models.

``--shift_trs 5`` (features 10 s off the responses: the audio's start in the scan forgotten) and ``--swap_truth
spectral,articulatory`` show what a broken alignment or bookkeeping looks like.

Usage (one thread)::

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_partition_recovery.py --corpus /tmp/partition_small --preset small
"""

import argparse
import logging
import os
import time

import numpy as np

from espnet_brain.simulate import ensure_corpus
from espnet_brain.simulate.partition_recovery import format_recovery, partition_recovery, recovery_json
from espnet_brain.voxelwise.ridge import parse_alphas
from espnet_brain.voxelwise.story_partition import PARTITION_ALPHAS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/tmp/partition_recovery_corpus", help="where the corpus is (or goes)")
    parser.add_argument("--preset", default="small", help="simulator preset (small: the mini_brain default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subject", default="UTS01")
    parser.add_argument("--alphas", type=parse_alphas, default=list(PARTITION_ALPHAS), help="penalty candidates")
    parser.add_argument("--shift_trs", type=int, default=0, help="shift the features by this many TRs (a bug)")
    parser.add_argument("--swap_truth", default=None, help="two spaces whose truth columns are swapped (a bug)")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ensure_corpus(args.corpus, args.preset, args.seed, parts=["fmri"])
    swap = tuple(args.swap_truth.split(",")) if args.swap_truth else None
    start = time.perf_counter()
    out = partition_recovery(
        os.path.join(args.corpus, "lebel2023"), args.subject, shift_trs=args.shift_trs, swap_truth=swap,
        alphas=args.alphas,
    )  # fmt: skip
    wall = time.perf_counter() - start
    print(f"## Partition recovery: {args.preset} preset, seed {args.seed}, {args.subject}, "
          f"{out['n_signal_voxels']} signal voxels, alphas {np.round(args.alphas, 3).tolist()}"
          + (f", features shifted by {args.shift_trs} TRs" if args.shift_trs else "")
          + (f", truth of {swap} swapped" if swap else ""))  # fmt: skip
    print()
    print(format_recovery(out))
    print()
    print(f"7 banded models fitted in {out['fit_seconds']:.1f} s (wall {wall:.1f} s with loading; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(recovery_json(out))


if __name__ == "__main__":
    main()
