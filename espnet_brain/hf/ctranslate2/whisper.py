"""A CTranslate2 Whisper (the tensors of its ``model.bin``) as a ``transformers.WhisperForConditionalGeneration``.

Why this is written here: CTranslate2 has an importer from PyTorch (``ctranslate2.converters``) but no exporter back
to it, and OpenAI's Whisper weights (MIT licence) reach this project offline only in CTranslate2 format.

Layout of the weights (``ctranslate2.specs.whisper_spec``): layer norms are ``gamma``/``beta``; self-attention
``linear_0`` is the fused ``[q; k; v]`` projection (Whisper's k has no bias: that third of the fused bias must be zero)
and ``linear_1`` the output projection; the decoder's cross-attention (``attention``) has q alone in ``linear_0``, the
fused ``[k; v]`` in ``linear_1`` and the output in ``linear_2``; both position tables are stored; the output
projection is an alias of the token embeddings (tied). Weights stored in float16 / bfloat16 convert exactly; int8 /
int16 ones (``--quantization int8*``/``int16``) are dequantized with the ``*_scale`` stored beside them (within half a
quantization step of the original). The generation config (special tokens, suppressed ids, alignment heads, languages
of a multilingual vocabulary) comes from CTranslate2's ``config.json`` and the vocabulary.
"""

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from espnet_brain.hf.ctranslate2.model_bin import (
    FLOAT_DTYPES,
    MODEL_FILE,
    SPEC_NAME,
    CT2FormatError,
    CT2Model,
    parse_model_bin,
    read_header,
)

GELU = 3  # common_spec.Activation.GELU


def _scalar(model: CT2Model, name: str, default: Optional[int] = None) -> Optional[int]:
    if not model.has(name):
        return default
    value = model.get(name)
    if value.dim() != 0:
        raise CT2FormatError(f"{model.source}: {name!r} should be a scalar, got shape {tuple(value.shape)}")
    return int(value.item())


def _count_layers(model: CT2Model, prefix: str) -> int:
    n = 0
    while any(name.startswith(f"{prefix}/layer_{n}/") for name in model.variables):
        n += 1
    return n


def special_tokens(vocabulary: Sequence[str], source: str) -> Dict[str, object]:
    """Special token ids of a Whisper vocabulary (``.en``: 51,864 tokens; multilingual: 51,865 and more, ids one up).

    Returns:
        ``eot``, ``sot``, ``translate``, ``transcribe``, ``sot_prev``, ``no_timestamps`` (ids) and ``languages``
        (``{"<|en|>": id, ...}``).
    """
    ids = {token: i for i, token in enumerate(vocabulary)}
    names = {
        "eot": "<|endoftext|>",
        "sot": "<|startoftranscript|>",
        "translate": "<|translate|>",
        "transcribe": "<|transcribe|>",
        "sot_prev": "<|startofprev|>",
        "no_timestamps": "<|notimestamps|>",
    }
    missing = [token for token in names.values() if token not in ids]
    if missing:
        raise CT2FormatError(f"{source}: not a Whisper vocabulary: {missing} missing")
    out: Dict[str, object] = {key: ids[token] for key, token in names.items()}
    out["languages"] = {vocabulary[i]: i for i in range(out["sot"] + 1, out["translate"])}
    return out


