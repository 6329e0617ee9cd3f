#!/usr/bin/env python3
"""Benchmark the paired block bootstrap of the encoding report and print a markdown table.

``espnet_brain.voxelwise.bootstrap.block_bootstrap_difference`` on random responses and two predictions of the
test story's length (``--trs``, 291 TRs: wheretheressmoke at TR 2.0045 s), for a range of voxel counts up to a
whole cortex (LeBel et al.'s subjects have ~80-95k cortical voxels), with 1,000 resamples of 10-TR blocks. Each
size runs ``--repeats`` times; the table gives the median wall time and the growth of the process's peak RSS
while the size ran (``resource.getrusage``, sizes in increasing order, so each size's growth is its own).

    python tools/benchmarks/bench_bootstrap.py
    python tools/benchmarks/bench_bootstrap.py --voxels 1000 10000 95000 --repeats 5
"""

import argparse
import resource
import statistics
import time

import numpy as np

from espnet_brain.voxelwise.bootstrap import block_bootstrap_difference


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voxels", type=int, nargs="+", default=[1000, 10000, 95000])
    parser.add_argument("--trs", type=int, default=291)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| voxels | TRs | resamples | median time (s) | peak RSS growth (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for n_vox in sorted(args.voxels):
        y = rng.standard_normal((args.trs, n_vox)).astype(np.float32)
        a = y + 2.0 * rng.standard_normal(y.shape).astype(np.float32)
        b = y + 1.9 * rng.standard_normal(y.shape).astype(np.float32)
        before = peak_mib()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            block_bootstrap_difference(y, a, b, n_resamples=args.resamples)
            times.append(time.perf_counter() - start)
        grown = peak_mib() - before
        print(f"| {n_vox} | {args.trs} | {args.resamples} | {statistics.median(times):.2f} | {grown:.0f} |")


if __name__ == "__main__":
    main()
