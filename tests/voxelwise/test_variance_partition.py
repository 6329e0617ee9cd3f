"""Variance partitioning on planted data: known unique and shared variance is recovered, and the algebra is right."""

import numpy as np
import pytest

from espnet_brain.voxelwise.variance_partition import (
    NO_WINNER,
    fit_variance_partition,
    partition_from_scores,
    r2_score,
    subsets,
    winning_space,
)

ALPHAS = np.logspace(-1, 4, 6)


def planted(n_spaces, dim, n_train=600, n_test=2000, n_per_region=5, n_noise=6, r2_range=(0.4, 0.8), seed=0):
    """Spaces built from independent latent blocks, one per Venn region (a block of region T is in every space of T),
    each space randomly rotated; voxels driven by one region's block, by two regions, or by nothing. A long test set
    keeps the held-out R^2 close to its population value (the fits see the training samples only).

    Returns:
        Xs_train, Y_train, Xs_test, Y_test, true (n_regions, V) population variance fractions of each region
        (analytic: latent blocks are independent, so region T explains |w_T|^2 / var(y); regions in the order of
        ``subsets``), kind (V,) index of the single region driving the voxel, -1 for mixtures, -2 for noise.
    """
    rng = np.random.default_rng(seed)
    sets = subsets(n_spaces)
    n = n_train + n_test
    latent = {s: rng.standard_normal((n, dim)) for s in sets}
    Xs = []
    for i in range(n_spaces):
        F = np.concatenate([latent[s] for s in sets if i in s], 1)
        q, _ = np.linalg.qr(rng.standard_normal((F.shape[1], F.shape[1])))
        Xs.append(F @ q)  # the region blocks spread over every feature of the space
    drive = [[j] for j in range(len(sets)) for _ in range(n_per_region)]
    drive += [list(rng.choice(len(sets), 2, replace=False)) for _ in range(2 * n_per_region)] + [[]] * n_noise
    Y = np.zeros((n, len(drive)))
    true = np.zeros((len(sets), len(drive)))
    for v, regions in enumerate(drive):
        w = {j: rng.standard_normal(dim) for j in regions}
        signal_var = sum(float(w[j] @ w[j]) for j in regions)
        r2 = rng.uniform(*r2_range)
        noise_var = signal_var * (1 - r2) / r2 if regions else 1.0
        signal = sum((latent[sets[j]] @ w[j] for j in regions), np.zeros(n))
        Y[:, v] = signal + np.sqrt(noise_var) * rng.standard_normal(n)
        for j in regions:
            true[j, v] = float(w[j] @ w[j]) / (signal_var + noise_var)
    kind = np.array([d[0] if len(d) == 1 else (-1 if d else -2) for d in drive])
    tr, te = slice(0, n_train), slice(n_train, n)
    return [X[tr] for X in Xs], Y[tr], [X[te] for X in Xs], Y[te], true, kind


@pytest.fixture(scope="module")
def two():
    Xtr, Ytr, Xte, Yte, true, kind = planted(2, dim=10, n_per_region=8)  # 20 features per space, 46 voxels
    part = fit_variance_partition(Xtr, Ytr, Xte, Yte, ["A", "B"], dict(alphas=ALPHAS))
    return part, true, kind


@pytest.fixture(scope="module")
def three():
    Xtr, Ytr, Xte, Yte, true, kind = planted(3, dim=5)  # 20 features per space, 111 voxels
    part = fit_variance_partition(Xtr, Ytr, Xte, Yte, ["A", "B", "C"], dict(alphas=ALPHAS))
    return part, true, kind


@pytest.mark.parametrize("case", ["two", "three"])
def test_planted_partition_is_recovered(case, request):
    part, true, kind = request.getfixturevalue(case)
    est = np.stack(list(part.regions.values()))
    names = list(part.regions)
    assert names[: len(part.space_names)] == list(part.space_names)
    np.testing.assert_allclose(est, true, atol=0.08)
    assert np.abs(est - true).mean() < 0.015
    signal = kind != -2
    for j, name in enumerate(names):
        r = np.corrcoef(est[j, signal], true[j, signal])[0, 1]
        assert r > 0.97, (name, r)
    np.testing.assert_allclose(part.explained, part.joint_r2, atol=0.03)  # the correction moves little


def test_two_space_regions_by_hand():
    scores = {"A": np.array([0.3, 0.0]), "B": np.array([0.2, 0.5]), "A+B": np.array([0.4, 0.5])}
    part = partition_from_scores(scores, ["A", "B"], correction="none")
    np.testing.assert_allclose(part.unique("A"), [0.2, 0.0])  # R2_AB - R2_B
    np.testing.assert_allclose(part.unique("B"), [0.1, 0.5])  # R2_AB - R2_A
    np.testing.assert_allclose(part.shared("A", "B"), [0.1, 0.0])  # R2_A + R2_B - R2_AB
    np.testing.assert_allclose(part.shared(), [0.1, 0.0])


