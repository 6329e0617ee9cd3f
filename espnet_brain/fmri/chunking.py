"""Geometry of training chunks: which audio a run of consecutive TRs needs, and where its windows end.

An encoding model predicts the response at TR time ``t`` from features of the TR grid at ``t - d * TR`` for
each FIR delay ``d``; each of those grid features is a Lanczos-weighted sum of window features whose window
ends lie within ``lanczos_window * TR`` of it, and each window reaches ``window_s`` back into the audio.
A chunk of TRs therefore needs the audio from ``window_s`` before the earliest useful window end to the latest
one. The functions here compute that span (in story time, so that overlapping chunks and a whole story give
the same windows: every window end is a multiple of ``stride_s`` in story time) and cut it out of a story,
zero-padding before the audio starts and after it ends.

Conventions shared by the data preparation (``espnet_brain.fmri.dump``) and the model
(``espnet_brain.fmri.espnet_model``):

* inside a chunk, window ``i`` ends at chunk time ``window_s + i * stride_s`` (the first full window);
* ``tr_start`` is the chunk time of the first predicted TR (the time its features are sampled at);
* the model evaluates the TR grid from ``max(delays)`` TRs before the first predicted TR to
  ``max(0, -min(delays))`` TRs after the last one, so the delayed features need no zero filling.
"""

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class ChunkGeometry:
    """What the model needs around a run of TRs.

    Args:
        tr: repetition time in seconds.
        delays: FIR delays in TRs (delay d: the response at TR t sees the features of TR t - d).
        lanczos_window: Lanczos parameter ``a``; grid features use window ends within ``a * tr``.
        window_s: audio window length in seconds (context included).
        stride_s: spacing of window ends in seconds.
        sample_rate: Hz of the audio.
    """

    tr: float = 2.0
    delays: Tuple[int, ...] = (1, 2, 3, 4)
    lanczos_window: int = 3
    window_s: float = 4.0
    stride_s: float = 0.25
    sample_rate: int = 16000

    def __post_init__(self):
        if not self.tr > 0 or not self.window_s > 0 or not 0 < self.stride_s <= self.window_s:
            raise ValueError(
                f"chunk geometry: expected tr > 0 and 0 < stride_s <= window_s, got tr={self.tr}, "
                f"window_s={self.window_s}, stride_s={self.stride_s}"
            )
        if not self.delays:
            raise ValueError("chunk geometry: delays must not be empty")
        if self.lanczos_window < 1:
            raise ValueError(f"chunk geometry: lanczos_window must be >= 1, got {self.lanczos_window}")
        object.__setattr__(self, "delays", tuple(int(d) for d in self.delays))

    @property
    def pre(self) -> int:
        """Grid rows evaluated before the first predicted TR (the largest positive delay)."""
        return max(0, max(self.delays))

    @property
    def post(self) -> int:
        """Grid rows evaluated after the last predicted TR (the largest negative delay, as a count)."""
        return max(0, -min(self.delays))

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def stride_samples(self) -> int:
        return int(round(self.stride_s * self.sample_rate))

    def grid_times(self, first_tr_time: float, n_trs: int) -> np.ndarray:
        """Times (s) of the grid rows evaluated for ``n_trs`` TRs from ``first_tr_time``: (pre + n + post,)."""
        return first_tr_time + self.tr * np.arange(-self.pre, n_trs + self.post)

    def audio_span(self, first_tr_time: float, last_tr_time: float) -> Tuple[int, int]:
        """Audio samples (story time, may be negative or past the end) needed to predict TRs at these times.

        Args:
            first_tr_time: story time (s) of the first predicted TR.
            last_tr_time: story time (s) of the last predicted TR.

        Returns:
            (start, end) sample indices: windows end at ``start + window_samples + i * stride_samples``, which are
            multiples of ``stride_samples``, covering every window end with a non-zero Lanczos weight.
        """
        reach = self.lanczos_window * self.tr
        lo = (first_tr_time - self.pre * self.tr - reach) * self.sample_rate
        hi = (last_tr_time + self.post * self.tr + reach) * self.sample_rate
        step = self.stride_samples
        first_end = math.floor(lo / step + 1e-9) * step
        last_end = math.ceil(hi / step - 1e-9) * step
        return first_end - self.window_samples, last_end

    def window_ends(self, n_samples: int) -> np.ndarray:
        """Chunk times (s) of the window ends of a chunk of ``n_samples`` samples: (N,)."""
        n = self.num_windows(n_samples)
        return (self.window_samples + self.stride_samples * np.arange(n)) / self.sample_rate

    def num_windows(self, n_samples: int) -> int:
        """Number of complete windows in a chunk of ``n_samples`` samples."""
        if n_samples < self.window_samples:
            return 0
        return (n_samples - self.window_samples) // self.stride_samples + 1

    def check_coverage(self, n_samples: int, tr_start: float, n_trs: int, name: str = "chunk") -> None:
        """Raise ValueError when a chunk's audio does not hold every window its TRs need.

        Args:
            n_samples: samples of the chunk's audio.
            tr_start: chunk time (s) of its first predicted TR.
            n_trs: predicted TRs.
            name: what to call the chunk in the message.
        """
        reach = self.lanczos_window * self.tr
        need_lo = tr_start - self.pre * self.tr - reach
        need_hi = tr_start + (n_trs - 1 + self.post) * self.tr + reach
        ends = self.window_ends(n_samples)
        tol = self.stride_s + 1e-6
        if len(ends) == 0 or ends[0] > need_lo + tol or ends[-1] < need_hi - tol:
            have = f"[{ends[0]:.2f}, {ends[-1]:.2f}] s" if len(ends) else "none"
            raise ValueError(
                f"{name}: its audio ({n_samples / self.sample_rate:.2f} s) has window ends {have}, but its {n_trs} "
                f"TRs starting at {tr_start:.2f} s need window ends over [{need_lo:.2f}, {need_hi:.2f}] s "
                f"(tr={self.tr}, delays={list(self.delays)}, lanczos_window={self.lanczos_window}, "
                f"window_s={self.window_s}); dump the chunks again with the model's settings "
                "(espnet_brain.bin.dump_encoding --train_config <the training config>)"
            )


