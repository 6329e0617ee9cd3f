"""Sliding audio windows with left context, and SSL features read at each window's end.

BrainWavLM's stimulus features: every ``stride_s`` (0.25 s) a window of ``window_s`` (4.0 s: 3.75 s of context
plus the new 0.25 s) ending at that time is passed through the speech model and the mean of the features of its
last ``stride_s`` is kept (``pool="mean_stride"``, the default; BrainWavLM keeps its last frame, ``pool="last"``),
giving (n_windows, D) features at the window-end times, which the encoding model then averages over each TR (or
Lanczos-resamples to TR times). Windows reaching before the start of the story are zero-padded
(silence) on the left.

Windows are strided views of one padded waveform (no copy); the model sees them ``batch_size`` at a time.
"""

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from typeguard import typechecked

POOLS = ("mean_stride", "last")


def window_end_times(
    duration_s: float, stride_s: float = 0.25, first_end_s: Optional[float] = None, sample_rate: int = 16000
) -> np.ndarray:
    """End times of the windows, on the sample grid.

    Args:
        duration_s: audio duration in seconds.
        stride_s: spacing of the window ends.
        first_end_s: end of the first window (default: ``stride_s``).
        sample_rate: the grid the times are rounded to.

    Returns:
        (N,) seconds: first_end_s, first_end_s + stride_s, ... up to ``duration_s``.
    """
    step = int(round(stride_s * sample_rate))
    first = int(round((stride_s if first_end_s is None else first_end_s) * sample_rate))
    last = int(round(duration_s * sample_rate))
    if step < 1 or first < 1 or first > last:
        raise ValueError(
            f"windows: stride_s={stride_s}, first_end_s={first_end_s} do not fit in {duration_s} s at {sample_rate} Hz"
        )
    return np.arange(first, last + 1, step) / sample_rate


def audio_windows(
    wav: torch.Tensor,
    sample_rate: int = 16000,
    window_s: float = 4.0,
    stride_s: float = 0.25,
    first_end_s: Optional[float] = None,
) -> Tuple[torch.Tensor, np.ndarray]:
    """All windows of a waveform as a strided view.

    Args:
        wav: (L,) waveform.
        sample_rate: Hz.
        window_s: window length in seconds (context included).
        stride_s: spacing of the window ends in seconds.
        first_end_s: end of the first window (default: ``stride_s``).

    Returns:
        windows (N, W) (a view of a left-zero-padded copy of ``wav``; differentiable) and their end times (N,) s.
    """
    if wav.dim() != 1:
        raise ValueError(f"wav: expected shape (L,), got {tuple(wav.shape)}")
    ends = window_end_times(wav.shape[0] / sample_rate, stride_s, first_end_s, sample_rate)
    width = int(round(window_s * sample_rate))
    step = int(round(stride_s * sample_rate))
    first = int(round(ends[0] * sample_rate))
    padded = torch.cat([wav.new_zeros(width), wav])  # sample s of wav is padded[s + width]
    # window i covers wav[e_i - width, e_i) = padded[e_i, e_i + width)
    windows = padded[first:].unfold(0, width, step)  # (N, W) view
    return windows[: len(ends)], ends


class WindowedFeatures(nn.Module):
    """Features of a speech model at the ends of sliding windows over one waveform.

    Args:
        model: a module mapping (B, W) waveforms and (B,) lengths to (B, T, D) features and (B,) lengths,
            e.g. :class:`espnet_brain.fmri.ssl_model.SSLSpeechModel`.
        sample_rate: Hz of the waveforms.
        window_s: window length in seconds, context included (4.0 in BrainWavLM).
        stride_s: spacing of window ends in seconds (0.25).
        batch_size: windows per forward pass of ``model``.
        pool: "mean_stride" (mean of the frames of each window's last stride_s; the default: the spans tile the
            audio) or "last" (the last frame of each window, 20 ms of every stride_s).
    """

    @typechecked
    def __init__(
        self,
        model: nn.Module,
        sample_rate: int = 16000,
        window_s: float = 4.0,
        stride_s: float = 0.25,
        batch_size: int = 32,
        pool: str = "mean_stride",
    ):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool: expected one of {POOLS}, got {pool!r}")
        if not 0 < stride_s <= window_s:
            raise ValueError(f"stride_s: expected 0 < stride_s <= window_s={window_s}, got {stride_s}")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.model = model
        self.sample_rate = sample_rate
        self.window_s = window_s
        self.stride_s = stride_s
        self.batch_size = batch_size
        self.pool = pool

    def output_size(self) -> int:
        return self.model.output_size()

    def forward(self, wav: torch.Tensor, first_end_s: Optional[float] = None) -> Tuple[torch.Tensor, np.ndarray]:
        """Features at every window end of one waveform.

        Args:
            wav: (L,) waveform.
            first_end_s: end of the first window (default: ``stride_s``).

        Returns:
            feats (N, D) and end_times (N,) in seconds.
        """
        windows, ends = audio_windows(wav, self.sample_rate, self.window_s, self.stride_s, first_end_s)
        out = []
        for start in range(0, windows.shape[0], self.batch_size):
            batch = windows[start : start + self.batch_size]  # (b, W); the model copies what it needs
            feats, _ = self.model(batch, torch.full((batch.shape[0],), batch.shape[1], device=wav.device))
            if self.pool == "last":
                out.append(feats[:, -1])  # (b, T, D) -> (b, D)
            else:
                n_last = max(1, int(round(feats.shape[1] * self.stride_s / self.window_s)))
                out.append(feats[:, -n_last:].mean(1))
        return torch.cat(out, dim=0), ends