def whisper_config(model: CT2Model, vocabulary: Sequence[str], ct2_config: Dict):
    """The ``transformers.WhisperConfig`` and ``GenerationConfig`` of a CTranslate2 Whisper.

    Args:
        model: The parsed ``model.bin``.
        vocabulary: Tokens in id order (``vocabulary.txt`` / ``vocabulary.json``).
        ct2_config: CTranslate2's ``config.json`` (``suppress_ids``, ``suppress_ids_begin``, ``alignment_heads``).
    """
    from transformers import GenerationConfig, WhisperConfig

    src = model.source
    if model.spec != SPEC_NAME:
        raise CT2FormatError(f"{src}: unknown spec name {model.spec!r}; expected {SPEC_NAME!r} (a Whisper model)")
    for name, expected in (
        ("decoder/activation", GELU),
        ("decoder/pre_norm", 1),
        ("decoder/scale_embeddings", 0),
        ("decoder/alibi", 0),
        ("decoder/start_from_zero_embedding", 0),
    ):
        value = _scalar(model, name, expected)
        if value != expected:
            raise CT2FormatError(f"{src}: {name} is {value}; transformers' Whisper needs {expected}")
    conv1 = model.get("encoder/conv1/weight")  # (d_model, n_mels, 3)
    d_model, n_mels = conv1.shape[:2]
    n_vocab = model.get("decoder/embeddings/weight").shape[0]
    if len(vocabulary) != n_vocab:
        raise CT2FormatError(f"{src}: the vocabulary has {len(vocabulary)} tokens, the embeddings {n_vocab} rows")
    tokens = special_tokens(vocabulary, src)
    projection_tied = _projection_is_tied(model)
    # Token ids beyond the vocabulary (ctranslate2's converter writes Whisper's defaults whatever the vocabulary)
    # would make transformers' logits processors index out of range.
    suppress = [i for i in ct2_config.get("suppress_ids") or [] if 0 <= i < n_vocab]
    suppress_begin = [i for i in ct2_config.get("suppress_ids_begin") or [] if 0 <= i < n_vocab]
    # OpenAI's rule. An English-only vocabulary holds language tokens too, but transformers' generate must not see
    # them: with ``lang_to_id`` it detects a language and prompts with it, which a .en model was never trained on.
    multilingual = n_vocab >= 51865
    languages = (
        dict(
            lang_to_id=tokens["languages"],
            task_to_id={"transcribe": tokens["transcribe"], "translate": tokens["translate"]},
        )
        if multilingual
        else {}
    )
    config = WhisperConfig(
        vocab_size=n_vocab,
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=_count_layers(model, "encoder"),
        encoder_attention_heads=_scalar(model, "encoder/num_heads"),
        encoder_ffn_dim=model.get("encoder/layer_0/ffn/linear_0/weight").shape[0],
        decoder_layers=_count_layers(model, "decoder"),
        decoder_attention_heads=_scalar(model, "decoder/num_heads"),
        decoder_ffn_dim=model.get("decoder/layer_0/ffn/linear_0/weight").shape[0],
        max_source_positions=model.get("encoder/position_encodings/encodings").shape[0],
        max_target_positions=model.get("decoder/position_encodings/encodings").shape[0],
        activation_function="gelu",
        scale_embedding=False,
        pad_token_id=tokens["eot"],
        bos_token_id=tokens["eot"],
        eos_token_id=tokens["eot"],
        decoder_start_token_id=tokens["sot"],
        suppress_tokens=suppress,
        begin_suppress_tokens=suppress_begin,
        tie_word_embeddings=projection_tied,
    )
    generation = GenerationConfig(
        decoder_start_token_id=tokens["sot"],
        bos_token_id=tokens["eot"],
        eos_token_id=tokens["eot"],
        pad_token_id=tokens["eot"],
        max_length=config.max_target_positions,
        suppress_tokens=config.suppress_tokens,
        begin_suppress_tokens=config.begin_suppress_tokens,
        alignment_heads=[list(h) for h in ct2_config.get("alignment_heads") or []],
        no_timestamps_token_id=tokens["no_timestamps"],
        prev_sot_token_id=tokens["sot_prev"],
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        return_timestamps=False,
        **languages,
    )
    return config, generation


def _projection_is_tied(model: CT2Model) -> bool:
    if model.has("decoder/projection/bias"):
        bias = model.get("decoder/projection/bias")
        if bias.float().abs().max() != 0:
            raise CT2FormatError(f"{model.source}: decoder/projection/bias is not zero; Whisper's proj_out has no bias")
    if "decoder/projection/weight" in model.aliases:
        return model.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
    weight = model.get("decoder/projection/weight")
    return torch.equal(weight, model.get("decoder/embeddings/weight"))


