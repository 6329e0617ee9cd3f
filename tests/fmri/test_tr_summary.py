"""The summary of window features onto the TR grid loses no signal: each TR gets exactly the mean of its own audio.

The former defaults (the log of the mean energy of each stride, Lanczos resampling over +-3 TRs) smeared each TR's
content over its neighbours; a response driven by a band envelope was recovered less well
(``tools/benchmarks/bench_logmel_control.py`` measures it on the simulator).
"""

from typing import Tuple

import numpy as np
import torch

from espnet_brain.fmri.espnet_model import ESPnetFMRIEncodingModel
from espnet_brain.fmri.frontend import AbsEncodingFrontend
from espnet_brain.fmri.readout import FIRLinearHead
from espnet_brain.fmri.spectral import LogMelWindowFrontend
from espnet_brain.voxelwise.timing import stimulus_tr_times, trim_to_responses

SR = 16000
N_ACQUIRED = 45  # 40 grid rows of 2 s, the first 5 before the audio


class StrideMean(AbsEncodingFrontend):
    """A stand-in frontend: each window's feature is the mean of the samples of its last stride."""

    def __init__(self, window_s: float = 1.0, stride_s: float = 0.25):
        super().__init__()
        self.window_s, self.stride_s, self.sample_rate = window_s, stride_s, SR

    def output_size(self) -> int:
        return 1

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        window, step = int(self.window_s * SR), int(self.stride_s * SR)
        n = (int(speech_lengths[0]) - window) // step + 1
        ends = window + step * np.arange(n)
        feats = torch.stack([speech[0, e - step : e].mean() for e in ends])[None, :, None]  # (1, N, 1)
        return feats, torch.tensor([n])


def _story_with_tr_levels(seed: int = 0):
    """Noise whose amplitude is constant within each TR of the grid: (audio, per-grid-row log amplitude)."""
    rng = np.random.default_rng(seed)
    grid = stimulus_tr_times(N_ACQUIRED)  # TR midpoints; TR k covers [grid[k] - 1, grid[k] + 1)
    inside = grid - 1.0 >= 0
    n_trs = int(inside.sum())
    log_amp = rng.normal(0.0, 1.0, n_trs)
    wav = rng.standard_normal(n_trs * 2 * SR) * np.repeat(np.exp(log_amp), 2 * SR)
    levels = np.full(len(grid), np.nan)
    levels[inside] = log_amp
    return (0.01 * wav).astype(np.float32), levels


def _model(frontend, **kwargs) -> ESPnetFMRIEncodingModel:
    return ESPnetFMRIEncodingModel(frontend, FIRLinearHead(frontend.output_size(), 1), **kwargs).eval()


def test_each_tr_is_the_mean_of_its_own_audio():
    rng = np.random.default_rng(0)
    wav = rng.standard_normal(60 * SR).astype(np.float32)
    grid = stimulus_tr_times(N_ACQUIRED)
    feats, _ = _model(StrideMean()).story_outputs(wav, grid, predict=False)  # default summary
    for k in np.flatnonzero((grid - 1.0 >= 0) & (grid + 1.0 <= 60)):
        a = int(round((grid[k] - 1.0) * SR))
        np.testing.assert_allclose(feats[k, 0], wav[a : a + 2 * SR].mean(), atol=1e-5)


def test_a_band_envelope_is_recovered_per_tr():
    # the default log-mel control: per TR, the mean log energy of the TR's frames = 2 log(amplitude) + const
    wav, levels = _story_with_tr_levels()
    grid = stimulus_tr_times(N_ACQUIRED)

    def recovery(frontend_conf: dict, model_conf: dict) -> float:
        frontend = LogMelWindowFrontend(n_mels=8, window_s=1.0, stride_s=0.25, **frontend_conf)
        feats, _ = _model(frontend, **model_conf).story_outputs(wav, grid, predict=False)  # (G, 8)
        rows = trim_to_responses(np.arange(len(grid)))  # the response rows, all inside the audio here
        return min(np.corrcoef(feats[rows, b], levels[rows])[0, 1] for b in range(8))

    new = recovery({}, {})  # the defaults
    old = recovery({"summary": "log_mean"}, {"resample": "lanczos"})  # the former defaults
    assert new > 0.999, new
    assert 1 - old**2 > 10 * (1 - new**2), (new, old)  # Lanczos leaves > 10x the envelope's variance unexplained
