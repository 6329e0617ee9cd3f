"""LoRA adapters (PEFT) on Hugging Face speech SSL transformers, made to really train.

Trap: ``WavLMAttention`` computes attention with ``F.multi_head_attention_forward`` and hands it the raw
``q_proj/k_proj/v_proj/out_proj`` weight tensors, so the projection modules' ``forward`` is never called and
PEFT's LoRA wrappers around them are silently a no-op (no gradient reaches the adapters). Wav2Vec2 and HuBERT
call their projection modules and need nothing. :func:`patch_attention_for_adapters` gives every affected
attention instance a method that calls the projection modules, with WavLM's semantics kept (gated relative
position bias added to the logits, key padding mask, dropout on the attention probabilities, head-averaged
weights returned), and :func:`check_adapters_reached` runs a forward pass with hooks to prove each adapted
module is called.
"""

import math
import types
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
FFN_TARGETS = ("intermediate_dense", "output_dense", "fc1", "fc2")  # Wav2Vec2/WavLM/HuBERT, Whisper
# parents of the adaptable linears inside a transformer block: Wav2Vec2/WavLM/HuBERT, and Whisper (whose
# feed-forward linears sit in the block itself)
BLOCK_PARTS = ("attention", "feed_forward", "self_attn")
# LoRA settings of the decoding encoders' ``mode: adapter`` (``lora_conf`` keys)
LORA_DEFAULTS = dict(r=8, alpha=16.0, dropout=0.1, targets=["q_proj", "k_proj", "v_proj", "out_proj"], layers=None)


def _wavlm_self_attention(
    self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor], gated_position_bias: torch.Tensor
):
    """WavLM self-attention that calls ``self.q_proj/k_proj/v_proj/out_proj`` (so LoRA wrappers take effect).

    Args:
        hidden_states: (B, T, C).
        attention_mask: (B, T), 1/True for real frames, or None.
        gated_position_bias: (B * H, T, T) additive logits bias.

    Returns:
        output (B, T, C) and head-averaged attention probabilities broadcast to (B, H, T, T), as the original.
    """
    bsz, n_time, embed_dim = hidden_states.shape
    heads = self.num_heads
    head_dim = embed_dim // heads

    def split(x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, H, T, C/H)
        return x.view(bsz, n_time, heads, head_dim).transpose(1, 2)

    query = split(self.q_proj(hidden_states)) * math.sqrt(1.0 / head_dim)
    key = split(self.k_proj(hidden_states))
    value = split(self.v_proj(hidden_states))
    bias = gated_position_bias.view(bsz, heads, n_time, n_time)
    if attention_mask is not None:
        bias = bias.masked_fill(attention_mask.ne(1)[:, None, None, :], float("-inf"))
    probs = torch.softmax(bias + query @ key.transpose(-1, -2), dim=-1)  # (B, H, T, T)
    probs = F.dropout(probs, p=self.dropout, training=self.training)
    out = (probs @ value).transpose(1, 2).reshape(bsz, n_time, embed_dim)  # (B, H, T, C/H) -> (B, T, C)
    return self.out_proj(out), probs.mean(1, keepdim=True).expand(-1, heads, -1, -1)


def _affected_classes() -> Dict[type, types.FunctionType]:
    """Attention classes that bypass their projection modules, with the replacement method for each."""
    affected: Dict[type, types.FunctionType] = {}
    try:
        from transformers.models.wavlm.modeling_wavlm import WavLMAttention
    except ImportError:  # a transformers without WavLM has nothing to patch
        return affected
    if not hasattr(WavLMAttention, "torch_multi_head_self_attention"):
        raise RuntimeError(
            "transformers' WavLMAttention no longer has torch_multi_head_self_attention; the LoRA fix in "
            "espnet_brain/hf/lora.py must be updated for this transformers version"
        )
    affected[WavLMAttention] = _wavlm_self_attention
    return affected


def patch_attention_for_adapters(model: nn.Module) -> int:
    """Make the attention of ``model`` call its projection modules (in place, on these instances only).

    Args:
        model: a Hugging Face speech model (WavLM, Wav2Vec2, HuBERT, ...), with or without adapters yet.

    Returns:
        The number of attention modules patched (0 for models whose attention already calls its projections).
    """
    affected = _affected_classes()
    n_patched = 0
    for module in model.modules():
        method = affected.get(type(module))
        if method is not None:
            module.torch_multi_head_self_attention = types.MethodType(method, module)
            n_patched += 1
    return n_patched


def lora_target_names(
    model: nn.Module, targets: Sequence[str] = ATTENTION_TARGETS[:3], layers: Optional[Sequence[int]] = None
) -> List[str]:
    """Full names of the linear layers of the transformer blocks to adapt.

    Args:
        model: a Hugging Face speech model.
        targets: short names among ``ATTENTION_TARGETS + FFN_TARGETS``.
        layers: transformer layer indices (0-based) to adapt; None for all.

    Returns:
        Module names such as ``encoder.layers.3.attention.q_proj``.
    """
    unknown = sorted(set(targets) - set(ATTENTION_TARGETS + FFN_TARGETS))
    if unknown or not targets:
        raise ValueError(f"lora targets: expected names among {ATTENTION_TARGETS + FFN_TARGETS}, got {list(targets)}")
    names = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if not isinstance(module, nn.Linear) or parts[-1] not in targets or "layers" not in parts:
            continue
        block = parts[parts.index("layers") + 1]
        in_block = parts[-2] in BLOCK_PARTS or (parts[-1] in ("fc1", "fc2") and parts[-2] == block)
        if not in_block or not block.isdigit():
            continue
        if layers is None or int(block) in layers:
            names.append(name)
    if not names:
        raise ValueError(
            f"lora: no module of {model.__class__.__name__} matches targets={list(targets)}, layers={layers}"
        )
    return names