def _float(model: CT2Model, name: str) -> torch.Tensor:
    """A weight in float32; int8 / int16 weights (``--quantization int8*`` / ``int16``) are dequantized.

    CTranslate2 stores a quantized weight ``w`` as ``round(w * scale)`` with ``<name>_scale`` beside it: one scale
    per output row for int8 (127 / the row's max |w|), one for the whole tensor for int16 (2^10 / max |w|). The
    float32 weights are then ``q / scale``: within half a quantization step of the original, not equal to it.
    """
    tensor = model.get(name)
    if tensor.dtype in FLOAT_DTYPES:
        return tensor.to(torch.float32)
    if tensor.dtype in (torch.int8, torch.int16) and model.has(f"{name}_scale"):
        scale = model.get(f"{name}_scale").to(torch.float32)
        if scale.dim() == 1 and scale.shape[0] == tensor.shape[0]:  # (rows,): int8, per output row
            scale = scale.reshape(-1, *[1] * (tensor.dim() - 1))
        elif scale.numel() != 1:
            raise CT2FormatError(
                f"{model.source}: {name}_scale has shape {tuple(scale.shape)}; expected a scalar or "
                f"({tensor.shape[0]},) for the quantized {name!r} of shape {tuple(tensor.shape)}"
            )
        return tensor.to(torch.float32) / scale
    raise CT2FormatError(
        f"{model.source}: weight {name!r} is stored as {tensor.dtype} without a {name}_scale; expected a float type "
        "or a quantized weight with its scale"
    )


def _zero_bias(model: CT2Model, name: str, bias: torch.Tensor, what: str) -> None:
    """Whisper's k projection has no bias: CTranslate2 stores zeros there, anything else cannot be represented."""
    worst = float(bias.abs().max()) if bias.numel() else 0.0
    if worst != 0.0:
        raise CT2FormatError(
            f"{model.source}: the {what} bias in {name!r} is not zero (max |b| = {worst:.3g}); transformers' Whisper "
            "k projection has no bias"
        )