def cut_audio(wav: np.ndarray, start: int, end: int) -> np.ndarray:
    """``wav[start:end]`` with zeros where the span leaves the audio (before 0 or after the end).

    Args:
        wav: (S,) waveform.
        start, end: sample indices (``start`` may be negative, ``end`` past ``S``).

    Returns:
        (end - start,) waveform of ``wav``'s dtype.
    """
    if end <= start:
        raise ValueError(f"cut_audio: empty span [{start}, {end})")
    out = np.zeros(end - start, dtype=wav.dtype)
    lo, hi = max(start, 0), min(end, len(wav))
    if hi > lo:
        out[lo - start : hi - start] = wav[lo:hi]
    return out


def split_rows(n_rows: int, chunk_trs: int, min_trs: int = 2) -> Sequence[Tuple[int, int]]:
    """Consecutive (start, end) row ranges of ``chunk_trs`` rows; a short remainder joins the previous chunk.

    Args:
        n_rows: response rows of a story.
        chunk_trs: rows per chunk.
        min_trs: a remainder shorter than this is merged into the last chunk instead of standing alone.

    Returns:
        List of (start, end) with ``end - start`` in [min(chunk_trs, n_rows), chunk_trs + min_trs).
    """
    if chunk_trs < 1:
        raise ValueError(f"chunk_trs: expected >= 1, got {chunk_trs}")
    bounds = list(range(0, n_rows, chunk_trs)) + [n_rows]
    spans = list(zip(bounds[:-1], bounds[1:]))
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < min_trs:
        (a, _), (_, b) = spans[-2], spans[-1]
        spans = spans[:-2] + [(a, b)]
    return spans
