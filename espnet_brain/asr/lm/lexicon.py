"""Lexicons that spell words in a character CTC model's tokens.

A lexicon line is ``WORD<TAB>W O R D <space>``: the word, then its spelling in CTC tokens ending with
the word delimiter, the format the flashlight decoder (through torchaudio) reads. The last word of a sentence has
no delimiter after it in the transcripts; the search completes it with a word-boundary frame after the last frame
(:meth:`espnet_brain.asr.lm.lexicon_search.LexiconBeamSearch.boundary_frame`).
"""

from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

SPACE = "<space>"
SPECIAL = ("<blank>", "<unk>", "<sos/eos>")


def word_counts(lines: Iterable[str]) -> Counter:
    """Counts of the words in transcript lines (already normalised text, words split on blanks)."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(line.split())
    return counts


def build_lexicon(
    words: Iterable[str], token_list: Sequence[str], source: str = "the word list"
) -> Dict[str, List[str]]:
    """Spell each word in the token list's characters, the word delimiter last.

    Args:
        words: Words to spell.
        token_list: The CTC model's tokens (ESPnet's ``<space>`` is the word delimiter).
        source: Where the words come from, for the error message.

    Raises:
        ValueError: Some words use characters the token list lacks; the message names them.
    """
    tokens = set(token_list) - set(SPECIAL)
    if SPACE not in tokens:
        raise ValueError(f"the token list has no word delimiter {SPACE!r}; a word lexicon needs one")
    lexicon: Dict[str, List[str]] = {}
    bad: Dict[str, str] = {}
    for word in words:
        missing = sorted({c for c in word if c not in tokens})
        if missing:
            bad[word] = "".join(missing)
            continue
        lexicon[word] = list(word) + [SPACE]
    if bad:
        shown = ", ".join(f"{w} ({c!r})" for w, c in sorted(bad.items())[:20])
        raise ValueError(
            f"{len(bad)} words of {source} use characters the CTC token list lacks: {shown}"
            f"{' ...' if len(bad) > 20 else ''}; normalise the text the way the transcripts were normalised"
        )
    return lexicon


def write_lexicon(lexicon: Dict[str, List[str]], path: str) -> None:
    """Write ``WORD<TAB>spelling`` lines, sorted by word."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for word in sorted(lexicon):
            f.write(f"{word}\t{' '.join(lexicon[word])}\n")


def read_lexicon(path: str, token_list: Sequence[str]) -> Dict[str, List[str]]:
    """Read and check a lexicon file against the CTC token list.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line without a spelling, or a spelling token not in the token list; the message
            names the file and line.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"lexicon {path} does not exist")
    tokens = set(token_list)
    lexicon: Dict[str, List[str]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise ValueError(f"{path}:{lineno}: {fields[0]!r} has no spelling (expected 'WORD W O R D {SPACE}')")
            unknown = [t for t in fields[1:] if t not in tokens]
            if unknown:
                raise ValueError(
                    f"{path}:{lineno}: the spelling of {fields[0]!r} uses tokens not in the CTC token list: {unknown}"
                )
            lexicon.setdefault(fields[0], fields[1:])
    if not lexicon:
        raise ValueError(f"lexicon {path} is empty")
    return lexicon


def coverage(counts: Counter, vocabulary: Iterable[str]) -> Tuple[float, List[str]]:
    """Fraction of running words covered by a vocabulary, and the uncovered word types (most frequent first)."""
    vocab = set(vocabulary)
    total = sum(counts.values())
    oov = [w for w, _ in counts.most_common() if w not in vocab]
    covered = sum(c for w, c in counts.items() if w in vocab)
    return (covered / total if total else 1.0), oov
