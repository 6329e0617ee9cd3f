"""Transformer of a pretrained Hugging Face speech SSL model (Wav2Vec2, WavLM, HuBERT) as an ESPnet encoder.

The convolutional feature extractor, the feature projection and SpecAugment masking of the HF model
are not part of this module: features come from an ESPnet frontend (the brain feature extractor
:class:`espnet_brain.asr.frontend.brain_gru.BrainGRUFrontend` or the audio CNN
:class:`espnet_brain.asr.frontend.hf_cnn.HFConvFrontend`). What is kept is the HF ``encoder``: the
positional convolution, its layer norm and the transformer layers.
"""

import logging
from typing import Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from typeguard import typechecked

from espnet_brain.hf.layers import match_truncated_output
from espnet_brain.hf.loading import load_config, load_model

MODES = ("finetune", "scratch", "frozen")


class HFSSLEncoder(AbsEncoder):
    """Pretrained (or randomly initialised) HF speech SSL transformer without its CNN.

    Args:
        input_size: Feature size D_in of the frontend output.
        model_name_or_path: Hub id (e.g. ``facebook/wav2vec2-base-960h``) or local directory of a
            Wav2Vec2 / WavLM / HuBERT checkpoint (a ``*ForCTC`` checkpoint works; its head is ignored here,
            see :func:`espnet_brain.asr.ctc_init.init_ctc_from_hf`).
        mode: ``"finetune"`` (pretrained weights, trained), ``"scratch"`` (same config, HF's random
            initialisation, trained) or ``"frozen"`` (pretrained weights, ``requires_grad=False`` and always
            in eval mode, so no dropout; gradients still flow through it to the frontend).
        num_layers: Keep only the first ``num_layers`` transformer layers (None: all). The output is then the full
            model's ``hidden_states[num_layers]``: a stable-layer-norm model (e.g. wav2vec2-large-lv60) keeps its
            final layer norm only when no layer is dropped, since that norm belongs to the last layer's output.
        hidden_dropout: Override of ``config.hidden_dropout`` (None: the checkpoint's value).
        attention_dropout: Override of ``config.attention_dropout``.
        activation_dropout: Override of ``config.activation_dropout``.
        layerdrop: Probability of skipping a whole layer in training (HF ``config.layerdrop``).
        gradient_checkpointing: Recompute layer activations in the backward pass to save memory.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        model_name_or_path: str = "facebook/wav2vec2-base-960h",
        mode: str = "finetune",
        num_layers: Optional[int] = None,
        hidden_dropout: Optional[float] = None,
        attention_dropout: Optional[float] = None,
        activation_dropout: Optional[float] = None,
        layerdrop: float = 0.0,
        gradient_checkpointing: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"encoder_conf.mode: expected one of {MODES}, got {mode!r}")
        if input_size <= 0:
            raise ValueError(f"encoder input_size: expected a positive int, got {input_size}")
        for key, value in (
            ("hidden_dropout", hidden_dropout),
            ("attention_dropout", attention_dropout),
            ("activation_dropout", activation_dropout),
            ("layerdrop", layerdrop),
        ):
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"encoder_conf.{key}: expected a probability in [0, 1), got {value}")

        overrides: Dict[str, object] = {
            "layerdrop": layerdrop,
            # SpecAugment masking belongs to the bypassed feature path (its masked_spec_embed is not kept either).
            "apply_spec_augment": False,
        }
        for key, value in (
            ("hidden_dropout", hidden_dropout),
            ("attention_dropout", attention_dropout),
            ("activation_dropout", activation_dropout),
        ):
            if value is not None:
                overrides[key] = value
        config = load_config(model_name_or_path, "encoder_conf.model_name_or_path")
        self._full_num_layers = config.num_hidden_layers
        if num_layers is not None:
            if not 1 <= num_layers <= config.num_hidden_layers:
                raise ValueError(
                    f"encoder_conf.num_layers: expected 1..{config.num_hidden_layers} "
                    f"(layers of {model_name_or_path!r}), got {num_layers}"
                )
            overrides["num_hidden_layers"] = num_layers
        if getattr(config, "add_adapter", False):
            raise ValueError(
                f"encoder_conf.model_name_or_path: {model_name_or_path!r} has add_adapter=True "
                "(a downsampling adapter after the transformer), which this encoder does not support"
            )
        for key, value in overrides.items():
            setattr(config, key, value)

        self.model_name_or_path = model_name_or_path
        self.mode = mode
        self.hf_config = config
        self._input_size = input_size
        self._hidden_size = config.hidden_size

        backbone = load_model(
            model_name_or_path, "encoder_conf.model_name_or_path", config=config, pretrained=mode != "scratch"
        )
        if gradient_checkpointing:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        # Only the transformer stack is kept; the CNN and projection would be unused parameters (DDP error).
        self.transformer = backbone.encoder
        del backbone
        match_truncated_output(self.transformer, config, config.num_hidden_layers, self._full_num_layers)

        if input_size != config.hidden_size:
            self.input_proj: Optional[torch.nn.Linear] = torch.nn.Linear(input_size, config.hidden_size)
        else:
            self.input_proj = None

        # A scratch model has no checkpoint to reload from: keep its HF initialisation, which is what
        # "same architecture, random init" means (ESPnet's generic init is not suited to weight-normed convs).
        self._scratch_state = (
            {k: v.detach().clone() for k, v in self.transformer.state_dict().items()} if mode == "scratch" else None
        )

        if mode == "frozen":
            self.transformer.requires_grad_(False)
            self.transformer.eval()

    def output_size(self) -> int:
        """Transformer width H."""
        return self._hidden_size

    def train(self, mode: bool = True) -> "HFSSLEncoder":
        """Set training mode; a frozen transformer stays in eval mode (no dropout, no layerdrop)."""
        super().train(mode)
        if self.mode == "frozen":
            self.transformer.eval()
        return self

    def transformer_parameters(self) -> Iterator[torch.nn.Parameter]:
        """Parameters of the (pre)trained transformer, e.g. for a separate learning rate or a warm-up freeze."""
        return self.transformer.parameters()

    def reload_pretrained_parameters(self):
        """Restore the pretrained transformer weights (HF's initial random weights in scratch mode).

        ESPnet's ``initialize`` re-initialises every parameter after ``build_model`` and then calls this.
        The optional input projection keeps ESPnet's initialisation.
        """
        if self._scratch_state is not None:
            self.transformer.load_state_dict(self._scratch_state)
            logging.info("HFSSLEncoder: restored the initial random (scratch) transformer weights")
            return
        backbone = load_model(self.model_name_or_path, "encoder_conf.model_name_or_path", config=self.hf_config)
        match_truncated_output(
            backbone.encoder, self.hf_config, self.hf_config.num_hidden_layers, self._full_num_layers
        )
        self.transformer.load_state_dict(backbone.encoder.state_dict())
        logging.info(f"HFSSLEncoder: reloaded pretrained transformer weights from {self.model_name_or_path}")

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Encode a padded batch of frontend features.

        Args:
            xs_pad: Features (B, T, D_in).
            ilens: Valid frames per utterance (B,).
            prev_states: Unused (ESPnet encoder interface).

        Returns:
            Tuple of hidden states (B, T, H) with padded frames set to 0, the lengths (B,) and None.
        """
        if xs_pad.dim() != 3 or xs_pad.size(-1) != self._input_size:
            raise ValueError(f"HFSSLEncoder: expected input (B, T, {self._input_size}), got {tuple(xs_pad.shape)}")
        # (B, T) True on valid frames
        mask = torch.arange(xs_pad.size(1), device=xs_pad.device)[None, :] < ilens.to(xs_pad.device)[:, None]
        if self.input_proj is not None:
            xs_pad = self.input_proj(xs_pad)  # (B, T, D_in) -> (B, T, H)
        # Zero padded frames here (a new tensor; HF would do it in place on the caller's tensor): the positional
        # convolution then sees the same zeros beyond an utterance's end as it would for the utterance alone.
        xs_pad = xs_pad.masked_fill(~mask[:, :, None], 0.0)
        hidden = self.transformer(xs_pad, attention_mask=mask).last_hidden_state  # (B, T, H)
        hidden = hidden.masked_fill(~mask[:, :, None], 0.0)
        return hidden, ilens, None
