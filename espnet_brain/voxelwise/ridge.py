"""Voxelwise ridge encoding models with a per-voxel penalty chosen by cross-validation over contiguous TRs.

Penalty convention (himalaya / scikit-learn): ``B = (X^T X + alpha I)^-1 X^T Y``, i.e. the singular values
``S`` of ``X`` are shrunk as ``S / (S^2 + alpha)``. The Huth-lab ridge code (``bootstrap_ridge``) shrinks as
``S / (S^2 + a^2)``: its ``a`` is ``sqrt(alpha)``, and its usual grid ``logspace(1, 4, 10)`` is
``logspace(2, 8, 10)`` here (the default).

Example:
    >>> model = VoxelwiseRidgeCV(cv=5, n_targets_batch=10000).fit(X_train, Y_train)
    >>> r = model.score(X_test, Y_test)  # (V,) voxelwise Pearson r
"""

import logging
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from sklearn.base import BaseEstimator
from typeguard import typechecked

from espnet_brain.voxelwise._solvers import BACKENDS, RIDGE_CV_SOLVERS, Split
from espnet_brain.voxelwise.scoring import pearson_r

#: The Huth-lab grid logspace(1, 4, 10) converted to this module's convention (alpha = a^2).
HUTH_ALPHAS = tuple(float(a) for a in np.logspace(2, 8, 10))

logger = logging.getLogger(__name__)

#: Share of the targets at one end of the penalty grid above which a fit warns (:func:`warn_grid_edge`).
EDGE_WARNING_SHARE = 0.5


def warn_grid_edge(best_alphas: np.ndarray, alphas: np.ndarray, share: float = EDGE_WARNING_SHARE) -> Optional[str]:
    """Log a warning when more than ``share`` of the targets chose the smallest or the largest penalty of the grid.

    A penalty at the edge of the grid is a choice the cross-validation could not finish: the best one may lie
    beyond it. Many voxels at the smallest penalty ask for a grid extended downwards; at the largest, they are
    often voxels without signal (their validation correlation no longer changes once the penalty dominates), or
    the grid must go further up.

    Args:
        best_alphas: (V,) the chosen penalties.
        alphas: (n_alphas,) the grid, sorted ascending.
        share: warn above this share of targets at one edge.

    Returns:
        The warning's text, or None when none was logged (also for a grid of one penalty).
    """
    best_alphas = np.asarray(best_alphas, dtype=np.float64).ravel()
    if len(alphas) < 2 or best_alphas.size == 0:
        return None
    for edge, value, advice in (
        ("smallest", alphas[0], f"extend the grid downwards (e.g. logspace({np.log10(alphas[0]) - 2:g}, ...))"),
        (
            "largest",
            alphas[-1],
            f"voxels without signal often end there; otherwise extend the grid upwards (e.g. logspace(..., "
            f"{np.log10(alphas[-1]) + 2:g}))",
        ),
    ):
        frac = float(np.mean(np.isclose(best_alphas, value, rtol=1e-9, atol=0.0)))
        if frac > share:
            msg = (
                f"ridge: {100 * frac:.0f} % of {best_alphas.size} targets chose the {edge} penalty of the grid "
                f"(alpha={value:.3g}; grid {alphas[0]:.3g} to {alphas[-1]:.3g}); the best penalty may lie beyond it: "
                f"{advice}"
            )
            logger.warning(msg)
            return msg
    return None


def parse_alphas(value: str) -> List[float]:
    """A grid of penalties from text: ``"logspace(a,b,n)"`` (``np.logspace(a, b, n)``) or numbers separated by
    commas or spaces, e.g. ``"1, 10 100"``.

    Raises:
        ValueError: Text that is neither.
    """
    value = value.strip()
    if value.startswith("logspace(") and value.endswith(")"):
        a, b, n = (float(v) for v in value[len("logspace(") : -1].split(","))
        return [float(v) for v in np.logspace(a, b, int(n))]
    return [float(v) for v in value.replace(",", " ").split()]


