"""Byte-reproducible writers used by the simulator (same inputs -> same bytes on disk)."""

import io
import json
import os
from typing import Any, Mapping

import numpy as np
import scipy.io
import soundfile

# scipy.io.savemat stamps the creation time into the 116-byte MAT-file header text; a fixed text
# keeps files of the same seed byte-identical.
_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: espnet_brain.simulate"


def write_mat(path: str, variables: Mapping[str, Any]) -> None:
    """Write a MATLAB v5 (compressed) file with a fixed header text."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, dict(variables), do_compression=True, oned_as="column")
    data = bytearray(buf.getvalue())
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    with open(path, "wb") as f:
        f.write(bytes(data))


def write_json(path: str, obj: Any) -> None:
    """Pretty JSON with sorted keys and a trailing newline."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV; float input in [-1, 1] is scaled, int16 input is written as is."""
    audio = np.asarray(audio)
    if audio.dtype != np.int16:
        audio = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    soundfile.write(path, audio, int(sample_rate), subtype="PCM_16", format="WAV")


def write_npy(path: str, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def makedirs(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
