"""Solvers for voxelwise ridge regression with a per-voxel penalty chosen by cross-validation.

Pure functions under the thin estimator in ``ridge.py``. Every solver has the signature of
:func:`solve_ridge_cv_svd` and returns a :class:`RidgeCVResult`; they are registered by name in
:data:`RIDGE_CV_SOLVERS`.

Penalty convention (himalaya / scikit-learn): the coefficients are
``B = (X^T X + alpha I)^-1 X^T Y``, i.e. ``S / (S^2 + alpha)`` on the singular values ``S`` of ``X``.
The Huth-lab ridge code uses ``S / (S^2 + a^2)``, so its ``a`` is ``sqrt(alpha)``: its grid
``logspace(1, 4, 10)`` is ``logspace(2, 8, 10)`` here.
"""

import importlib
import types
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import scipy.linalg
from tqdm import tqdm

Split = Tuple[np.ndarray, np.ndarray]

BACKENDS = ("numpy", "torch", "torch_cuda")


@dataclass
class RidgeCVResult:
    """What a ridge-CV solver returns (all NumPy arrays, on the CPU).

    Attributes:
        best_alphas: (V,) selected penalty per target.
        coef: (D, V) coefficients refit on all samples with the selected penalties.
        intercept: (V,) intercepts; zeros when no intercept was fitted.
        cv_scores: (V,) cross-validated correlation at the selected penalty, averaged over splits.
        cv_scores_per_alpha: (n_alphas, V) cross-validated correlation of every penalty, averaged over
            splits; NaN where the solver does not report it.
    """

    best_alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    cv_scores: np.ndarray
    cv_scores_per_alpha: np.ndarray


def load_backend(name: str) -> types.ModuleType:
    """Return one of himalaya's backend modules without touching himalaya's global backend.

    Args:
        name: "numpy", "torch" (CPU) or "torch_cuda".

    Returns:
        The module ``himalaya.backend.<name>`` (array functions: asarray, eigh, to_numpy, ...).
    """
    if name not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {name!r}")
    try:
        return importlib.import_module(f"himalaya.backend.{name}")
    except (ImportError, RuntimeError) as error:
        raise RuntimeError(f"backend={name!r} cannot be used here: {error}") from error


@contextmanager
def himalaya_backend(name: str) -> Iterator[types.ModuleType]:
    """Set himalaya's global backend for the duration of a block, and restore the previous one."""
    from himalaya.backend import get_backend, set_backend

    previous = get_backend().name
    try:
        yield set_backend(name)
    finally:
        set_backend(previous)


def _as_index(idx: np.ndarray):
    """Contiguous sorted indices become a slice (a view, no copy); others stay an index array."""
    if len(idx) > 0 and idx[-1] - idx[0] + 1 == len(idx) and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


@dataclass
class _FoldFactors:
    """Per-split quantities that depend on X only (computed once, reused for every batch of targets).

    ``vecs`` are the eigenvectors of the (centred) training Gram matrix, i.e. X_train's right singular vectors;
    "rotated" arrays are expressed in that basis.
    """

    val: object  # slice or (n_val,) indices
    rest: object  # complement of train (slice or indices); None when it equals val
    n_train: int
    n_val: int
    vecs: object  # (D, D)
    inv: object  # (n_alphas, D) 1 / (S^2 + alpha)
    r_blocks: List[Tuple[int, object]]  # row blocks (first row i0, R[i0:i1, i0:]) of the triangular QR factor R
    x_val: object  # (n_val, D) rotated validation features (not centred)
    x_rest: object  # (n_rest, D) rotated held-out features, or None when rest is val
    sum_x_val: object  # (D,) rotated sum of the validation features
    sum_x_train: object  # (D,) rotated sum of the training features


_N_ROW_BLOCKS = 4


def _qr_r(backend, A):
    """Triangular factor R (min(n, D), D) of the QR decomposition of an (n, D) float64 array."""
    if backend.name == "numpy":
        return np.linalg.qr(A, mode="r")
    import torch

    return torch.linalg.qr(A, mode="r")[1]


