import math

import numpy as np
import pytest

from espnet_brain.voxelwise.lanczos import lanczos_downsample_np, lanczos_matrix_np


def _direct(data, old_times, new_times, window=3, tr=None):
    """Element by element: weight = a sin(pi x) sin(pi x / a) / (pi x)^2, 1 at x = 0, 0 for |x| >= a."""
    tr = np.mean(np.diff(new_times)) if tr is None else tr
    out = np.zeros((len(new_times), data.shape[1]))
    for i, tn in enumerate(new_times):
        for j, to in enumerate(old_times):
            x = (tn - to) / tr
            if x == 0:
                w = 1.0
            elif abs(x) >= window:
                w = 0.0
            else:
                w = window * math.sin(math.pi * x) * math.sin(math.pi * x / window) / (math.pi * x) ** 2
            out[i] += w * data[j]
    return out


def _times():
    old = np.arange(1, 161) * 0.25  # window ends every 0.25 s over 40 s
    new = np.arange(20) * 2.0 + 1.0  # TR 2 s
    return old, new


def test_matches_direct_computation():
    old, new = _times()
    data = np.random.default_rng(0).standard_normal((len(old), 3))
    np.testing.assert_allclose(lanczos_downsample_np(data, old, new), _direct(data, old, new), rtol=1e-10, atol=1e-12)


def test_weights_sum_to_rate_ratio_and_normalize():
    old, new = _times()
    w = lanczos_matrix_np(old, new)
    np.testing.assert_allclose(w[5:-5].sum(1), 8.0, rtol=0.02)  # 2 s TR over 0.25 s steps, interior rows
    wn = lanczos_matrix_np(old, new, normalize=True)
    np.testing.assert_allclose(wn.sum(1), 1.0)
    slow = np.sin(2 * np.pi * old / 20.0)[:, None]  # far below the TR's Nyquist rate: passes unchanged
    np.testing.assert_allclose((wn @ slow)[3:-3, 0], np.sin(2 * np.pi * new / 20.0)[3:-3], atol=0.03)


def test_errors():
    old, new = _times()
    with pytest.raises(ValueError, match="T_old=160"):
        lanczos_downsample_np(np.zeros((10, 2)), old, new)
    with pytest.raises(ValueError, match="tr"):
        lanczos_matrix_np(old, new[:1])
    assert lanczos_matrix_np(old, new[:1], tr=2.0).shape == (1, 160)


def test_tr_mean_weights_cover_each_tr_exactly():
    from espnet_brain.voxelwise.lanczos import resample_matrix_np, tr_mean_matrix_np

    ends = np.arange(1, 41) * 0.25  # features summarising (e - 0.25, e], tiling [0, 10) s
    mids = np.array([1.0, 3.0, 5.0, 7.0, 9.0])  # TRs [0, 2), [2, 4), ...
    w = tr_mean_matrix_np(ends, mids, span=0.25)
    np.testing.assert_allclose(w.sum(1), 1.0)
    np.testing.assert_allclose(w[1, 8:16], 1 / 8)  # TR [2, 4): the spans ending at 2.25 .. 4.0
    assert np.count_nonzero(w[1]) == 8
    # half-covered TR (the features end at 10 s, the TR reaches 11 s) and a shifted grid: overlap weights
    w2 = tr_mean_matrix_np(ends, np.array([10.0, 2.125]), span=0.25, tr=2.0)
    np.testing.assert_allclose(w2.sum(1), [0.5, 1.0])
    np.testing.assert_allclose(resample_matrix_np("tr_mean", ends, mids), w)
    with pytest.raises(ValueError, match="resample"):
        resample_matrix_np("boxcar", ends, mids)