def check_adapters_reached(model: nn.Module, forward: Callable[[], object]) -> None:
    """Run ``forward()`` with hooks and raise if a LoRA-wrapped module is never called.

    Args:
        model: the model holding PEFT LoRA layers.
        forward: a no-argument callable running one forward pass of ``model``.
    """
    from peft.tuners.lora import LoraLayer

    called: Dict[str, bool] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            called[name] = False
            handles.append(module.register_forward_hook(lambda m, i, o, n=name: called.__setitem__(n, True)))
    try:
        with torch.no_grad():
            forward()
    finally:
        for h in handles:
            h.remove()
    missed = [n for n, c in called.items() if not c]
    if missed:
        raise RuntimeError(
            f"LoRA adapters on {len(missed)} modules are never called in forward (they would not train), "
            f"e.g. {missed[:3]}; the attention of {model.__class__.__name__} bypasses its projection modules"
        )


def add_lora(
    model: nn.Module,
    r: int = 4,
    alpha: float = 4.0,
    dropout: float = 0.1,
    targets: Sequence[str] = ATTENTION_TARGETS[:3],
    layers: Optional[Sequence[int]] = None,
) -> nn.Module:
    """Patch affected attention classes, then wrap the chosen linear layers with LoRA adapters.

    The base weights are frozen; only ``lora_A``/``lora_B`` are trainable. B starts at zero, so the adapted model
    initially computes exactly what the base model does.

    Args:
        model: a Hugging Face speech model (modified in place).
        r: adapter rank.
        alpha: LoRA scaling numerator (the update is scaled by alpha / r).
        dropout: dropout on the adapter input.
        targets: see :func:`lora_target_names` (default q/k/v, as BrainWavLM).
        layers: transformer layers to adapt (None: all).

    Returns:
        The ``peft.PeftModel`` wrapping ``model``.
    """
    from peft import LoraConfig, get_peft_model

    if r < 1:
        raise ValueError(f"lora r: expected >= 1, got {r}")
    patch_attention_for_adapters(model)
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=lora_target_names(model, targets, layers)
    )
    return get_peft_model(model, config)


def reset_lora(model: nn.Module) -> None:
    """Re-initialise every LoRA adapter (A random, B zero), e.g. after a global parameter initialisation."""
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer):
            for adapter in list(module.lora_A.keys()):
                module.reset_lora_parameters(adapter, True)


def inject_lora(model: nn.Module, lora_conf: Dict, what: str = "encoder_conf.lora_conf") -> Dict:
    """Freeze ``model`` and put trainable LoRA adapters in it, in place (any module, not only a PreTrainedModel).

    Args:
        model: a Hugging Face transformer stack (e.g. a Wav2Vec2 or Whisper encoder).
        lora_conf: keys among :data:`LORA_DEFAULTS` (the others keep their defaults).
        what: the config key, quoted in errors.

    Returns:
        The settings used (:data:`LORA_DEFAULTS` updated with ``lora_conf``).
    """
    from peft import LoraConfig, inject_adapter_in_model

    unknown = sorted(set(lora_conf) - set(LORA_DEFAULTS))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; expected among {sorted(LORA_DEFAULTS)}")
    conf = {**LORA_DEFAULTS, **lora_conf}
    if int(conf["r"]) < 1:
        raise ValueError(f"{what}.r: expected a rank >= 1, got {conf['r']}")
    model.requires_grad_(False)
    # WavLM's attention reads the projection weights directly: patched to call the modules the adapters wrap
    patch_attention_for_adapters(model)
    names = lora_target_names(model, conf["targets"], conf["layers"])
    config = LoraConfig(
        r=int(conf["r"]), lora_alpha=float(conf["alpha"]), lora_dropout=float(conf["dropout"]), target_modules=names
    )
    inject_adapter_in_model(config, model)
    return conf


def lora_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The adapter weights alone (``lora_A``/``lora_B``), a small fraction of the model."""
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA update into its base weight and put the plain linear back in place of the wrapper.

    Returns:
        The number of merged layers; ``model`` then computes what the adapted model did, with the module names
        and state-dict keys of the original Hugging Face model.
    """
    from peft.tuners.lora import LoraLayer

    wrapped = [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]
    for name, module in wrapped:
        module.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.get_base_layer())
    return len(wrapped)


def load_base_weights(model: nn.Module, state: Dict[str, torch.Tensor]) -> None:
    """Load the weights of the plain model into its adapted copy (wrapped linears keep theirs one level down,
    ``....q_proj.base_layer.weight``) and start the adapters again (B = 0)."""
    own = model.state_dict()

    def key(k: str) -> str:
        if k in own:
            return k
        module, _, param = k.rpartition(".")
        return f"{module}.base_layer.{param}"

    missing, unexpected = model.load_state_dict({key(k): v for k, v in state.items()}, strict=False)
    if unexpected or any("lora_" not in k for k in missing):
        raise RuntimeError(f"pretrained weights do not fit the adapted model: {unexpected[:3]} {missing[:3]}")
    reset_lora(model)
