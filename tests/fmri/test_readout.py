import pytest
import torch
from typeguard import TypeCheckError

from espnet_brain.fmri.delays import make_delayed
from espnet_brain.fmri.readout import FeatureNorm, FIRReadout


def test_shapes_low_rank_and_full():
    feats = torch.randn(2, 12, 8)
    head = FIRReadout(8, 30, delays=[1, 2, 3], rank=5)
    pred, lengths = head(feats, torch.tensor([12, 9]))
    assert pred.shape == (2, 12, 30) and lengths.tolist() == [12, 9] and head.output_size() == 30
    assert head.proj[0].weight.shape == (5, 24) and head.proj[1].weight.shape == (30, 5)
    full = FIRReadout(8, 30, delays=[1, 2, 3], rank=None)
    assert full.proj.weight.shape == (30, 24)
    pred.sum().backward()
    assert head.proj[0].weight.grad.abs().sum() > 0


def test_readout_is_normalise_delay_linear():
    torch.manual_seed(0)
    feats = torch.randn(1, 10, 3) * 5 + 2
    head = FIRReadout(3, 4, delays=[1, 2], rank=None, normalize="time").eval()
    pred, _ = head(feats)
    z = (feats - feats.mean(1, keepdim=True)) / torch.sqrt(feats.var(1, unbiased=False, keepdim=True) + 1e-5)
    expected = head.proj(make_delayed(z, [1, 2]))
    torch.testing.assert_close(pred, expected)
    # TR 0 sees no stimulus (delays >= 1): only the bias
    torch.testing.assert_close(pred[0, 0], head.proj.bias)


def test_batch_norm_ignores_padding_and_tracks_statistics():
    norm = FeatureNorm(2, "batch", momentum=1.0)
    x = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [100.0, -100.0]]])  # last frame is padding
    out = norm(x, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(out[0, :2], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), atol=1e-4, rtol=0)
    assert out[0, 2].abs().sum() == 0
    torch.testing.assert_close(norm.running_mean, torch.tensor([2.0, 20.0]))
    norm.eval()
    torch.testing.assert_close(norm(torch.tensor([[[2.0, 20.0]]]), torch.tensor([[True]])), torch.zeros(1, 1, 2))


def test_constructor_is_typechecked_and_validated():
    with pytest.raises(TypeCheckError):
        FIRReadout(8, 30, rank="100")
    with pytest.raises(ValueError, match="normalize"):
        FIRReadout(8, 30, normalize="layer")
    with pytest.raises(ValueError, match="rank"):
        FIRReadout(8, 30, rank=0)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        FIRReadout(8, 30)(torch.zeros(2, 5, 7))
