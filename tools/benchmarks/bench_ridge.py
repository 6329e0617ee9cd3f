#!/usr/bin/env python3
"""Benchmark voxelwise ridge solvers on synthetic fMRI-like data and print a markdown table.

Compared, on the same data and the same penalty grid (Huth ``logspace(1, 4, 10)`` = ``logspace(2, 8, 10)`` in
the himalaya / scikit-learn convention used by espnet_brain):

- ``VoxelwiseRidgeCV`` (solver "svd"), 5 contiguous folds, per-voxel penalty, correlation scoring;
- ``himalaya.ridge.RidgeCV``, the same 5 contiguous folds, ``correlation_score`` through ``solver_params``;
- a Huth-style bootstrap ridge written here for comparison: each bootstrap holds out random chunks of 40 TRs
  (20 % of the data), the penalty with the best mean held-out correlation is chosen per voxel, then refit.

Reported: median wall time over ``--repeats`` runs, peak traced memory (tracemalloc, a separate run), mean
held-out test r, time per 10k voxels, and the largest per-voxel test-r difference from himalaya. Optionally a
100k-voxel fit in target batches, to check the memory bound.

    python tools/benchmarks/bench_ridge.py            # 3000 TRs x 400 features x 10k voxels
    python tools/benchmarks/bench_ridge.py --quick    # small sizes, a few seconds
"""

import argparse
import statistics
import time
import tracemalloc
from typing import Callable, Dict, List, Tuple

import numpy as np
from sklearn.model_selection import KFold

from espnet_brain.voxelwise.ridge import VoxelwiseRidgeCV
from espnet_brain.voxelwise.scoring import pearson_r

HUTH_GRID = np.logspace(1, 4, 10)  # Huth-lab convention S / (S^2 + a^2)
GRID = HUTH_GRID**2  # himalaya / scikit-learn convention S / (S^2 + alpha)


def make_data(n_train: int, n_test: int, n_features: int, n_voxels: int, seed: int = 0, chunk: int = 10000):
    """Smooth (autocorrelated) z-scored features and voxels = features @ weights + noise of varying SNR.

    Returns:
        X_train (n_train, D), Y_train (n_train, V), X_test (n_test, D), Y_test (n_test, V), all float32.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    white = rng.standard_normal((n + 4, n_features))
    X = sum(white[k : k + n] * w for k, w in enumerate([0.2, 0.5, 1.0, 0.5, 0.2]))  # slow like fMRI features
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Y = np.empty((n, n_voxels), dtype=np.float32)
    for start in range(0, n_voxels, chunk):  # in chunks: no (n, V) float64 temporaries
        v = min(chunk, n_voxels - start)
        weights = rng.standard_normal((n_features, v)).astype(np.float32) / np.sqrt(n_features)
        snr = rng.uniform(0.0, 0.6, v).astype(np.float32) * (rng.random(v) < 0.8)  # 20 % pure-noise voxels
        Y[:, start : start + v] = (X @ weights) * snr + rng.standard_normal((n, v)).astype(np.float32)
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


def bootstrap_ridge(
    X: np.ndarray,
    Y: np.ndarray,
    huth_alphas: np.ndarray,
    n_boots: int = 5,
    chunk_len: int = 40,
    held_out_fraction: float = 0.2,
    seed: int = 0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Huth-style bootstrap ridge (penalties in the Huth convention S / (S^2 + a^2)).

    Args:
        X: (T, D) features. Y: (T, V) responses. huth_alphas: (n_alphas,) penalties a.

    Returns:
        coef (D, V) and the chosen a per voxel (V,).
    """
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    chunks = [np.arange(s, min(s + chunk_len, n)) for s in range(0, n, chunk_len)]
    n_held = max(1, int(round(held_out_fraction * len(chunks))))
    corr = np.zeros((len(huth_alphas), Y.shape[1]))
    for _ in range(n_boots):
        held = np.sort(np.concatenate([chunks[i] for i in rng.choice(len(chunks), n_held, replace=False)]))
        train = np.setdiff1d(np.arange(n), held)
        U, S, Vt = np.linalg.svd(X[train], full_matrices=False)
        UR = U.T @ Y[train]  # (k, V): training responses projected on the left singular vectors, once
        PV = X[held] @ Vt.T  # (n_held, k)
        Yc = Y[held] - Y[held].mean(0)
        y_norm = np.sqrt(np.einsum("tv,tv->v", Yc, Yc))
        for j, a in enumerate(huth_alphas):
            pred = (PV * (S / (S**2 + a**2))) @ UR  # (n_held, V)
            pred -= pred.mean(0)
            denom = np.sqrt(np.einsum("tv,tv->v", pred, pred)) * y_norm
            corr[j] += np.einsum("tv,tv->v", pred, Yc) / np.where(denom > 0, denom, 1.0)
    best = np.argmax(corr, axis=0)
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    UR = U.T @ Y
    coef = np.zeros((X.shape[1], Y.shape[1]), dtype=X.dtype)
    for j in np.unique(best):
        cols = np.flatnonzero(best == j)
        a = huth_alphas[j]
        coef[:, cols] = Vt.T @ ((S / (S**2 + a**2))[:, None] * UR[:, cols])
    return coef, huth_alphas[best]


