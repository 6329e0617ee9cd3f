"""Seeded English sentence generator for the synthetic corpus.

Sentences are written in natural style (capital first letter, "I", apostrophes, commas, final
punctuation), as in the ``sentenceText`` field of the Willett et al. (2023) files; readers and
recipes normalise them with :func:`espnet_brain.data.text.normalize_transcript`.

Splits: ``train``, ``dev`` and ``test`` hold disjoint sentences (compared after normalisation) and
every word of ``dev``/``test`` occurs in ``train``, so that a closed-vocabulary decoder can in
principle spell every held-out word.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from espnet_brain.data.text import normalize_transcript
from espnet_brain.simulate.randomness import child_rng

# The lexicon is ordered from frequent to rare: ``vocab_size_per_class`` keeps the first words of
# each class, so that small presets have a small closed vocabulary that a few sentences cover.
LEXICON: Dict[str, Tuple[str, ...]] = {
    "det": ("the", "a", "my", "your", "this", "that", "our", "every"),
    "adj": (
        "old",
        "little",
        "red",
        "happy",
        "cold",
        "quiet",
        "big",
        "green",
        "young",
        "dark",
        "warm",
        "tired",
        "bright",
        "small",
        "busy",
        "gentle",
        "heavy",
        "strange",
    ),
    "noun": (
        "man",
        "dog",
        "house",
        "friend",
        "book",
        "car",
        "teacher",
        "garden",
        "river",
        "letter",
        "window",
        "doctor",
        "bird",
        "table",
        "city",
        "child",
        "boat",
        "door",
        "apple",
        "song",
        "phone",
        "family",
        "road",
        "kitchen",
    ),
    "vt": (
        "saw",
        "found",
        "liked",
        "took",
        "opened",
        "watched",
        "painted",
        "heard",
        "carried",
        "wanted",
        "bought",
        "visited",
        "closed",
        "washed",
        "needed",
        "sold",
    ),
    "vi": ("slept", "waited", "laughed", "stayed", "smiled", "arrived", "walked", "left", "ran", "sang"),
    "vbase": ("see", "like", "find", "open", "want", "need", "take", "paint", "hear", "carry", "wash", "sell"),
    "subj": ("I", "you", "we", "they", "she", "he"),
    "neg": ("don't", "didn't", "can't", "won't"),
    "adv": ("today", "yesterday", "again", "slowly", "early", "tonight", "quickly", "late", "outside", "later"),
    "prep": ("near", "behind", "under", "with", "beside", "across", "inside", "past"),
    "cop": ("It's", "I'm", "We're", "They're", "You're", "She's", "He's"),
}


@dataclass(frozen=True)
class Sentence:
    """One sentence of the corpus.

    Attributes:
        sent_id: Corpus-wide identifier, ``<split>-<index:05d>`` (e.g. ``train-00012``).
        text: Natural text with capitals and punctuation ("I don't see the dog.").
        split: ``train``, ``dev`` or ``test``.
    """

    sent_id: str
    text: str
    split: str

    @property
    def words(self) -> List[str]:
        """Normalised upper-case words (apostrophes kept)."""
        return normalize_transcript(self.text).split()


LEXICONS = ("basic", "large")


def full_lexicon(lexicon: str = "basic") -> Dict[str, Tuple[str, ...]]:
    """Every word of each grammar class: ``basic`` (:data:`LEXICON`, ~125 words) or ``large`` (the basic words first,
    then those of :data:`espnet_brain.simulate.lexicon_large.EXTRA`, ~1,200 words)."""
    if lexicon not in LEXICONS:
        raise ValueError(f"text: unknown lexicon {lexicon!r} (choose from {', '.join(LEXICONS)})")
    if lexicon == "basic":
        return dict(LEXICON)
    from espnet_brain.simulate.lexicon_large import EXTRA

    # dict.fromkeys keeps the first occurrence of a word: the basic words stay in front, repeats drop out
    return {k: tuple(dict.fromkeys(v + EXTRA.get(k, ()))) for k, v in LEXICON.items()}


def _lexicon(vocab_size_per_class: int, lexicon: str = "basic") -> Dict[str, Tuple[str, ...]]:
    return {k: v[: max(2, vocab_size_per_class)] for k, v in full_lexicon(lexicon).items()}


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:]


def _templates() -> List[Callable]:
    """Grammar templates; each takes ``pick(class_name)`` and returns a sentence."""

    def t0(p):
        return f"{_capitalise(p('det'))} {p('adj')} {p('noun')} {p('vt')} {p('det')} {p('noun')}."

    def t1(p):
        return f"{_capitalise(p('subj'))} {p('vt')} {p('det')} {p('adj')} {p('noun')} {p('adv')}."

    def t2(p):
        return f"{_capitalise(p('det'))} {p('noun')} {p('vi')} {p('prep')} {p('det')} {p('noun')}."

    def t3(p):
        return f"{_capitalise(p('subj'))} {p('neg')} {p('vbase')} {p('det')} {p('noun')}."

    def t4(p):
        return f"Did you {p('vbase')} {p('det')} {p('adj')} {p('noun')}?"

    def t5(p):
        return f"{p('cop')} {p('adj')} {p('adv')}."

    def t6(p):
        return f"{_capitalise(p('adv'))}, {p('subj')} {p('vi')} {p('prep')} {p('det')} {p('noun')}."

    def t7(p):
        return f"Where is {p('det')} {p('noun')}?"

    def t8(p):
        return f"{_capitalise(p('det'))} {p('noun')} and {p('det')} {p('noun')} {p('vi')} {p('adv')}."

    def t9(p):
        return "I don't know."

    return [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9]


# Template weights: the fixed phrase is rare, so that the corpus does not repeat it.
_TEMPLATE_WEIGHTS = np.array([3, 3, 3, 3, 2, 2, 2, 1, 2, 0.2])


def _draw(rng: np.random.Generator, lexicon: Dict[str, Tuple[str, ...]]) -> str:
    templates = _templates()
    weights = _TEMPLATE_WEIGHTS / _TEMPLATE_WEIGHTS.sum()
    template = templates[int(rng.choice(len(templates), p=weights))]

    def pick(cls: str) -> str:
        words = lexicon[cls]
        return words[int(rng.integers(len(words)))]

    return template(pick)


def generate_sentences(
    seed: int,
    n_train: int,
    n_dev: int,
    n_test: int,
    vocab_size_per_class: int = 100,
    max_tries: int = 200000,
    lexicon: str = "basic",
) -> Dict[str, List[Sentence]]:
    """Generate the three disjoint text splits.

    Args:
        seed: Corpus seed.
        n_train, n_dev, n_test: Number of sentences per split.
        vocab_size_per_class: Keep this many words of each lexical class (see :data:`LEXICON`).
        max_tries: Give up after this many draws (the grammar may not have enough distinct sentences).
        lexicon: ``basic`` or ``large`` (see :func:`full_lexicon`).

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}`` of :class:`Sentence`.

    Raises:
        ValueError: If the grammar cannot produce enough distinct sentences with the requested vocabulary.
    """
    words_of = _lexicon(vocab_size_per_class, lexicon)
    rng = child_rng(seed, "text")
    seen = set()
    splits: Dict[str, List[Sentence]] = {"train": [], "dev": [], "test": []}
    train_vocab = set()
    wanted = (("train", n_train), ("dev", n_dev), ("test", n_test))
    tries = 0
    for split, n in wanted:
        while len(splits[split]) < n:
            tries += 1
            if tries > max_tries:
                raise ValueError(
                    f"text: could only draw {sum(len(v) for v in splits.values())} distinct sentences out of "
                    f"{n_train + n_dev + n_test} requested with vocab_size_per_class={vocab_size_per_class}; "
                    "lower the sentence counts or raise vocab_size_per_class"
                )
            text = _draw(rng, words_of)
            norm = normalize_transcript(text)
            if norm in seen:
                continue
            words = norm.split()
            if split != "train" and not set(words) <= train_vocab:
                continue
            seen.add(norm)
            if split == "train":
                train_vocab.update(words)
            splits[split].append(Sentence(f"{split}-{len(splits[split]):05d}", text, split))
    return splits


def vocabulary(sentences: Sequence[Sentence]) -> List[str]:
    """Sorted normalised vocabulary of ``sentences``."""
    return sorted({w for s in sentences for w in s.words})
