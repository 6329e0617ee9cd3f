"""Banded ridge: per-space penalties per voxel, the grid it searches, and agreement with VoxelwiseRidgeCV."""

import itertools

import numpy as np
import pytest

from espnet_brain.voxelwise.banded import BandedRidgeCV, grid_directions
from espnet_brain.voxelwise.ridge import ChunkedKFold, VoxelwiseRidgeCV
from espnet_brain.voxelwise.variance_partition import r2_score

ALPHAS = np.logspace(-1, 5, 7)


@pytest.fixture(scope="module")
def dense_and_sparse():
    """Space A: 20 features, all used by the A voxels; space B: 60 features, of which the B voxels use 3."""
    rng = np.random.default_rng(1)
    n = 900
    A, B = rng.standard_normal((n, 20)), rng.standard_normal((n, 60))
    wa = rng.standard_normal((20, 20)) / np.sqrt(20)
    wb = np.zeros((60, 20))
    wb[:3] = rng.standard_normal((3, 20))
    Y = np.concatenate([A @ wa, B @ wb], 1)  # voxels 0-19 driven by A only, 20-39 by B only
    Y += 0.7 * Y.std(0) * rng.standard_normal(Y.shape)
    model = BandedRidgeCV(alphas=ALPHAS, cv=ChunkedKFold(5, chunk_len=40)).fit([A[:600], B[:600]], Y[:600])
    return model, [A[600:], B[600:]], Y[600:], (np.hstack([A[:600], B[:600]]), Y[:600])


def test_penalties_follow_the_space_each_voxel_needs(dense_and_sparse):
    model = dense_and_sparse[0]
    log_ratio = np.log10(model.penalties_[1] / model.penalties_[0])  # (V,) B's penalty over A's
    assert model.penalties_.shape == model.deltas_.shape == model.space_weights_.shape == (2, 40)
    assert np.median(log_ratio[:20]) >= 2  # A voxels: the irrelevant space B is shut off
    assert np.median(log_ratio[20:]) <= -2  # B voxels: the other way round
    np.testing.assert_allclose(model.space_weights_, 1 / model.penalties_)
    np.testing.assert_allclose(model.deltas_, -np.log(model.penalties_))


def test_banded_beats_one_shared_penalty_on_held_out(dense_and_sparse):
    model, Xs_test, Y_test, (X_train, Y_train) = dense_and_sparse
    ridge = VoxelwiseRidgeCV(alphas=ALPHAS, cv=ChunkedKFold(5, chunk_len=40)).fit(X_train, Y_train)
    r2_banded = r2_score(Y_test, model.predict(Xs_test))
    r2_ridge = r2_score(Y_test, ridge.predict(np.hstack(Xs_test)))
    # one penalty for 80 features fits the irrelevant ones too; the gain is largest where few features matter
    assert r2_banded.mean() > r2_ridge.mean() + 0.01
    assert np.mean(r2_banded[20:] > r2_ridge[20:]) >= 0.8


def test_predict_split_and_shapes(dense_and_sparse):
    model, Xs_test, Y_test, _ = dense_and_sparse
    parts = model.predict(Xs_test, split=True)
    assert parts.shape == (2, 300, 40)
    np.testing.assert_allclose(parts.sum(0), model.predict(Xs_test), atol=1e-4)
    assert model.coef_.shape == (80, 40) and model.cv_scores_.shape == (40,)
    assert model.score(Xs_test, Y_test).shape == (40,)
    assert list(model.n_features_per_space_) == [20, 60]