def _eig_gram(backend, gram64):
    """Eigen-decompose a symmetric (D, D) float64 Gram matrix; tiny negative eigenvalues are set to 0."""
    if backend.name == "numpy":
        # LAPACK's divide-and-conquer driver: several times faster than scipy's default ("evr") at D=400.
        evals, evecs = scipy.linalg.eigh(gram64, driver="evd")
    else:
        evals, evecs = backend.eigh(gram64)
    evals = backend.clip(evals, 0, None)
    return evals, evecs


def _fold_factors(backend, X64, gram64, sum64, alphas64, train, val, fit_intercept, dtype) -> _FoldFactors:
    n_samples = X64.shape[0]
    rest = np.setdiff1d(np.arange(n_samples), train)
    rest_is_val = len(rest) == len(val) and np.array_equal(rest, val)
    X_rest = X64[_as_index(rest)]
    gram_train = gram64 - X_rest.T @ X_rest
    sum_train = sum64 - X_rest.sum(0)
    if fit_intercept:
        gram_train = gram_train - sum_train[:, None] * sum_train[None, :] / len(train)
    evals, evecs = _eig_gram(backend, gram_train)

    x_val = X64[_as_index(val)] @ evecs  # (n_val, D)
    # P = Q R with R (min(n_val, D), D) upper triangular: ||P w|| = ||R w||, and the zeros below the diagonal
    # are skipped by multiplying R by row blocks (a third fewer flops than a full (D, D) Gram matrix).
    R = _qr_r(backend, x_val - x_val.mean(0)[None, :])
    edges = np.linspace(0, R.shape[0], min(_N_ROW_BLOCKS, R.shape[0]) + 1).astype(int)
    cast = lambda a: backend.asarray(a, dtype=dtype)  # noqa: E731
    return _FoldFactors(
        val=_as_index(val),
        rest=None if rest_is_val else _as_index(rest),
        n_train=len(train),
        n_val=len(val),
        vecs=cast(evecs),
        inv=cast(1.0 / (evals[None, :] + alphas64[:, None])),
        r_blocks=[(int(i0), cast(R[i0:i1, i0:])) for i0, i1 in zip(edges[:-1], edges[1:])],
        x_val=cast(x_val),
        x_rest=None if rest_is_val else cast(X_rest @ evecs),
        sum_x_val=cast(x_val.sum(0)),
        sum_x_train=cast(sum_train @ evecs),
    )


def _fold_correlations(backend, f: _FoldFactors, Y, XtY, sum_y, fit_intercept) -> np.ndarray:
    """Validation correlation of every penalty on one split for one batch of targets.

    Nothing of shape (n_alphas, n_val, V) is formed. With Z = Vt X_train^T Y_train (the training targets
    projected once on X_train's singular vectors) and P the centred validation features in that basis, the
    prediction of penalty a is P diag(1/(S^2+a)) Z, so its inner product with Y_val needs P^T Y_val once and
    its squared norm the triangular factor R of P (P^T P = R^T R): O(D^2 V) per penalty, not O(n_val D V).

    Args:
        Y: (n_samples, V) targets of this batch, on the backend. XtY: (D, V) X^T Y. sum_y: (V,) column sums.

    Returns:
        (n_alphas, V) float64 correlations; 0 where the prediction or the target is constant.
    """
    Y_val = Y[f.val]
    sum_y_val = Y_val.sum(0)
    PtY = f.x_val.T @ Y_val  # (D, V), not yet centred
    Z = f.vecs.T @ XtY  # (D, V)
    if f.rest is None:
        Z -= PtY
        sum_y_train = sum_y - sum_y_val
    else:
        Y_rest = Y[f.rest]
        Z -= f.x_rest.T @ Y_rest
        sum_y_train = sum_y - Y_rest.sum(0)
    if fit_intercept:
        Z -= f.sum_x_train[:, None] * sum_y_train[None, :] / f.n_train
    PtY -= f.sum_x_val[:, None] * sum_y_val[None, :] / f.n_val  # centring one factor is enough
    PtY *= Z
    numer = f.inv @ PtY  # (n_alphas, V)
    del PtY
    sq_norm = []
    for inv_a in f.inv:
        # ||P diag(inv_a) Z||^2 = ||R diag(inv_a) Z||^2 per column; the scaling goes on the small factor
        total = 0.0
        for i0, block in f.r_blocks:
            part = (block * inv_a[None, i0:]) @ Z[i0:]  # (rows, V)
            part *= part
            total = total + part.sum(0)
            del part
        sq_norm.append(total)
    sq_norm = backend.stack(sq_norm)
    var_y = ((Y_val - sum_y_val[None, :] / f.n_val) ** 2).sum(0)
    numer, sq_norm, var_y = (backend.to_numpy(a).astype(np.float64) for a in (numer, sq_norm, var_y))
    denom = np.sqrt(np.clip(sq_norm, 0, None) * var_y[None, :])
    return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), 0.0)


