"""Transformer of a pretrained Hugging Face speech SSL model (Wav2Vec2, WavLM, HuBERT) as an ESPnet encoder.

The convolutional feature extractor, the feature projection and SpecAugment masking of the HF model
are not part of this module: features come from an ESPnet frontend (the brain feature extractor
:class:`espnet_brain.asr.frontend.brain_gru.BrainGRUFrontend` or the audio CNN
:class:`espnet_brain.asr.frontend.hf_cnn.HFConvFrontend`). What is kept is the HF ``encoder``: the
positional convolution, its layer norm and the transformer layers.

Streaming (``chunk_size > 0``, ``causal_pos_conv``): frames are grouped into chunks of ``chunk_size`` and frame i
attends to frames j < (i // chunk_size + 1) * chunk_size + right_context only, and the positional convolution
reads no frame later than t (+ right context). The mask travels to every layer as a keyword argument through the
Hugging Face encoder's ``**kwargs`` and is put in place by a forward pre-hook on each attention module: the
additive/boolean 4-D mask replaces HF's padding mask (Wav2Vec2, HuBERT), or is added to WavLM's gated relative
position bias (WavLM's attention calls ``F.multi_head_attention_forward`` with that bias as its ``attn_mask``).
Without right context, :meth:`HFSSLEncoder.forward_chunk` encodes a stream incrementally with a key/value cache
(:mod:`espnet_brain.asr.encoder.stream_cache`).
"""

import functools
import logging
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from typeguard import typechecked

from espnet_brain.asr.encoder import stream_cache
from espnet_brain.asr.encoder.stream_cache import EncoderStreamCache
from espnet_brain.hf.layers import match_truncated_output
from espnet_brain.hf.loading import load_config, load_model
from espnet_brain.hf.lora import check_adapters_reached, inject_lora, load_base_weights, lora_state_dict, merge_lora

MODES = ("finetune", "scratch", "frozen", "adapter")
CHUNK_MASK_KWARG = "espnet_brain_chunk_mask"  # the keyword the chunk mask travels under through HF's **kwargs
MASKED_ATTENTION = ("eager", "sdpa")  # HF attention implementations that take an arbitrary (B, 1, T, T) mask


def chunk_attention_mask(
    n_frames: int, chunk_size: int, right_context: int = 0, device: Optional[torch.device] = None
) -> torch.Tensor:
    """Which frames each frame may attend to under chunked attention.

    Args:
        n_frames: Frames T.
        chunk_size: Frames per chunk (> 0); 1 with ``right_context = 0`` is causal attention.
        right_context: Frames of look-ahead beyond the end of a frame's chunk.
        device: Device of the mask.

    Returns:
        torch.Tensor: (T, T) bool, True where frame i may attend to frame j, i.e.
        j < (i // chunk_size + 1) * chunk_size + right_context.
    """
    i = torch.arange(n_frames, device=device)
    limit = (torch.div(i, chunk_size, rounding_mode="floor") + 1) * chunk_size + right_context
    return i[None, :] < limit[:, None]


def _use_chunk_mask(module: torch.nn.Module, args, kwargs):
    # Forward pre-hook of a Wav2Vec2/HuBERT attention: the chunk mask (padding included) replaces HF's padding mask.
    mask = kwargs.pop(CHUNK_MASK_KWARG, None)
    if mask is not None:
        kwargs["attention_mask"] = mask
    return args, kwargs


def _stash_chunk_bias(module: torch.nn.Module, args, kwargs):
    # Forward pre-hook of a WavLM attention: hold the additive chunk mask for _wavlm_attention_with_bias.
    module._espnet_brain_chunk_bias = kwargs.pop(CHUNK_MASK_KWARG, None)
    return args, kwargs


def _wavlm_attention_with_bias(
    module: torch.nn.Module, inner: Optional[Callable], hidden_states, attention_mask, gated_position_bias
):
    # WavLM's position bias is the attn_mask of F.multi_head_attention_forward: the chunk mask is added to it.
    # `inner`: the attention that was in place before (LoRA adapters' patched one), else the class's.
    bias = module.__dict__.pop("_espnet_brain_chunk_bias", None)
    if bias is not None:
        b, t = hidden_states.shape[:2]
        # (B, 1, T, T) -> (B * heads, T, T), batch-major like HF's gated bias
        bias = bias.to(gated_position_bias.dtype).expand(b, module.num_heads, t, t).reshape(-1, t, t)
        gated_position_bias = gated_position_bias + bias
    if inner is not None:
        return inner(hidden_states, attention_mask, gated_position_bias)
    return type(module).torch_multi_head_self_attention(module, hidden_states, attention_mask, gated_position_bias)


