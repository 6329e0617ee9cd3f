import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from espnet_brain.encoding.ridge import HUTH_ALPHAS, ChunkedKFold, VoxelwiseRidgeCV, resolve_splits
from espnet_brain.encoding.scoring import pearson_r

BACKENDS = ["numpy", "torch"]
ALPHAS = np.logspace(-1, 4, 7)


def _data(n=120, p=10, v=15, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + offset
    W = rng.standard_normal((p, v)) * rng.uniform(0, 0.5, v)
    Y = X @ W + rng.standard_normal((n, v)) + 3.0
    return X, Y


def _brute_force_cv(X, Y, alphas, splits, fit_intercept):
    """(n_alphas, V) mean validation correlation, one explicit ridge solve per split and penalty."""
    out = np.zeros((len(alphas), Y.shape[1]))
    for train, val in splits:
        for j, a in enumerate(alphas):
            model = Ridge(alpha=a, fit_intercept=fit_intercept, solver="svd").fit(X[train], Y[train])
            out[j] += pearson_r(Y[val], model.predict(X[val]))
    return out / len(splits)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_matches_himalaya_ridgecv(backend, fit_intercept):
    from himalaya.backend import get_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score

    X, Y = _data()
    ours = VoxelwiseRidgeCV(alphas=ALPHAS, cv=5, fit_intercept=fit_intercept, backend=backend, dtype="float64")
    ours.fit(X, Y)
    assert get_backend().name == "numpy"  # our backend choice did not leak into himalaya's global state
    ref = RidgeCV(
        alphas=ALPHAS, cv=KFold(5), fit_intercept=fit_intercept, solver_params=dict(score_func=correlation_score)
    ).fit(X, Y)
    np.testing.assert_allclose(ours.best_alphas_, ref.best_alphas_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.cv_scores_, ref.cv_scores_, atol=1e-7)
    if fit_intercept:
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-8)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_cv_scores_match_explicit_solves(backend, fit_intercept):
    X, Y = _data(offset=2.0)
    # a custom splitter with gaps: 5 TRs on each side of the validation block belong to neither set
    splits = []
    for train, val in KFold(4).split(X):
        keep = (train < val[0] - 5) | (train > val[-1] + 5)
        splits.append((train[keep], val))
    model = VoxelwiseRidgeCV(alphas=ALPHAS, cv=splits, fit_intercept=fit_intercept, backend=backend)
    model.fit(X, Y)
    expected = _brute_force_cv(X, Y, ALPHAS, splits, fit_intercept)
    np.testing.assert_allclose(model.cv_scores_per_alpha_, expected, atol=2e-4)  # float32 targets
    np.testing.assert_array_equal(model.best_alphas_, ALPHAS[np.argmax(expected, axis=0)])


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_single_alpha_equals_sklearn_and_huth_convention(fit_intercept):
    X, Y = _data(offset=1.0)
    alpha = 30.0
    ours = VoxelwiseRidgeCV(alphas=[alpha], fit_intercept=fit_intercept, dtype="float64").fit(X, Y)
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_ if fit_intercept else 0.0, atol=1e-9)
    if not fit_intercept:
        # Huth-lab form S / (S^2 + a^2) with a = sqrt(alpha)
        U, S, Vt = np.linalg.svd(X, full_matrices=False)
        huth = Vt.T @ ((S / (S**2 + np.sqrt(alpha) ** 2))[:, None] * (U.T @ Y))
        np.testing.assert_allclose(ours.coef_, huth, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(HUTH_ALPHAS, np.logspace(1, 4, 10) ** 2)


def test_target_batches_and_shared_alpha():
    X, Y = _data(v=23)
    full = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    batched = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64", n_targets_batch=5).fit(X, Y)
    np.testing.assert_allclose(batched.coef_, full.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(batched.best_alphas_, full.best_alphas_)
    shared = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64", n_targets_batch=5, local_alpha=False).fit(X, Y)
    best = ALPHAS[np.argmax(full.cv_scores_per_alpha_.mean(1))]
    assert np.all(shared.best_alphas_ == best)
    np.testing.assert_allclose(shared.coef_, Ridge(alpha=best, fit_intercept=False).fit(X, Y).coef_.T, rtol=1e-8)


def test_himalaya_solver_and_torch_backend_agree_with_default():
    X, Y = _data()
    ref = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    for kwargs in (dict(solver="himalaya"), dict(solver="himalaya", backend="torch"), dict(backend="torch")):
        other = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64", **kwargs).fit(X, Y)
        np.testing.assert_allclose(other.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
        assert isinstance(other.coef_, np.ndarray) and isinstance(other.best_alphas_, np.ndarray)


def test_torch_cuda_backend():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, Y = _data()
    ref = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    gpu = VoxelwiseRidgeCV(alphas=ALPHAS, dtype="float64", backend="torch_cuda").fit(X, Y)
    np.testing.assert_allclose(gpu.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


def test_predict_and_score_recover_a_known_model():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 8))
    W = rng.standard_normal((8, 4))
    Y = X @ W + 0.1 * rng.standard_normal((400, 4))
    model = VoxelwiseRidgeCV(alphas=[1e-2, 1.0, 1e4]).fit(X[:300], Y[:300])
    assert model.predict(X[300:]).shape == (100, 4)
    r = model.score(X[300:], Y[300:])
    assert r.shape == (4,) and np.all(r > 0.99)
    np.testing.assert_allclose(model.coef_, W, atol=0.05)


def test_chunked_kfold_is_contiguous():
    X = np.zeros((103, 2))
    splits = list(ChunkedKFold(5).split(X))
    for (tr_a, va_a), (tr_b, va_b) in zip(splits, KFold(5).split(X)):
        np.testing.assert_array_equal(va_a, va_b)
        np.testing.assert_array_equal(tr_a, tr_b)
    chunked = list(ChunkedKFold(3, chunk_len=10, shuffle=True, random_state=1).split(X))
    vals = np.concatenate([va for _, va in chunked])
    np.testing.assert_array_equal(np.sort(vals), np.arange(103))  # every TR validated exactly once
    for train, val in chunked:
        assert np.intersect1d(train, val).size == 0
        starts = val[np.r_[True, np.diff(val) > 1]]
        assert np.all(starts % 10 == 0)  # folds are made of whole 10-TR chunks


def test_input_errors():
    X, Y = _data()
    with pytest.raises(ValueError, match="NaN"):
        VoxelwiseRidgeCV().fit(np.where(X > 2, np.nan, X), Y)
    with pytest.raises(ValueError, match="targets 0..14"):
        VoxelwiseRidgeCV().fit(X, np.where(Y > 5, np.inf, Y))
    with pytest.raises(ValueError, match="same number of samples"):
        VoxelwiseRidgeCV().fit(X[:-1], Y)
    with pytest.raises(ValueError, match=r"Y\[:, None\]"):
        VoxelwiseRidgeCV().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="solver"):
        VoxelwiseRidgeCV(solver="cholesky").fit(X, Y)
    with pytest.raises(ValueError, match="backend"):
        VoxelwiseRidgeCV(backend="jax").fit(X, Y)
    with pytest.raises(ValueError, match="alphas"):
        VoxelwiseRidgeCV(alphas=[0.0, 1.0]).fit(X, Y)
    with pytest.raises(ValueError, match="shares samples"):
        resolve_splits([(np.arange(10), np.arange(5, 20))], 30)
    with pytest.raises(RuntimeError, match="fit"):
        VoxelwiseRidgeCV().predict(X)
