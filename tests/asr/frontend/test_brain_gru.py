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


@pytest.mark.parametrize("window_projection", [None, 4])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_batched_equals_alone(bidirectional, window_projection):
    frontend = BrainGRUFrontend(
        **{**TINY, "dropout": 0.3}, bidirectional=bidirectional, fc_sizes=[5], window_projection=window_projection
    ).eval()
    x, lengths, day = _batch()
    x[1, 27:] = 100.0  # garbage in the padding must not matter
    x[2, 8:] = -100.0
    with torch.no_grad():
        feats, feats_lengths = frontend(x, lengths, day=day)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_lengths = frontend(x[i : i + 1, :n], lengths[i : i + 1], day=day[i : i + 1])
            assert alone_lengths.item() == feats_lengths[i].item()
            torch.testing.assert_close(feats[i, : alone_lengths.item()], alone[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_window_projection_is_a_factorisation_of_the_gru_input_weights(bidirectional):
    projected = BrainGRUFrontend(**TINY, bidirectional=bidirectional, window_projection=5).eval()
    assert projected.gru.input_size == 5 and projected.window_proj.in_features == 6 * 8
    plain = BrainGRUFrontend(**TINY, bidirectional=bidirectional).eval()
    state = {k: v for k, v in projected.state_dict().items() if not k.startswith("window_proj.")}
    proj_w, proj_b = projected.window_proj.weight, projected.window_proj.bias  # (5, C * K), (5,)
    with torch.no_grad():
        for suffix in [""] + (["_reverse"] if bidirectional else []):
            w_ih = projected.gru.get_parameter(f"weight_ih_l0{suffix}")  # (3H, 5)
            state[f"gru.weight_ih_l0{suffix}"] = w_ih @ proj_w
            state[f"gru.bias_ih_l0{suffix}"] = projected.gru.get_parameter(f"bias_ih_l0{suffix}") + w_ih @ proj_b
    plain.load_state_dict(state)
    x, lengths, day = _batch()
    with torch.no_grad():
        torch.testing.assert_close(projected(x, lengths, day=day), plain(x, lengths, day=day), atol=1e-5, rtol=1e-4)


def test_window_projection_trains_and_is_checked():
    frontend = BrainGRUFrontend(**TINY, window_projection=3)
    x, lengths, day = _batch()
    frontend(x, lengths, day=day)[0].sum().backward()
    assert frontend.window_proj.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="window_projection"):
        BrainGRUFrontend(**TINY, window_projection=0)


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


# ----------------------------------------------------------------------------------------------------------------
# causal=True: no look-ahead, for streaming

CAUSAL = dict(TINY, causal=True)


def _window_ends(frontend, n_frames):
    """Last bin of each frame's window: (k + 1) * stride - 1 when causal, k * stride + kernel_size - 1 otherwise."""
    k = torch.arange(n_frames)
    if frontend.causal:
        return (k + 1) * frontend.stride - 1
    return k * frontend.stride + frontend.kernel_size - 1


@pytest.mark.parametrize("causal", [True, False])
def test_causal_frames_do_not_depend_on_later_bins(causal):
    """Perturbing the bins after t leaves every frame whose window ends at or before t unchanged, only when causal
    (the default, bidirectional frontend with two-sided smoothing is the control: there the frames change)."""
    frontend = BrainGRUFrontend(**{**TINY, "num_layers": 2}, causal=causal).eval()
    x, lengths, day = _batch()
    n = int(lengths[0])
    with torch.no_grad():
        feats, feats_lengths = frontend(x[:1], lengths[:1], day=day[:1])
        for t in (9, 18, 27):
            perturbed = x[:1].clone()
            perturbed[:, t + 1 : n] += 3.0 * torch.randn(1, n - t - 1, 6)
            moved, _ = frontend(perturbed, lengths[:1], day=day[:1])
            past = _window_ends(frontend, int(feats_lengths[0])) <= t
            assert past.any() and not past.all()
            if causal:
                torch.testing.assert_close(moved[0, past], feats[0, past], rtol=0, atol=0)
                assert not torch.allclose(moved[0, ~past], feats[0, ~past])
            else:
                assert not torch.allclose(moved[0, past], feats[0, past], atol=1e-4)


def test_causal_lengths_shapes_gru_and_too_short():
    frontend = BrainGRUFrontend(**CAUSAL, fc_sizes=[5])
    assert not frontend.gru.bidirectional, "causal=True makes the GRU unidirectional"
    assert frontend.gru.weight_ih_l0.shape == (3 * 7, 6 * 8)
    x, lengths, day = _batch()
    feats, feats_lengths = frontend(x, lengths, day=day)
    # one frame per stride: 40 // 4, 27 // 4, 8 // 4
    assert feats_lengths.tolist() == [10, 6, 2]
    assert torch.equal(frontend.output_lengths(lengths), feats_lengths)
    assert feats.shape == (3, 10, 10)
    assert torch.all(feats[1, 6:] == 0) and torch.all(feats[2, 2:] == 0)
    # a window no longer has to fit: 4 bins (one stride) give a frame, 3 do not
    feats, feats_lengths = frontend(x[:, :4], torch.tensor([4, 4, 4]), day=day)
    assert feats_lengths.tolist() == [1, 1, 1]
    with pytest.raises(TooShortUttError, match=r"fewer than one frame \(frontend_conf.stride = 4\)") as err:
        frontend(x, torch.tensor([40, 27, 3]), day=day)
    assert err.value.actual_size == 3 and err.value.limit == 4


def test_causal_first_window_is_zero_padded_and_ends_at_its_last_bin():
    """Frame k is the window of kernel_size bins ending at bin (k + 1) * stride - 1, zeros before the start."""
    frontend = BrainGRUFrontend(**{**CAUSAL, "n_days": 0, "smoothing_sigma": 0.0}).eval()
    seen = []
    frontend.gru.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    x = torch.randn(1, 16, 6)
    with torch.no_grad():
        frontend(x, torch.tensor([16]))
    windows, _ = torch.nn.utils.rnn.pad_packed_sequence(seen[0], batch_first=True)  # (1, 4, C * K)
    windows = windows.reshape(1, 4, 6, 8)  # (B, T', C, K)
    torch.testing.assert_close(windows[0, 0, :, :4], torch.zeros(6, 4))  # bins -4..-1
    torch.testing.assert_close(windows[0, 0, :, 4:], x[0, 0:4].T)
    torch.testing.assert_close(windows[0, 3], x[0, 8:16].T)


def test_causal_smoothing_is_one_sided_and_renormalised_at_the_start():
    from espnet_brain.asr.frontend.brain_gru import causal_gaussian_kernel

    kernel = causal_gaussian_kernel(1.5)
    full = gaussian_kernel(1.5)
    radius = full.numel() // 2
    assert kernel.numel() == radius + 1 and abs(kernel.sum().item() - 1.0) < 1e-6
    torch.testing.assert_close(kernel, full[: radius + 1] / full[: radius + 1].sum())  # lags radius .. 0
    frontend = BrainGRUFrontend(**CAUSAL)
    x = torch.randn(1, 30, 6)
    mask = torch.ones(1, 30, dtype=torch.bool)
    smoothed = frontend.smooth(x, mask)
    # reference: a weighted mean of bins t - radius .. t, renormalised over the bins that exist
    weights = kernel.double().flip(0)  # weight of lag 0, 1, ..., radius
    for t in (0, 3, 20, 29):
        lags = torch.arange(min(t, radius) + 1)
        w = weights[lags]
        want = (w[:, None] * x[0, t - lags].double()).sum(0) / w.sum()
        torch.testing.assert_close(smoothed[0, t].double(), want, atol=1e-5, rtol=1e-5)
    const = frontend.smooth(torch.ones(1, 30, 6), mask)
    torch.testing.assert_close(const, torch.ones(1, 30, 6))


def test_causal_batched_equals_alone_and_backward():
    frontend = BrainGRUFrontend(**CAUSAL, fc_sizes=[5]).eval()
    x, lengths, day = _batch()
    x[1, 27:] = 100.0
    with torch.no_grad():
        feats, feats_lengths = frontend(x, lengths, day=day)
        for i, n in enumerate(lengths.tolist()):
            alone, _ = frontend(x[i : i + 1, :n], lengths[i : i + 1], day=day[i : i + 1])
            torch.testing.assert_close(feats[i, : int(feats_lengths[i])], alone[0], atol=1e-6, rtol=1e-5)
    frontend.train()
    x.requires_grad_(True)
    feats, _ = frontend(x, lengths, day=day)
    feats.sum().backward()
    assert torch.all(x.grad[1, 27:] == 0) and x.grad[1, :24].abs().sum() > 0
    for name, p in frontend.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize(
    "geometry",
    [
        dict(kernel_size=8, stride=4),
        dict(kernel_size=4, stride=4),
        dict(kernel_size=3, stride=4, smoothing_sigma=0.0),  # windows shorter than the stride skip bins
        dict(kernel_size=5, stride=2, n_days=1),
        dict(kernel_size=8, stride=1, window_projection=5),
    ],
)
def test_forward_stream_chunk_by_chunk_equals_forward(geometry):
    frontend = BrainGRUFrontend(**{**CAUSAL, "num_layers": 2, **geometry}, fc_sizes=[5]).eval()
    x, _, _ = _batch(lengths=(53,))
    day = torch.tensor([2]) if frontend.n_days > 1 else None
    rng = np.random.default_rng(0)
    with torch.no_grad():
        whole, whole_lengths = frontend(x, torch.tensor([53]), day=day)
        state, chunks, pos = None, [], 0
        while pos < 53:
            n = min(int(rng.integers(0, 7)), 53 - pos)  # chunks of 0..6 bins
            frames, state = frontend.forward_stream(x[:, pos : pos + n], state, day=day)
            assert frames.shape[1] == (pos + n) // frontend.stride - pos // frontend.stride
            chunks.append(frames)
            pos += n
    streamed = torch.cat(chunks, dim=1)
    assert streamed.shape == whole.shape and state.n_bins == 53
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)


def test_forward_stream_needs_a_causal_frontend_and_the_right_channels():
    with pytest.raises(ValueError, match="causal = true"):
        BrainGRUFrontend(**TINY).forward_stream(torch.zeros(1, 4, 6))
    with pytest.raises(ValueError, match=r"input_size = 6.*\(1, 4, 5\)"):
        BrainGRUFrontend(**CAUSAL).forward_stream(torch.zeros(1, 4, 5), day=torch.tensor([0]))
