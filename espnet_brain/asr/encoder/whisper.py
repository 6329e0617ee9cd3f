"""The encoder of a pretrained Hugging Face Whisper model behind a brain frontend, as an ESPnet encoder.

Whisper's encoder reads 30 s of log-mel frames through a two-convolution stem (10 ms frames in, 20 ms out),
adds a table of 1500 sinusoidal positions and runs its pre-norm transformer layers and a final layer norm. Here
the stem is gone: a frontend such as the brain feature extractor
(:class:`espnet_brain.asr.frontend.brain_gru.BrainGRUFrontend`) gives the frames, projected to the model width
when they differ, and the positions are those of the first T rows of the table. Inputs need not be 30 s long:

* shorter ones (the usual case: a sentence is a few seconds) use the first T positions, with the padded frames
  of a batch masked in every layer (Whisper itself attends over its zero-padded 30 s; a brain decoder must give
  the same output for an utterance whatever the batch, so padding is masked here);
* longer ones (T > ``max_source_positions``) extend the table with Whisper's own sinusoid formula (checked to
  reproduce the stored table, so the extension continues it exactly), or, with ``long_inputs: interpolate``,
  resample the stored table to T rows.

This is the encoder that BrainWhisperer-style decoders put behind a neural front end; the character CTC head is
new (Whisper has no CTC head), so ``ctc_init`` does not apply.
"""

import logging
import math
from typing import Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from typeguard import typechecked

from espnet_brain.hf.loading import load_config, load_model
from espnet_brain.hf.lora import check_adapters_reached, inject_lora, load_base_weights, lora_state_dict, merge_lora

MODES = ("finetune", "scratch", "frozen", "adapter")
LONG_INPUTS = ("extend", "interpolate")