def _select(mean_scores: np.ndarray, local_alpha: bool) -> np.ndarray:
    """Index of the best penalty per target (the largest penalty among exact ties; alphas sorted ascending)."""
    n_alphas = mean_scores.shape[0]
    if not local_alpha:
        mean_scores = np.repeat(mean_scores.mean(1, keepdims=True), mean_scores.shape[1], axis=1)
    return n_alphas - 1 - np.argmax(mean_scores[::-1], axis=0)


def solve_ridge_cv_svd(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    splits: Sequence[Split],
    fit_intercept: bool = False,
    local_alpha: bool = True,
    n_targets_batch: Optional[int] = None,
    backend: str = "numpy",
    dtype: str = "float32",
    progress_bar: bool = False,
) -> RidgeCVResult:
    """Ridge with a per-target penalty chosen by cross-validated correlation, via one SVD per split.

    Per split, the right singular vectors V and singular values S of X_train come from the eigen-decomposition
    of X_train^T X_train (float64; X_train^T X_train is X^T X minus the held-out rows, so nothing of size
    n_samples is decomposed), the training targets are projected once onto them, and every penalty then
    costs O(D^2 V) instead of a new solve -- the Huth-lab trick. Cross-products with Y are likewise taken
    once on all samples and corrected by the held-out rows.

    Args:
        X: (n_samples, D) features.
        Y: (n_samples, V) targets (kept where they are; moved to the backend one batch of targets at a time).
        alphas: (n_alphas,) penalties, sorted ascending (himalaya / scikit-learn convention, see module doc).
        splits: (train_indices, val_indices) pairs of sorted integer arrays.
        fit_intercept: centre X and Y on each training set (else both are assumed centred already).
        local_alpha: one penalty per target (True) or one shared by all targets (False).
        n_targets_batch: targets per batch (None: all at once); bounds memory at O(n_samples x batch).
        backend: "numpy", "torch" or "torch_cuda" (himalaya's backend modules; the global backend is untouched).
        dtype: floating type of the target-side computations.
        progress_bar: show a tqdm bar over batches.

    Returns:
        RidgeCVResult with best_alphas (V,), coef (D, V), intercept (V,), cv_scores (V,) and
        cv_scores_per_alpha (n_alphas, V).
    """
    bk = load_backend(backend)
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    batch = n_targets if n_targets_batch is None else n_targets_batch
    alphas64 = bk.asarray(np.asarray(alphas, dtype=np.float64), dtype="float64")

    X64 = bk.asarray(X, dtype="float64")
    gram64, sum64 = X64.T @ X64, X64.sum(0)
    folds = [_fold_factors(bk, X64, gram64, sum64, alphas64, tr, va, fit_intercept, dtype) for tr, va in splits]
    # Refit on all samples: the same factors with an empty validation set.
    gram_full = gram64 - sum64[:, None] * sum64[None, :] / n_samples if fit_intercept else gram64
    evals, evecs = _eig_gram(bk, gram_full)
    vecs_full = bk.asarray(evecs, dtype=dtype)
    inv_full = bk.to_numpy(1.0 / (evals[None, :] + alphas64[:, None]))  # (n_alphas, D) float64
    Xd = bk.asarray(X64, dtype=dtype)
    mean_x = bk.to_numpy(sum64) / n_samples
    del X64

    scores = np.zeros((len(folds), len(alphas), n_targets))
    cross_full_batches: List = []  # only kept when one penalty is shared by all targets
    coef = np.zeros((n_features, n_targets), dtype=dtype)
    intercept = np.zeros(n_targets, dtype=dtype)
    best = np.zeros(n_targets, dtype=int)
    starts = range(0, n_targets, batch)
    for start in tqdm(starts, desc="ridge CV (target batches)", disable=not progress_bar):
        cols = slice(start, min(start + batch, n_targets))
        Y_np = np.asarray(Y[:, cols])
        if not np.all(np.isfinite(Y_np)):
            raise ValueError(f"Y: targets {cols.start}..{cols.stop - 1} contain NaN or inf values")
        Yd = bk.asarray(Y_np, dtype=dtype)
        XtY, sum_y = Xd.T @ Yd, Yd.sum(0)
        for k, f in enumerate(folds):
            scores[k, :, cols] = _fold_correlations(bk, f, Yd, XtY, sum_y, fit_intercept)
        cross = XtY - bk.asarray(mean_x, dtype=dtype)[:, None] * sum_y[None, :] if fit_intercept else XtY
        mean_y = bk.to_numpy(sum_y) / n_samples
        if local_alpha:
            best[cols] = _select(scores[:, :, cols].mean(0), local_alpha=True)
            coef[:, cols] = _refit(bk, vecs_full, inv_full[best[cols]], cross, dtype)
        else:
            cross_full_batches.append((cols, bk.to_numpy(cross)))
        intercept[cols] = mean_y if fit_intercept else 0.0
        del Yd, XtY, cross

    mean_scores = scores.mean(0)
    if not local_alpha:
        best[:] = _select(mean_scores, local_alpha=False)
        for cols, cross in cross_full_batches:
            coef[:, cols] = _refit(bk, vecs_full, inv_full[best[cols]], bk.asarray(cross, dtype=dtype), dtype)
    if fit_intercept:
        intercept -= (mean_x @ coef).astype(dtype)
    alphas_np = np.asarray(alphas, dtype=np.float64)
    return RidgeCVResult(
        best_alphas=alphas_np[best],
        coef=coef,
        intercept=intercept,
        cv_scores=mean_scores[best, np.arange(n_targets)],
        cv_scores_per_alpha=mean_scores,
    )


