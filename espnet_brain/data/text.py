"""Transcript normalisation shared by the readers and the recipes.

The Willett et al. (2023) ``sentenceText`` field and the synthetic corpus hold natural text
("I don't know."). Character CTC heads such as the one of ``facebook/wav2vec2-base-960h`` spell
upper-case letters, the apostrophe and a word delimiter, so transcripts are mapped to that alphabet.
"""

import re
import unicodedata

_NOT_KEPT = re.compile(r"[^A-Z' ]+")
_SPACES = re.compile(r"\s+")


def normalize_transcript(text: str) -> str:
    """Map natural text to upper-case words of letters and apostrophes.

    Hyphens and other punctuation become word breaks, accents are stripped, quotes that are not
    inside a word are dropped, and runs of spaces collapse.

    Args:
        text: Natural text, e.g. ``"Yesterday, I didn't see the red-brick house."``.

    Returns:
        e.g. ``"YESTERDAY I DIDN'T SEE THE RED BRICK HOUSE"``; ``""`` for text without letters.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_transcript expects a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'").upper()
    text = _NOT_KEPT.sub(" ", text)
    words = []
    for word in _SPACES.split(text):
        word = word.strip("'")
        if word:
            words.append(word)
    return " ".join(words)