def test_three_space_regions_by_hand():
    # regions (V=1): A .10, B .05, C .20, AB .04, AC .03, BC .02, ABC .06
    a = {"A": 0.10, "B": 0.05, "C": 0.20, "A&B": 0.04, "A&C": 0.03, "B&C": 0.02, "A&B&C": 0.06}

    def r2(*spaces):  # a subset model explains every region that meets it
        return np.array([sum(v for k, v in a.items() if set(k.split("&")) & set(spaces))])

    scores = {"+".join(s): r2(*s) for s in ["A", "B", "C", "AB", "AC", "BC", "ABC"]}
    part = partition_from_scores(scores, ["A", "B", "C"], correction="none")
    for name, value in a.items():
        np.testing.assert_allclose(part.regions[name], [value], atol=1e-12, err_msg=name)
    np.testing.assert_allclose(part.shared("C", "A"), [0.03])
    np.testing.assert_allclose(part.explained, scores["A+B+C"])


def test_negative_estimates_least_squares_and_clip():
    scores = {"A": np.array([0.1, -0.05]), "B": np.array([0.1, -0.02]), "A+B": np.array([0.25, -0.01])}
    raw = partition_from_scores(scores, ["A", "B"], correction="none")
    np.testing.assert_allclose(raw.shared(), [-0.05, -0.06])
    ls = partition_from_scores(scores, ["A", "B"], correction="least_squares")
    # min (a-.1)^2 + (b-.1)^2 + (a+b+s-.25)^2 over a, b, s >= 0: s = 0, a = b = 1.4 / 12
    np.testing.assert_allclose(ls.unique("A")[0], 1.4 / 12, atol=1e-9)
    np.testing.assert_allclose(ls.unique("B")[0], 1.4 / 12, atol=1e-9)
    np.testing.assert_allclose(ls.shared()[0], 0.0, atol=1e-12)
    clip = partition_from_scores(scores, ["A", "B"], correction="clip")
    np.testing.assert_allclose([clip.unique("A")[0], clip.unique("B")[0], clip.shared()[0]], [0.15, 0.15, 0.0])
    for part in (ls, clip):  # a voxel that nothing explains: no variance anywhere
        assert all(v[1] == 0.0 for v in part.regions.values())
        assert all(np.all(v >= 0) for v in part.regions.values())


def test_winning_space(two, three):
    for part, true, kind in (two, three):
        k = len(part.space_names)
        pure = (kind >= 0) & (kind < k)  # voxels driven by one space's own block only
        for by in ("unique", "single"):
            win = winning_space(part, by=by, min_r2=0.02)
            expected = np.array(part.space_names, dtype=object)[kind[pure]]
            assert np.mean(win[pure] == expected) >= 0.9, (by, win[pure], expected)
        win = winning_space(part, min_r2=0.02)
        assert np.mean(win[kind == -2] == NO_WINNER) >= 0.8
        # where a mixture is won, it is won by the space with the largest true unique variance
        top2 = np.sort(true[:k], axis=0)[-2:]
        mixed = (kind == -1) & (top2[1] - top2[0] > 0.1)
        truth = np.array(part.space_names, dtype=object)[true[:k].argmax(0)]
        assert np.mean(win[mixed] == truth[mixed]) >= 0.8


def test_r2_score():
    y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    np.testing.assert_allclose(r2_score(y, y), [1.0, 0.0])
    np.testing.assert_allclose(r2_score(y, np.full_like(y, 2.0)), [0.0, 0.0])
    np.testing.assert_allclose(r2_score(y[:, :1], 2 * y[:, :1]), [1 - 14 / 2])


def test_errors():
    scores = {"A": np.zeros(2), "B": np.zeros(2)}
    with pytest.raises(ValueError, match="missing"):
        partition_from_scores(scores, ["A", "B"])
    with pytest.raises(ValueError, match="correction"):
        partition_from_scores({**scores, "A+B": np.zeros(2)}, ["A", "B"], correction="abs")
    with pytest.raises(ValueError, match="contain"):
        partition_from_scores(scores, ["A+", "B"])
    part = partition_from_scores({**scores, "A+B": np.zeros(2)}, ["A", "B"])
    with pytest.raises(ValueError, match="space"):
        part.unique("C")
    with pytest.raises(ValueError, match="by"):
        winning_space(part, by="joint")


def test_subset_models_share_folds_given_once():
    rng = np.random.default_rng(5)
    Xs = [rng.standard_normal((100, 3)) for _ in range(2)]
    Y = Xs[0] @ rng.standard_normal((3, 2)) + rng.standard_normal((100, 2))
    folds = ((np.setdiff1d(np.arange(80), v), v) for v in np.array_split(np.arange(80), 4))  # a generator
    part = fit_variance_partition([X[:80] for X in Xs], Y[:80], [X[80:] for X in Xs], Y[80:], ["a", "b"],
                                  dict(alphas=[1.0, 10.0], cv=folds))  # fmt: skip
    assert set(part.penalties) == {"a", "b", "a+b"} and part.penalties["a+b"].shape == (2, 2)
