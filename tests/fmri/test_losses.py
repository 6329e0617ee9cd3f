import pytest
import torch

from espnet_brain.fmri.losses import (
    EncodingLoss,
    mse_loss,
    spatial_correlation,
    spatial_correlation_loss,
    temporal_correlation,
    temporal_correlation_loss,
)

A = torch.tensor([1.0, 2.0, 3.0])
B = torch.tensor([1.0, 3.0, 2.0])  # corr(A, B) = 0.5


def test_spatial_known_values():
    target = torch.stack([A, A, B])[None]  # (1, T=3, V=3)
    pred = torch.stack([B, 2 * A + 1, -B])[None]  # corr per TR: 0.5, 1, -1
    corr, mask = spatial_correlation(pred, target)
    torch.testing.assert_close(corr, torch.tensor([[0.5, 1.0, -1.0]]))
    assert mask.all()
    torch.testing.assert_close(spatial_correlation_loss(pred, target), torch.tensor(-0.5 / 3))
    torch.testing.assert_close(spatial_correlation_loss(target[0], target[0]), torch.tensor(-1.0))  # (T, V) input


def test_temporal_known_values_and_lengths():
    target = torch.stack([A, A], dim=1)[None]  # (1, T=3, V=2)
    pred = torch.stack([B, -A], dim=1)[None]
    torch.testing.assert_close(temporal_correlation(pred, target), torch.tensor([[0.5, -1.0]]))
    torch.testing.assert_close(temporal_correlation_loss(pred, target), torch.tensor(0.25))
    # padding (TR 4) is ignored, whatever it holds
    padded_t = torch.cat([target, torch.tensor([[[9.0, -9.0]]])], dim=1)
    padded_p = torch.cat([pred, torch.tensor([[[-5.0, 7.0]]])], dim=1)
    got = temporal_correlation_loss(padded_p, padded_t, lengths=torch.tensor([3]))
    torch.testing.assert_close(got, torch.tensor(0.25))


def test_voxel_mask_and_padding_in_spatial_loss():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 5, 6, generator=g)
    pred = target.clone()
    pred[..., 4:] = torch.randn(2, 5, 2, generator=g)  # voxels outside the region are wrong
    pred[1, 3:] = torch.randn(2, 6, generator=g)  # padded TRs of sequence 1 are wrong too
    mask = torch.tensor([True] * 4 + [False] * 2)
    lengths = torch.tensor([5, 3])
    torch.testing.assert_close(spatial_correlation_loss(pred, target, mask, lengths), torch.tensor(-1.0))
    assert spatial_correlation_loss(pred, target, None, lengths) > -0.99
    assert EncodingLoss("spatial_corr", voxel_mask=mask.tolist())(pred, target, lengths) == pytest.approx(-1.0)


def test_mse_and_constant_predictions_have_finite_gradients():
    target = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    pred = torch.zeros(1, 2, 2, requires_grad=True)
    torch.testing.assert_close(mse_loss(pred, target), torch.tensor(7.5))
    torch.testing.assert_close(mse_loss(pred, target, lengths=torch.tensor([1])), torch.tensor(2.5))
    for kind in ("spatial_corr", "temporal_corr"):
        loss = EncodingLoss(kind)(pred, target)
        loss.backward()
        assert loss.item() == 0.0 and torch.isfinite(pred.grad).all()


def test_errors():
    with pytest.raises(ValueError, match="loss_type"):
        EncodingLoss("pearson")
    with pytest.raises(ValueError, match="equal shapes"):
        spatial_correlation_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="voxel_mask"):
        spatial_correlation_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="selects no voxel"):
        spatial_correlation_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(4, dtype=torch.bool))
