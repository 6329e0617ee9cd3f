import logging

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from espnet_brain.voxelwise.ridge import HUTH_ALPHAS, ChunkedKFold, VoxelwiseRidgeCV, parse_alphas, resolve_splits
from espnet_brain.voxelwise.scoring import pearson_r

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


def test_too_few_chunks_make_fewer_folds_with_a_warning(caplog):
    X = np.zeros((128, 2))  # 3 chunks of 40 TRs and 8 more (they join the last chunk): 5 folds are impossible
    with caplog.at_level(logging.WARNING):
        splits = list(ChunkedKFold(5, chunk_len=40, shuffle=True).split(X))
    assert len(splits) == 3 and ChunkedKFold(5, chunk_len=40).get_n_splits(X) == 3
    message = caplog.text
    assert "128 samples in 3 chunk(s) of chunk_len=40 cannot make n_splits=5 folds; using 3 folds" in message
    assert "--n_splits" in message and "--chunk_len" in message
    vals = [val for _, val in splits]
    np.testing.assert_array_equal(np.sort(np.concatenate(vals)), np.arange(128))  # every TR validated once
    assert sorted(len(v) for v in vals) == [40, 40, 48] and all(np.all(np.diff(v) == 1) for v in vals)
    # a remainder too short to validate on joins the chunk before it: 81 = 40 + 41, not 40 + 40 + 1
    assert [len(v) for _, v in ChunkedKFold(5, chunk_len=40).split(np.zeros((81, 1)))] == [40, 41]
    # a splitter that fits is left alone, without a warning
    caplog.clear()
    fits = ChunkedKFold(5, chunk_len=40)
    with caplog.at_level(logging.WARNING):
        assert fits.adapted_to(200) is fits and len(list(fits.split(np.zeros((200, 1))))) == 5
    assert not caplog.records
    # the ridge fits such a corpus
    X, Y = _data(n=128)
    model = VoxelwiseRidgeCV(alphas=ALPHAS, cv=ChunkedKFold(5, chunk_len=40)).fit(X, Y)
    assert model.coef_.shape == (10, 15)


def test_a_short_last_chunk_is_never_a_fold_of_its_own():
    # 161 TRs in chunks of 40: four chunks and one TR; that TR alone would be a fold (its R^2 chooses the penalty)
    for shuffle in (False, True):
        splits = list(ChunkedKFold(5, chunk_len=40, shuffle=shuffle).split(np.zeros((161, 1))))
        assert sorted(len(v) for _, v in splits) == [40, 40, 40, 41]
    # a remainder of at least half a chunk stays a chunk of its own: 180 = 4 x 40 + 20
    assert sorted(len(v) for _, v in ChunkedKFold(5, chunk_len=40).split(np.zeros((180, 1)))) == [20, 40, 40, 40, 40]
    # with more chunks than folds the remainder joins its neighbour's fold as before, merged into that chunk
    assert sorted(len(v) for _, v in ChunkedKFold(5, chunk_len=40).split(np.zeros((201, 1)))) == [40, 40, 40, 40, 41]


def test_all_samples_in_one_chunk_make_two_folds_of_shorter_chunks(caplog):
    with caplog.at_level(logging.WARNING):
        cv = ChunkedKFold(5, chunk_len=40, shuffle=True).adapted_to(30)
    assert (cv.n_splits, cv.chunk_len, cv.shuffle) == (2, 15, True)
    assert "using 2 folds of 15-sample chunks" in caplog.text and "--chunk_len" in caplog.text
    assert [v.tolist() for _, v in cv.split(np.zeros((30, 1)))] in (
        [list(range(15)), list(range(15, 30))], [list(range(15, 30)), list(range(15))])  # fmt: skip
    # one block per fold (chunk_len=None, as cv=5 gives): fewer folds of at least 2 samples
    assert [len(v) for _, v in resolve_splits(5, 4)] == [2, 2]


def test_too_few_samples_for_any_fold_name_what_to_change():
    with pytest.raises(ValueError, match=r"3 samples cannot make 2 cross-validation folds.*--train_responses"):
        list(ChunkedKFold(5, chunk_len=40).split(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="pass explicit splits as cv"):
        VoxelwiseRidgeCV(cv=5).fit(*_data(n=3))


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


def test_parse_alphas():
    np.testing.assert_allclose(parse_alphas(" logspace(2,8,10) "), HUTH_ALPHAS)
    assert parse_alphas("1, 10 100") == [1.0, 10.0, 100.0]
    with pytest.raises(ValueError):
        parse_alphas("logspace(1,2)")


def test_warns_when_most_voxels_choose_the_smallest_penalty(caplog):
    # noiseless targets: the smallest penalty of a grid starting at 1e2 wins for every voxel
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20))
    Y = X @ rng.standard_normal((20, 6))
    with caplog.at_level(logging.WARNING, logger="espnet_brain.voxelwise.ridge"):
        model = VoxelwiseRidgeCV(alphas=HUTH_ALPHAS, cv=4).fit(X, Y)
    assert np.all(model.best_alphas_ == HUTH_ALPHAS[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "100 % of 6 targets chose the smallest penalty" in warnings[0] and "alpha=100" in warnings[0]
    assert "extend the grid downwards" in warnings[0]


def test_no_edge_warning_when_the_grid_brackets_the_choice(caplog):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 20))
    Y = X @ rng.standard_normal((20, 12)) + 4.0 * rng.standard_normal((200, 12))  # signal and noise: a middle penalty
    with caplog.at_level(logging.WARNING, logger="espnet_brain.voxelwise.ridge"):
        model = VoxelwiseRidgeCV(alphas=np.logspace(-4, 8, 13), cv=4).fit(X, Y)
    edges = np.isin(model.best_alphas_, [1e-4, 1e8]).mean()
    assert edges <= 0.5
    assert not [r for r in caplog.records if "penalty of the grid" in r.getMessage()]


def test_edge_warning_names_the_largest_penalty():
    from espnet_brain.voxelwise.ridge import warn_grid_edge

    alphas = np.logspace(0, 4, 5)
    msg = warn_grid_edge(np.array([1e4, 1e4, 1e4, 10.0]), alphas)
    assert msg is not None and "75 % of 4 targets chose the largest penalty" in msg and "upwards" in msg
    assert warn_grid_edge(np.array([1e4, 10.0, 100.0, 1.0]), alphas) is None  # 25 % at each edge
    assert warn_grid_edge(np.array([5.0, 5.0]), np.array([5.0])) is None  # a single penalty: nothing to extend
