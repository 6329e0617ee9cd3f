"""CTranslate2's ``model.bin`` read into named tensors, aliases and metadata, with the standard library.

CTranslate2 has an importer from PyTorch (``ctranslate2.converters``) but no exporter back to it, so the file is
parsed here; :mod:`espnet_brain.hf.ctranslate2.whisper` then lays a Whisper's tensors out for transformers.

``model.bin`` (binary version 6, written by ``ctranslate2.specs.model_spec.ModelSpec._serialize``), little endian::

    uint32 binary version | string spec name ("WhisperSpec") | uint32 spec revision | uint32 number of variables
    per variable: string name | uint8 rank | uint32 x rank dims | uint8 dtype id | uint32 byte count | bytes
    uint32 number of aliases | per alias: string alias | string target   (decoder/projection/weight -> embeddings)

where a string is a uint16 length (terminating NUL included), the UTF-8 bytes and a NUL, and the dtype ids are
0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16. Scalars (rank 0) are metadata (``num_heads``,
``activation``, ``pre_norm``, ...), not weights. Every way a file can fail to read (version, dtype, size, truncation,
trailing bytes, a dangling alias) is a :class:`CT2FormatError` naming the file and the offset.
"""

import math
import struct
from dataclasses import dataclass, field
from typing import Dict, Tuple

import torch

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


def _binary_version(reader: _Reader) -> int:
    """The leading binary version; anything but :data:`BINARY_VERSION` is refused."""
    (version,) = reader.unpack("I", "the binary version")
    if version != BINARY_VERSION:
        raise CT2FormatError(
            f"{reader.source}: unknown CTranslate2 binary version {version}; expected {BINARY_VERSION} "
            "(ctranslate2 >= 3.0 writes it; convert the model again with a current ctranslate2)"
        )
    return version


def read_header(path: str) -> Tuple[int, str]:
    """(binary version, spec name) of a ``model.bin``, reading only its first bytes."""
    with open(path, "rb") as f:
        head = f.read(4 + 2 + 256)
    reader = _Reader(head, path)
    version = _binary_version(reader)
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
    _binary_version(reader)
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
