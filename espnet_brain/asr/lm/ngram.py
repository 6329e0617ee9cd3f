"""Word n-gram language models: modified Kneser-Ney estimation and the ARPA format.

The decoders read the ARPA file with KenLM (bundled in the ``flashlight-text`` wheel). KenLM's own
estimator, ``lmplz``, is a compiled program that no wheel on the package registry ships, and the
Python n-gram packages either need a compiler (``kenlm``) or cannot write ARPA (``nltk.lm``); so the
estimator is written here, for the corpus sizes brain-to-text needs (transcripts and a few million
words of extra text).

Estimation follows Chen & Goodman's interpolated modified Kneser-Ney as KenLM implements it: the
highest order and n-grams that start with ``<s>`` keep their counts, the lower orders use continuation
counts (the number of distinct words seen to their left), each order has three discounts from its
counts of counts, and the unigrams are interpolated with the uniform distribution, which gives
``<unk>`` its probability. Pruning drops n-grams of order >= 2 whose (adjusted) count is at most the
order's threshold; their mass moves to the backoff, so every context's distribution still sums to one.
"""

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NO_PROB = -99.0  # log10 "probability" ARPA gives <s>, which is never predicted

Ngram = Tuple[str, ...]


class ArpaFormatError(ValueError):
    """An ARPA file that cannot be read; the message names the file and the line."""


@dataclass
class NgramLM:
    """A backoff n-gram model as an ARPA file holds it.

    Attributes:
        order: Highest n-gram order.
        entries: One dict per order (index 0: unigrams): n-gram -> (log10 probability, log10 backoff).
        discounts: Per order, the modified Kneser-Ney discounts (D1, D2, D3+) used to estimate it.
    """

    order: int
    entries: List[Dict[Ngram, Tuple[float, float]]]
    discounts: List[Tuple[float, float, float]] = field(default_factory=list)

    @property
    def vocabulary(self) -> List[str]:
        """The words of the model (unigrams), ``<s>``, ``</s>`` and ``<unk>`` included."""
        return [g[0] for g in self.entries[0]]

    def log10_prob(self, word: str, history: Sequence[str]) -> float:
        """log10 P(word | history) by the ARPA backoff rule (unknown words are ``<unk>``).

        Args:
            word: The predicted word.
            history: The preceding words, oldest first; only the last ``order - 1`` are used.
        """
        unigrams = self.entries[0]
        word = word if (word,) in unigrams else UNK
        hist = tuple(w if (w,) in unigrams else UNK for w in history)[max(0, len(history) - self.order + 1) :]
        backoff = 0.0
        for start in range(len(hist) + 1):
            context = hist[start:]
            hit = self.entries[len(context)].get(context + (word,))
            if hit is not None:
                return hit[0] + backoff
            ctx = self.entries[len(context) - 1].get(context) if context else None
            if ctx is not None:
                backoff += ctx[1]
        raise KeyError(f"{word!r} is not in the model and it has no {UNK}")

    def sentence_log10(self, words: Sequence[str]) -> float:
        """log10 P(sentence) including the end of sentence, the history starting with ``<s>``."""
        history: List[str] = [BOS]
        total = 0.0
        for w in list(words) + [EOS]:
            total += self.log10_prob(w, history)
            history.append(w)
        return total

    def write_arpa(self, path: str) -> None:
        """Write the model as an ARPA text file."""
        with open(path, "w", encoding="utf-8") as f:
            f.write("\\data\\\n")
            for n in range(self.order):
                f.write(f"ngram {n + 1}={len(self.entries[n])}\n")
            for n in range(self.order):
                f.write(f"\n\\{n + 1}-grams:\n")
                for gram, (logp, bow) in self.entries[n].items():
                    line = f"{logp:.6f}\t{' '.join(gram)}"
                    if n + 1 < self.order and bow != 0.0:
                        line += f"\t{bow:.6f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")


