"""Whisper's log-mel spectrogram in torch, as Whisper computes it for its 30 s input, for a batch of any length.

One implementation for both directions: the audio front of the Whisper decoders
(:mod:`espnet_brain.asr.frontend.hf_whisper_stem`) and the Whisper encoding model
(:mod:`espnet_brain.fmri.whisper_model`). It is written in torch, not taken from ``WhisperFeatureExtractor``
(numpy, one utterance at a time, always 30 s), so that a batch runs on the model's device inside its forward.

Whisper's recipe: a 400-sample periodic Hann window every 160 samples (25 ms windows, 10 ms hop) with frame ``i``
centred on sample ``160 i`` (the input is reflected at its start, as ``center=True``), power spectrum, the mel
filter bank, ``log10`` floored at 1e-10, clamped at 8 below the maximum over the input, then ``(x + 4) / 4``.
Whisper pads every input with silence to 30 s; here each utterance is followed by silence (samples past its length
are zeroed), so its frames, those past its end included, are the ones Whisper computes, whatever its batch: silence
frames sit at the floor and never raise the maximum.
"""

import math

import torch

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms windows
HOP_LENGTH = 160  # 10 ms: one log-mel frame
LOG_FLOOR = 1e-10
DYNAMIC_RANGE = 8.0  # log10 units below the utterance's maximum


def mel_frames_with_audio(num_samples: int) -> int:
    """Log-mel frames whose window overlaps the first ``num_samples`` samples (frame ``i`` starts at sample
    ``160 i - 200``)."""
    return math.ceil((num_samples + N_FFT // 2) / HOP_LENGTH)


def whisper_log_mel(
    waveforms: torch.Tensor, lengths: torch.Tensor, filters: torch.Tensor, window: torch.Tensor, num_frames: int
) -> torch.Tensor:
    """Whisper's normalised log-mel frames of a batch.

    Args:
        waveforms: (B, L) 16 kHz waveforms, right-padded.
        lengths: (B,) valid samples of each; the samples after are read as silence.
        filters: (N_FFT // 2 + 1, n_mels) mel filter bank (``WhisperFeatureExtractor.mel_filters``).
        window: (N_FFT,) periodic Hann window.
        num_frames: frames to return.

    Returns:
        (B, n_mels, num_frames) frames ``0 .. num_frames - 1``; the clamp's maximum is taken over every frame that
        sees an utterance's audio, also those past ``num_frames``.
    """
    n_batch, n_samples = waveforms.shape
    lengths = lengths.to(device=waveforms.device, dtype=torch.long)
    x = waveforms.float() * (torch.arange(n_samples, device=waveforms.device)[None, :] < lengths[:, None])
    n_stft = max(num_frames, mel_frames_with_audio(n_samples))
    half = N_FFT // 2
    right = HOP_LENGTH * (n_stft - 1) + half - n_samples  # silence after the audio, for the last frame's window
    x = torch.nn.functional.pad(x, (0, max(right, 0)))
    if n_samples > half:
        x = torch.nn.functional.pad(x[:, None, :], (half, 0), mode="reflect")[:, 0]
    else:  # too short to reflect (callers refuse shorter-than-a-window input): the start is silence
        x = torch.nn.functional.pad(x, (half, 0))
    spec = torch.stft(x, N_FFT, HOP_LENGTH, window=window, center=False, return_complex=True)  # (B, 201, n_stft)
    mel = torch.clamp(filters.t() @ spec.abs() ** 2, min=LOG_FLOOR).log10()  # (B, n_mels, n_stft)
    peak = mel.amax(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    mel = torch.maximum(mel, peak - DYNAMIC_RANGE)[:, :, :num_frames]
    return (mel + 4.0) / 4.0
