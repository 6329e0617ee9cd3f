#!/usr/bin/env python3
"""Time banded ridge and a full variance partition on a realistic small-preset shape and print a markdown table.

Data: three feature spaces of ``--dims`` base features (default spectral 32, articulatory 22 x 4 = 88, semantic 64),
each made smooth over TRs and FIR-delayed by ``--delays`` (default 1-4 TRs), so the spaces have ``4 x`` those
columns; ``--voxels`` voxels (default 500), each driven by one or two spaces plus noise; ``--trs`` training TRs
(default 600) and 300 test TRs. Penalties: the Huth grid (10 candidates per space, ``logspace(2, 8, 10)`` in
the himalaya convention), 5 contiguous folds, correlation scoring (``BandedRidgeCV``'s default).

Reported: wall time and CPU time (``time.process_time``: on a shared machine wall time grows with the load, CPU
time much less) of the joint banded model (all spaces), of the whole variance partition (the joint model and
its 6 subset models, ``fit_variance_partition``), and the number of penalty directions searched. Set
``OMP_NUM_THREADS`` to pin the BLAS threads (the numbers in the docs use 1).

    OMP_NUM_THREADS=1 python tools/benchmarks/bench_banded.py
    python tools/benchmarks/bench_banded.py --quick   # small shapes, seconds
"""

import argparse
import os
import time

import numpy as np

from espnet_brain.voxelwise.banded import BandedRidgeCV, grid_directions
from espnet_brain.voxelwise.delays import make_delayed_np
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS
from espnet_brain.voxelwise.variance_partition import fit_variance_partition


def make_spaces(dims, n_samples, delays, rng):
    """Smooth z-scored features of each space, FIR-delayed: list of (n_samples, len(delays) * d)."""
    out = []
    kernel = np.hanning(7)
    for d in dims:
        F = rng.standard_normal((n_samples + 6, d))
        F = np.stack([np.convolve(F[:, j], kernel, mode="valid") for j in range(d)], 1)
        F = (F - F.mean(0)) / F.std(0)
        out.append(make_delayed_np(F, delays).astype(np.float32))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", default="32,88,64", help="base features per space, comma-separated")
    parser.add_argument("--delays", default="1,2,3,4", help="FIR delays in TRs")
    parser.add_argument("--trs", type=int, default=600)
    parser.add_argument("--voxels", type=int, default=500)
    parser.add_argument("--method", default="auto", choices=["auto", "primal", "kernel"], help="BandedRidgeCV method")
    parser.add_argument("--no_partition", action="store_true", help="time the joint model only")
    parser.add_argument("--quick", action="store_true", help="small shapes (a smoke test)")
    args = parser.parse_args()
    dims = [int(d) for d in args.dims.split(",")]
    delays = [int(d) for d in args.delays.split(",")]
    n_train, n_voxels, alphas = args.trs, args.voxels, np.asarray(HUTH_ALPHAS)
    if args.quick:
        dims, n_train, n_voxels, alphas = [4, 6, 5], 200, 30, alphas[::3]
    rng = np.random.default_rng(0)
    Xs = make_spaces(dims, n_train + 300, delays, rng)
    drive = rng.integers(0, len(dims), size=(n_voxels, 2))
    Y = np.zeros((n_train + 300, n_voxels), dtype=np.float32)
    for v, (a, b) in enumerate(drive):
        for s in {int(a), int(b)}:
            Y[:, v] += Xs[s] @ (rng.standard_normal(Xs[s].shape[1]) / np.sqrt(Xs[s].shape[1])).astype(np.float32)
    Y += Y.std(0) * rng.standard_normal(Y.shape).astype(np.float32)
    Y = (Y - Y.mean(0)) / Y.std(0)
    train, test = slice(0, n_train), slice(n_train, None)
    n_dirs = len(grid_directions(alphas, len(dims)))

    t0, c0 = time.perf_counter(), time.process_time()
    model = BandedRidgeCV(alphas=alphas, cv=5, method=args.method).fit([X[train] for X in Xs], Y[train])
    t_joint, c_joint = time.perf_counter() - t0, time.process_time() - c0
    r = model.score([X[test] for X in Xs], Y[test])
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("| what | shape | penalty grid | wall s | CPU s |")
    print("|---|---|---|---:|---:|")
    shape = f"{n_train} TRs x ({' + '.join(str(X.shape[1]) for X in Xs)}) features x {n_voxels} voxels"
    grid = f"{len(alphas)} per space, {n_dirs} directions x {len(alphas)} scales"
    what = f"joint banded model, {model.method_} solver (test mean r {r.mean():.3f})"
    print(f"| {what} | {shape} | {grid} | {t_joint:.1f} | {c_joint:.1f} |")
    if not args.no_partition:
        t0, c0 = time.perf_counter(), time.process_time()
        fit_variance_partition(
            [X[train] for X in Xs],
            Y[train],
            [X[test] for X in Xs],
            Y[test],
            ["s0", "s1", "s2"][: len(dims)],
            dict(alphas=alphas, cv=5, score_func="correlation", method=args.method),
        )
        t_part, c_part = time.perf_counter() - t0, time.process_time() - c0
        what = f"variance partition ({2 ** len(dims) - 1} models, {args.method})"
        print(f"| {what} | {shape} | {grid} | {t_part:.1f} | {c_part:.1f} |")


if __name__ == "__main__":
    main()
