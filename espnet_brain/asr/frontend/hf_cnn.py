"""Convolutional feature extractor + feature projection of a pretrained HF speech SSL model, as an ESPnet frontend.

The audio ASR baseline pairs this frontend with :class:`espnet_brain.asr.encoder.hf_ssl.HFSSLEncoder`, so
that a brain decoder and an audio decoder share the same transformer and differ only in the frontend.
Unlike ESPnet's ``HuggingFaceFrontend``, the returned lengths are in frames, not samples.
"""

import logging
from typing import Optional, Tuple, Union

import humanfriendly
import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from typeguard import typechecked

from espnet_brain.hf.loading import load_config, load_model, read_do_normalize
from espnet_brain.hf.waveform import masked_standardize, normalize_waveforms

SAMPLE_RATE = 16000


class HFConvFrontend(AbsFrontend):
    """Raw 16 kHz waveform (B, L) -> frames (B, T', D) from the CNN + projection of a Wav2Vec2/WavLM/HuBERT.

    Padding never reaches valid frames: the per-utterance GroupNorm of ``feat_extract_norm="group"`` models
    (e.g. wav2vec2-base) is computed over each utterance's own samples, and the unpadded convolutions only
    read valid samples for the frames they return.

    Args:
        model_name_or_path: Hub id or local directory of the checkpoint.
        freeze_cnn: Keep the convolutional feature extractor fixed (``requires_grad=False``); the projection trains.
        normalize_waveform: Zero-mean, unit-variance waveform per utterance before the CNN, as the checkpoint's
            processor does; None reads ``do_normalize`` from the checkpoint's ``preprocessor_config.json``.
        fs: Sampling rate of the input; must be 16 kHz (ESPnet passes ``fs`` to frontends, e.g. ``16k``).
    """

    @typechecked
    def __init__(
        self,
        model_name_or_path: str = "facebook/wav2vec2-base-960h",
        freeze_cnn: bool = False,
        normalize_waveform: Optional[bool] = None,
        fs: Union[int, str] = SAMPLE_RATE,
    ):
        super().__init__()
        if isinstance(fs, str):
            fs = humanfriendly.parse_size(fs)
        if fs != SAMPLE_RATE:
            raise ValueError(f"frontend_conf.fs: the pretrained CNN expects {SAMPLE_RATE} Hz audio, got {fs}")
        what = "frontend_conf.model_name_or_path"
        config = load_config(model_name_or_path, what, {"apply_spec_augment": False})
        backbone = load_model(model_name_or_path, what, config=config)
        self.model_name_or_path = model_name_or_path
        self.hf_config = config
        self.freeze_cnn = freeze_cnn
        # Only the CNN and projection are kept; the transformer would be an unused parameter set (DDP error).
        self.feature_extractor = backbone.feature_extractor
        self.feature_projection = backbone.feature_projection
        del backbone
        if normalize_waveform is None:
            normalize_waveform = read_do_normalize(model_name_or_path, what)
        self.normalize_waveform = normalize_waveform
        self.conv_kernel = list(config.conv_kernel)
        self.conv_stride = list(config.conv_stride)
        self._apply_freeze()

    def _apply_freeze(self):
        if self.freeze_cnn:
            self.feature_extractor.requires_grad_(False)

    def output_size(self) -> int:
        """Frame size D (the transformer width of the checkpoint)."""
        return self.hf_config.hidden_size

    def receptive_field(self) -> int:
        """Samples needed for one output frame (400 for wav2vec2-base)."""
        field = 1
        for kernel, stride in reversed(list(zip(self.conv_kernel, self.conv_stride))):
            field = (field - 1) * stride + kernel
        return field

    def output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Frames per utterance for (B,) sample counts."""
        lengths = input_lengths
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
        return lengths

    def reload_pretrained_parameters(self):
        """Restore the pretrained CNN and projection (ESPnet calls this after re-initialising all parameters)."""
        backbone = load_model(self.model_name_or_path, "frontend_conf.model_name_or_path", config=self.hf_config)
        self.feature_extractor.load_state_dict(backbone.feature_extractor.state_dict())
        self.feature_projection.load_state_dict(backbone.feature_projection.state_dict())
        logging.info(f"HFConvFrontend: reloaded pretrained CNN and projection from {self.model_name_or_path}")

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Extract frames.

        Args:
            input: Waveforms (B, L) at 16 kHz.
            input_lengths: Valid samples per utterance (B,).

        Returns:
            Tuple of frames (B, T', D), 0 on padded frames, and their lengths in frames (B,).
        """
        if input.dim() != 2:
            raise ValueError(f"HFConvFrontend: expected waveforms (B, L), got shape {tuple(input.shape)}")
        lengths = input_lengths.to(device=input.device, dtype=torch.long)
        field = self.receptive_field()
        if bool((lengths < field).any()):
            shortest = int(lengths.min())
            raise TooShortUttError(
                f"HFConvFrontend: an utterance has {shortest} samples, fewer than one frame needs ({field})",
                shortest,
                field,
            )
        x = input.float()
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]  # (B, L)
        x = x * mask
        if self.normalize_waveform:
            x = normalize_waveforms(x, lengths)

        h = x[:, None, :]  # (B, L) -> (B, 1, L)
        cur = lengths
        for layer in self.feature_extractor.conv_layers:
            cur = torch.div(cur - layer.conv.kernel_size[0], layer.conv.stride[0], rounding_mode="floor") + 1
            norm = getattr(layer, "layer_norm", None)
            if isinstance(norm, torch.nn.GroupNorm):
                # GroupNorm normalises over time: compute its statistics on each utterance's valid frames only.
                h = layer.conv(h)
                frame_mask = torch.arange(h.size(2), device=h.device)[None, :] < cur[:, None]  # (B, T)
                h = _masked_group_norm(h, frame_mask, norm)
                h = layer.activation(h)
            else:
                h = layer(h)
        h = h.transpose(1, 2)  # (B, D_cnn, T') -> (B, T', D_cnn)
        feats = self.feature_projection(h)
        if isinstance(feats, tuple):  # Wav2Vec2/WavLM also return the normalised CNN features
            feats = feats[0]
        frame_mask = torch.arange(feats.size(1), device=feats.device)[None, :] < cur[:, None]
        feats = feats * frame_mask[:, :, None]  # (B, T', D)
        return feats, cur


def _masked_group_norm(h: torch.Tensor, frame_mask: torch.Tensor, norm: torch.nn.GroupNorm) -> torch.Tensor:
    """GroupNorm of (B, C, T) with statistics over valid frames only.

    Args:
        h: Activations (B, C, T).
        frame_mask: (B, T) True on valid frames.
        norm: The pretrained GroupNorm (groups, eps and affine parameters are taken from it).

    Returns:
        torch.Tensor: Normalised activations (B, C, T), 0 on padded frames before the affine shift.
    """
    b, c, t = h.shape
    g = norm.num_groups
    # (B, C, T) -> (B, G, C/G * T) with the mask repeated over the channels of a group
    hg = h.reshape(b, g, (c // g) * t)
    mg = frame_mask[:, None, None, :].expand(b, g, c // g, t).reshape(b, g, (c // g) * t)
    hg = masked_standardize(hg, mg, dim=2, eps=norm.eps)
    out = hg.reshape(b, c, t)
    if norm.affine:
        out = out * norm.weight[None, :, None] + norm.bias[None, :, None]
    return out
