import math

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from espnet_brain.asr.online_norm import OnlineZScore, online_zscore
from espnet_brain.data.willett import zscore_by_block

C = 5
TRAIN_MEAN = np.array([0.0, 1.0, -2.0, 5.0, 0.5])
TRAIN_STD = np.array([1.0, 2.0, 0.5, 3.0, 1.0])


def _stream(n=400, seed=0, offset=1.5, scale=2.0):
    """(n, C) bins drawn away from the training statistics (a drift the normaliser has to follow)."""
    rng = np.random.default_rng(seed)
    return (TRAIN_MEAN + offset + scale * TRAIN_STD * rng.standard_normal((n, C))).astype(np.float32)


def test_chunk_by_chunk_equals_the_whole_array_exactly():
    x = _stream()
    whole = online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=50.0)
    assert whole.dtype == np.float32 and whole.shape == x.shape
    norm = OnlineZScore(TRAIN_MEAN, TRAIN_STD, time_constant=50.0)
    rng = np.random.default_rng(1)
    parts, pos = [], 0
    while pos < len(x):
        n = int(rng.integers(0, 9))  # chunks of 0..8 bins
        parts.append(norm(x[pos : pos + n]))
        pos += n
    assert norm.n_seen == len(x)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # a torch tensor in, the same values out as a float32 tensor
    norm.reset()
    y = norm(torch.from_numpy(x))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), whole)


def test_future_bins_never_change_past_outputs_unlike_a_block_zscore():
    x = _stream()
    y = online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=50.0)
    for t in (0, 17, 200, 398):
        perturbed = x.copy()
        perturbed[t + 1 :] = 10.0 * perturbed[t + 1 :] - 7.0
        moved = online_zscore(perturbed, TRAIN_MEAN, TRAIN_STD, time_constant=50.0)
        np.testing.assert_array_equal(moved[: t + 1], y[: t + 1])
        assert not np.allclose(moved[t + 1 :], y[t + 1 :])
        # the control: a block z-score moves the past as well (the check above would fail for it)
        block, block_moved = zscore_by_block([x], [1])[0], zscore_by_block([perturbed], [1])[0]
        assert not np.allclose(block[: t + 1], block_moved[: t + 1], atol=1e-3)


def test_matches_scipy_lfilter_recursions():
    """The reference: the mean and variance recursions as linear filters with initial conditions (scipy)."""
    x = _stream(n=300, seed=2).astype(np.float64)
    tau = 20.0
    a = 1.0 - math.exp(-1.0 / tau)
    mean, _ = lfilter([a], [1.0, -(1.0 - a)], x, axis=0, zi=((1.0 - a) * TRAIN_MEAN)[None, :])
    previous_mean = np.vstack([TRAIN_MEAN[None, :], mean[:-1]])
    d = x - previous_mean
    var, _ = lfilter([1.0], [1.0, -(1.0 - a)], (1.0 - a) * a * d * d, axis=0, zi=((1.0 - a) * TRAIN_STD**2)[None, :])
    want = (x - mean) / (np.sqrt(var) + 1e-8)
    np.testing.assert_allclose(online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=tau), want, rtol=1e-5, atol=1e-5)


def test_starts_from_the_training_statistics_and_adapts_to_a_drift():
    x = _stream(n=3000, seed=3)
    # no adaptation: the training z-score
    fixed = online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=math.inf)
    np.testing.assert_allclose(fixed, (x - TRAIN_MEAN) / (TRAIN_STD + 1e-8), rtol=1e-5, atol=1e-5)
    # with a long time constant the first bins are close to their training z-score (small updates) ...
    slow = online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=10000.0)
    np.testing.assert_allclose(slow[:3], fixed[:3], rtol=0.02, atol=0.02)
    y = online_zscore(x, TRAIN_MEAN, TRAIN_STD, time_constant=100.0)
    # ... where the drift is visible ...
    assert np.all(y[:20].mean(0) > 0.3)
    # ... and gone after many time constants: mean 0, std 1 again
    np.testing.assert_allclose(y[-1000:].mean(0), 0.0, atol=0.15)
    np.testing.assert_allclose(y[-1000:].std(0), 1.0, atol=0.15)


def test_errors_name_the_stream_position_and_leave_the_state():
    norm = OnlineZScore(TRAIN_MEAN, TRAIN_STD, time_constant=10.0)
    norm(_stream(n=12))
    state = (norm.mean_.copy(), norm.var_.copy(), norm.n_seen)
    bad = _stream(n=6, seed=4)
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"stream bin 16 \(channel 2\)"):
        norm(bad)
    np.testing.assert_array_equal(norm.mean_, state[0])
    np.testing.assert_array_equal(norm.var_, state[1])
    assert norm.n_seen == state[2]
    with pytest.raises(ValueError, match=r"expected bins \(T, 5\), got shape \(4, 3\)"):
        norm(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="time_constant"):
        OnlineZScore(TRAIN_MEAN, TRAIN_STD, time_constant=0.0)
    with pytest.raises(ValueError, match=r"shape \(C,\)"):
        OnlineZScore(TRAIN_MEAN, TRAIN_STD[:3])
    with pytest.raises(ValueError, match="std >= 0"):
        OnlineZScore(TRAIN_MEAN, -TRAIN_STD)
    assert norm.reset().n_seen == 0
    np.testing.assert_array_equal(norm.mean_, TRAIN_MEAN)
