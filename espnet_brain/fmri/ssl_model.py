"""A Hugging Face speech SSL model (WavLM, Wav2Vec2, HuBERT, ...) as a feature extractor for encoding models.

Exposes one hidden layer (``layer=9`` as BrainWavLM) or a learned softmax-weighted sum of layers, optionally
with LoRA adapters that really train (see ``lora.py``). Layer indices follow Hugging Face's ``hidden_states``:
0 is the input of the first transformer layer, ``i`` the output of layer ``i``.
"""

import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from typeguard import typechecked

from espnet_brain.hf.layers import match_truncated_output
from espnet_brain.hf.loading import load_model, read_do_normalize
from espnet_brain.hf.lora import ATTENTION_TARGETS, add_lora, check_adapters_reached, reset_lora
from espnet_brain.hf.waveform import normalize_waveforms

LORA_KEYS = ("r", "alpha", "dropout", "targets", "layers")
WHAT = "frontend_conf.model_name_or_path"


class SSLSpeechModel(nn.Module):
    """Hugging Face speech SSL model exposing a hidden layer or a learned weighted sum of layers.

    Args:
        model_name_or_path: local directory (``save_pretrained``) or Hub id.
        layer: hidden-state index (0 = transformer input, i = output of layer i, -1 = last), "weighted" for a
            learned softmax-weighted sum of ``weighted_layers``, or a list of indices whose hidden states are
            concatenated, (B, T, len(layer) * D) in the list's order: several layers from one forward pass (feature
            extraction for a ridge per layer).
        weighted_layers: layers of the weighted sum (None: all, 0..num_layers).
        lora_conf: None for no adapters, else a dict with keys among ``r`` (4), ``alpha`` (4), ``dropout``
            (0.1), ``targets`` (["q_proj", "k_proj", "v_proj"]; add "out_proj", "intermediate_dense",
            "output_dense"), ``layers`` (None: all).
        freeze: freeze the pretrained weights (with LoRA, only the adapters and the layer weights train).
        freeze_feature_encoder: keep the convolutional feature encoder frozen even when ``freeze`` is False.
        drop_upper_layers: delete the transformer layers above ``layer`` (they cannot affect it; saves time). The
            features stay those of the full model (a stable-layer-norm model's final norm is dropped with them).
        normalize_waveform: z-score each waveform over its valid samples; None reads ``do_normalize`` from the
            model directory's preprocessor_config.json (False if absent).
        use_attention_mask: pass an attention mask for padded batches; None follows the model's convention (only
            models with ``feat_extract_norm == "layer"`` were trained with one; others expect zero padding).
        local_files_only: never try the network when loading.
        check_adapters: run one tiny forward at construction to prove every LoRA adapter is called.
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
        drop_upper_layers: bool = True,
        normalize_waveform: Optional[bool] = None,
        use_attention_mask: Optional[bool] = None,
        local_files_only: bool = False,
        check_adapters: bool = True,
    ):
        super().__init__()
        self.model_name_or_path = model_name_or_path
        hf = load_model(model_name_or_path, WHAT, local_files_only=local_files_only)
        n_layers = hf.config.num_hidden_layers
        self.layer_ids = self._resolve_layers(layer, weighted_layers, n_layers)
        self.weighted = layer == "weighted"
        # at least one layer stays: hidden_states (input of layer 0 included) are recorded by hooks on the layers
        self.keep_layers = max(1, max(self.layer_ids)) if drop_upper_layers else n_layers
        self._configure(hf, self.keep_layers)
        self.normalize_waveform = (
            read_do_normalize(model_name_or_path, WHAT, local_files_only)
            if normalize_waveform is None
            else normalize_waveform
        )
        self.use_attention_mask = (
            hf.config.feat_extract_norm == "layer" if use_attention_mask is None else use_attention_mask
        )
        self.hidden_size = hf.config.hidden_size
        self.concat = isinstance(layer, (list, tuple))
        self.frozen = freeze
        self.freeze_feature_encoder = freeze_feature_encoder

        for p in hf.parameters():
            p.requires_grad = not freeze
        self.lora_conf = None
        if lora_conf is not None:
            unknown = sorted(set(lora_conf) - set(LORA_KEYS))
            if unknown:
                raise ValueError(f"lora_conf: unknown keys {unknown}; expected among {LORA_KEYS}")
            self.lora_conf = dict(r=4, alpha=4.0, dropout=0.1, targets=list(ATTENTION_TARGETS[:3]), layers=None)
            self.lora_conf.update(lora_conf)
            hf = add_lora(hf, **self.lora_conf)
        if freeze_feature_encoder:
            for p in self._base(hf).feature_extractor.parameters():
                p.requires_grad = False
        self.model = hf
        self.layer_weights = nn.Parameter(torch.zeros(len(self.layer_ids))) if self.weighted else None
        if self.lora_conf is not None and check_adapters:
            wav = torch.zeros(1, 1600)  # 0.1 s at 16 kHz: enough frames for every conv configuration in use
            check_adapters_reached(self.model, lambda: self.forward(wav, torch.tensor([1600])))

    @staticmethod
    def _resolve_layers(layer, weighted_layers, n_layers: int) -> List[int]:
        if layer == "weighted":
            ids = list(range(n_layers + 1)) if weighted_layers is None else sorted(set(weighted_layers))
        elif isinstance(layer, int):
            ids = [layer + n_layers + 1 if layer < 0 else layer]
        elif isinstance(layer, (list, tuple)) and layer and all(isinstance(i, int) for i in layer):
            ids = [i + n_layers + 1 if i < 0 else i for i in layer]
            if len(set(ids)) != len(ids):
                raise ValueError(f"layer: the list {list(layer)} names a layer twice")
        else:
            raise ValueError(f"layer: expected an int, 'weighted' or a non-empty list of ints, got {layer!r}")
        bad = [i for i in ids if not 0 <= i <= n_layers]
        if bad or not ids:
            raise ValueError(f"layer / weighted_layers: expected indices in [0, {n_layers}], got {layer!r}, {ids}")
        return ids

    @staticmethod
    def _configure(hf: nn.Module, keep_layers: int) -> None:
        # LayerDrop would skip layers and shift the hidden_states indices; SpecAugment is not wanted here.
        hf.config.layerdrop = 0.0
        hf.config.apply_spec_augment = False
        full_layers = hf.config.num_hidden_layers
        if keep_layers < full_layers:
            hf.encoder.layers = hf.encoder.layers[:keep_layers]
            hf.config.num_hidden_layers = keep_layers
            # stable-layer-norm models: the final norm belongs to the last layer, not to layer keep_layers
            match_truncated_output(hf.encoder, hf.config, keep_layers, full_layers)

    @staticmethod
    def _base(model: nn.Module) -> nn.Module:
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    @property
    def hf_model(self) -> nn.Module:
        """The underlying transformers model (inside the PEFT wrapper when adapters are used)."""
        return self._base(self.model)

    def read_layers(self, layers: Sequence[int]) -> None:
        """Expose the concatenation of other hidden layers from now on (features of a trained model per layer).

        A trained encoding model was built around one layer: its readout expects that layer's width, and the layers
        above it were dropped (``drop_upper_layers``). This switches the output to ``layers`` (each at most the highest
        layer kept) for feature extraction only; the readout no longer fits the features afterwards.

        Raises:
            ValueError: a layer above those kept, or a learned weighted sum (its weights are part of the model).
        """
        if self.weighted:
            raise ValueError("read_layers: the model reads a learned weighted sum of layers; its layers cannot change")
        kept = self.hf_model.config.num_hidden_layers
        ids = self._resolve_layers(list(layers), None, kept)
        self.layer_ids, self.concat = ids, True

    def output_size(self) -> int:
        """Feature dimension: D, or len(layer) * D for a list of layers."""
        return self.hidden_size * (len(self.layer_ids) if self.concat else 1)

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frames produced for waveforms of ``num_samples`` samples: (B,) -> (B,)."""
        return self.hf_model._get_feat_extract_output_lengths(num_samples).to(torch.long)

    def forward(
        self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Hidden features of a batch of waveforms.

        Args:
            speech: (B, L) 16 kHz waveforms, right-padded with zeros.
            speech_lengths: (B,) valid samples (None: all L).

        Returns:
            feats (B, T, D) (B, T, len(layer) * D for a list of layers) and feats_lengths (B,) in frames (20 ms
            for the usual models).
        """
        if speech.dim() != 2:
            raise ValueError(f"speech: expected shape (B, L), got {tuple(speech.shape)}")
        n_batch, n_samples = speech.shape
        if speech_lengths is None:
            speech_lengths = torch.full((n_batch,), n_samples, dtype=torch.long, device=speech.device)
        valid = torch.arange(n_samples, device=speech.device)[None, :] < speech_lengths[:, None]  # (B, L)
        if self.normalize_waveform:
            speech = normalize_waveforms(speech, speech_lengths)
        out = self.model(
            input_values=speech,
            attention_mask=valid.long() if self.use_attention_mask else None,
            output_hidden_states=True,
            return_dict=True,
        )
        feats = self.read_hidden(out.hidden_states)  # num_layers + 1 tensors of (B, T, D) -> (B, T, D')
        feats_lengths = self.num_frames(speech_lengths).clamp(max=feats.shape[1])
        return feats, feats_lengths

    def read_hidden(self, hidden: Sequence[torch.Tensor]) -> torch.Tensor:
        """The configured reading of the hidden states: one layer, the concatenation of a list, or the weighted sum.

        Args:
            hidden: num_layers + 1 tensors of (B, T, D) (Hugging Face's ``hidden_states``).

        Returns:
            (B, T, D), or (B, T, len(layer_ids) * D) for a list of layers.
        """
        if self.weighted:
            weights = torch.softmax(self.layer_weights, dim=0)
            return sum(w * hidden[i] for w, i in zip(weights, self.layer_ids))
        if self.concat:
            return torch.cat([hidden[i] for i in self.layer_ids], dim=-1)
        return hidden[self.layer_ids[0]]

    def train(self, mode: bool = True) -> "SSLSpeechModel":
        super().train(mode)
        if self.frozen and self.lora_conf is None:
            self.model.eval()  # a frozen backbone keeps its dropout off
        return self

    def merge_adapters(self) -> None:
        """Fold the LoRA updates into the weights and drop the adapters (same outputs, faster inference)."""
        if self.lora_conf is None:
            raise RuntimeError("merge_adapters: this model has no LoRA adapters (lora_conf=None)")
        self.model = self.model.merge_and_unload()
        self.lora_conf = None
        self.frozen = True
        for p in self.model.parameters():
            p.requires_grad = False

    def reload_pretrained_parameters(self) -> None:
        """Restore the pretrained weights and re-initialise adapters and layer weights (called after ESPnet's
        global parameter initialisation, which would otherwise overwrite them)."""
        pretrained = load_model(self.model_name_or_path, WHAT, local_files_only=True)
        self._configure(pretrained, self.keep_layers)
        source = pretrained.state_dict()
        state = {}
        for key in self.hf_model.state_dict():
            if "lora_" in key:
                continue
            plain = key.replace(".base_layer.", ".")  # LoRA-wrapped linears keep the base weights one level down
            if plain not in source:
                raise RuntimeError(f"reload_pretrained_parameters: {plain!r} is not in {self.model_name_or_path}")
            state[key] = source[plain]
        self.hf_model.load_state_dict(state, strict=False)
        reset_lora(self.model)
        if self.layer_weights is not None:
            nn.init.zeros_(self.layer_weights)
        logging.info("Pretrained weights reloaded from %s", self.model_name_or_path)

    def extra_repr(self) -> str:
        return (
            f"model={self.model_name_or_path!r}, layers={self.layer_ids}, weighted={self.weighted}, "
            f"lora={self.lora_conf}, frozen={self.frozen}"
        )
