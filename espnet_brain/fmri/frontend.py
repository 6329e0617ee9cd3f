"""Frontends of the fMRI encoding task: audio chunks -> speech-model features at the ends of sliding windows.

``AbsEncodingFrontend`` is the interface the encoding model relies on (ESPnet's ``AbsFrontend`` shape, plus the
window geometry); ``SSLWindowFrontend`` runs a Hugging Face speech model over the windows of each chunk
(``windows.py``): a speech SSL model (``ssl_model.SSLSpeechModel``: Wav2Vec2, WavLM, HuBERT) or the encoder of a
Whisper (``whisper_model.WhisperSpeechModel``), chosen by the checkpoint's model type; either exposes a hidden layer,
several layers from one pass or a weighted sum of layers, with optional LoRA adapters.
"""

from abc import ABC, abstractmethod
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from typeguard import typechecked

from espnet_brain.fmri.ssl_model import WHAT, SSLSpeechModel
from espnet_brain.fmri.whisper_model import WhisperSpeechModel
from espnet_brain.fmri.windows import POOLS, WindowedFeatures
from espnet_brain.hf.loading import SUPPORTED_MODEL_TYPES, load_config

# the model types of ``frontend_conf.model_name_or_path``: the speech SSL models and Whisper (its encoder)
SPEECH_MODEL_TYPES = SUPPORTED_MODEL_TYPES + ("whisper",)


def build_speech_model(model_name_or_path: str, local_files_only: bool = False, **kwargs) -> torch.nn.Module:
    """The speech model of a checkpoint, by its model type: ``WhisperSpeechModel`` for a Whisper, else
    ``SSLSpeechModel``; ``kwargs`` are their common arguments (``layer``, ``lora_conf``, ``freeze``, ...)."""
    config = load_config(model_name_or_path, WHAT, local_files_only=local_files_only, model_types=SPEECH_MODEL_TYPES)
    if config.model_type != "whisper" and kwargs.get("pad_to_30s"):
        raise ValueError(
            f"frontend_conf.pad_to_30s: only for a Whisper, but {model_name_or_path!r} is a {config.model_type}"
        )
    cls = WhisperSpeechModel if config.model_type == "whisper" else SSLSpeechModel
    return cls(model_name_or_path, local_files_only=local_files_only, **kwargs)


class AbsEncodingFrontend(torch.nn.Module, ABC):
    """Audio (B, L) -> window features (B, N, D); window ``i`` of a chunk ends at ``window_s + i * stride_s``."""

    window_s: float
    stride_s: float
    sample_rate: int

    @abstractmethod
    def output_size(self) -> int:
        raise NotImplementedError

    @abstractmethod
    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class SSLWindowFrontend(AbsEncodingFrontend):
    """A speech model read at the end of sliding audio windows (BrainWavLM's stimulus features).

    Args:
        model_name_or_path: local directory written by ``save_pretrained`` or a Hub id
            (e.g. "microsoft/wavlm-base-plus"; offline, a Hub id fails with a message asking for a directory) of a
            Wav2Vec2 / WavLM / HuBERT, or a Whisper checkpoint, whose encoder is used
            (:class:`espnet_brain.fmri.whisper_model.WhisperSpeechModel`: also a CTranslate2 Whisper directory or the
            short ids ``whisper-tiny.en`` / ``whisper-base``; 20 ms frames, only the window's own frames encoded).
        layer: hidden-state index (0 = transformer input, i = output of layer i, -1 = last), "weighted", or a list
            of indices concatenated into (B, N, len(layer) * D) (several layers from one pass).
        weighted_layers: layers of the weighted sum (None: all).
        lora_conf: LoRA adapters, e.g. {"r": 4, "alpha": 4, "dropout": 0.1} (None: no adapters);
            see :class:`espnet_brain.fmri.ssl_model.SSLSpeechModel`.
        freeze: freeze the pretrained weights (with LoRA, the adapters still train).
        freeze_feature_encoder: keep the convolutional feature encoder frozen even when ``freeze`` is False.
        normalize_waveform: z-score each window (None: the model directory's ``do_normalize``).
        local_files_only: never try the network when loading.
        window_s: window length in seconds, context included (4.0 in BrainWavLM).
        stride_s: spacing of the window ends in seconds (0.25).
        pool: "mean_stride" (mean of the frames of the last ``stride_s``: the windows' spans tile the audio, and the
            model's per-TR mean then averages every frame of each TR) or "last" (the feature of the last frame,
            BrainWavLM's reading, which sees 20 ms of every ``stride_s``).
        window_batch_size: windows per forward pass of the speech model.
        sample_rate: Hz of the audio.
        pad_to_30s: Whisper only: encode each window padded with silence to 30 s, attending over all 1500 frames as
            Whisper does, instead of the window's own frames alone (see ``whisper_model.py``; 7.5x the frames of a
            4 s window).
    """

    @typechecked
    def __init__(
        self,
        model_name_or_path: str,
        layer: Union[int, str, Sequence[int]] = 9,
        weighted_layers: Optional[Sequence[int]] = None,
        lora_conf: Optional[Dict] = None,
        freeze: bool = True,
        freeze_feature_encoder: bool = True,
        normalize_waveform: Optional[bool] = None,
        local_files_only: bool = False,
        window_s: float = 4.0,
        stride_s: float = 0.25,
        pool: str = "mean_stride",
        window_batch_size: int = 32,
        sample_rate: int = 16000,
        pad_to_30s: bool = False,
    ):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"frontend_conf.pool: expected one of {POOLS}, got {pool!r}")
        self.ssl = build_speech_model(
            model_name_or_path,
            layer=layer,
            weighted_layers=weighted_layers,
            lora_conf=lora_conf,
            freeze=freeze,
            freeze_feature_encoder=freeze_feature_encoder,
            normalize_waveform=normalize_waveform,
            local_files_only=local_files_only,
            **({"pad_to_30s": True} if pad_to_30s else {}),
        )
        self.windows = WindowedFeatures(
            self.ssl,
            sample_rate=sample_rate,
            window_s=window_s,
            stride_s=stride_s,
            batch_size=window_batch_size,
            pool=pool,
        )
        self.window_s, self.stride_s, self.sample_rate = window_s, stride_s, sample_rate

    def output_size(self) -> int:
        return self.ssl.output_size()

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Features at every complete window of each chunk.

        Args:
            speech: (B, L) waveforms, right-padded.
            speech_lengths: (B,) valid samples.

        Returns:
            feats (B, N, D) (window ``i`` ends at ``window_s + i * stride_s``; padded windows are zeros) and
            feats_lengths (B,) windows per chunk.
        """
        if speech.dim() != 2:
            raise ValueError(f"speech: expected shape (B, L), got {tuple(speech.shape)}")
        window = int(round(self.window_s * self.sample_rate))
        short = [int(n) for n in speech_lengths if int(n) < window]
        if short:
            raise ValueError(f"speech: chunks of {short} samples are shorter than one window ({window} samples)")
        feats = []
        for wav, n in zip(speech, speech_lengths):
            f, _ = self.windows(wav[: int(n)], first_end_s=self.window_s)  # (N_b, D)
            feats.append(f)
        lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long, device=speech.device)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths  # (B, N, D)

    def reload_pretrained_parameters(self) -> None:
        """Restore the speech model's pretrained weights (after ESPnet's parameter initialisation)."""
        self.ssl.reload_pretrained_parameters()