@pytest.mark.parametrize("method", ["primal", "kernel"])
def test_one_space_is_voxelwise_ridge(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 15))
    Y = X @ rng.standard_normal((15, 12)) * np.logspace(-1, 0.5, 12) + rng.standard_normal((300, 12))
    cv = ChunkedKFold(4, chunk_len=25)
    banded = BandedRidgeCV(alphas=ALPHAS, cv=cv, method=method, dtype="float64").fit([X], Y)
    assert banded.method_ == method
    ridge = VoxelwiseRidgeCV(alphas=ALPHAS, cv=cv, dtype="float64").fit(X, Y)
    np.testing.assert_allclose(banded.penalties_[0], ridge.best_alphas_, rtol=1e-6)
    np.testing.assert_allclose(banded.coef_, ridge.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(banded.cv_scores_, ridge.cv_scores_, atol=1e-6)


@pytest.mark.parametrize("score_func", ["correlation", "r2"])
def test_kernel_and_primal_solvers_agree(score_func):
    rng = np.random.default_rng(4)
    Xs = [rng.standard_normal((120, 40)), rng.standard_normal((120, 100))]  # fewer samples than features
    Y = Xs[0] @ rng.standard_normal((40, 6)) + 0.2 * Xs[1] @ rng.standard_normal((100, 6))
    Y += 4 * rng.standard_normal(Y.shape)
    kwargs = dict(alphas=np.logspace(0, 4, 5), cv=ChunkedKFold(4, chunk_len=10), score_func=score_func, dtype="float64")
    kernel = BandedRidgeCV(**kwargs).fit(Xs, Y)
    primal = BandedRidgeCV(method="primal", **kwargs).fit(Xs, Y)
    assert kernel.method_ == "kernel" and primal.method_ == "primal"
    np.testing.assert_allclose(kernel.penalties_, primal.penalties_, rtol=1e-6)
    np.testing.assert_allclose(kernel.coef_, primal.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(kernel.cv_scores_, primal.cv_scores_, atol=1e-8)


@pytest.mark.parametrize("backend", ["torch", "torch_cuda"])
@pytest.mark.parametrize("method", ["primal", "kernel"])
def test_torch_backends_agree_with_numpy(backend, method):
    torch = pytest.importorskip("torch")
    if backend == "torch_cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(2)
    Xs = [rng.standard_normal((200, 6)), rng.standard_normal((200, 9))]
    Y = Xs[0] @ rng.standard_normal((6, 5)) + 0.3 * Xs[1] @ rng.standard_normal((9, 5)) + rng.standard_normal((200, 5))
    kwargs = dict(alphas=[0.1, 10.0, 1000.0], cv=4, score_func="r2", method=method, dtype="float64")
    ref = BandedRidgeCV(**kwargs).fit(Xs, Y)
    other = BandedRidgeCV(backend=backend, **kwargs).fit(Xs, Y)
    np.testing.assert_allclose(other.penalties_, ref.penalties_, rtol=1e-6)
    np.testing.assert_allclose(other.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert isinstance(other.coef_, np.ndarray) and isinstance(other.penalties_, np.ndarray)


@pytest.mark.parametrize("n_spaces", [2, 3])
def test_grid_directions_cover_every_combination(n_spaces):
    alphas = np.logspace(0, 3, 4)
    gammas = grid_directions(alphas, n_spaces)
    assert gammas.shape == (4**n_spaces - 3**n_spaces, n_spaces)
    np.testing.assert_allclose(gammas[0], 1.0)
    tried = {tuple(np.round(np.log10(a / g), 6)) for g in gammas for a in alphas}  # penalty a / gamma_i per space
    for combo in itertools.product(alphas, repeat=n_spaces):
        assert tuple(np.round(np.log10(combo), 6)) in tried


def test_errors():
    X, Y = np.zeros((20, 2)), np.zeros((20, 3))
    with pytest.raises(TypeError, match="list of arrays"):
        BandedRidgeCV().fit(X, Y)
    with pytest.raises(ValueError, match="same number of samples"):
        BandedRidgeCV().fit([X, X[:10]], Y)
    with pytest.raises(ValueError, match="score_func"):
        BandedRidgeCV(score_func="l2").fit([X], Y)
    with pytest.raises(ValueError, match="intercept"):
        BandedRidgeCV(method="kernel", fit_intercept=True).fit([X], Y)
    with pytest.raises(ValueError, match="method"):
        BandedRidgeCV(method="dual").fit([X], Y)
    with pytest.raises(ValueError, match="alphas"):
        BandedRidgeCV(alphas=[0.0, 1.0]).fit([X], Y)
    with pytest.raises(RuntimeError, match="fit"):
        BandedRidgeCV().predict([X])


TORCH_FREE = """
import sys


class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "espnet2", "espnet"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocked())
import numpy as np

from espnet_brain.voxelwise.variance_partition import fit_variance_partition

rng = np.random.default_rng(0)
Xs = [rng.standard_normal((120, 4)) for _ in range(2)]
Y = Xs[0] @ rng.standard_normal((4, 3)) + rng.standard_normal((120, 3))
part = fit_variance_partition([X[:80] for X in Xs], Y[:80], [X[80:] for X in Xs], Y[80:], ["a", "b"],
                              dict(alphas=[1.0, 10.0], cv=3))
assert part.unique("a").shape == (3,)
assert not any(m.split(".")[0] in ("torch", "espnet2", "espnet") for m in sys.modules), "torch or ESPnet loaded"
print("OK")
"""


def test_fits_without_torch_or_espnet():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", TORCH_FREE], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr
