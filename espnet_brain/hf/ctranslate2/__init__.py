"""Whisper checkpoints in CTranslate2 format (faster-whisper's) read into a transformers Whisper in float32.

Why this package exists: OpenAI's Whisper weights (MIT licence) reach this project offline only through ordinary
packages of the package index that ship them in CTranslate2 format, and CTranslate2 has an importer from PyTorch
(``ctranslate2.converters``) but no exporter back to it. So the file is read here, with the standard library, and its
tensors are laid out as ``transformers.WhisperForConditionalGeneration`` expects.

One idea per module, in the order a model travels:

* :mod:`.model_bin`: ``model.bin`` (binary version 6) -> named tensors, aliases and metadata scalars
  (:class:`CT2Model`); every way the file can fail to read (:class:`CT2FormatError`).
* :mod:`.whisper`: those tensors, CTranslate2's ``config.json`` and the vocabulary -> a
  ``WhisperForConditionalGeneration`` and its generation config (:func:`load_ctranslate2`, uncached).
* :mod:`.short_ids`: ``whisper-tiny.en`` / ``whisper-base`` -> the files of their installed packages and the sha256
  each was checked against (:data:`SHORT_IDS`).
* :mod:`.cache`: a CTranslate2 directory or a short id -> its conversion, written once and atomically under
  ``$ESPNET_BRAIN_CACHE/ctranslate2/<key>`` (:func:`resolve_directory`, :func:`resolve_short_id`), the doors that
  :mod:`espnet_brain.hf.loading` uses.

The public names of all four are re-exported here.
"""

from espnet_brain.hf.ctranslate2.cache import (
    CACHE_ENV,
    CONVERTER_REVISION,
    HF_WEIGHT_FILES,
    cache_root,
    convert,
    is_ctranslate2_dir,
    resolve_directory,
    resolve_short_id,
)
from espnet_brain.hf.ctranslate2.model_bin import (
    BINARY_VERSION,
    DTYPES,
    FLOAT_DTYPES,
    MODEL_FILE,
    SPEC_NAME,
    CT2FormatError,
    CT2Model,
    parse_model_bin,
    read_header,
)
from espnet_brain.hf.ctranslate2.short_ids import SHORT_IDS, Part, ShortId, short_id_files
from espnet_brain.hf.ctranslate2.whisper import (
    GELU,
    load_ctranslate2,
    read_vocabulary,
    special_tokens,
    to_transformers,
    whisper_config,
    whisper_state_dict,
)

__all__ = [
    "BINARY_VERSION",
    "CACHE_ENV",
    "CONVERTER_REVISION",
    "CT2FormatError",
    "CT2Model",
    "DTYPES",
    "FLOAT_DTYPES",
    "GELU",
    "HF_WEIGHT_FILES",
    "MODEL_FILE",
    "Part",
    "SHORT_IDS",
    "SPEC_NAME",
    "ShortId",
    "cache_root",
    "convert",
    "is_ctranslate2_dir",
    "load_ctranslate2",
    "parse_model_bin",
    "read_header",
    "read_vocabulary",
    "resolve_directory",
    "resolve_short_id",
    "short_id_files",
    "special_tokens",
    "to_transformers",
    "whisper_config",
    "whisper_state_dict",
]
