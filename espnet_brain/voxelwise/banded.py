"""Banded ridge: one penalty per feature space, chosen per voxel by cross-validation over contiguous folds.

With feature spaces ``X_1 .. X_k`` (e.g. spectral, articulatory, semantic), banded ridge (Nunez-Elizalde et al.
2019; Dupre la Tour et al. 2022) solves, per voxel ``v``::

    b_v = argmin_b ||Y_v - sum_i X_i b_i||^2 + sum_i alpha_{i,v} ||b_i||^2

so a space that does not help a voxel gets a large penalty there instead of adding noise to the prediction.
The penalties are searched on a grid: every space takes its penalty from ``alphas``, and the Cartesian product
of these candidates is scored by cross-validation, voxel by voxel.

The search runs through himalaya's random-search solvers given an explicit list of space weightings instead of
random samples: the banded-ridge solver (``himalaya.ridge.solve_group_ridge_random_search``, the solver of
``himalaya.ridge.BandedRidgeCV``; 0.4.11 offers it as ``GroupRidgeCV`` with the alias) on the features, or its
multiple-kernel solver (``himalaya.kernel_ridge.solve_multiple_kernel_ridge_random_search``, the solver of
``MultipleKernelRidgeCV``) on one linear kernel ``X_i X_i^T`` per space. Both give the same model (tested); the
kernel solver's cost hardly depends on the number of features, the primal one's grows with it. Measured on 2 shared
cores, one BLAS thread, 600 TRs x 500 voxels, 3 spaces, 10 penalties each (``tools/benchmarks/bench_banded.py``,
CPU seconds): 736 features, kernel 44 s, primal 120 s; 472 features, kernel 42 s, primal 81 s; 184 features, kernel
38 s, primal 30 s. ``method="auto"`` takes the kernel solver when there are fewer than twice as many samples as
features (and no intercept).

himalaya parameterises the penalties as a direction ``gamma`` (one weight per space) and a scale ``alpha``: space
``i`` is scaled by ``sqrt(gamma_i / alpha)``, i.e. penalised by ``alpha / gamma_i``. Per direction and fold it
diagonalises the scaled features (or kernel) once and then tries every scale cheaply. The grid of per-space
penalties is therefore sent as its distinct directions (``gamma_i = min(a) / a_i`` for each combination ``a`` of
the grid: ``n^k - (n - 1)^k`` directions for ``n`` log-spaced candidates and ``k`` spaces, 19 for 2 spaces and 271
for 3 with 10 candidates) times the scales ``alphas``. That covers every combination of the grid exactly; along a
direction it also tries combinations where the more penalised spaces go up to ``max(alphas) / min(alphas)`` times
beyond the grid's top (a space switched off), which can only help voxels that one space does not explain.

Folds follow :class:`espnet_brain.voxelwise.ridge.VoxelwiseRidgeCV`: ``cv`` is an int (that many contiguous
blocks, :class:`~espnet_brain.voxelwise.ridge.ChunkedKFold`), a splitter (e.g. ``ChunkedKFold(5, chunk_len=40)``
or story-wise splits) or explicit (train, val) index pairs. Validation folds are scored by Pearson correlation by
default, as in ``VoxelwiseRidgeCV`` (himalaya's own default would be ``l2_neg_loss``); ``score_func="r2"``
selects by held-out R^2 instead, which also penalises predictions shrunk too far (what a variance partition in
R^2 is sensitive to).

Penalty convention: himalaya / scikit-learn, ``S / (S^2 + alpha)`` (the Huth-lab ``a`` is ``sqrt(alpha)``;
:data:`espnet_brain.voxelwise.ridge.HUTH_ALPHAS` is their grid in this convention and the default here).

Example:
    >>> model = BandedRidgeCV(alphas=np.logspace(1, 5, 5), cv=5).fit([X_spec, X_sem], Y)
    >>> model.penalties_.shape  # (n_spaces, V): one penalty per space and voxel
    >>> r = model.score([X_spec_test, X_sem_test], Y_test)  # (V,) Pearson r

Shapes: ``n_samples`` TRs, ``D_i`` features of space ``i``, ``V`` voxels.
"""

