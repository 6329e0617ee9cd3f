"""GRU brain feature extractor (BFE): neural features per time bin -> frames for a speech transformer.

The pipeline follows the Willett et al. (2023) decoder front end as used by Fiedler et al. (2025):
augmentation (training only) -> Gaussian smoothing along time -> per-day affine input layer + softsign ->
"unfolding" into overlapping windows of ``kernel_size`` bins every ``stride`` bins -> optional linear projection
of each window -> (bi)GRU ->
optional FC stack (GELU) -> linear layer to the transformer width. Every step is padding-aware, so an
utterance gives the same output whether it is batched with longer ones or alone.

With ``causal=True`` no step looks ahead, so the frontend can run live (:meth:`BrainGRUFrontend.forward_stream`,
used by :class:`espnet_brain.asr.streaming.StreamingDecoder`): the smoothing kernel is the backward half of the
Gaussian, the GRU is unidirectional, and frame ``k`` is the window of ``kernel_size`` bins that ends at bin
``(k + 1) * stride - 1`` (zeros stand in for the bins before the recording starts). A frame is thus emitted as
soon as its last bin has arrived, one every ``stride`` bins: T' = T // stride.
"""

import logging
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from typeguard import typechecked


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Normalised 1-D Gaussian kernel of radius ``ceil(truncate * sigma)`` (scipy's ``gaussian_filter1d`` taps).

    Args:
        sigma: Standard deviation in bins (> 0).
        truncate: Radius in standard deviations.

    Returns:
        torch.Tensor: Kernel (2 * radius + 1,), summing to 1.
    """
    radius = max(1, int(math.ceil(truncate * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return (kernel / kernel.sum()).float()


def causal_gaussian_kernel(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Backward half of :func:`gaussian_kernel`: weights for lags ``radius, ..., 1, 0`` bins, summing to 1.

    The taps are ordered oldest first, so a convolution (PyTorch's cross-correlation) with ``radius`` bins of
    left padding weighs bin ``t - radius + k`` by tap ``k``: the output at ``t`` reads no later bin.

    Args:
        sigma: Standard deviation in bins (> 0).
        truncate: Radius in standard deviations.

    Returns:
        torch.Tensor: Kernel (radius + 1,), increasing towards the current bin.
    """
    radius = max(1, int(math.ceil(truncate * sigma)))
    lag = torch.arange(radius, -1, -1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (lag / sigma) ** 2)
    return (kernel / kernel.sum()).float()


def make_valid_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool mask, True on valid positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


@dataclass
class BrainGRUStreamState:
    """What :meth:`BrainGRUFrontend.forward_stream` carries from one chunk to the next (B streams).

    Attributes:
        n_bins: Bins consumed so far.
        raw: (B, <= radius, C) the last raw bins, the history of the one-sided smoothing.
        pending: (B, N, C) smoothed, day-layered bins from the first bin of the next window on.
        pending_start: Stream position of ``pending[:, 0]``; negative for the zeros before the recording.
        hidden: (num_layers, B, H) GRU state; None before the first frame.
    """

    n_bins: int
    raw: torch.Tensor
    pending: torch.Tensor
    pending_start: int
    hidden: Optional[torch.Tensor]


class BrainGRUFrontend(AbsFrontend):
    """Brain feature extractor: (B, T, C) neural features -> (B, T', D) frames.

    Args:
        input_size: Number of neural channels C per time bin.
        output_size: Output feature size D (the transformer width, e.g. 768).
        n_days: Number of recording days with their own input layer; 0 disables the day layer and its softsign.
        smoothing_sigma: Standard deviation (bins) of the Gaussian smoothing along time; 0 disables it.
        kernel_size: Bins per unfolded window.
        stride: Bins between the starts of consecutive windows (T' = (T - kernel_size) // stride + 1).
        num_layers: GRU layers.
        hidden_size: GRU hidden units per direction.
        bidirectional: Bidirectional GRU.
        dropout: Dropout between GRU layers and after the GRU.
        window_projection: Size P of a linear map applied to each unfolded window (C * kernel_size values)
            before the GRU; None feeds the windows to the GRU directly, as the reference BFE does. The map is a
            rank-P factorisation of the first GRU layer's input weights, computed once for all frames and shared by
            both directions; at stride 1 the windows are wide (C * K) and dense in time, and the GRU's own input
            product, taken step by step, is then most of the training time on a CPU.
        fc_sizes: Sizes of an optional FC stack (Linear + GELU + dropout each) after the GRU; None or [] for none.
        white_noise_std: Std of Gaussian noise added to every bin and channel (training only).
        constant_offset_std: Std of a Gaussian offset per utterance and channel, constant in time (training only).
        causal: No look-ahead anywhere, for streaming: one-sided (backward) smoothing, a unidirectional GRU
            (``bidirectional`` is then ignored) and windows that end at the current bin, one frame per ``stride``
            bins (T' = T // stride). The day layers are the same.
    """

    @typechecked
    def __init__(
        self,
        input_size: int = 256,
        output_size: int = 768,
        n_days: int = 0,
        smoothing_sigma: float = 2.0,
        kernel_size: int = 32,
        stride: int = 4,
        num_layers: int = 5,
        hidden_size: int = 512,
        bidirectional: bool = True,
        dropout: float = 0.45,
        window_projection: Optional[int] = None,
        fc_sizes: Optional[List[int]] = None,
        white_noise_std: float = 0.0,
        constant_offset_std: float = 0.0,
        causal: bool = False,
    ):
        super().__init__()
        for key, value in (
            ("input_size", input_size),
            ("output_size", output_size),
            ("kernel_size", kernel_size),
            ("stride", stride),
            ("num_layers", num_layers),
            ("hidden_size", hidden_size),
            ("window_projection", 1 if window_projection is None else window_projection),
        ):
            if value < 1:
                raise ValueError(f"frontend_conf.{key}: expected a positive int, got {value}")
        for key, value in (
            ("n_days", n_days),
            ("smoothing_sigma", smoothing_sigma),
            ("white_noise_std", white_noise_std),
            ("constant_offset_std", constant_offset_std),
        ):
            if value < 0:
                raise ValueError(f"frontend_conf.{key}: expected >= 0, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"frontend_conf.dropout: expected a probability in [0, 1), got {dropout}")
        fc_sizes = list(fc_sizes or [])
        if any(size < 1 for size in fc_sizes):
            raise ValueError(f"frontend_conf.fc_sizes: expected positive sizes, got {fc_sizes}")

        self.input_size = input_size
        self._output_size = output_size
        self.n_days = n_days
        self.smoothing_sigma = smoothing_sigma
        self.kernel_size = kernel_size
        self.stride = stride
        self.white_noise_std = white_noise_std
        self.constant_offset_std = constant_offset_std
        self.causal = causal
        if causal and bidirectional:
            logging.info("BrainGRUFrontend: causal=True, so the GRU is unidirectional (bidirectional is ignored)")
            bidirectional = False

        if smoothing_sigma > 0:
            kernel = causal_gaussian_kernel(smoothing_sigma) if causal else gaussian_kernel(smoothing_sigma)
            # A buffer so it moves with .to(device); not persistent, so checkpoints do not depend on it.
            self.register_buffer("smoothing_kernel", kernel, persistent=False)
        else:
            self.smoothing_kernel = None

        if n_days > 0:
            # One C x C affine map per day, identity at start: day drift is learned as a correction.
            self.day_weight = torch.nn.Parameter(torch.eye(input_size).repeat(n_days, 1, 1))  # (n_days, C, C)
            self.day_bias = torch.nn.Parameter(torch.zeros(n_days, input_size))  # (n_days, C)
        else:
            self.day_weight = None
            self.day_bias = None

        window_size = input_size * kernel_size
        if window_projection is None:
            self.window_proj = None
        else:
            self.window_proj = torch.nn.Linear(window_size, window_projection)
            window_size = window_projection
        self.gru = torch.nn.GRU(
            input_size=window_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.gru_dropout = torch.nn.Dropout(dropout)
        layers: List[torch.nn.Module] = []
        in_size = hidden_size * (2 if bidirectional else 1)
        for size in fc_sizes:
            layers += [torch.nn.Linear(in_size, size), torch.nn.GELU(), torch.nn.Dropout(dropout)]
            in_size = size
        self.fc = torch.nn.Sequential(*layers)
        self.out = torch.nn.Linear(in_size, output_size)

    def output_size(self) -> int:
        """Output feature size D."""
        return self._output_size

    def espnet_initialization_fn(self):
        """Restore the identity day layers after ESPnet's generic ``--init`` (which would randomise them)."""
        if self.day_weight is not None:
            with torch.no_grad():
                self.day_weight.copy_(torch.eye(self.input_size).repeat(self.n_days, 1, 1))
                self.day_bias.zero_()

    @property
    def min_input_length(self) -> int:
        """Fewest bins that give one frame: a full window, or (causal) one stride."""
        return self.stride if self.causal else self.kernel_size

    def output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Frames per utterance: full windows, (L - kernel_size) // stride + 1; causal: L // stride."""
        if self.causal:
            return torch.div(input_lengths, self.stride, rounding_mode="floor")
        return torch.div(input_lengths - self.kernel_size, self.stride, rounding_mode="floor") + 1

    def augment(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """White noise per bin and channel plus a constant offset per utterance and channel.

        Args:
            x: Features (B, T, C).
            mask: (B, T) True on valid bins; padded bins stay 0.

        Returns:
            torch.Tensor: A new, augmented tensor (B, T, C).
        """
        noise = torch.zeros_like(x)
        if self.white_noise_std > 0:
            noise = noise + torch.randn_like(x) * self.white_noise_std
        if self.constant_offset_std > 0:
            noise = noise + torch.randn(x.size(0), 1, x.size(2), device=x.device, dtype=x.dtype) * (
                self.constant_offset_std
            )
        return x + noise * mask[:, :, None]

    def smooth(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Gaussian smoothing along time, normalised by the kernel mass inside the utterance.

        Near either end of an utterance the kernel is renormalised over valid bins, so padding (and the
        edge) neither leaks in nor pulls the values toward zero. Causal: the backward half-kernel, so the
        output at bin t reads bins t - radius .. t only (renormalised at the start of the utterance).

        Args:
            x: Features (B, T, C).
            mask: (B, T) True on valid bins.

        Returns:
            torch.Tensor: Smoothed features (B, T, C), 0 on padded bins.
        """
        b, t, c = x.shape
        kernel = self.smoothing_kernel.to(x.dtype)
        m = mask.to(x.dtype)[:, None, :]  # (B, 1, T)
        # (B, T, C) -> (B * C, 1, T): one depthwise convolution for all channels
        xs = (x.transpose(1, 2) * m).reshape(b * c, 1, t)
        if self.causal:
            # all the padding on the left: the output at t ends its window at t
            pad = (kernel.numel() - 1, 0)
            num = torch.nn.functional.conv1d(torch.nn.functional.pad(xs, pad), kernel.view(1, 1, -1)).view(b, c, t)
            den = torch.nn.functional.conv1d(torch.nn.functional.pad(m, pad), kernel.view(1, 1, -1))  # (B, 1, T)
        else:
            pad = kernel.numel() // 2
            num = torch.nn.functional.conv1d(xs, kernel.view(1, 1, -1), padding=pad).view(b, c, t)
            den = torch.nn.functional.conv1d(m, kernel.view(1, 1, -1), padding=pad)  # (B, 1, T)
        out = num / den.clamp_min(1e-8) * m
        return out.transpose(1, 2)  # (B, C, T) -> (B, T, C)

    def forward(
        self,
        input: torch.Tensor,
        input_lengths: torch.Tensor,
        day: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Extract frames from neural features.

        Args:
            input: Neural features (B, T, C) (T bins of e.g. 20 ms).
            input_lengths: Valid bins per utterance (B,).
            day: Recording-day index per utterance, (B,) or (B, 1) integer; required when n_days > 1.

        Returns:
            Tuple of features (B, T', D), 0 on padded frames, and their lengths (B,),
            T' = (T - kernel_size) // stride + 1 (causal: T // stride).
        """
        self._check_channels(input)
        lengths = input_lengths.to(device=input.device, dtype=torch.long)
        too_short = lengths < self.min_input_length
        if bool(too_short.any()):
            shortest = int(lengths.min())
            what = f"stride = {self.stride}" if self.causal else f"kernel_size = {self.kernel_size}"
            raise TooShortUttError(
                f"BrainGRUFrontend: an utterance has {shortest} bins, fewer than one "
                f"{'frame' if self.causal else 'window'} (frontend_conf.{what})",
                shortest,
                self.min_input_length,
            )
        x = input.float()
        mask = make_valid_mask(lengths, x.size(1))  # (B, T)
        x = x * mask[:, :, None]

        if self.training and (self.white_noise_std > 0 or self.constant_offset_std > 0):
            x = self.augment(x, mask)
        if self.smoothing_kernel is not None:
            x = self.smooth(x, mask)
        if self.day_weight is not None:
            x = self.day_layer(x, self._check_day(day, x.size(0), x.device))

        out_lengths = self.output_lengths(lengths)
        if self.causal:
            x = self._pad_first_window(x)
        # (B, T, C) -> (B, T', C, K) -> (B, T', C * K): windows of K bins every `stride` bins
        windows = x.unfold(1, self.kernel_size, self.stride)
        windows = windows.reshape(windows.size(0), windows.size(1), -1)
        n_windows = windows.size(1)
        win_mask = make_valid_mask(out_lengths, n_windows)  # (B, T')
        windows = windows * win_mask[:, :, None]
        if self.window_proj is not None:
            windows = self.window_proj(windows)

        packed = torch.nn.utils.rnn.pack_padded_sequence(
            windows, out_lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_out, _ = self.gru(packed)
        # (B, T', H * directions)
        h, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=n_windows)
        h = self.fc(self.gru_dropout(h))
        feats = self.out(h) * win_mask[:, :, None]  # (B, T', D)
        return feats, out_lengths

    def day_layer(self, x: torch.Tensor, day: torch.Tensor) -> torch.Tensor:
        """Per-day affine input layer + softsign, bin by bin.

        Args:
            x: Features (B, T, C).
            day: (B,) day ids, already checked.

        Returns:
            torch.Tensor: (B, T, C).
        """
        # (B, T, C) x (B, C, C) -> (B, T, C)
        x = torch.einsum("btc,bcd->btd", x, self.day_weight[day]) + self.day_bias[day][:, None, :]
        return torch.nn.functional.softsign(x)

    def _pad_first_window(self, x: torch.Tensor) -> torch.Tensor:
        """Causal windows: (B, T, C) -> (B, T + P, C), P = kernel_size - stride zero bins before the start (or
        -P bins dropped when kernel_size < stride), so that window k ends at bin (k + 1) * stride - 1."""
        pad = self.kernel_size - self.stride
        if pad >= 0:
            return torch.nn.functional.pad(x, (0, 0, pad, 0))
        return x[:, -pad:]

    def init_stream_state(self, batch_size: int = 1, device: Optional[torch.device] = None) -> "BrainGRUStreamState":
        """The state of ``batch_size`` streams that have not seen a bin yet (see :meth:`forward_stream`)."""
        device = device if device is not None else self.out.weight.device
        pad = max(0, self.kernel_size - self.stride)
        return BrainGRUStreamState(
            n_bins=0,
            raw=torch.zeros(batch_size, 0, self.input_size, device=device),
            pending=torch.zeros(batch_size, pad, self.input_size, device=device),
            pending_start=-pad,
            hidden=None,
        )

    def forward_stream(
        self,
        chunk: torch.Tensor,
        state: Optional["BrainGRUStreamState"] = None,
        day: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, "BrainGRUStreamState"]:
        """Frames of the next bins of live streams (causal frontends only; call it in eval mode).

        Feeding a recording chunk by chunk, of any sizes, gives the frames :meth:`forward` gives for the whole
        recording: each frame as soon as its last bin has arrived. The state holds the smoothing's last bins, the
        bins of the next, incomplete window and the GRU's hidden state.

        Args:
            chunk: The next bins (B, t, C); t may be 0.
            state: What the previous call returned; None at the start of the streams.
            day: Recording-day ids (B,) or (B, 1), as for :meth:`forward`.

        Returns:
            Tuple of the new frames (B, t', D) (t' = frames completed by this chunk, possibly 0) and the state.
        """
        if not self.causal:
            raise ValueError("BrainGRUFrontend.forward_stream needs frontend_conf.causal = true (no look-ahead)")
        self._check_channels(chunk)
        b, t, _ = chunk.shape
        if state is None:
            state = self.init_stream_state(b, chunk.device)
        if t == 0:
            return chunk.new_zeros(b, 0, self._output_size, dtype=torch.float), state
        x = chunk.float()
        raw = state.raw
        if self.smoothing_kernel is not None:
            # The last `radius` raw bins are the history the new bins' (one-sided) windows need; the outputs of
            # the history bins themselves (renormalised at the buffer's start) are discarded.
            history = torch.cat([state.raw, x], dim=1)
            smoothed = self.smooth(history, torch.ones(b, history.size(1), dtype=torch.bool, device=x.device))
            x = smoothed[:, history.size(1) - t :]
            raw = history[:, max(0, history.size(1) - (self.smoothing_kernel.numel() - 1)) :]
        if self.day_weight is not None:
            x = self.day_layer(x, self._check_day(day, b, x.device))
        pending = torch.cat([state.pending, x], dim=1)
        n_bins = state.n_bins + t
        done, total = state.n_bins // self.stride, n_bins // self.stride
        hidden = state.hidden
        if total > done:
            first = (done + 1) * self.stride - self.kernel_size - state.pending_start  # index of the first new window
            span = pending[:, first : first + (total - done - 1) * self.stride + self.kernel_size]
            # (B, N, C) -> (B, t', C, K) -> (B, t', C * K), as in forward
            windows = span.unfold(1, self.kernel_size, self.stride)
            windows = windows.reshape(b, windows.size(1), -1)
            if self.window_proj is not None:
                windows = self.window_proj(windows)
            h, hidden = self.gru(windows, hidden)
            feats = self.out(self.fc(self.gru_dropout(h)))  # (B, t', D)
        else:
            feats = x.new_zeros(b, 0, self._output_size)
        # keep the bins from the start of the next window on (none yet when kernel_size < stride)
        pending = pending[:, max(0, (total + 1) * self.stride - self.kernel_size - state.pending_start) :]
        new_state = BrainGRUStreamState(
            n_bins=n_bins, raw=raw, pending=pending, pending_start=n_bins - pending.size(1), hidden=hidden
        )
        return feats, new_state

    def _check_channels(self, input: torch.Tensor) -> None:
        if input.dim() != 3 or input.size(2) != self.input_size:
            raise ValueError(
                f"BrainGRUFrontend: expected input (B, T, C) with C = frontend_conf.input_size = {self.input_size} "
                f"channels, got shape {tuple(input.shape)}"
            )

    def _check_day(self, day: Optional[torch.Tensor], batch_size: int, device: torch.device) -> torch.Tensor:
        if day is None:
            if self.n_days == 1:
                return torch.zeros(batch_size, dtype=torch.long, device=device)
            raise ValueError(
                f"BrainGRUFrontend: frontend_conf.n_days = {self.n_days} but no day ids were given; "
                "pass day=(B,) integer tensor (a 'day' data key) or set n_days to 0"
            )
        day = day.reshape(-1).to(device=device, dtype=torch.long)
        if day.numel() != batch_size:
            raise ValueError(f"BrainGRUFrontend: expected {batch_size} day ids (one per utterance), got {day.numel()}")
        bad = (day < 0) | (day >= self.n_days)
        if bool(bad.any()):
            raise ValueError(
                f"BrainGRUFrontend: day id {int(day[bad][0])} is out of range for frontend_conf.n_days = "
                f"{self.n_days} (expected 0..{self.n_days - 1})"
            )
        return day
