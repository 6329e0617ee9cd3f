import numpy as np
import pytest
import torch

from espnet_brain.fmri.delays import make_delayed
from espnet_brain.voxelwise.delays import make_delayed_np


def test_torch_matches_numpy_with_batch_and_gradients():
    x = np.random.default_rng(0).standard_normal((3, 7, 4))
    delays = [1, 2, 3, 4, -1, 9]
    xt = torch.tensor(x, requires_grad=True)
    out = make_delayed(xt, delays)
    assert out.shape == (3, 7, 4 * len(delays))
    for b in range(3):
        np.testing.assert_array_equal(out[b].detach().numpy(), make_delayed_np(x[b], delays))
    out.sum().backward()
    # each input TR t is used once per delay that keeps t + d inside the sequence
    expected = np.array([sum(0 <= t + d < 7 for d in delays) for t in range(7)])
    np.testing.assert_array_equal(xt.grad[0, :, 0].numpy(), expected)


def test_bad_delays():
    with pytest.raises(ValueError, match="delays"):
        make_delayed(torch.zeros(4, 2), [1.5])
    with pytest.raises(ValueError, match="delays"):
        make_delayed(torch.zeros(4, 2), [])