def _pad_time(module: torch.nn.Module, args, left: int, right: int):
    # Forward pre-hook of the positional convolution (B, H, T): the padding it used to do on both sides.
    return (torch.nn.functional.pad(args[0], (left, right)),) + tuple(args[1:])


class HFSSLEncoder(AbsEncoder):
    """Pretrained (or randomly initialised) HF speech SSL transformer without its CNN.

    Args:
        input_size: Feature size D_in of the frontend output.
        model_name_or_path: Hub id (e.g. ``facebook/wav2vec2-base-960h``) or local directory of a
            Wav2Vec2 / WavLM / HuBERT checkpoint (a ``*ForCTC`` checkpoint works; its head is ignored here,
            see :func:`espnet_brain.asr.ctc_init.init_ctc_from_hf`).
        mode: ``"finetune"`` (pretrained weights, trained), ``"scratch"`` (same config, HF's random
            initialisation, trained) or ``"frozen"`` (pretrained weights, ``requires_grad=False`` and always
            in eval mode, so no dropout; gradients still flow through it to the frontend) or ``"adapter"``
            (pretrained weights frozen, LoRA adapters in the transformer trained: ``lora_conf``).
        lora_conf: LoRA adapters of ``mode: adapter`` (peft), keys among ``r`` (8), ``alpha`` (16; the update
            is scaled by alpha / r), ``dropout`` (0.1), ``targets`` (["q_proj", "k_proj", "v_proj", "out_proj"];
            add "intermediate_dense", "output_dense" for the feed-forward blocks) and ``layers`` (None: all;
            0-based transformer layers). :meth:`merge_adapters` folds them into the weights for export.
        num_layers: Keep only the first ``num_layers`` transformer layers (None: all). The output is then the full
            model's ``hidden_states[num_layers]``: a stable-layer-norm model (e.g. wav2vec2-large-lv60) keeps its
            final layer norm only when no layer is dropped, since that norm belongs to the last layer's output.
        hidden_dropout: Override of ``config.hidden_dropout`` (None: the checkpoint's value).
        attention_dropout: Override of ``config.attention_dropout``.
        activation_dropout: Override of ``config.activation_dropout``.
        layerdrop: Probability of skipping a whole layer in training (HF ``config.layerdrop``).
        gradient_checkpointing: Recompute layer activations in the backward pass to save memory.
        chunk_size: Chunked attention for streaming: frames per chunk; frame i attends to frames
            j < (i // chunk_size + 1) * chunk_size + right_context (0: full attention, the default). Frames are the
            frontend's (e.g. 80 ms for the BFE at stride 4).
        right_context: Frames of look-ahead beyond a frame's chunk (``chunk_size = 1, right_context = 0``: causal).
            Through L layers the look-ahead compounds, see :meth:`lookahead_frames`.
        causal_pos_conv: Make the positional convolution read frames <= t (+ min(right_context, its half width))
            only, with the pretrained kernel: the convolution is shifted (all the zero padding moved to the left),
            not retrained.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        model_name_or_path: str = "facebook/wav2vec2-base-960h",
        mode: str = "finetune",
        lora_conf: Optional[Dict] = None,
        num_layers: Optional[int] = None,
        hidden_dropout: Optional[float] = None,
        attention_dropout: Optional[float] = None,
        activation_dropout: Optional[float] = None,
        layerdrop: float = 0.0,
        gradient_checkpointing: bool = False,
        chunk_size: int = 0,
        right_context: int = 0,
        causal_pos_conv: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"encoder_conf.mode: expected one of {MODES}, got {mode!r}")
        if lora_conf is not None and mode != "adapter":
            raise ValueError(f"encoder_conf.lora_conf is for mode: adapter (LoRA adapters), not mode: {mode}")
        for key, value in (("chunk_size", chunk_size), ("right_context", right_context)):
            if value < 0:
                raise ValueError(f"encoder_conf.{key}: expected an int >= 0 (frames), got {value}")
        if right_context > 0 and chunk_size == 0:
            raise ValueError(
                f"encoder_conf.right_context = {right_context} is only used with chunked attention (chunk_size > 0); "
                "chunk_size = 0 is full attention"
            )
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
        self.lora_conf: Optional[Dict] = None
        if mode == "adapter":
            self._add_adapters(lora_conf or {})

        self.chunk_size = chunk_size
        self.right_context = right_context
        self.causal_pos_conv = causal_pos_conv
        if chunk_size > 0:
            self._install_chunk_mask()
        conv = self.transformer.pos_conv_embed.conv
        half = (conv.kernel_size[0] - 1) // 2  # look-ahead of HF's "same" padding (one frame less for even kernels)
        self._pos_conv_lookahead = min(right_context, half) if causal_pos_conv else half
        if causal_pos_conv:
            self._make_pos_conv_causal()
        if self.lora_conf is not None:
            # every adapter must be on the forward path, chunk mask included (else it would silently not train)
            x = torch.zeros(1, 4, input_size)
            check_adapters_reached(self, lambda: self.forward(x, torch.tensor([4])))

    def _add_adapters(self, lora_conf: Dict) -> None:
        self.lora_conf = inject_lora(self.transformer, lora_conf)
        n = sum(v.numel() for v in self.adapter_state_dict().values())
        logging.info(f"HFSSLEncoder: LoRA adapters ({self.lora_conf}), {n} trainable parameters")

    def adapter_state_dict(self) -> Dict[str, torch.Tensor]:
        """The LoRA adapter weights alone (what ``mode: adapter`` trained in the transformer; a few % of it)."""
        return lora_state_dict(self.transformer)

    def merge_adapters(self) -> None:
        """Fold the LoRA updates into the pretrained weights and drop the adapters: the plain HF transformer
        computes what the adapted one did (for export with :mod:`espnet_brain.bin.export_hf`, or faster
        inference). The encoder is then an ordinary fine-tuned transformer."""
        merge_lora(self.transformer)
        self.lora_conf = None

    def _install_chunk_mask(self) -> None:
        from transformers.models.wavlm.modeling_wavlm import WavLMAttention

        for layer in self.transformer.layers:
            attention = layer.attention
            if isinstance(attention, WavLMAttention):
                attention.register_forward_pre_hook(_stash_chunk_bias, with_kwargs=True)
                # an instance attribute (a partial of a module-level function: deep copies stay bound to the copy),
                # wrapping the adapters' attention when they replaced the class's
                inner = attention.__dict__.get("torch_multi_head_self_attention")
                attention.torch_multi_head_self_attention = functools.partial(
                    _wavlm_attention_with_bias, attention, inner
                )
            else:
                if self.attention_implementation not in MASKED_ATTENTION:
                    raise ValueError(
                        f"encoder_conf.chunk_size needs one of the attention implementations {MASKED_ATTENTION} (they "
                        f"take a mask per frame pair), {self.model_name_or_path!r} uses "
                        f"{self.attention_implementation!r}"
                    )
                attention.register_forward_pre_hook(_use_chunk_mask, with_kwargs=True)

    def _make_pos_conv_causal(self) -> None:
        pos_conv = self.transformer.pos_conv_embed
        k = pos_conv.conv.kernel_size[0]
        # HF's SamePad layer drops the last output of an even kernel; one more frame on the right feeds it
        dropped = getattr(getattr(pos_conv, "padding", None), "num_pad_remove", 0)
        pos_conv.conv.padding = (0,)
        left, right = k - 1 - self._pos_conv_lookahead, self._pos_conv_lookahead + dropped
        pos_conv.conv.register_forward_pre_hook(functools.partial(_pad_time, left=left, right=right))

    @property
    def attention_implementation(self) -> str:
        """The HF attention implementation (``sdpa``, ``eager``, ...) of the transformer."""
        return getattr(self.transformer, "config", self.hf_config)._attn_implementation

    def lookahead_frames(self) -> Optional[int]:
        """Most input frames after frame i that output frame i depends on (None: the whole utterance).

        With chunked attention, output frame i of L layers depends on input frames up to f^L(i) + c, where
        f(i) = (i // chunk_size + 1) * chunk_size + right_context - 1 and c is the positional convolution's look-ahead;
        the right context thus compounds through the layers, the chunk does not.
        """
        if self.chunk_size == 0:
            return None
        frames = torch.arange(self.chunk_size)  # the dependency pattern repeats from chunk to chunk
        return int((self._last_input_frame(frames) - frames).max())

    def num_final_frames(self, n_frames: int) -> int:
        """Leading output frames of an ``n_frames``-frame input that later input frames can no longer change.

        A streaming decoder that re-encodes the frames seen so far may emit these as final.
        """
        if self.chunk_size == 0 or n_frames <= 0:
            return 0
        return int((self._last_input_frame(torch.arange(n_frames)) <= n_frames - 1).sum())

    def _last_input_frame(self, frames: torch.Tensor) -> torch.Tensor:
        last = frames
        for _ in range(len(self.transformer.layers)):
            last = (torch.div(last, self.chunk_size, rounding_mode="floor") + 1) * self.chunk_size
            last = last + self.right_context - 1
        return last + self._pos_conv_lookahead

    def stream_cache_unsupported(self) -> Optional[str]:
        """Why :meth:`forward_chunk` cannot encode this model incrementally; None when it can.

        The key/value cache needs outputs that no later frame changes once their chunk is complete: chunked
        attention without right context and a causal positional convolution.
        """
        if self.chunk_size == 0:
            return "full attention (encoder_conf.chunk_size = 0): every frame attends to every later frame"
        if self.right_context > 0:
            return (
                f"encoder_conf.right_context = {self.right_context}: a frame's keys and values change with the "
                "next chunk's frames"
            )
        if not self.causal_pos_conv:
            return "encoder_conf.causal_pos_conv = false: the positional convolution reads later frames"
        return None

    def init_stream_cache(self, batch_size: int = 1) -> EncoderStreamCache:
        """The key/value cache of ``batch_size`` streams that have no frame yet (see :meth:`forward_chunk`)."""
        reason = self.stream_cache_unsupported()
        if reason is not None:
            raise ValueError(f"HFSSLEncoder: no incremental encoding with a key/value cache: {reason}")
        bias = self.transformer.pos_conv_embed.conv.bias  # a plain parameter (projections may be quantized modules)
        return stream_cache.init_cache(self.transformer, batch_size, bias.device, bias.dtype)

    def forward_chunk(
        self, xs: torch.Tensor, cache: Optional[EncoderStreamCache] = None
    ) -> Tuple[torch.Tensor, EncoderStreamCache]:
        """Encode the next frames of live streams, reusing the keys and values of the frames before.

        Feeding an utterance frame chunk by frame chunk, of any sizes, gives the outputs :meth:`forward` gives for
        the whole utterance (up to rounding); each call costs the new frames' projections and feed-forward blocks
        and their attention over the cached frames, whatever the stream's length. Needs chunked attention without
        right context and a causal positional convolution (:meth:`stream_cache_unsupported`), and eval mode.
        Wav2Vec2, HuBERT and WavLM (its gated relative position bias included), post-norm and stable-layer-norm.

        Args:
            xs: Features (B, t, D_in) of the next t frames of B streams (t >= 1).
            cache: What the previous call returned; None at the start of the streams.

        Returns:
            Tuple of hidden states (B, t_p + t, H) and the cache (updated in place). They are the outputs of the
            frames from ``cache.n_frames`` (its value before the call) on: the t_p frames of the chunk that was
            incomplete, encoded again with the new frames, then the t new ones. Frames before ``cache.n_frames``
            (after the call) are final: their chunks are complete; the others may change with the next frames.
        """
        if self.training:
            raise ValueError("HFSSLEncoder.forward_chunk runs in eval mode (no dropout); call .eval() first")
        if xs.dim() != 3 or xs.size(-1) != self._input_size or xs.size(1) == 0:
            raise ValueError(
                f"HFSSLEncoder.forward_chunk: expected input (B, t >= 1, {self._input_size}), got {tuple(xs.shape)}"
            )
        if cache is None:
            cache = self.init_stream_cache(xs.size(0))
        elif cache.pending.size(0) != xs.size(0):
            raise ValueError(
                f"HFSSLEncoder.forward_chunk: the cache holds {cache.pending.size(0)} streams, the input "
                f"{xs.size(0)}"
            )
        if self.input_proj is not None:
            xs = self.input_proj(xs)  # (B, t, D_in) -> (B, t, H)
        return stream_cache.forward_chunk(self.transformer, self.hf_config, self.chunk_size, xs, cache)

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
        if self.lora_conf is not None:
            load_base_weights(self.transformer, backbone.encoder.state_dict())  # the adapters start again
        else:
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
        extra = {}
        if self.chunk_size > 0:
            extra[CHUNK_MASK_KWARG] = self._chunk_mask(mask, xs_pad.dtype)
        hidden = self.transformer(xs_pad, attention_mask=mask, **extra).last_hidden_state  # (B, T, H)
        hidden = hidden.masked_fill(~mask[:, :, None], 0.0)
        return hidden, ilens, None

    def _chunk_mask(self, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(B, T) valid frames -> (B, 1, T, T) attention mask: chunks and key padding; boolean (True: attend) for
        SDPA, additive (0 or the dtype's minimum) for eager attention and WavLM."""
        allowed = chunk_attention_mask(mask.size(1), self.chunk_size, self.right_context, mask.device)
        allowed = (allowed[None, :, :] & mask[:, None, :])[:, None]  # (B, 1, T, T)
        if self.attention_implementation == "sdpa" and self.hf_config.model_type != "wavlm":
            return allowed
        return torch.zeros(allowed.shape, dtype=dtype, device=mask.device).masked_fill(~allowed, torch.finfo(dtype).min)
