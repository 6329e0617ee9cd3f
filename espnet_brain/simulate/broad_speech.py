"""A broad synthetic speech corpus for pretraining small speech models offline.

``mini_brain``'s speech covers ~120 words in ten sentence templates: a model trained on it knows
that corpus, not speech. This corpus draws sentences of 4-12 words from a frequency-ordered
English word list (several thousand words), renders each with one of many eSpeak NG voices
(six English accents x male, female and Klatt variants) at a wide range of rates and pitches, and
writes the same layout as the speech part of the main corpus (``DIR/speech/<split>/``, see
:mod:`espnet_brain.simulate.speech`), so the same data preparation reads it.

The words come from ``wordfreq`` (optional: ``pip install wordfreq``) or from a plain word list.
Sentences are sequences of words, not grammatical English: what a speech model pretrains on here
is the mapping from sound to spelling, and a wide vocabulary serves that better than grammar.
"""

import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from espnet_brain import __version__
from espnet_brain.data.text import normalize_transcript
from espnet_brain.simulate.io import makedirs, write_json
from espnet_brain.simulate.presets import SpeechConfig
from espnet_brain.simulate.randomness import child_rng
from espnet_brain.simulate.speech import RenderCache, write_speech
from espnet_brain.simulate.text import Sentence

logger = logging.getLogger(__name__)

ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-029")
VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5", "+klatt", "+klatt2")
BROAD_VOICES: Tuple[str, ...] = tuple(a + v for a in ACCENTS for v in VARIANTS)

_WORD = re.compile(r"^[a-z]+('[a-z]+)?$")


@dataclass(frozen=True)
class BroadSpeechConfig:
    """Size and variety of the broad corpus.

    Attributes:
        n_train, n_dev, n_test: Sentences per split (~3.3 s each at the default rates: 2,400
            training sentences are about 2 hours).
        vocab_size: Words taken from the top of the frequency list.
        words_range: Inclusive range of sentence lengths in words.
        uniform_share: Share of word draws that are uniform over the vocabulary; the rest follow a
            Zipf law (weight ``1 / (rank + 10)``), so frequent words are frequent and rare words
            still occur a few times each.
        rate_range, pitch_range: eSpeak NG rate (words per minute) and pitch (0-99), drawn per sentence.
    """

    n_train: int = 2400
    n_dev: int = 150
    n_test: int = 150
    vocab_size: int = 3000
    words_range: Tuple[int, int] = (4, 12)
    uniform_share: float = 0.5
    rate_range: Tuple[int, int] = (120, 240)
    pitch_range: Tuple[int, int] = (20, 80)
    sample_rate: int = 16000

    def speech_config(self) -> SpeechConfig:
        return SpeechConfig(
            sample_rate=self.sample_rate, voices=BROAD_VOICES, rate_range=self.rate_range, pitch_range=self.pitch_range
        )


def english_words(n: int) -> List[str]:
    """The ``n`` most frequent English words of ``wordfreq`` that eSpeak and a character CTC can handle.

    Kept: lower-case letters with at most one inner apostrophe ("don't"); single letters other
    than "a" and "i" are dropped (they are read as letter names).

    Raises:
        ImportError: If ``wordfreq`` is not installed, with the command that installs it.
    """
    try:
        from wordfreq import top_n_list
    except ImportError as e:
        raise ImportError(
            "the broad speech corpus takes its words from wordfreq: pip install wordfreq "
            "(or pass a word list, one word per line, with --words)"
        ) from e
    return filter_words(top_n_list("en", 4 * n, wordlist="best"))[:n]


def filter_words(words: Iterable[str]) -> List[str]:
    """Lower-cased, de-duplicated words that match ``[a-z]+('[a-z]+)?``, in their order."""
    seen: Set[str] = set()
    out = []
    for w in words:
        w = w.strip().lower().replace("\u2019", "'")
        if not _WORD.match(w) or w in seen or (len(w) == 1 and w not in ("a", "i")):
            continue
        seen.add(w)
        out.append(w)
    return out


def read_word_list(path: str) -> List[str]:
    """Words of a text file, one per line (blank lines and ``#`` comments skipped)."""
    with open(path, encoding="utf-8") as f:
        words = [line.split("#", 1)[0].strip() for line in f]
    kept = filter_words(w for w in words if w)
    if not kept:
        raise ValueError(f"{path}: no usable words (one word per line, letters and apostrophes)")
    return kept


def _word_probabilities(n: int, uniform_share: float) -> np.ndarray:
    zipf = 1.0 / (np.arange(n) + 10.0)
    p = uniform_share / n + (1.0 - uniform_share) * zipf / zipf.sum()
    return p / p.sum()