def whisper_sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's position table: (length, channels), sines of the first half of the channels, cosines of the other.

    The timescales are geometric from 1 to ``max_timescale`` over ``channels // 2`` steps (Whisper's formula,
    which Hugging Face also uses to initialise ``embed_positions``).
    """
    if channels % 2:
        raise ValueError(f"whisper positions: expected an even width, got {channels}")
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float64))
    scaled = torch.arange(length, dtype=torch.float64)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1).float()


class HFSeq2SeqSpeechEncoder(AbsEncoder):
    """Pretrained (or randomly initialised) Whisper encoder without its convolutional stem (YAML: ``hf_whisper``).

    (The class name avoids "Whisper": ESPnet's ASR model takes any encoder whose class name contains it for its
    own end-to-end Whisper encoder, which refuses a frontend.)

    Args:
        input_size: Feature size D_in of the frontend output (projected to ``d_model`` when different).
        model_name_or_path: Hub id (e.g. ``openai/whisper-base``) or local directory of a Whisper checkpoint
            (``WhisperForConditionalGeneration`` or ``WhisperModel``; only the encoder is kept), a CTranslate2
            (faster-whisper) Whisper directory, or the short id of an installed Whisper package
            (``whisper-tiny.en``, ``whisper-base``: offline, see :mod:`espnet_brain.hf.ctranslate2`).
        mode: ``"finetune"``, ``"scratch"`` (same config, Hugging Face's random initialisation), ``"frozen"``
            (weights fixed, eval mode; gradients still reach the frontend) or ``"adapter"`` (weights fixed, LoRA
            adapters trained: ``lora_conf``).
        lora_conf: LoRA adapters of ``mode: adapter``: ``r`` (8), ``alpha`` (16), ``dropout`` (0.1), ``targets``
            among q_proj, k_proj, v_proj, out_proj (the default) and fc1, fc2 (feed-forward), ``layers`` (None: all).
        num_layers: Keep only the first ``num_layers`` transformer layers (None: all); the final layer norm is
            kept (Whisper normalises after its last layer, whichever that is).
        dropout: Override of ``config.dropout`` (None: the checkpoint's).
        attention_dropout: Override of ``config.attention_dropout``.
        activation_dropout: Override of ``config.activation_dropout``.
        layerdrop: Probability of skipping a whole layer in training.
        long_inputs: Positions beyond ``max_source_positions`` (1500 frames, 30 s at Whisper's 20 ms): ``extend``
            the sinusoid table or ``interpolate`` the stored one.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        model_name_or_path: str = "openai/whisper-base",
        mode: str = "finetune",
        lora_conf: Optional[Dict] = None,
        num_layers: Optional[int] = None,
        dropout: Optional[float] = None,
        attention_dropout: Optional[float] = None,
        activation_dropout: Optional[float] = None,
        layerdrop: float = 0.0,
        long_inputs: str = "extend",
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"encoder_conf.mode: expected one of {MODES}, got {mode!r}")
        if lora_conf is not None and mode != "adapter":
            raise ValueError(f"encoder_conf.lora_conf is for mode: adapter (LoRA adapters), not mode: {mode}")
        if long_inputs not in LONG_INPUTS:
            raise ValueError(f"encoder_conf.long_inputs: expected one of {LONG_INPUTS}, got {long_inputs!r}")
        if input_size <= 0:
            raise ValueError(f"encoder input_size: expected a positive int, got {input_size}")
        what = "encoder_conf.model_name_or_path"
        config = load_config(model_name_or_path, what, model_types=("whisper",))
        for key, value in (
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
            ("activation_dropout", activation_dropout),
            ("encoder_layerdrop", layerdrop),
        ):
            if value is None:
                continue
            if not 0.0 <= value < 1.0:
                raise ValueError(f"encoder_conf.{key}: expected a probability in [0, 1), got {value}")
            setattr(config, key, value)
        if num_layers is not None and not 1 <= num_layers <= config.encoder_layers:
            raise ValueError(
                f"encoder_conf.num_layers: expected 1..{config.encoder_layers} (encoder layers of "
                f"{model_name_or_path!r}), got {num_layers}"
            )
        self.model_name_or_path, self.mode, self.hf_config = model_name_or_path, mode, config
        self.num_layers = num_layers or config.encoder_layers
        self.long_inputs = long_inputs
        self._input_size, self._hidden_size = input_size, config.d_model

        self.whisper = self._load_encoder(pretrained=mode != "scratch")
        self.input_proj: Optional[torch.nn.Linear] = (
            torch.nn.Linear(input_size, config.d_model) if input_size != config.d_model else None
        )
        self._scratch_state = (
            {k: v.detach().clone() for k, v in self.whisper.state_dict().items()} if mode == "scratch" else None
        )
        if mode == "frozen":
            self.whisper.requires_grad_(False)
            self.whisper.eval()
        self.lora_conf: Optional[Dict] = None
        if mode == "adapter":
            self.lora_conf = inject_lora(self.whisper, lora_conf or {})
            x = torch.zeros(1, 2, input_size)
            check_adapters_reached(self, lambda: self.forward(x, torch.tensor([2])))

    def _load_encoder(self, pretrained: bool) -> torch.nn.Module:
        model = load_model(
            self.model_name_or_path, "encoder_conf.model_name_or_path", config=self.hf_config, pretrained=pretrained
        )
        encoder = model.get_encoder() if hasattr(model, "get_encoder") else model.encoder
        # The convolutional stem reads mel frames: the frontend replaces it (unused parameters would also break
        # DDP). The positions are a fixed table, not trained.
        del encoder.conv1, encoder.conv2
        encoder.layers = encoder.layers[: self.num_layers]
        encoder.embed_positions.requires_grad_(False)
        return encoder

    def output_size(self) -> int:
        """Whisper's width ``d_model``."""
        return self._hidden_size

    def positions(self, n_frames: int) -> torch.Tensor:
        """The position rows of frames 0..n_frames-1: (T, d_model)."""
        table = self.whisper.embed_positions.weight
        if n_frames <= table.size(0):
            return table[:n_frames]
        if self.long_inputs == "interpolate":
            # (P, H) -> (1, H, P) -> (1, H, T): linear resampling of each channel over the frames
            grid = torch.nn.functional.interpolate(table.t()[None], size=n_frames, mode="linear", align_corners=True)
            return grid[0].t()
        formula = whisper_sinusoids(n_frames, table.size(1)).to(table.device, table.dtype)
        if not torch.allclose(formula[: table.size(0)], table, atol=1e-4):
            raise ValueError(
                f"HFSeq2SeqSpeechEncoder: {n_frames} frames exceed the {table.size(0)} positions of "
                f"{self.model_name_or_path!r}, whose table is not Whisper's sinusoids (so it cannot be extended); "
                "set encoder_conf.long_inputs: interpolate, or shorten the inputs"
            )
        return formula

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
            Tuple of hidden states (B, T, d_model) with padded frames set to 0, the lengths (B,) and None.
        """
        if xs_pad.dim() != 3 or xs_pad.size(-1) != self._input_size:
            raise ValueError(
                f"HFSeq2SeqSpeechEncoder: expected input (B, T, {self._input_size}), got {tuple(xs_pad.shape)}"
            )
        b, t, _ = xs_pad.shape
        valid = torch.arange(t, device=xs_pad.device)[None, :] < ilens.to(xs_pad.device)[:, None]  # (B, T)
        x = self.input_proj(xs_pad) if self.input_proj is not None else xs_pad
        enc = self.whisper
        x = x + self.positions(t).to(x.dtype)
        x = torch.nn.functional.dropout(x, p=enc.dropout, training=self.training)
        # additive key-padding mask (B, 1, T, T), read by both the eager and the SDPA attention of Whisper
        mask = torch.zeros(b, 1, t, t, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(~valid[:, None, None, :], torch.finfo(x.dtype).min)
        for layer in enc.layers:
            if self.training and enc.layerdrop > 0.0 and float(torch.rand([])) < enc.layerdrop:
                continue
            x = layer(x, mask)
        x = enc.layer_norm(x)
        return x.masked_fill(~valid[:, :, None], 0.0), ilens, None

    def train(self, mode: bool = True) -> "HFSeq2SeqSpeechEncoder":
        """Set training mode; a frozen encoder stays in eval mode."""
        super().train(mode)
        if self.mode == "frozen":
            self.whisper.eval()
        return self

    def transformer_parameters(self) -> Iterator[torch.nn.Parameter]:
        """Parameters of the (pre)trained encoder (a separate learning rate, a warm-up freeze)."""
        return self.whisper.parameters()

    def adapter_state_dict(self) -> Dict[str, torch.Tensor]:
        """The LoRA adapter weights alone (``mode: adapter``)."""
        return lora_state_dict(self.whisper)

    def merge_adapters(self) -> None:
        """Fold the LoRA updates into the weights and drop the adapters (same outputs, plain Whisper layers)."""
        merge_lora(self.whisper)
        self.lora_conf = None

    def reload_pretrained_parameters(self) -> None:
        """Restore the pretrained weights (HF's initial random ones in scratch mode) after ESPnet's
        ``initialize``, which re-initialises every parameter; adapters start again at zero."""
        if self._scratch_state is not None:
            self.whisper.load_state_dict(self._scratch_state)
            logging.info("HFSeq2SeqSpeechEncoder: restored the initial random (scratch) weights")
            return
        state = self._load_encoder(pretrained=True).state_dict()
        if self.lora_conf is not None:
            load_base_weights(self.whisper, state)
        else:
            self.whisper.load_state_dict(state)
        logging.info(f"HFSeq2SeqSpeechEncoder: reloaded pretrained encoder weights from {self.model_name_or_path}")
