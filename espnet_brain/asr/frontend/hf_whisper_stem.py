"""Whisper's audio front (log-mel spectrogram + its two-convolution stem) as an ESPnet frontend.

The audio ASR baseline of a Whisper brain decoder pairs this frontend with
:class:`espnet_brain.asr.encoder.whisper.HFSeq2SeqSpeechEncoder` (``encoder: hf_whisper``), which holds the same
checkpoint's transformer without the stem: audio and brain decoders then share the encoder and differ only in the
frontend, as with :mod:`espnet_brain.asr.frontend.hf_cnn` for Wav2Vec2.

Whisper's log-mel spectrogram is computed in torch (:mod:`espnet_brain.hf.whisper_log_mel`, so that the stem can be
fine-tuned on the GPU with the rest) with the checkpoint's mel filter bank (``preprocessor_config.json``; 80 bins for
tiny to large-v2). An utterance of L samples has ``L // 160`` frames; a batch is padded only to its longest
utterance, and each utterance's frames, the frames the stem reads past its end included, are exactly Whisper's.
The stem: ``gelu(conv1)`` (kernel 3, stride 1) and ``gelu(conv2)`` (kernel 3, stride 2), so the encoder sees
``(T - 1) // 2 + 1`` frames of 20 ms (50 frames/s). The positions are added by the encoder.
"""

import logging
from typing import Tuple, Union

import humanfriendly
import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from typeguard import typechecked

from espnet_brain.hf.loading import load_config, load_model, resolve
from espnet_brain.hf.whisper_log_mel import HOP_LENGTH, N_FFT, SAMPLE_RATE, whisper_log_mel