def _refit(bk, vecs, inv_per_target: np.ndarray, cross, dtype) -> np.ndarray:
    """(D, V) coefficients V diag(1/(S^2 + alpha_v)) V^T X^T Y, one penalty per target."""
    Z = vecs.T @ cross  # (D, V)
    return bk.to_numpy(vecs @ (Z * bk.asarray(inv_per_target.T, dtype=dtype)))


def solve_ridge_cv_himalaya(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    splits: Sequence[Split],
    fit_intercept: bool = False,
    local_alpha: bool = True,
    n_targets_batch: Optional[int] = None,
    backend: str = "numpy",
    dtype: str = "float32",
    progress_bar: bool = False,
) -> RidgeCVResult:
    """Delegate to ``himalaya.ridge.RidgeCV``, scoring the folds by correlation (same signature and result as
    :func:`solve_ridge_cv_svd`; cv_scores_per_alpha is NaN because himalaya does not report it)."""
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score

    with himalaya_backend(backend) as bk:
        model = RidgeCV(
            alphas=np.asarray(alphas, dtype=np.float64),
            cv=list(splits),
            fit_intercept=fit_intercept,
            solver_params=dict(
                score_func=correlation_score,
                local_alpha=local_alpha,
                n_targets_batch=n_targets_batch,
            ),
        )
        model.fit(bk.asarray(X, dtype=dtype), bk.asarray(Y, dtype=dtype))
        n_targets = Y.shape[1]
        intercept = bk.to_numpy(model.intercept_) if fit_intercept else np.zeros(n_targets, dtype=dtype)
        return RidgeCVResult(
            best_alphas=bk.to_numpy(model.best_alphas_).astype(np.float64),
            coef=bk.to_numpy(model.coef_),
            intercept=intercept,
            cv_scores=bk.to_numpy(model.cv_scores_).astype(np.float64),
            cv_scores_per_alpha=np.full((len(alphas), n_targets), np.nan),
        )


#: Ridge-CV solvers by name; each has the signature of :func:`solve_ridge_cv_svd`.
RIDGE_CV_SOLVERS: Dict[str, Callable[..., RidgeCVResult]] = {
    "svd": solve_ridge_cv_svd,
    "himalaya": solve_ridge_cv_himalaya,
}
