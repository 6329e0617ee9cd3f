import numpy as np
import pytest
import torch

from espnet_brain.fmri.ssl_model import SSLSpeechModel
from espnet_brain.fmri.windows import WindowedFeatures, audio_windows, window_end_times


class FrameMeans(torch.nn.Module):
    """Stand-in speech model: one frame per 10 samples, feature = the frame's mean and its last sample."""

    def output_size(self):
        return 2

    def forward(self, speech, lengths):
        frames = speech.reshape(speech.shape[0], -1, 10)  # (B, W) -> (B, T, 10)
        return torch.stack([frames.mean(-1), frames[..., -1]], dim=-1), lengths // 10


def test_end_times():
    np.testing.assert_allclose(window_end_times(10.0), np.arange(1, 41) * 0.25)
    np.testing.assert_allclose(window_end_times(1.0, 0.3, first_end_s=0.1), [0.1, 0.4, 0.7, 1.0])
    with pytest.raises(ValueError, match="stride_s"):
        window_end_times(1.0, 0.25, first_end_s=2.0)


def test_windows_are_left_padded_views():
    sr = 100
    wav = torch.arange(1, 251, dtype=torch.float64)  # 2.5 s
    windows, ends = audio_windows(wav, sr, window_s=1.0, stride_s=0.25)
    assert windows.shape == (10, 100) and windows.stride() == (25, 1)  # a strided view, no copy
    padded = np.concatenate([np.zeros(100), wav.numpy()])
    for w, e in zip(windows, ends):
        end = int(round(e * sr))
        np.testing.assert_array_equal(w.numpy(), padded[end : end + 100])  # = wav[end - 100 : end], zero-filled
    assert windows[0, :75].abs().sum() == 0 and windows[0, -1] == 25  # first window ends at 0.25 s


@pytest.mark.parametrize("pool", ["last", "mean_stride"])
def test_features_at_window_ends(pool):
    sr = 100
    wav = torch.randn(300, dtype=torch.float64, requires_grad=True)
    extractor = WindowedFeatures(FrameMeans(), sample_rate=sr, window_s=1.0, stride_s=0.2, batch_size=4, pool=pool)
    feats, ends = extractor(wav)
    assert feats.shape == (15, 2) and extractor.output_size() == 2
    padded = torch.cat([torch.zeros(100, dtype=torch.float64), wav.detach()])
    for f, e in zip(feats.detach(), ends):
        end = int(round(e * sr)) + 100
        if pool == "last":
            expected = [padded[end - 10 : end].mean(), padded[end - 1]]
        else:  # last 0.2 s = 2 frames
            expected = [padded[end - 20 : end].mean(), (padded[end - 11] + padded[end - 1]) / 2]
        torch.testing.assert_close(f, torch.stack(expected))
    one_batch = WindowedFeatures(FrameMeans(), sample_rate=sr, window_s=1.0, stride_s=0.2, batch_size=100, pool=pool)
    torch.testing.assert_close(one_batch(wav)[0], feats)
    feats.sum().backward()
    assert wav.grad is not None and wav.grad.abs().sum() > 0


def test_with_ssl_model_and_lora(tiny_model_dirs):
    ssl = SSLSpeechModel(tiny_model_dirs["wavlm"], layer=2, lora_conf={"r": 2})
    extractor = WindowedFeatures(ssl, window_s=0.2, stride_s=0.1, batch_size=3)
    feats, ends = extractor(torch.randn(16000 // 2))
    assert feats.shape == (5, 16) and np.allclose(ends, [0.1, 0.2, 0.3, 0.4, 0.5])
    feats.pow(2).mean().backward()
    grads = [p.grad for n, p in ssl.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_chain_windows_lanczos_readout_loss_trains_lora(tiny_model_dirs):
    from espnet_brain.fmri.lanczos import lanczos_downsample
    from espnet_brain.fmri.losses import spatial_correlation_loss
    from espnet_brain.fmri.readout import FIRReadout

    ssl = SSLSpeechModel(tiny_model_dirs["wavlm"], layer=2, lora_conf={"r": 2, "dropout": 0.0})
    extractor = WindowedFeatures(ssl, window_s=0.2, stride_s=0.05, batch_size=8)
    feats, ends = extractor(torch.randn(16000))  # 20 window ends in 1 s
    tr_times = np.arange(1, 6) * 0.2
    on_trs = lanczos_downsample(feats, ends, tr_times)  # (N, D) -> (5, D)
    head = FIRReadout(16, 7, delays=[1, 2], rank=3)
    pred, _ = head(on_trs[None])  # (1, 5, 7)
    spatial_correlation_loss(pred, torch.randn(1, 5, 7)).backward()
    lora_b = [p.grad for n, p in ssl.named_parameters() if "lora_B" in n]
    assert len(lora_b) == 3 * 2 and all(g is not None and g.abs().sum() > 0 for g in lora_b)
    assert head.proj[0].weight.grad.abs().sum() > 0


def test_default_pool_covers_every_sample_of_the_audio():
    # each window's feature is the mean of its last stride: the strides tile the audio, no sample is skipped
    sr = 100
    wav = torch.randn(300, dtype=torch.float64)
    feats, ends = WindowedFeatures(FrameMeans(), sample_rate=sr, window_s=1.0, stride_s=0.2)(wav)
    torch.testing.assert_close(feats[:, 0], wav.reshape(15, 20).mean(1))  # stride i: wav[20 i : 20 i + 20]
