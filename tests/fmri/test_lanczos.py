import numpy as np
import pytest
import torch

from espnet_brain.fmri.lanczos import lanczos_downsample, lanczos_matrix
from espnet_brain.voxelwise.lanczos import lanczos_downsample_np, lanczos_matrix_np


def _times():
    old = np.arange(1, 161) * 0.25  # window ends every 0.25 s over 40 s
    new = np.arange(20) * 2.0 + 1.0  # TR 2 s
    return old, new


def test_torch_matches_numpy_with_batch():
    old, new = _times()
    data = np.random.default_rng(0).standard_normal((len(old), 3))
    expected = lanczos_downsample_np(data, old, new)  # checked against a direct computation in tests/voxelwise
    got = lanczos_downsample(torch.tensor(data), old, new)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    batched = lanczos_downsample(torch.tensor(np.stack([data, 2 * data])), old, new)  # (B, T_old, D)
    np.testing.assert_allclose(batched[1].numpy(), 2 * expected, rtol=1e-10, atol=1e-12)
    # the float32 weights are the NumPy ones rounded, for times given as arrays or tensors
    w = lanczos_matrix(torch.tensor(old), torch.tensor(new), normalize=True)
    assert w.dtype == torch.float32
    np.testing.assert_array_equal(w.numpy(), lanczos_matrix_np(old, new, normalize=True).astype(np.float32))


def test_gradients_flow():
    old, new = _times()
    data = torch.randn(len(old), 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: lanczos_downsample(d, old, new), (data,))
    out = lanczos_downsample(data.float().detach().requires_grad_(), old, new)
    assert out.dtype == torch.float32 and out.shape == (20, 2)


def test_errors():
    old, new = _times()
    with pytest.raises(ValueError, match="T_old=160"):
        lanczos_downsample(torch.zeros(10, 2), old, new)
    with pytest.raises(ValueError, match="tr"):
        lanczos_matrix(old, new[:1])
