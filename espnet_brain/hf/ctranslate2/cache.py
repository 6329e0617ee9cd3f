"""The on-disk cache of CTranslate2 Whisper conversions, and the doors into it that loading uses.

A conversion (:func:`espnet_brain.hf.ctranslate2.whisper.load_ctranslate2`; CTranslate2 has no exporter back to
PyTorch, so it is done here) is written once, with ``save_pretrained`` (safetensors + config + generation config),
plus the tokenizer files and a ``preprocessor_config.json`` for ``WhisperFeatureExtractor``, under
``$ESPNET_BRAIN_CACHE/ctranslate2/<key>`` (default ``${XDG_CACHE_HOME:-~/.cache}/espnet_brain``), the key being the
sha256 of the weights, config and vocabulary and :data:`CONVERTER_REVISION`. It is written to a temporary directory
and renamed into place, so concurrent processes never see (or leave) a half-written conversion.

:mod:`espnet_brain.hf.loading` resolves a directory with :func:`is_ctranslate2_dir` / :func:`resolve_directory` (any
CTranslate2 Whisper: a faster-whisper download, the output of ``ct2-transformers-converter``; no stored checksum) and
a short id with :func:`resolve_short_id` (its installed parts, checked against their stored sha256).
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from espnet_brain.hf.ctranslate2.model_bin import MODEL_FILE, SPEC_NAME, CT2FormatError, read_header
from espnet_brain.hf.ctranslate2.short_ids import short_id_files
from espnet_brain.hf.ctranslate2.whisper import load_ctranslate2

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