class ChunkedKFold:
    """K-fold cross-validation over contiguous chunks of samples (TRs), never over single shuffled TRs.

    The samples are cut into contiguous chunks of ``chunk_len`` (the last one may be longer or shorter: a remainder
    of less than half a chunk joins the chunk before it, so that no fold validates on a few TRs); chunk ``i`` goes
    to fold ``i % n_splits`` (after a seeded shuffle of the chunks when ``shuffle``). With ``chunk_len=None``
    each fold is one contiguous block, exactly ``sklearn.model_selection.KFold(n_splits)`` without shuffling.
    Neighbouring TRs are correlated (slow hemodynamics), so shuffled single-TR folds would leak.

    Too few samples for the folds asked for (a small corpus) are adapted with a logged warning: fewer folds (one
    chunk each, at least 2) when there are at least 2 chunks, else 2 folds of half the samples each. Fewer than
    ``2 * MIN_VAL_SAMPLES`` samples cannot be cross-validated: ValueError.

    Args:
        n_splits: number of folds (>= 2).
        chunk_len: chunk length in samples, or None for one block per fold.
        shuffle: shuffle the chunks before assigning them to folds.
        random_state: seed of that shuffle.
    """

    #: Smallest validation fold an adapted split makes (a correlation needs at least 2 samples).
    MIN_VAL_SAMPLES = 2

    @typechecked
    def __init__(
        self, n_splits: int = 5, chunk_len: Optional[int] = None, shuffle: bool = False, random_state: int = 0
    ):
        if n_splits < 2:
            raise ValueError(f"n_splits: expected >= 2, got {n_splits}")
        if chunk_len is not None and chunk_len < 1:
            raise ValueError(f"chunk_len: expected >= 1 or None, got {chunk_len}")
        self.n_splits = n_splits
        self.chunk_len = chunk_len
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of folds; for ``X`` given, the number :meth:`split` makes of it (after any adaptation)."""
        return self.n_splits if X is None else self.plan(len(X))[0]

    def plan(self, n_samples: int) -> Tuple[int, Optional[int]]:
        """The (n_splits, chunk_len) that ``n_samples`` samples allow, closest to the ones asked for.

        Args:
            n_samples: number of samples to split.

        Returns:
            (n_splits, chunk_len): the constructor's values when they fit; otherwise fewer folds (one chunk each; a
            remainder shorter than ``MIN_VAL_SAMPLES`` joins the chunk before it) when there are at least 2 chunks, else
            2 folds of ``ceil(n_samples / 2)``-sample chunks.
        """
        if n_samples < 2 * self.MIN_VAL_SAMPLES:
            raise ValueError(
                f"ChunkedKFold: {n_samples} samples cannot make 2 cross-validation folds of at least "
                f"{self.MIN_VAL_SAMPLES} samples (n_splits={self.n_splits}, chunk_len={self.chunk_len}); no choice of "
                "n_splits / chunk_len helps: train on more samples (more training stories, --train_responses and "
                "--train_feats of espnet_brain.bin.ridge_encoding), or pass explicit splits as cv"
            )
        if self.chunk_len is None:
            if n_samples >= self.n_splits:
                return self.n_splits, None
            return max(2, n_samples // self.MIN_VAL_SAMPLES), None
        n_chunks = self._n_chunks(n_samples)
        if n_chunks >= self.n_splits:
            return self.n_splits, self.chunk_len
        if n_chunks >= 2:  # one chunk per fold
            return n_chunks, self.chunk_len
        return 2, -(-n_samples // 2)

    def _short_remainder(self, chunk_len: int) -> int:
        # A last chunk shorter than this joins the one before it: alone in a fold, a few TRs give a validation
        # score that is noise (one TR: an R^2 of any size), and a penalty chosen on it.
        return max(self.MIN_VAL_SAMPLES, chunk_len // 2)

    def _n_chunks(self, n_samples: int) -> int:
        full, remainder = divmod(n_samples, self.chunk_len)
        return max(1, full + (remainder >= self._short_remainder(self.chunk_len)))

    def adapted_to(self, n_samples: int) -> "ChunkedKFold":
        """This splitter with the folds and chunks that ``n_samples`` allow (a warning says what changed).

        Args:
            n_samples: number of samples to split.

        Returns:
            ``self`` when it fits, else a new ChunkedKFold with the adapted ``n_splits`` / ``chunk_len``.
        """
        n_splits, chunk_len = self.plan(n_samples)
        if (n_splits, chunk_len) == (self.n_splits, self.chunk_len):
            return self
        self._warn_adapted(n_samples, n_splits, chunk_len)
        return ChunkedKFold(n_splits, chunk_len, shuffle=self.shuffle, random_state=self.random_state)

    def _warn_adapted(self, n_samples: int, n_splits: int, chunk_len: Optional[int]) -> None:
        if self.chunk_len is None:
            have = f"{n_samples} samples cannot make n_splits={self.n_splits} folds"
        else:
            n_chunks = self._n_chunks(n_samples)
            have = (
                f"{n_samples} samples in {n_chunks} chunk(s) of chunk_len={self.chunk_len} cannot make "
                f"n_splits={self.n_splits} folds"
            )
        changed = f"using {n_splits} folds" + (
            f" of {chunk_len}-sample chunks" if chunk_len != self.chunk_len else " instead"
        )
        logging.warning(
            f"ChunkedKFold: {have}; {changed} (set n_splits and chunk_len, --n_splits and --chunk_len of "
            "espnet_brain.bin.ridge_encoding, to choose the folds yourself)"
        )

    def split(self, X, y=None, groups=None) -> Iterator[Split]:
        """Yield (train_indices, val_indices) for X of shape (n_samples, ...)."""
        n_samples = len(X)
        n_splits, chunk_len = self.plan(n_samples)
        adapted = (n_splits, chunk_len) != (self.n_splits, self.chunk_len)
        if adapted:
            self._warn_adapted(n_samples, n_splits, chunk_len)
        if chunk_len is None:
            chunks = np.array_split(np.arange(n_samples), n_splits)
            fold_of_chunk = np.arange(n_splits)
        else:
            chunks = [np.arange(s, min(s + chunk_len, n_samples)) for s in range(0, n_samples, chunk_len)]
            if len(chunks) > 1 and len(chunks[-1]) < self._short_remainder(chunk_len):
                chunks[-2:] = [np.concatenate(chunks[-2:])]
            order = np.arange(len(chunks))
            if self.shuffle:
                np.random.default_rng(self.random_state).shuffle(order)
            fold_of_chunk = np.empty(len(chunks), dtype=int)
            fold_of_chunk[order] = np.arange(len(chunks)) % n_splits
        for k in range(n_splits):
            val = np.concatenate([c for c, f in zip(chunks, fold_of_chunk) if f == k])
            val.sort()
            yield np.setdiff1d(np.arange(n_samples), val), val

    def __repr__(self) -> str:
        return f"ChunkedKFold(n_splits={self.n_splits}, chunk_len={self.chunk_len}, shuffle={self.shuffle})"


def resolve_splits(cv: Union[int, object, Iterable[Split]], n_samples: int) -> List[Split]:
    """Turn ``cv`` into a checked list of (train_indices, val_indices) pairs.

    Args:
        cv: an int (that many contiguous folds, :class:`ChunkedKFold`), a splitter with ``split(X)``
            (scikit-learn style), or an iterable of (train_indices, val_indices).
        n_samples: number of samples to split.

    Returns:
        List of (train (n_train,), val (n_val,)) sorted int64 index arrays, disjoint and non-empty.
    """
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        splits = list(ChunkedKFold(int(cv)).split(np.empty(n_samples)))
    elif hasattr(cv, "split"):
        splits = list(cv.split(np.empty((n_samples, 1))))
    else:
        splits = list(cv)
    if not splits:
        raise ValueError("cv: no splits given")
    checked = []
    for k, (train, val) in enumerate(splits):
        train, val = np.unique(np.asarray(train, dtype=np.int64)), np.unique(np.asarray(val, dtype=np.int64))
        if len(train) == 0 or len(val) == 0:
            raise ValueError(f"cv: split {k} has {len(train)} training and {len(val)} validation samples")
        if train[0] < 0 or val[0] < 0 or max(train[-1], val[-1]) >= n_samples:
            raise ValueError(f"cv: split {k} has indices outside [0, {n_samples})")
        if np.intersect1d(train, val).size:
            raise ValueError(f"cv: split {k} shares samples between training and validation")
        checked.append((train, val))
    return checked


class VoxelwiseRidgeCV(BaseEstimator):
    """Ridge regression of many targets (voxels), each with its own penalty chosen by cross-validated correlation.

    The default solver ("svd") takes, per split, the SVD of X_train once and projects the training targets onto
    its singular vectors before trying every penalty (the Huth-lab trick); "himalaya" delegates to
    ``himalaya.ridge.RidgeCV`` with ``correlation_score``. Both select, per target, the penalty with the best
    mean validation correlation over the splits and refit on all samples with it.

    Args:
        alphas: penalties to try, himalaya / scikit-learn convention ``S / (S^2 + alpha)``. The default is the
            Huth-lab grid ``logspace(1, 4, 10)`` converted to this convention: ``logspace(2, 8, 10)``.
        cv: int (that many contiguous folds), a splitter with ``split(X)`` (e.g. :class:`ChunkedKFold`), or an
            iterable of (train_indices, val_indices).
        solver: a key of ``RIDGE_CV_SOLVERS`` ("svd" or "himalaya").
        fit_intercept: fit an intercept (else X and Y should be z-scored per run beforehand, as usual for fMRI).
        local_alpha: one penalty per target (True) or one for all (False).
        n_targets_batch: targets per batch (None: all); ~10000 keeps 100k voxels within a few GB.
        backend: "numpy", "torch" (CPU) or "torch_cuda" (himalaya's backends; the global backend is restored).
        dtype: floating type of the target-side computations ("float32" or "float64").
        progress_bar: show progress over target batches.

    Attributes:
        best_alphas_: (V,) selected penalties.
        coef_: (D, V) coefficients.
        intercept_: (V,) intercepts (zeros when ``fit_intercept=False``).
        cv_scores_: (V,) mean validation correlation at the selected penalty.
        cv_scores_per_alpha_: (n_alphas, V) mean validation correlation of each penalty (NaN for "himalaya").
        alphas_: (n_alphas,) the penalties tried, sorted ascending.
        n_features_in_: D.
    """

    @typechecked
    def __init__(
        self,
        alphas: Union[Sequence[float], np.ndarray] = HUTH_ALPHAS,
        cv: Union[int, object] = 5,
        # "svd" by default: tools/benchmarks/bench_ridge.py gives himalaya's test r in less time and memory
        solver: str = "svd",
        fit_intercept: bool = False,
        local_alpha: bool = True,
        n_targets_batch: Optional[int] = None,
        backend: str = "numpy",
        dtype: str = "float32",
        progress_bar: bool = False,
    ):
        self.alphas = alphas
        self.cv = cv
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.local_alpha = local_alpha
        self.n_targets_batch = n_targets_batch
        self.backend = backend
        self.dtype = dtype
        self.progress_bar = progress_bar

    def _check_params(self) -> np.ndarray:
        if self.solver not in RIDGE_CV_SOLVERS:
            raise ValueError(f"solver: expected one of {sorted(RIDGE_CV_SOLVERS)}, got {self.solver!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {self.backend!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        if self.n_targets_batch is not None and self.n_targets_batch < 1:
            raise ValueError(f"n_targets_batch: expected >= 1 or None, got {self.n_targets_batch}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(f"alphas: expected a non-empty list of positive finite numbers, got {self.alphas!r}")
        return np.unique(alphas)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "VoxelwiseRidgeCV":
        """Select a penalty per target by cross-validation, then refit on all samples.

        Logs a warning when most targets chose the smallest or the largest penalty of the grid
        (:func:`warn_grid_edge`).

        Args:
            X: (n_samples, D) features (e.g. delayed stimulus features on the TR grid).
            Y: (n_samples, V) responses.

        Returns:
            self, with the fitted attributes set.
        """
        alphas = self._check_params()
        X = _check_2d(X, "X")
        if np.ndim(Y) != 2:
            raise ValueError(f"Y: expected shape (n_samples, n_targets), got {np.shape(Y)}; use Y[:, None] for one")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X and Y: expected the same number of samples, got {X.shape[0]} and {Y.shape[0]}")
        splits = resolve_splits(self.cv, X.shape[0])
        result = RIDGE_CV_SOLVERS[self.solver](
            X,
            Y,
            alphas=alphas,
            splits=splits,
            fit_intercept=self.fit_intercept,
            local_alpha=self.local_alpha,
            n_targets_batch=self.n_targets_batch,
            backend=self.backend,
            dtype=self.dtype,
            progress_bar=self.progress_bar,
        )
        self.alphas_ = alphas
        self.best_alphas_ = result.best_alphas
        warn_grid_edge(self.best_alphas_, alphas)
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.cv_scores_ = result.cv_scores
        self.cv_scores_per_alpha_ = result.cv_scores_per_alpha
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predict responses.

        Args:
            X: (n_samples, D) features.

        Returns:
            (n_samples, V) predictions (NumPy, float of the fitted dtype).
        """
        if not hasattr(self, "coef_"):
            raise RuntimeError("VoxelwiseRidgeCV: call fit(X, Y) before predict")
        X = _check_2d(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: expected {self.n_features_in_} features (as in fit), got {X.shape[1]}")
        return X.astype(self.coef_.dtype, copy=False) @ self.coef_ + self.intercept_[None, :]

    def score(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Voxelwise Pearson correlation between predictions and held-out responses.

        Args:
            X: (n_samples, D) features.
            Y: (n_samples, V) responses.

        Returns:
            (V,) Pearson r per target (0 for a constant target or prediction).
        """
        return pearson_r(Y, self.predict(X))


def _check_2d(X, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: contains {int(np.sum(~np.isfinite(X)))} NaN or inf values")
    return X


__all__ = ["VoxelwiseRidgeCV", "ChunkedKFold", "resolve_splits", "HUTH_ALPHAS", "warn_grid_edge"]