def read_arpa(path: str) -> NgramLM:
    """Read and check an ARPA file.

    Raises:
        FileNotFoundError: The file does not exist.
        ArpaFormatError: A missing header or section, a count that differs from the header, a line
            without a number, or an n-gram of the wrong length; the message names the file and line.
    """
    path = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"ARPA file {path} does not exist")
    counts: Dict[int, int] = {}
    entries: List[Dict[Ngram, Tuple[float, float]]] = []
    section = None  # None: before \data\, 0: the header, n >= 1: the n-gram section
    ended = False
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            where = f"{path}:{lineno}"
            if not line or ended:
                continue
            if line == "\\data\\":
                section = 0
                continue
            if section is None:
                continue  # ARPA files may start with free text
            if line == "\\end\\":
                ended = True
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                try:
                    section = int(line[1:].split("-")[0])
                except ValueError:
                    raise ArpaFormatError(f"{where}: bad section header {line!r}") from None
                if section != len(entries) + 1:
                    raise ArpaFormatError(
                        f"{where}: section {line!r} out of order (expected \\{len(entries) + 1}-grams:)"
                    )
                entries.append({})
                continue
            if section == 0:
                if not line.startswith("ngram ") or "=" not in line:
                    raise ArpaFormatError(f"{where}: expected 'ngram N=count' in the header, got {line!r}")
                n, c = line[6:].split("=", 1)
                try:
                    counts[int(n)] = int(c)
                except ValueError:
                    raise ArpaFormatError(f"{where}: expected 'ngram N=count', got {line!r}") from None
                continue
            fields = line.split()
            try:
                logp = float(fields[0])
            except ValueError:
                raise ArpaFormatError(f"{where}: an n-gram line must start with its log10 probability: {line!r}")
            gram = tuple(fields[1 : 1 + section])
            rest = fields[1 + section :]
            if len(gram) != section or len(rest) > 1:
                raise ArpaFormatError(f"{where}: expected a {section}-gram (and an optional backoff), got {line!r}")
            try:
                bow = float(rest[0]) if rest else 0.0
            except ValueError:
                raise ArpaFormatError(f"{where}: backoff weight {rest[0]!r} is not a number") from None
            entries[-1][gram] = (logp, bow)
    if section is None:
        raise ArpaFormatError(f"{path}: no \\data\\ header; is this an ARPA file?")
    if not ended:
        raise ArpaFormatError(f"{path}: no \\end\\ line (file truncated?)")
    if not entries or sorted(counts) != list(range(1, len(entries) + 1)):
        raise ArpaFormatError(f"{path}: header counts for orders {sorted(counts)} but {len(entries)} sections")
    for n, table in enumerate(entries, 1):
        if len(table) != counts[n]:
            raise ArpaFormatError(f"{path}: header says ngram {n}={counts[n]} but the section has {len(table)}")
    if (UNK,) not in entries[0]:
        logging.warning(f"{path} has no {UNK}: words outside its vocabulary cannot be scored")
    return NgramLM(order=len(entries), entries=entries)


