"""Log-mel spectral features on the window grid of the speech-model frontend: the low-level control of encoding.

A ridge on a mel spectrogram is the field's standard low-level feature space (e.g. the spectral models of de Heer
et al. 2017): whatever a speech model's features add must be measured against it. ``LogMelWindowFrontend`` gives,
at every window end of :class:`espnet_brain.fmri.frontend.SSLWindowFrontend` (``window_s + i * stride_s`` in chunk
time), the mean log mel energy of the 10 ms frames of the last ``stride_s`` (``summary="mean_log"``, the default; the
model's per-TR mean then gives the mean log energy of the frames of each TR), so the spectral features go through the
same summary onto the TR grid, delays and ridge as the speech features (which also checks their time alignment).
``summary="log_mean"`` (the log of the mean energy, the former default) is kept for comparison; it recovered less of
the simulator's spectral and articulatory signal (``tools/benchmarks/bench_logmel_control.py``).
"""

from typing import Optional, Tuple

import torch
import torchaudio
from typeguard import typechecked

from espnet_brain.fmri.frontend import AbsEncodingFrontend
from espnet_brain.fmri.windows import window_end_times

SUMMARIES = ("mean_log", "log_mean")


class LogMelWindowFrontend(AbsEncodingFrontend):
    """Audio chunks (B, L) -> log mel band energies (B, N, n_mels) at the window ends.

    Args:
        n_mels: mel bands (32 by default, as in common spectral encoding models).
        n_fft: FFT size of the short-time frames (400 = 25 ms at 16 kHz).
        hop_length: samples between frames (160 = 10 ms).
        f_min: lowest band edge (Hz).
        f_max: highest band edge (Hz; None: half the sample rate).
        floor: energy added before the log (silence gives log(floor), not -inf).
        window_s: the window length of the speech frontend it stands beside (only the first window end depends
            on it: features start where that frontend's do).
        stride_s: spacing of the window ends; each feature averages the frames of the last ``stride_s``.
        sample_rate: Hz of the audio.
        summary: "mean_log" (mean over the frames of their log energies) or "log_mean" (log of their mean energy).
    """

    @typechecked
    def __init__(
        self,
        n_mels: int = 32,
        n_fft: int = 400,
        hop_length: int = 160,
        f_min: float = 0.0,
        f_max: Optional[float] = None,
        floor: float = 1e-8,
        window_s: float = 4.0,
        stride_s: float = 0.25,
        sample_rate: int = 16000,
        summary: str = "mean_log",
    ):
        super().__init__()
        if summary not in SUMMARIES:
            raise ValueError(f"frontend_conf.summary: expected one of {SUMMARIES}, got {summary!r}")
        step = int(round(stride_s * sample_rate))
        if step < n_fft:
            raise ValueError(
                f"frontend_conf: stride_s={stride_s} s ({step} samples) is shorter than one FFT frame (n_fft={n_fft})"
            )
        if not 0 < stride_s <= window_s:
            raise ValueError(f"frontend_conf.stride_s: expected 0 < stride_s <= window_s={window_s}, got {stride_s}")
        # torchaudio's filterbank and STFT; center=False keeps every frame inside its stride (no look-ahead)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            center=False,
            power=2.0,
        )
        self.n_mels, self.floor, self.summary = n_mels, floor, summary
        self.window_s, self.stride_s, self.sample_rate = window_s, stride_s, sample_rate

    def output_size(self) -> int:
        return self.n_mels

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Log mel energies at every complete window of each chunk.

        Args:
            speech: (B, L) waveforms, right-padded.
            speech_lengths: (B,) valid samples.

        Returns:
            feats (B, N, n_mels) (feature ``i``: the audio in ``(e_i - stride_s, e_i]`` with
            ``e_i = window_s + i * stride_s``; padded windows are zeros) and feats_lengths (B,).
        """
        if speech.dim() != 2:
            raise ValueError(f"speech: expected shape (B, L), got {tuple(speech.shape)}")
        step = int(round(self.stride_s * self.sample_rate))
        feats = []
        for wav, n in zip(speech, speech_lengths):
            ends = window_end_times(int(n) / self.sample_rate, self.stride_s, self.window_s, self.sample_rate)
            last = int(round(ends[-1] * self.sample_rate))
            # the strides ending at e_0 ... e_{N-1} tile wav[e_0 - step, e_{N-1})
            first = last - len(ends) * step
            segments = wav[first:last].reshape(len(ends), step)  # (N, step)
            power = self.mel(segments.float())  # (N, n_mels, frames)
            if self.summary == "mean_log":
                feats.append(torch.log(power + self.floor).mean(-1))  # (N, n_mels, frames) -> (N, n_mels)
            else:
                feats.append(torch.log(power.mean(-1) + self.floor))
        lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long, device=speech.device)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths
