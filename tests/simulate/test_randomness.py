import numpy as np
import pytest

from espnet_brain.simulate.randomness import child_rng, child_seed


def test_streams_depend_on_seed_and_keys_only():
    a = child_rng(3, "speech", "train-00001").random(4)
    b = child_rng(3, "speech", "train-00001").random(4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, child_rng(4, "speech", "train-00001").random(4))
    assert not np.array_equal(a, child_rng(3, "speech", "train-00002").random(4))
    assert 0 < child_seed(3, "x") < 2**31


def test_negative_seed_rejected():
    with pytest.raises(ValueError):
        child_rng(-1, "x")
