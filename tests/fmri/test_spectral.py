"""Log-mel spectral frontend: features on the speech frontend's window grid, from the right stretch of audio."""

import numpy as np
import pytest
import torch

from espnet_brain.fmri.spectral import LogMelWindowFrontend
from espnet_brain.fmri.windows import window_end_times

SR = 16000


def tone(seconds: float, freq: float, start: float, stop: float) -> torch.Tensor:
    t = np.arange(int(seconds * SR)) / SR
    wav = np.where((t >= start) & (t < stop), np.sin(2 * np.pi * freq * t), 0.0)
    return torch.tensor(wav, dtype=torch.float32)


def test_one_feature_per_window_end_of_the_speech_frontend():
    front = LogMelWindowFrontend(n_mels=16, window_s=1.0, stride_s=0.25)
    wav = torch.randn(2, int(3.1 * SR))
    lengths = torch.tensor([int(3.1 * SR), int(2.0 * SR)])
    feats, n = front(wav, lengths)
    expected = [len(window_end_times(int(k) / SR, 0.25, 1.0, SR)) for k in lengths]
    assert n.tolist() == expected == [9, 5]
    assert feats.shape == (2, 9, 16) and front.output_size() == 16
    assert torch.all(feats[1, 5:] == 0)  # padding


def test_a_tone_burst_lights_its_own_stride_and_its_own_band():
    # a 3 kHz burst filling the stride that ends at 1.75 s (window end i = 3 with window_s 1.0, stride 0.25)
    front = LogMelWindowFrontend(n_mels=32, window_s=1.0, stride_s=0.25)
    wav = tone(3.0, 3000.0, 1.5, 1.75)
    feats, _ = front(wav[None], torch.tensor([len(wav)]))
    energy = feats[0].max(dim=1).values
    assert int(energy.argmax()) == 3  # not the stride before or after: the features are aligned to the grid
    assert energy[3] > energy[2] + 10 and energy[3] > energy[4] + 10
    low = LogMelWindowFrontend(n_mels=32, window_s=1.0, stride_s=0.25)(
        tone(3.0, 300.0, 1.5, 1.75)[None], torch.tensor([len(wav)])
    )[0]
    assert int(feats[0, 3].argmax()) > int(low[0, 3].argmax())  # a higher tone peaks in a higher band


def test_silence_is_the_floor_not_minus_infinity():
    front = LogMelWindowFrontend(n_mels=8, window_s=1.0, stride_s=0.5, floor=1e-6)
    feats, _ = front(torch.zeros(1, 2 * SR), torch.tensor([2 * SR]))
    assert torch.allclose(feats, torch.full_like(feats, float(np.log(1e-6))))


def test_a_stride_shorter_than_one_fft_frame_is_refused():
    with pytest.raises(ValueError, match="shorter than one FFT frame"):
        LogMelWindowFrontend(n_fft=400, stride_s=0.01)


def test_mean_log_averages_the_log_energies_of_the_frames():
    # default summary: the mean over a stride's frames of their log energies (not the log of their mean energy)
    rng = np.random.default_rng(0)
    t = np.arange(int(1.25 * SR)) / SR
    wav = torch.tensor(rng.standard_normal(t.size) * np.where(t % 0.05 < 0.025, 1.0, 0.01), dtype=torch.float32)
    front = LogMelWindowFrontend(n_mels=8, window_s=1.0, stride_s=0.25)
    feats, n = front(wav[None], torch.tensor([len(wav)]))
    power = front.mel(wav[int(1.0 * SR) :])  # the frames of the last stride, (8, frames)
    np.testing.assert_allclose(feats[0, 1], torch.log(power + front.floor).mean(-1), rtol=1e-4)
    old = LogMelWindowFrontend(n_mels=8, window_s=1.0, stride_s=0.25, summary="log_mean")(
        wav[None], torch.tensor([len(wav)])
    )[0]
    np.testing.assert_allclose(old[0, 1], torch.log(power.mean(-1) + front.floor), rtol=1e-4)
    assert torch.all(old[0, 1] > feats[0, 1] + 0.5)  # on loud and quiet frames, log of mean >> mean of logs


def test_unknown_summary_is_refused():
    with pytest.raises(ValueError, match="frontend_conf.summary"):
        LogMelWindowFrontend(summary="median")
