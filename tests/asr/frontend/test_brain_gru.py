import numpy as np
import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from scipy.ndimage import gaussian_filter1d

from espnet_brain.asr.frontend.brain_gru import BrainGRUFrontend, gaussian_kernel

TINY = dict(
    input_size=6,
    output_size=10,
    n_days=3,
    smoothing_sigma=1.5,
    kernel_size=8,
    stride=4,
    num_layers=2,
    hidden_size=7,
    dropout=0.0,
)


def _batch(lengths=(40, 27, 8), channels=6):
    torch.manual_seed(0)
    x = torch.randn(len(lengths), max(lengths), channels)
    return x, torch.tensor(lengths), torch.tensor([0, 2, 1])


def test_repr_output_size_shapes_and_lengths():
    frontend = BrainGRUFrontend(**TINY, fc_sizes=[5, 4])
    assert "BrainGRUFrontend" in repr(frontend) and "GELU" in repr(frontend)
    assert frontend.output_size() == 10
    x, lengths, day = _batch()
    feats, feats_lengths = frontend(x, lengths, day=day)
    # (40 - 8) // 4 + 1 = 9, (27 - 8) // 4 + 1 = 5, (8 - 8) // 4 + 1 = 1
    assert feats.shape == (3, 9, 10)
    assert feats_lengths.tolist() == [9, 5, 1]
    assert torch.all(feats[1, 5:] == 0) and torch.all(feats[2, 1:] == 0)
    assert torch.all(feats[2, :1].abs().sum(-1) > 0)


def test_backward_ragged_lengths():
    frontend = BrainGRUFrontend(**TINY, fc_sizes=[5])
    x, lengths, day = _batch()
    x.requires_grad_(True)
    feats, _ = frontend(x, lengths, day=day)
    feats.sum().backward()
    assert torch.all(x.grad[1, 27:] == 0) and x.grad[1, :27].abs().sum() > 0
    for name, p in frontend.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # only the days present in the batch get a gradient
    assert frontend.day_weight.grad[[0, 1, 2]].abs().sum(dim=(1, 2)).gt(0).all()
    frontend.zero_grad()
    feats, _ = frontend(x, lengths, day=torch.tensor([0, 0, 0]))
    feats.sum().backward()
    assert frontend.day_weight.grad[0].abs().sum() > 0 and torch.all(frontend.day_weight.grad[1:] == 0)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_batched_equals_alone(bidirectional):
    frontend = BrainGRUFrontend(**{**TINY, "dropout": 0.3}, bidirectional=bidirectional, fc_sizes=[5]).eval()
    x, lengths, day = _batch()
    x[1, 27:] = 100.0  # garbage in the padding must not matter
    x[2, 8:] = -100.0
    with torch.no_grad():
        feats, feats_lengths = frontend(x, lengths, day=day)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_lengths = frontend(x[i : i + 1, :n], lengths[i : i + 1], day=day[i : i + 1])
            assert alone_lengths.item() == feats_lengths[i].item()
            torch.testing.assert_close(feats[i, : alone_lengths.item()], alone[0], atol=1e-6, rtol=1e-5)


def test_smoothing_matches_scipy_inside_and_is_padding_aware():
    frontend = BrainGRUFrontend(**TINY)
    torch.manual_seed(0)
    x = torch.randn(2, 60, 6)
    lengths = torch.tensor([60, 35])
    mask = torch.arange(60)[None, :] < lengths[:, None]
    smoothed = frontend.smooth(x * mask[:, :, None], mask)
    radius = gaussian_kernel(1.5).numel() // 2
    reference = gaussian_filter1d(x[0].numpy().astype(np.float64), sigma=1.5, axis=0, truncate=4.0)
    np.testing.assert_allclose(smoothed[0, radius:-radius].numpy(), reference[radius:-radius], atol=1e-5)
    alone = frontend.smooth(x[1:2, :35], torch.ones(1, 35, dtype=torch.bool))
    torch.testing.assert_close(smoothed[1, :35], alone[0])
    assert torch.all(smoothed[1, 35:] == 0)
    # renormalised at the edges: a constant stays constant up to the last valid bin
    const = frontend.smooth(torch.ones(1, 35, 6), torch.ones(1, 35, dtype=torch.bool))
    torch.testing.assert_close(const, torch.ones(1, 35, 6))


