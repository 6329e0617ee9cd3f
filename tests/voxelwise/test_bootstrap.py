"""The paired block bootstrap finds a real difference in prediction quality, not one between equally good
predictions, keeps blocks inside stories, and widens its interval for autocorrelated errors."""

import numpy as np
import pytest

from espnet_brain.voxelwise.bootstrap import _blocks, block_bootstrap_difference
from espnet_brain.voxelwise.scoring import pearson_r


def _targets(seed=0, n=400, k=6):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((n, k))


def test_better_prediction_is_found_in_both_directions():
    rng, y = _targets()
    good = y + 0.5 * rng.standard_normal(y.shape)
    poor = y + 2.0 * rng.standard_normal(y.shape)
    out = block_bootstrap_difference(y, poor, good)
    assert out["mean_r_a"] == pytest.approx(pearson_r(y, poor).mean())
    assert out["mean_r_b"] == pytest.approx(pearson_r(y, good).mean())
    assert out["mean_diff"] == pytest.approx(out["mean_r_b"] - out["mean_r_a"])
    assert 0 < out["ci_low"] < out["mean_diff"] < out["ci_high"] and out["p"] < 0.01
    back = block_bootstrap_difference(y, good, poor)
    assert back["ci_high"] < 0 and back["p"] < 0.01


def test_equally_good_predictions_and_identical_ones_show_no_difference():
    rng, y = _targets(1)
    a = y + rng.standard_normal(y.shape)
    b = y + rng.standard_normal(y.shape)
    out = block_bootstrap_difference(y, a, b)
    assert out["ci_low"] < 0 < out["ci_high"] and out["p"] > 0.05
    same = block_bootstrap_difference(y, a, a)
    assert same["mean_diff"] == 0 and same["p"] == 1.0


def test_blocks_stay_inside_stories():
    np.testing.assert_array_equal(_blocks(7, 2, np.array([0, 0, 0, 1, 1, 1, 1])), [0, 0, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(_blocks(5, 2, None), [0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="contiguous"):
        _blocks(4, 2, np.array([0, 1, 0, 1]))


def test_autocorrelated_errors_widen_the_block_interval():
    # errors that drift slowly make neighbouring TRs redundant: resampling single TRs understates the spread
    rng, y = _targets(2, n=600, k=4)
    kernel = np.ones(15) / 15

    def drift():
        e = rng.standard_normal((600 + 14, 4))
        return np.stack([np.convolve(e[:, j], kernel, mode="valid") for j in range(4)], axis=1) * 4

    a, b = y + drift(), y + drift()
    width = {
        size: np.diff([block_bootstrap_difference(y, a, b, block_size=size)[k] for k in ("ci_low", "ci_high")])[0]
        for size in (1, 20)
    }
    assert width[20] > 1.5 * width[1], width


def test_bad_input_is_refused():
    _, y = _targets()
    with pytest.raises(ValueError, match="must all be"):
        block_bootstrap_difference(y, y[:, :3], y)
    with pytest.raises(ValueError, match="NaN"):
        block_bootstrap_difference(np.where(y > 2, np.nan, y), y, y)
    with pytest.raises(ValueError, match="at least 2 blocks"):
        block_bootstrap_difference(y[:5], y[:5], y[:5], block_size=10)


def test_constant_predictions_are_left_out_and_all_constant_is_refused():
    rng, y = _targets(4)
    a = y + rng.standard_normal(y.shape)
    b = a.copy()
    b[:, 0] = 0.0  # e.g. the noiseless signal of a pure-noise voxel
    out = block_bootstrap_difference(y, a, b)
    assert out["mean_r_a"] == pytest.approx(pearson_r(y[:, 1:], a[:, 1:]).mean())
    assert out["mean_diff"] == pytest.approx(0.0) and out["p"] == 1.0
    with pytest.raises(ValueError, match="both predictions vary"):
        block_bootstrap_difference(y, a, np.zeros_like(a))