def _discounts(adjusted: Dict[Ngram, int], order: int) -> Tuple[float, float, float]:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from an order's counts of counts.

    Small corpora leave some counts of counts at zero (KenLM then stops with an error); the discounts
    fall back to the single absolute discount t1 / (t1 + 2 t2), or 0.5, and a warning says so.
    """
    t = Counter(c for c in adjusted.values() if c <= 4)  # n_r: n-grams seen exactly r times (not r or more)
    t1, t2, t3, t4 = (t[i] for i in (1, 2, 3, 4))
    if t1 > 0 and t2 > 0 and t3 > 0 and t4 > 0:
        y = t1 / (t1 + 2 * t2)
        d = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
        if all(0 < d[i] < i + 1 for i in range(3)):
            return d
    y = t1 / (t1 + 2 * t2) if t1 > 0 and t2 > 0 else 0.5
    logging.warning(
        f"{order}-grams: counts of counts {t1}, {t2}, {t3}, {t4} do not give modified Kneser-Ney discounts "
        f"(corpus too small); using one discount {y:.3f}"
    )
    return (y, y, y)


def estimate_kneser_ney(
    sentences: Iterable[Sequence[str]],
    order: int = 3,
    prune: Optional[Sequence[int]] = None,
) -> NgramLM:
    """Estimate an interpolated modified Kneser-Ney n-gram model.

    Args:
        sentences: Word sequences (without ``<s>``/``</s>``).
        order: Highest n-gram order (>= 1).
        prune: Per order (index 0: unigrams, never pruned), drop n-grams whose adjusted count is at most
            this; e.g. ``[0, 0, 1]`` drops trigrams seen once. Shorter lists repeat their last value.

    Returns:
        The model, ready for :meth:`NgramLM.write_arpa`.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    prune = list(prune or [0])
    prune = [prune[min(i, len(prune) - 1)] for i in range(order)]
    raw: List[Counter] = [Counter() for _ in range(order)]
    n_sentences = 0
    for words in sentences:
        for w in words:
            if w in (BOS, EOS):
                raise ValueError(f"sentence {n_sentences + 1} contains the reserved token {w!r}")
        padded = (BOS, *words, EOS)
        n_sentences += 1
        for n in range(1, order + 1):
            for i in range(len(padded) - n + 1):
                raw[n - 1][padded[i : i + n]] += 1
    if n_sentences == 0:
        raise ValueError("no sentences to estimate an n-gram model from")

    # Adjusted counts: continuation counts below the highest order, except n-grams that start with <s>.
    adjusted: List[Dict[Ngram, int]] = [dict() for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for n in range(order - 1, 0, -1):
        left = Counter(g[1:] for g in raw[n])
        adjusted[n - 1] = {g: (c if g[0] == BOS else left[g]) for g, c in raw[n - 1].items()}
    adjusted[0].pop((BOS,), None)

    # Prune from the top; a kept n-gram keeps its context and its suffix, which the backoff rule needs.
    kept: List[set] = [set() for _ in range(order)]
    needed: set = set()
    for n in range(order, 0, -1):
        for g, c in adjusted[n - 1].items():
            if n == 1 or c > prune[n - 1] or g in needed:
                kept[n - 1].add(g)
        needed = {g[:-1] for g in kept[n - 1]} | {g[1:] for g in kept[n - 1]}

    discounts = [_discounts(adjusted[n], n + 1) for n in range(order)]

    def discount(n: int, c: int) -> float:
        return discounts[n][min(c, 3) - 1]

    # Per context: total adjusted count and the mass given to the lower order (gamma numerator).
    totals: List[Dict[Ngram, float]] = [defaultdict(float) for _ in range(order)]
    freed: List[Dict[Ngram, float]] = [defaultdict(float) for _ in range(order)]
    for n in range(order):
        for g, c in adjusted[n].items():
            h = g[:-1]
            totals[n][h] += c
            freed[n][h] += discount(n, c) if g in kept[n] else c

    vocab = sorted({g[0] for g in adjusted[0]} | {EOS, UNK})
    uniform = 1.0 / len(vocab)
    probs: List[Dict[Ngram, float]] = [dict() for _ in range(order)]
    probs[0] = {(w,): uniform * freed[0][()] / totals[0][()] for w in vocab}
    for g in kept[0]:
        c = adjusted[0][g]
        probs[0][g] += (c - discount(0, c)) / totals[0][()]

    def lower(n: int, gram: Ngram) -> float:
        """P(gram[-1] | gram[:-1]) under the order-n model (n: 0-based), by backoff."""
        if gram in probs[n]:
            return probs[n][gram]
        h = gram[:-1]
        gamma = freed[n][h] / totals[n][h] if totals[n].get(h) else 1.0
        return gamma * lower(n - 1, gram[1:])

    for n in range(1, order):
        for g in sorted(kept[n], key=len):
            c = adjusted[n][g]
            h = g[:-1]
            gamma = freed[n][h] / totals[n][h]
            probs[n][g] = (c - discount(n, c)) / totals[n][h] + gamma * lower(n - 1, g[1:])

    entries: List[Dict[Ngram, Tuple[float, float]]] = []
    for n in range(order):
        table: Dict[Ngram, Tuple[float, float]] = {}
        if n == 0:
            table[(BOS,)] = (NO_PROB, 0.0)
        for g in sorted(probs[n]):
            table[g] = (math.log10(probs[n][g]), 0.0)
        entries.append(table)
    for n in range(order - 1):
        for h, total in totals[n + 1].items():
            if h in entries[n]:
                logp, _ = entries[n][h]
                entries[n][h] = (logp, math.log10(freed[n + 1][h] / total))
    return NgramLM(order=order, entries=entries, discounts=discounts)
