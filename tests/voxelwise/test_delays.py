import numpy as np
import pytest

from espnet_brain.voxelwise.delays import make_delayed_np


def test_impulse_appears_d_trs_later():
    x = np.zeros((10, 2))
    x[3, 0] = 1.0  # stimulus impulse at TR 3 in feature 0
    x[5, 1] = 2.0
    out = make_delayed_np(x, [1, 2, 4])
    assert out.shape == (10, 6)
    # block i holds x(t - d_i): the response at TR t sees the stimulus at TR t - d
    for i, d in enumerate([1, 2, 4]):
        block = out[:, 2 * i : 2 * i + 2]
        assert np.flatnonzero(block[:, 0]).tolist() == [3 + d]
        assert block[5 + d, 1] == 2.0 if 5 + d < 10 else not block[:, 1].any()
    neg = make_delayed_np(x, [-2, 0])
    assert np.flatnonzero(neg[:, 0]).tolist() == [1] and np.array_equal(neg[:, 2:], x)


def test_bad_delays():
    with pytest.raises(ValueError, match="delays"):
        make_delayed_np(np.zeros((4, 2)), [])
    with pytest.raises(ValueError, match="delays"):
        make_delayed_np(np.zeros((4, 2)), [1.5])