def broad_sentences(
    words: Sequence[str],
    seed: int,
    cfg: BroadSpeechConfig,
    exclude: Iterable[str] = (),
    max_tries_factor: int = 20,
) -> Dict[str, List[Sentence]]:
    """Draw the three disjoint splits of word-sequence sentences.

    Args:
        words: Vocabulary, most frequent first (at least ``cfg.vocab_size`` is not required: all are used).
        seed: Corpus seed.
        cfg: Sizes and draw settings.
        exclude: Sentences that must not occur (compared after normalisation), e.g. a brain corpus's
            sentences, so that pretraining never hears a sentence the brain decoders are tested on.
        max_tries_factor: Give up after this many draws per requested sentence.

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}`` of :class:`Sentence` (ids ``<split>-<index:05d>``).

    Raises:
        ValueError: For an empty vocabulary, a bad length range, or too few distinct sentences.
    """
    words = list(words)[: cfg.vocab_size]
    lo, hi = cfg.words_range
    if not words:
        raise ValueError("broad_sentences: the word list is empty")
    if not 1 <= lo <= hi:
        raise ValueError(f"broad_sentences: words_range must satisfy 1 <= low <= high, got {cfg.words_range}")
    rng = child_rng(seed, "broad_text")
    p = _word_probabilities(len(words), cfg.uniform_share)
    seen = {normalize_transcript(s) for s in exclude}
    splits: Dict[str, List[Sentence]] = {"train": [], "dev": [], "test": []}
    wanted = (("train", cfg.n_train), ("dev", cfg.n_dev), ("test", cfg.n_test))
    budget = max_tries_factor * max(1, cfg.n_train + cfg.n_dev + cfg.n_test)
    for split, n in wanted:
        while len(splits[split]) < n:
            budget -= 1
            if budget < 0:
                raise ValueError(
                    f"broad_sentences: only {sum(map(len, splits.values()))} distinct sentences could be drawn from "
                    f"{len(words)} words; use more words or longer sentences"
                )
            k = int(rng.integers(lo, hi + 1))
            draw = [words[i] for i in rng.choice(len(words), size=k, p=p)]
            text = " ".join(draw)
            text = text[0].upper() + text[1:] + "."
            norm = normalize_transcript(text)
            if norm in seen:
                continue
            seen.add(norm)
            splits[split].append(Sentence(f"{split}-{len(splits[split]):05d}", text, split))
    return splits


def make_broad_speech(
    out_dir: str,
    seed: int = 0,
    cfg: BroadSpeechConfig = BroadSpeechConfig(),
    words: Optional[Sequence[str]] = None,
    exclude: Iterable[str] = (),
    progress: bool = False,
) -> dict:
    """Write the broad corpus to ``out_dir`` (``speech/<split>/``, ``text/<split>.txt``, ``MANIFEST.json``).

    Args:
        out_dir: Output directory.
        seed: Corpus seed; the same seed, words and config give the same files.
        cfg: Corpus settings.
        words: Vocabulary, most frequent first; default: :func:`english_words` (``cfg.vocab_size`` words).
        exclude: Sentences that must not occur (see :func:`broad_sentences`).
        progress: Show progress bars.

    Returns:
        The manifest (config, hours and vocabulary per split).
    """
    if words is None:
        words = english_words(cfg.vocab_size)
    t0 = time.time()
    splits = broad_sentences(words, seed, cfg, exclude)
    makedirs(os.path.join(out_dir, "text"))
    for split, sentences in splits.items():
        with open(os.path.join(out_dir, "text", f"{split}.txt"), "w", encoding="utf-8") as f:
            f.writelines(f"{s.sent_id} {s.text}\n" for s in sentences)
    speech_cfg = cfg.speech_config()
    summary = write_speech(out_dir, seed, splits, speech_cfg, RenderCache(seed, speech_cfg), progress=progress)
    vocab = {split: sorted({w for s in sents for w in s.words}) for split, sents in splits.items()}
    manifest = {
        "corpus": "broad_speech",
        "version": __version__,
        "seed": seed,
        "config": json.loads(json.dumps(asdict(cfg))),
        "voices": list(BROAD_VOICES),
        "splits": {
            split: {
                **summary["splits"][split],
                "hours": round(summary["splits"][split]["seconds"] / 3600.0, 3),
                "vocabulary": len(vocab[split]),
            }
            for split in splits
        },
        "vocabulary": len(set().union(*vocab.values())),
        "test_words_unseen_in_train": len(set(vocab["test"]) - set(vocab["train"])),
        "seconds_to_generate": round(time.time() - t0, 1),
    }
    write_json(os.path.join(out_dir, "MANIFEST.json"), manifest)
    return manifest