def mel_filters(name_or_path: str, n_mels: int, what: str) -> torch.Tensor:
    """The mel filter bank of a Whisper checkpoint's feature extractor: (n_fft // 2 + 1, n_mels).

    Read from the checkpoint's ``preprocessor_config.json`` (``WhisperFeatureExtractor``); a checkpoint without one
    (e.g. a model saved alone) gets the filters ``WhisperFeatureExtractor`` computes for ``n_mels`` bins at 16 kHz,
    which are the ones every Whisper release ships, with a warning.
    """
    from transformers import WhisperFeatureExtractor

    source = resolve(name_or_path, what)
    try:
        extractor = WhisperFeatureExtractor.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as err:
        logging.warning(
            f"{what}: no feature-extractor config (preprocessor_config.json) in {name_or_path!r} "
            f"({type(err).__name__}); using Whisper's standard {n_mels}-bin mel filters at {SAMPLE_RATE} Hz"
        )
        extractor = WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=SAMPLE_RATE)
    if extractor.n_fft != N_FFT or extractor.hop_length != HOP_LENGTH or extractor.sampling_rate != SAMPLE_RATE:
        raise ValueError(
            f"{what}: {name_or_path!r} has a feature extractor with n_fft {extractor.n_fft}, hop_length "
            f"{extractor.hop_length}, sampling_rate {extractor.sampling_rate}; expected Whisper's {N_FFT}, "
            f"{HOP_LENGTH}, {SAMPLE_RATE}"
        )
    filters = torch.as_tensor(extractor.mel_filters, dtype=torch.float32)
    if filters.shape != (N_FFT // 2 + 1, n_mels):
        raise ValueError(
            f"{what}: mel filters of {name_or_path!r} have shape {tuple(filters.shape)}, expected "
            f"({N_FFT // 2 + 1}, {n_mels}) (num_mel_bins of its config)"
        )
    return filters


class HFWhisperStemFrontend(AbsFrontend):
    """Raw 16 kHz waveform (B, L) -> frames (B, T', d_model) through Whisper's log-mel and conv stem
    (YAML: ``hf_whisper_stem``).

    Args:
        model_name_or_path: Hub id, local directory or CTranslate2 directory of a Whisper checkpoint, or the short
            id of an installed Whisper (``whisper-tiny.en``, ``whisper-base``; see :mod:`espnet_brain.hf.loading`).
            Use the same one as ``encoder_conf.model_name_or_path``.
        freeze_stem: Keep the two convolutions fixed (``requires_grad=False``).
        fs: Sampling rate of the input; must be 16 kHz (ESPnet passes ``fs`` to frontends, e.g. ``16k``).
    """

    @typechecked
    def __init__(
        self,
        model_name_or_path: str = "openai/whisper-base",
        freeze_stem: bool = False,
        fs: Union[int, str] = SAMPLE_RATE,
    ):
        super().__init__()
        if isinstance(fs, str):
            fs = humanfriendly.parse_size(fs)
        if fs != SAMPLE_RATE:
            raise ValueError(f"frontend_conf.fs: Whisper's front expects {SAMPLE_RATE} Hz audio, got {fs}")
        what = "frontend_conf.model_name_or_path"
        self.model_name_or_path, self.freeze_stem = model_name_or_path, freeze_stem
        self.hf_config = load_config(model_name_or_path, what, model_types=("whisper",))
        self.conv1, self.conv2 = self._load_stem()
        self.register_buffer("mel_filters", mel_filters(model_name_or_path, self.hf_config.num_mel_bins, what), False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        if freeze_stem:
            self.conv1.requires_grad_(False)
            self.conv2.requires_grad_(False)

    def _load_stem(self) -> Tuple[torch.nn.Conv1d, torch.nn.Conv1d]:
        model = load_model(self.model_name_or_path, "frontend_conf.model_name_or_path", config=self.hf_config)
        encoder = model.get_encoder() if hasattr(model, "get_encoder") else model.encoder
        return encoder.conv1, encoder.conv2

    def output_size(self) -> int:
        """Frame size: the checkpoint's width ``d_model``."""
        return self.hf_config.d_model

    @staticmethod
    def mel_lengths(input_lengths: torch.Tensor) -> torch.Tensor:
        """Log-mel frames per utterance (10 ms) for (B,) sample counts: ``L // 160``."""
        return torch.div(input_lengths, HOP_LENGTH, rounding_mode="floor")

    def output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Frames per utterance after the stem (20 ms) for (B,) sample counts."""
        mel = self.mel_lengths(input_lengths)
        return torch.div(mel - 1, 2, rounding_mode="floor") + 1

    def reload_pretrained_parameters(self):
        """Restore the pretrained stem (ESPnet calls this after re-initialising all parameters)."""
        conv1, conv2 = self._load_stem()
        self.conv1.load_state_dict(conv1.state_dict())
        self.conv2.load_state_dict(conv2.state_dict())
        logging.info(f"HFWhisperStemFrontend: reloaded the pretrained stem from {self.model_name_or_path}")

    def log_mel(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Whisper's normalised log-mel spectrogram.

        Args:
            input: Waveforms (B, L) at 16 kHz.
            input_lengths: Valid samples per utterance (B,).

        Returns:
            Tuple of log-mel frames (B, n_mels, T_max + 2) and T per utterance (B,). Past each utterance's end the
            frames are what Whisper computes there (its last partial windows, then the clip floor of silence): the
            stem's last output frame reads two of them.
        """
        n_frames = self.mel_lengths(input_lengths.to(input.device))
        # two frames past the longest utterance's last: the stem's last output frame reads them
        mel = whisper_log_mel(input, input_lengths, self.mel_filters, self.window, int(n_frames.max()) + 2)
        return mel, n_frames

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Log-mel frames through the stem.

        Args:
            input: Waveforms (B, L) at 16 kHz.
            input_lengths: Valid samples per utterance (B,).

        Returns:
            Tuple of frames (B, T', d_model), 0 on padded frames, and their lengths in frames (B,).
        """
        if input.dim() != 2:
            raise ValueError(f"HFWhisperStemFrontend: expected waveforms (B, L), got shape {tuple(input.shape)}")
        shortest = int(input_lengths.min())
        if shortest < N_FFT:
            raise TooShortUttError(
                f"HFWhisperStemFrontend: an utterance has {shortest} samples, fewer than one window ({N_FFT})",
                shortest,
                N_FFT,
            )
        mel, _ = self.log_mel(input, input_lengths)
        h = torch.nn.functional.gelu(self.conv1(mel))  # (B, n_mels, T) -> (B, D, T)
        h = torch.nn.functional.gelu(self.conv2(h))  # (B, D, T) -> (B, D, T')
        lengths = self.output_lengths(input_lengths.to(h.device))
        feats = h[:, :, : int(lengths.max())].transpose(1, 2)  # (B, D, T') -> (B, T', D)
        valid = torch.arange(feats.size(1), device=feats.device)[None, :] < lengths[:, None]
        return feats * valid[:, :, None], lengths

    def extra_repr(self) -> str:
        return f"model_name_or_path={self.model_name_or_path!r}, freeze_stem={self.freeze_stem}"