def whisper_state_dict(model: CT2Model, config) -> Dict[str, torch.Tensor]:
    """The ``WhisperForConditionalGeneration`` state dict (float32) of a CTranslate2 Whisper.

    Every weight variable of the file must be used (an unknown one is an error): nothing is dropped silently.
    """
    sd: Dict[str, torch.Tensor] = {}
    used = set()

    def take(name: str) -> torch.Tensor:
        used.update(model.aliases.get(n, n) for n in (name, f"{name}_scale"))
        return _float(model, name)

    def linear(hf: str, ct: str) -> None:
        sd[f"{hf}.weight"], sd[f"{hf}.bias"] = take(f"{ct}/weight"), take(f"{ct}/bias")

    def norm(hf: str, ct: str) -> None:
        sd[f"{hf}.weight"], sd[f"{hf}.bias"] = take(f"{ct}/gamma"), take(f"{ct}/beta")

    def split(hf: str, names: Sequence[str], ct: str) -> None:
        weight, bias = take(f"{ct}/weight"), take(f"{ct}/bias")
        if weight.shape[0] != len(names) * config.d_model or bias.shape[0] != weight.shape[0]:
            raise CT2FormatError(
                f"{model.source}: {ct}/weight has {weight.shape[0]} rows (bias {bias.shape[0]}), expected "
                f"{len(names)} x d_model = {len(names) * config.d_model} (fused {'/'.join(names)})"
            )
        for proj, w, b in zip(names, weight.chunk(len(names)), bias.chunk(len(names))):
            sd[f"{hf}.{proj}_proj.weight"] = w.clone()
            if proj == "k":
                _zero_bias(model, f"{ct}/bias", b, "k")
            else:
                sd[f"{hf}.{proj}_proj.bias"] = b.clone()

    for side in ("encoder", "decoder"):
        hf_side = f"model.{side}"
        n_layers = config.encoder_layers if side == "encoder" else config.decoder_layers
        for i in range(n_layers):
            hf, ct = f"{hf_side}.layers.{i}", f"{side}/layer_{i}"
            split(f"{hf}.self_attn", ("q", "k", "v"), f"{ct}/self_attention/linear_0")
            linear(f"{hf}.self_attn.out_proj", f"{ct}/self_attention/linear_1")
            norm(f"{hf}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
            if side == "decoder":
                linear(f"{hf}.encoder_attn.q_proj", f"{ct}/attention/linear_0")
                split(f"{hf}.encoder_attn", ("k", "v"), f"{ct}/attention/linear_1")
                linear(f"{hf}.encoder_attn.out_proj", f"{ct}/attention/linear_2")
                norm(f"{hf}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
            linear(f"{hf}.fc1", f"{ct}/ffn/linear_0")
            linear(f"{hf}.fc2", f"{ct}/ffn/linear_1")
            norm(f"{hf}.final_layer_norm", f"{ct}/ffn/layer_norm")
        sd[f"{hf_side}.embed_positions.weight"] = take(f"{side}/position_encodings/encodings")
        norm(f"{hf_side}.layer_norm", f"{side}/layer_norm")
    linear("model.encoder.conv1", "encoder/conv1")
    linear("model.encoder.conv2", "encoder/conv2")
    sd["model.decoder.embed_tokens.weight"] = take("decoder/embeddings/weight")
    if config.tie_word_embeddings:
        used.add(model.aliases.get("decoder/projection/weight", "decoder/projection/weight"))
    else:
        sd["proj_out.weight"] = take("decoder/projection/weight")
    if model.has("decoder/projection/bias"):
        used.add(model.aliases.get("decoder/projection/bias", "decoder/projection/bias"))  # checked to be zero
    unused = sorted(name for name, value in model.variables.items() if value.dim() > 0 and name not in used)
    if unused:
        raise CT2FormatError(
            f"{model.source}: {len(unused)} weights this loader does not know where to put: {unused[:5]}"
            + (" ..." if len(unused) > 5 else "")
        )
    return sd


def to_transformers(model: CT2Model, vocabulary: Sequence[str], ct2_config: Optional[Dict] = None):
    """A ``transformers.WhisperForConditionalGeneration`` (float32, eval mode) holding the weights of ``model``."""
    from transformers import WhisperForConditionalGeneration

    config, generation = whisper_config(model, vocabulary, ct2_config or {})
    state = whisper_state_dict(model, config)
    with torch.device("meta"):
        hf = WhisperForConditionalGeneration(config)
    missing, unexpected = hf.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if not (k == "proj_out.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise CT2FormatError(f"{model.source}: weights missing {missing} / unexpected {unexpected} for transformers")
    if config.tie_word_embeddings:
        hf.proj_out.weight = hf.model.decoder.embed_tokens.weight
    leftover = [name for name, p in list(hf.named_parameters()) + list(hf.named_buffers()) if p.is_meta]
    if leftover:
        raise CT2FormatError(f"{model.source}: no weights for {leftover}")
    hf.generation_config = generation
    return hf.eval()


def read_vocabulary(directory: str) -> List[str]:
    """Tokens in id order: ``vocabulary.txt`` (one a line) or ``vocabulary.json`` (a list)."""
    txt, js = os.path.join(directory, "vocabulary.txt"), os.path.join(directory, "vocabulary.json")
    if os.path.isfile(txt):
        return _read_vocabulary_txt(txt)
    if os.path.isfile(js):
        with open(js, encoding="utf-8") as f:
            return json.load(f)
    raise CT2FormatError(f"{directory}: no vocabulary.txt or vocabulary.json (the vocabulary of the CTranslate2 model)")


def _read_vocabulary_txt(path: str) -> List[str]:
    with open(path, encoding="utf-8", newline="") as f:  # no newline translation: tokens may hold "\r"
        text = f.read()
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def load_ctranslate2(directory: str, parts: Optional[Sequence[str]] = None, vocabulary: Optional[Sequence[str]] = None):
    """Read a CTranslate2 Whisper directory into a ``WhisperForConditionalGeneration`` (float32), without caching.

    Args:
        directory: Holds ``config.json`` and ``vocabulary.txt`` (and ``model.bin`` unless ``parts`` is given).
        parts: Files whose concatenation is ``model.bin`` (default: ``directory/model.bin``).
        vocabulary: Tokens in id order (default: read from ``directory``).
    """
    parts = list(parts or [os.path.join(directory, MODEL_FILE)])
    source = " + ".join(parts)
    for path in parts:
        if not os.path.isfile(path):
            raise CT2FormatError(f"{source}: {path} does not exist")
    read_header(parts[0])  # the version before reading 100 MB
    data = b"".join(Path(p).read_bytes() for p in parts)
    model = parse_model_bin(data, source)
    del data
    config_path = os.path.join(directory, "config.json")
    ct2_config = {}
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as f:
            ct2_config = json.load(f)
    if vocabulary is None:
        vocabulary = read_vocabulary(directory)
    return to_transformers(model, vocabulary, ct2_config)