def test_day_layer_starts_as_identity_and_survives_espnet_init():
    with_days = BrainGRUFrontend(**TINY)
    no_days = BrainGRUFrontend(**{**TINY, "n_days": 0})
    assert no_days.day_weight is None
    torch.testing.assert_close(with_days.day_weight, torch.eye(6).repeat(3, 1, 1))
    model = torch.nn.Module()
    model.frontend = with_days
    initialize(model, "xavier_uniform")  # randomises every matrix, then calls espnet_initialization_fn
    torch.testing.assert_close(with_days.day_weight, torch.eye(6).repeat(3, 1, 1))
    assert torch.all(with_days.day_bias == 0)
    # different days give different outputs once their layers differ
    with torch.no_grad():
        with_days.day_weight[1] *= 2.0
    with_days.eval()
    x, lengths, _ = _batch()
    same_x = x[:1].repeat(2, 1, 1)
    feats, _ = with_days(same_x, lengths[:1].repeat(2), day=torch.tensor([0, 1]))
    assert not torch.allclose(feats[0], feats[1])


def test_augmentation_only_in_training_and_really_applied():
    torch.manual_seed(0)
    plain = BrainGRUFrontend(**TINY)
    noisy = BrainGRUFrontend(**TINY, white_noise_std=0.5, constant_offset_std=0.5)
    noisy.load_state_dict(plain.state_dict())
    x, lengths, day = _batch()
    plain.train()
    noisy.train()
    assert not torch.allclose(noisy(x, lengths, day=day)[0], plain(x, lengths, day=day)[0])
    plain.eval()
    noisy.eval()
    torch.testing.assert_close(noisy(x, lengths, day=day)[0], plain(x, lengths, day=day)[0])


def test_augment_noise_and_offset_statistics():
    mask = torch.arange(400)[None, :] < torch.tensor([400, 300])[:, None]
    zeros = torch.zeros(2, 400, 6)
    offset_only = BrainGRUFrontend(**TINY, constant_offset_std=1.0).augment(zeros, mask)
    # constant over time within an utterance and channel, different across channels, 0 on padding
    torch.testing.assert_close(offset_only[0], offset_only[0, :1].expand(400, 6))
    assert offset_only[0, 0].std() > 0
    assert torch.all(offset_only[1, 300:] == 0)
    white = BrainGRUFrontend(**TINY, white_noise_std=2.0).augment(zeros, mask)
    assert abs(white[0].std().item() - 2.0) < 0.2
    assert torch.all(white[1, 300:] == 0)
    assert torch.all(zeros == 0), "the input tensor must not be modified"


def test_errors():
    frontend = BrainGRUFrontend(**TINY)
    x, lengths, day = _batch()
    with pytest.raises(ValueError, match=r"input_size = 6.*\(3, 40, 5\)"):
        frontend(x[:, :, :5], lengths, day=day)
    with pytest.raises(ValueError, match=r"day id 3.*n_days = 3"):
        frontend(x, lengths, day=torch.tensor([0, 3, 1]))
    with pytest.raises(ValueError, match="n_days = 3"):
        frontend(x, lengths)
    with pytest.raises(TooShortUttError) as err:
        frontend(x, torch.tensor([40, 27, 7]), day=day)
    assert err.value.actual_size == 7 and err.value.limit == 8
    with pytest.raises(ValueError, match="fc_sizes"):
        BrainGRUFrontend(**TINY, fc_sizes=[0])


def test_single_day_and_no_smoothing_defaults():
    frontend = BrainGRUFrontend(**{**TINY, "n_days": 1, "smoothing_sigma": 0.0})
    assert frontend.smoothing_kernel is None
    x, lengths, _ = _batch()
    feats, _ = frontend(x, lengths)  # one day: the day id may be omitted
    feats_day0, _ = frontend(x, lengths, day=torch.zeros(3, 1, dtype=torch.long))  # (B, 1) as collated
    torch.testing.assert_close(feats, feats_day0)