import itertools
import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
from sklearn.base import BaseEstimator
from typeguard import typechecked

from espnet_brain.voxelwise._solvers import BACKENDS, himalaya_backend
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS, resolve_splits
from espnet_brain.voxelwise.scoring import pearson_r

#: Cross-validation scores the penalty search can maximise.
SCORE_FUNCS = ("correlation", "r2")
#: Ways of solving (see ``BandedRidgeCV``'s ``method``).
METHODS = ("auto", "primal", "kernel")


def grid_directions(alphas: np.ndarray, n_spaces: int) -> np.ndarray:
    """The distinct space weightings (himalaya's ``gamma``) of the Cartesian grid of per-space penalties.

    Args:
        alphas: (n_alphas,) positive penalty candidates, shared by every space.
        n_spaces: number of feature spaces ``k``.

    Returns:
        (n_directions, k) weights in (0, 1], 1 for the least penalised space(s); the all-ones direction first.
        For combination ``a`` of the grid, ``gamma_i = min(a) / a_i``, so ``min(a) / gamma_i`` gives back ``a``.
    """
    alphas = np.unique(np.asarray(alphas, dtype=np.float64))
    if n_spaces == 1:
        return np.ones((1, 1))
    logs = np.log(alphas)
    rows = {}
    for combo in itertools.product(range(len(alphas)), repeat=n_spaces):
        log_a = logs[list(combo)]
        log_gamma = log_a.min() - log_a
        rows.setdefault(tuple(np.round(log_gamma, 9)), log_gamma)
    gammas = np.exp(np.array(list(rows.values())))
    # equal weights first: himalaya keeps the first of equally scoring directions
    order = np.argsort(-gammas.min(1), kind="stable")
    return gammas[order]


def _r2_score_backend(y_true, y_pred):
    """himalaya-style score: R^2 per target over the validation samples, (..., n_val, V) -> (..., V)."""
    from himalaya.backend import get_backend

    bk = get_backend()
    y_true = bk.asarray_like(y_true, y_pred)
    error = ((y_true - y_pred) ** 2).sum(-2)
    var = ((y_true - y_true.mean(-2)[..., None, :]) ** 2).sum(-2)
    return 1.0 - error / bk.clip(var, 1e-12, None)