def timed(fn: Callable[[], np.ndarray], repeats: int) -> Tuple[float, float, np.ndarray]:
    """Median wall time over ``repeats`` runs, then one traced run for the peak memory (MiB)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--n-features", type=int, default=400)
    parser.add_argument("--n-voxels", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-voxels", type=int, default=100000, help="voxels of the memory check; 0 skips it")
    parser.add_argument("--batch", type=int, default=10000, help="n_targets_batch of the memory check")
    parser.add_argument("--backends", default="numpy", help="comma-separated backends for our solver")
    parser.add_argument("--blas-threads", type=int, default=None, help="limit BLAS/LAPACK threads (threadpoolctl)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.n_features, args.n_voxels, args.repeats = 600, 200, 50, 500, 1
        args.big_voxels, args.batch = 2000, 500

    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
        try:
            import torch

            torch.set_num_threads(args.blas_threads)
        except ImportError:
            pass
    X, Y, Xt, Yt = make_data(args.n_train, args.n_test, args.n_features, args.n_voxels)
    cv = list(KFold(5, shuffle=False).split(X))  # contiguous folds, shared by both CV solvers
    runs: Dict[str, Callable[[], np.ndarray]] = {}
    for backend in args.backends.split(","):
        name = f"espnet_brain VoxelwiseRidgeCV (svd, {backend})"
        runs[name] = lambda b=backend: VoxelwiseRidgeCV(alphas=GRID, cv=cv, backend=b).fit(X, Y).coef_
    runs["himalaya RidgeCV (5 contiguous folds, correlation)"] = (
        lambda: VoxelwiseRidgeCV(alphas=GRID, cv=cv, solver="himalaya").fit(X, Y).coef_
    )
    runs["Huth-style bootstrap ridge (5 x 40-TR chunks)"] = lambda: bootstrap_ridge(X, Y, HUTH_GRID)[0]

    rows: List[Tuple[str, float, float, float, np.ndarray]] = []
    for name, fn in runs.items():
        wall, peak, coef = timed(fn, args.repeats)
        r = pearson_r(Yt, Xt @ coef)
        rows.append((name, wall, peak, float(r.mean()), r))
    r_ref = next(r for name, *_, r in rows if name.startswith("himalaya"))

    print(
        f"\n{args.n_train} train TRs x {args.n_features} features x {args.n_voxels} voxels, {len(GRID)} alphas, "
        f"{args.n_test} test TRs; median of {args.repeats} runs; BLAS threads: {args.blas_threads or 'default'}\n"
    )
    header = "| method | wall time (s) | peak memory (MiB) | mean test r | test-r diff vs himalaya (mean / max abs) |"
    print(header + " s per 10k voxels |")
    print("|---|---|---|---|---|---|")
    for name, wall, peak, mean_r, r in rows:
        diff = np.abs(r - r_ref)
        per10k = wall * 1e4 / args.n_voxels
        print(
            f"| {name} | {wall:.2f} | {peak:.0f} | {mean_r:.4f} | {diff.mean():.5f} / {diff.max():.4f} | {per10k:.2f} |"
        )

    if args.big_voxels:
        del X, Y, Xt, Yt
        X, Y, Xt, Yt = make_data(args.n_train, args.n_test, args.n_features, args.big_voxels, seed=1)
        inputs = (X.nbytes + Y.nbytes) / 2**20
        tracemalloc.start()
        t0 = time.perf_counter()
        model = VoxelwiseRidgeCV(alphas=GRID, cv=cv, n_targets_batch=args.batch).fit(X, Y)
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        r = pearson_r(Yt, model.predict(Xt))
        print(
            f"\nMemory check: {args.big_voxels} voxels in batches of {args.batch}: {wall:.1f} s "
            f"({wall * 1e4 / args.big_voxels:.2f} s per 10k voxels), peak traced memory during fit {peak:.0f} MiB "
            f"beyond the {inputs:.0f} MiB of inputs (coefficients alone: {model.coef_.nbytes / 2**20:.0f} MiB), "
            f"mean test r {r.mean():.4f}"
        )


if __name__ == "__main__":
    main()
