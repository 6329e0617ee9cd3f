"""Whisper's own zero-shot transcription of speech, normalised to a character CTC corpus's alphabet.

A reference row beside the CTC systems of a recipe: the pretrained Whisper (any id or directory that
:mod:`espnet_brain.hf.loading` resolves, the converted CTranslate2 models included) decodes the test speech with its
own decoder, greedy, in English, with no training on the corpus; its text is then written in the corpus's
character set (upper case letters, apostrophe, space) so that it is scored like the CTC hypotheses.
"""

import logging
import os
import re
import unicodedata
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from espnet_brain.hf.loading import DTYPE, ModelNotFoundError, load_config, not_found_message, resolve

SAMPLE_RATE = 16000
CORPUS_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ' "

_ONES = (
    "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN FIFTEEN SIXTEEN "
    "SEVENTEEN EIGHTEEN NINETEEN"
).split()
_TENS = "_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split()
_SCALES = ((10**9, "BILLION"), (10**6, "MILLION"), (1000, "THOUSAND"), (100, "HUNDRED"))
# Typographic variants of the apostrophe, and characters that separate words.
_APOSTROPHES = "\u2018\u2019\u02bc\u0060\u00b4"
_SEPARATORS = re.compile(r"[-\u2010-\u2015/_]+")


def spell_number(n: int) -> str:
    """An integer 0 <= n < 10**12 in English words, upper case: ``spell_number(42) == "FORTY TWO"``."""
    if not 0 <= n < 10**12:
        raise ValueError(f"spell_number: expected 0 <= n < 10**12, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for scale, name in _SCALES:
        if n >= scale:
            rest = n % scale
            return f"{spell_number(n // scale)} {name}" + ("" if rest == 0 else " " + spell_number(rest))
    raise AssertionError(n)  # unreachable: n >= 100 meets the hundreds


def normalize_text(text: str, charset: str = CORPUS_CHARSET) -> str:
    """Whisper's punctuated, cased text in a character CTC corpus's alphabet.

    Accents are stripped (NFKD), typographic apostrophes become ``'``, hyphens and slashes separate words,
    digit runs are spelled out (``"7"`` -> ``"SEVEN"``, ``"1,000"`` -> ``"ONE THOUSAND"``), the text is upper-cased,
    every character outside ``charset`` is dropped and spaces are collapsed.

    Args:
        text: A transcription.
        charset: The characters kept (upper case; a space separates words).

    Returns:
        The normalised text, e.g. ``"Hello, world -- it's 7 o'clock."`` -> ``"HELLO WORLD IT'S SEVEN O'CLOCK"``.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    for c in _APOSTROPHES:
        text = text.replace(c, "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"\d+", lambda m: f" {spell_number(int(m.group()))} " if len(m.group()) < 13 else " ", text)
    text = _SEPARATORS.sub(" ", text).upper()
    keep = set(charset)
    text = "".join(c if c in keep else (" " if c.isspace() else "") for c in text)
    words = [w.strip("'") for w in text.split()]  # quotation marks, not apostrophes inside words
    return " ".join(w for w in words if w)


def load_whisper_generator(name_or_path: str, what: str = "--model"):
    """A Whisper with its decoder, its feature extractor and its tokenizer, in float32 and eval mode.

    Args:
        name_or_path: Hub id, directory (transformers or CTranslate2) or short id (``whisper-tiny.en``).
        what: The option that named it, quoted in errors.

    Returns:
        (transformers.WhisperForConditionalGeneration, transformers.WhisperFeatureExtractor, tokenizer)
    """
    from transformers import AutoTokenizer, WhisperFeatureExtractor, WhisperForConditionalGeneration

    load_config(name_or_path, what, model_types=("whisper",))
    source = resolve(name_or_path, what)
    local = os.path.isdir(source)
    try:
        model = WhisperForConditionalGeneration.from_pretrained(source, dtype=DTYPE, local_files_only=local)
        extractor = WhisperFeatureExtractor.from_pretrained(source, local_files_only=local)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as err:
        reason = f"no Whisper with its decoder, feature extractor and tokenizer there ({type(err).__name__}: {err})"
        raise ModelNotFoundError(not_found_message(name_or_path, what, reason)) from err
    return model.eval(), extractor, tokenizer


def generate_kwargs(model, max_new_tokens: int) -> Dict:
    """Greedy English transcription: ``language``/``task`` for a multilingual Whisper only (an English-only one has
    no language tokens and refuses them); ``max_new_tokens`` within the decoder's positions."""
    kwargs = dict(
        num_beams=1, do_sample=False, max_new_tokens=min(max_new_tokens, model.config.max_target_positions - 4)
    )
    if getattr(model.generation_config, "lang_to_id", None):
        kwargs.update(language="en", task="transcribe")
    return kwargs


@torch.no_grad()
def transcribe(
    model, extractor, tokenizer, waveforms: Sequence[np.ndarray], batch_size: int = 8, max_new_tokens: int = 128
) -> List[str]:
    """Greedy zero-shot transcriptions of 16 kHz waveforms (each (L,), at most 30 s), as Whisper writes them.

    Args:
        model: ``WhisperForConditionalGeneration`` from :func:`load_whisper_generator`.
        extractor: Its ``WhisperFeatureExtractor`` (log-mel of the 30 s padded input).
        tokenizer: Its tokenizer.
        waveforms: One float array (L,) per utterance.
        batch_size: Utterances per ``generate`` call.
        max_new_tokens: Tokens generated at most per utterance.

    Returns:
        One raw transcription per waveform (special tokens removed).
    """
    kwargs = generate_kwargs(model, max_new_tokens)
    texts: List[str] = []
    for start in range(0, len(waveforms), batch_size):
        batch = [np.asarray(w, dtype=np.float32) for w in waveforms[start : start + batch_size]]
        too_long = [len(w) / SAMPLE_RATE for w in batch if len(w) > 30 * SAMPLE_RATE]
        if too_long:
            raise ValueError(f"transcribe: Whisper reads at most 30 s per input, got {max(too_long):.1f} s")
        feats = extractor(batch, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features  # (B, n_mels, 3000)
        ids = model.generate(feats.to(DTYPE), **kwargs)
        texts += [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
        logging.info(f"zero-shot: {len(texts)}/{len(waveforms)} utterances")
    return texts


def read_wav_scp(path: str) -> List[Tuple[str, str]]:
    """(utterance id, audio file) pairs of a Kaldi ``wav.scp`` whose entries are files (not commands)."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            utt, _, where = line.strip().partition(" ")
            where = where.strip()
            if not where or where.endswith("|"):
                raise ValueError(f"{path}:{n}: expected '<utt> <audio file>', got {line.strip()!r}")
            entries.append((utt, where))
    return entries


def read_waveform(path: str) -> np.ndarray:
    """A 16 kHz audio file as a float32 mono waveform (L,); ValueError naming the file at any other rate."""
    import soundfile

    wav, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: Whisper reads {SAMPLE_RATE} Hz audio, got {rate} Hz")
    return wav.mean(axis=1)