class BandedRidgeCV(BaseEstimator):
    """Banded ridge regression of many targets (voxels): one penalty per feature space and voxel, chosen by CV.

    Args:
        alphas: penalty candidates of every space (himalaya / scikit-learn convention ``S / (S^2 + alpha)``); the
            default is the Huth-lab grid ``logspace(2, 8, 10)`` in this convention.
        cv: int (that many contiguous folds), a splitter with ``split(X)`` (e.g. ``ChunkedKFold``), or an iterable
            of (train_indices, val_indices), as in ``VoxelwiseRidgeCV``.
        score_func: validation score to maximise per voxel, "correlation" (the project's default, as in
            ``VoxelwiseRidgeCV``) or "r2".
        method: "auto" (kernel when n_samples < 2 * sum D_i and no intercept, else primal), "primal" (himalaya's
            banded solver on the features) or "kernel" (its multiple-kernel solver on linear kernels; no intercept).
        fit_intercept: fit an intercept (else Xs and Y should be z-scored per run, as usual for fMRI).
        n_targets_batch: voxels per batch in the search and the refit (None: all at once).
        n_alphas_batch: penalty scales per batch (None: all at once); lowers memory for many voxels.
        backend: "numpy" (default; no torch), "torch" or "torch_cuda" (himalaya's; restored afterwards).
        dtype: floating type of the computations ("float32" or "float64").
        progress_bar: show himalaya's progress over directions.

    Attributes:
        penalties_: (n_spaces, V) selected penalty of each space per voxel.
        deltas_: (n_spaces, V) himalaya's log space weights, ``-log(penalties_)``.
        space_weights_: (n_spaces, V) ``exp(deltas_) = 1 / penalties_``, the scaling of each space.
        coef_: (sum D_i, V) coefficients on the unscaled features, spaces stacked in the order of ``Xs``.
        intercept_: (V,) intercepts (zeros when ``fit_intercept=False``).
        cv_scores_: (V,) mean validation score (``score_func``) at the selected penalties.
        directions_: (n_directions, n_spaces) the space weightings searched (see :func:`grid_directions`).
        method_: the solver used, "primal" or "kernel".
        alphas_: (n_alphas,) penalty candidates, sorted ascending.
        n_features_per_space_: (n_spaces,) D_i.
        n_features_in_: sum of D_i.
    """

    @typechecked
    def __init__(
        self,
        alphas: Union[Sequence[float], np.ndarray] = HUTH_ALPHAS,
        cv: Union[int, object] = 5,
        score_func: str = "correlation",
        method: str = "auto",
        fit_intercept: bool = False,
        n_targets_batch: Optional[int] = None,
        n_alphas_batch: Optional[int] = None,
        backend: str = "numpy",
        dtype: str = "float32",
        progress_bar: bool = False,
    ):
        self.alphas = alphas
        self.cv = cv
        self.score_func = score_func
        self.method = method
        self.fit_intercept = fit_intercept
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.backend = backend
        self.dtype = dtype
        self.progress_bar = progress_bar

    def _check_params(self) -> np.ndarray:
        if self.score_func not in SCORE_FUNCS:
            raise ValueError(f"score_func: expected one of {SCORE_FUNCS}, got {self.score_func!r}")
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")
        if self.method == "kernel" and self.fit_intercept:
            raise ValueError("method='kernel' fits no intercept: z-score Xs and Y, or use method='primal'")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {self.backend!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        for name in ("n_targets_batch", "n_alphas_batch"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: expected >= 1 or None, got {value}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(f"alphas: expected a non-empty list of positive finite numbers, got {self.alphas!r}")
        return np.unique(alphas)

    def fit(self, Xs: Sequence[np.ndarray], Y: np.ndarray) -> "BandedRidgeCV":
        """Select one penalty per space and voxel by cross-validation, then refit on all samples.

        Args:
            Xs: list of n_spaces arrays of shape (n_samples, D_i), one per feature space (e.g. delayed features).
            Y: (n_samples, V) responses.

        Returns:
            self, with the fitted attributes set.
        """
        from himalaya.kernel_ridge import solve_multiple_kernel_ridge_random_search
        from himalaya.ridge import solve_group_ridge_random_search
        from himalaya.scoring import correlation_score

        alphas = self._check_params()
        Xs = _check_spaces(Xs)
        Y = _check_targets(Y, Xs[0].shape[0])
        splits = resolve_splits(self.cv, Y.shape[0])
        gammas = grid_directions(alphas, len(Xs))
        n_samples, n_features = Y.shape[0], sum(X.shape[1] for X in Xs)
        method = self.method
        if method == "auto":
            method = "kernel" if n_samples < 2 * n_features and not self.fit_intercept else "primal"
        common = dict(
            n_iter=gammas,
            score_func=correlation_score if self.score_func == "correlation" else _r2_score_backend,
            cv=splits,
            local_alpha=True,
            n_targets_batch=self.n_targets_batch,
            n_alphas_batch=self.n_alphas_batch,
            progress_bar=self.progress_bar,
            random_state=0,
        )
        with himalaya_backend(self.backend) as bk:
            Xs_bk = [bk.asarray(X, dtype=self.dtype) for X in Xs]
            Y_bk = bk.asarray(Y, dtype=self.dtype)
            alphas_bk = bk.asarray(alphas, dtype=self.dtype)
            if method == "kernel":
                Ks = bk.stack([X @ X.T for X in Xs_bk])  # (n_spaces, n_samples, n_samples) linear kernels
                out = solve_multiple_kernel_ridge_random_search(
                    Ks, Y_bk, alphas=alphas_bk, return_weights="primal", Xs=Xs_bk, **common
                )
                del Ks
            else:
                with warnings.catch_warnings():
                    # n_samples < n_features: himalaya suggests the kernel solver (method="kernel")
                    warnings.filterwarnings("ignore", message="Solving banded ridge is slower")
                    out = solve_group_ridge_random_search(
                        Xs_bk, Y_bk, alphas=alphas_bk, fit_intercept=self.fit_intercept, return_weights=True, **common
                    )
            deltas, coef, cv_scores = (bk.to_numpy(a) for a in out[:3])
            intercept = bk.to_numpy(out[3]) if self.fit_intercept else np.zeros(Y.shape[1])
        self.method_ = method
        self.alphas_ = alphas
        self.directions_ = gammas
        self.deltas_ = deltas.astype(np.float64)
        self.penalties_ = np.exp(-self.deltas_)
        self.space_weights_ = np.exp(self.deltas_)
        self.coef_ = coef.astype(self.dtype)
        self.intercept_ = np.asarray(intercept, dtype=self.dtype)
        self.cv_scores_ = np.asarray(cv_scores, dtype=np.float64).max(0)
        self.n_features_per_space_ = np.array([X.shape[1] for X in Xs])
        self.n_features_in_ = int(self.n_features_per_space_.sum())
        return self

    def predict(self, Xs: Sequence[np.ndarray], split: bool = False) -> np.ndarray:
        """Predict responses.

        Args:
            Xs: list of n_spaces arrays of shape (n_samples, D_i), as in fit.
            split: return each space's part of the prediction (they sum to the prediction, less the intercept).

        Returns:
            (n_samples, V) predictions, or (n_spaces, n_samples, V) when ``split``.
        """
        if not hasattr(self, "coef_"):
            raise RuntimeError("BandedRidgeCV: call fit(Xs, Y) before predict")
        Xs = _check_spaces(Xs)
        got = [X.shape[1] for X in Xs]
        if got != list(self.n_features_per_space_):
            raise ValueError(
                f"Xs: expected spaces of {list(self.n_features_per_space_)} features (as in fit), got {got}"
            )
        bounds = np.concatenate([[0], np.cumsum(self.n_features_per_space_)])
        parts = [X.astype(self.coef_.dtype, copy=False) @ self.coef_[a:b] for X, a, b in zip(Xs, bounds, bounds[1:])]
        if split:
            return np.stack(parts)
        return np.sum(parts, axis=0) + self.intercept_[None, :]

    def score(self, Xs: Sequence[np.ndarray], Y: np.ndarray) -> np.ndarray:
        """Voxelwise Pearson correlation between predictions and held-out responses (as ``VoxelwiseRidgeCV``).

        Args:
            Xs: list of n_spaces arrays of shape (n_samples, D_i).
            Y: (n_samples, V) responses.

        Returns:
            (V,) Pearson r per voxel; :func:`espnet_brain.voxelwise.variance_partition.r2_score` gives R^2.
        """
        return pearson_r(Y, self.predict(Xs))


def _check_spaces(Xs) -> List[np.ndarray]:
    if isinstance(Xs, np.ndarray) or not isinstance(Xs, (list, tuple)) or len(Xs) == 0:
        raise TypeError(
            f"Xs: expected a non-empty list of arrays of shape (n_samples, D_i), one per feature space, got "
            f"{type(Xs).__name__}; for one stacked array, pass [X]"
        )
    out = []
    for i, X in enumerate(Xs):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] == 0:
            raise ValueError(f"Xs[{i}]: expected shape (n_samples, D_i) with D_i >= 1, got {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError(f"Xs[{i}]: contains {int(np.sum(~np.isfinite(X)))} NaN or inf values")
        out.append(X)
    n = {X.shape[0] for X in out}
    if len(n) != 1:
        raise ValueError(f"Xs: expected the same number of samples in every space, got {[X.shape[0] for X in out]}")
    return out


def _check_targets(Y, n_samples: int) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y: expected shape (n_samples, V), got {Y.shape}; use Y[:, None] for one voxel")
    if Y.shape[0] != n_samples:
        raise ValueError(f"Xs and Y: expected the same number of samples, got {n_samples} and {Y.shape[0]}")
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"Y: contains {int(np.sum(~np.isfinite(Y)))} NaN or inf values")
    return Y


__all__ = ["BandedRidgeCV", "grid_directions", "SCORE_FUNCS", "METHODS"]
