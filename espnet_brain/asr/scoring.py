"""Corpus-level CER/WER with jiwer, per-utterance errors, ESPnet-style RESULTS.md tables and their JSON."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import jiwer

from espnet_brain.data.text import normalize_transcript as normalize_text


@dataclass
class ErrorRates:
    """Corpus-level error counts (errors are summed over the corpus, then divided).

    Utterances with an empty reference are scored as sclite scores them: every hypothesis word
    (character) is an insertion, and their reference length of 0 adds nothing to the denominator.
    ``n_empty_refs``, ``empty_ref_word_insertions`` and ``empty_ref_char_insertions`` say how many
    there were and how many of the errors they contributed.
    """

    n_utts: int
    cer: float
    wer: float
    char_errors: int
    n_chars: int
    word_errors: int
    n_words: int
    per_utt: List[Tuple[str, int, int, int, int]]  # (utt_id, char_err, n_chars, word_err, n_words)
    n_empty_refs: int = 0
    empty_ref_word_insertions: int = 0
    empty_ref_char_insertions: int = 0
    # Errors by kind; substitutions + deletions + insertions = char_errors (word_errors).
    char_substitutions: int = 0
    char_deletions: int = 0
    char_insertions: int = 0
    word_substitutions: int = 0
    word_deletions: int = 0
    word_insertions: int = 0

    def to_json(self) -> Dict[str, Any]:
        """The corpus numbers as a JSON-ready dict (no per-utterance list; that goes to ``per_utt.tsv``)."""
        out = asdict(self)
        del out["per_utt"]
        return out


def score(refs: Dict[str, str], hyps: Dict[str, str]) -> ErrorRates:
    """Score hypotheses against references at corpus level.

    Args:
        refs: utt_id -> reference text.
        hyps: utt_id -> hypothesis text; every reference must have one.

    Returns:
        Corpus CER and WER (in %), counts, and per-utterance edit distances. An empty reference
        counts every hypothesis word and character as an insertion (as sclite does).
    """
    missing = sorted(set(refs) - set(hyps))
    if missing:
        raise ValueError(f"{len(missing)} utterances have no hypothesis, e.g. {missing[:3]}")
    per_utt = []
    char_err = n_chars = word_err = n_words = 0
    n_empty = empty_word_ins = empty_char_ins = 0
    kinds = dict.fromkeys(("char_s", "char_d", "char_i", "word_s", "word_d", "word_i"), 0)
    for key in sorted(refs):
        ref, hyp = normalize_text(refs[key]), normalize_text(hyps[key])
        if not ref:
            # jiwer refuses an empty reference, so its edit distance is counted here: every hypothesis
            # word (character, spaces included as for non-empty references) is an insertion.
            we, ce, nw, nc = len(hyp.split()), len(hyp), 0, 0
            n_empty, empty_word_ins, empty_char_ins = n_empty + 1, empty_word_ins + we, empty_char_ins + ce
            kinds["word_i"] += we
            kinds["char_i"] += ce
        else:
            wo = jiwer.process_words(ref, hyp)
            co = jiwer.process_characters(ref, hyp)
            we = wo.substitutions + wo.deletions + wo.insertions
            ce = co.substitutions + co.deletions + co.insertions
            nw, nc = len(ref.split()), len(ref)
            for unit, out in (("word", wo), ("char", co)):
                kinds[f"{unit}_s"] += out.substitutions
                kinds[f"{unit}_d"] += out.deletions
                kinds[f"{unit}_i"] += out.insertions
        per_utt.append((key, ce, nc, we, nw))
        char_err, n_chars, word_err, n_words = char_err + ce, n_chars + nc, word_err + we, n_words + nw
    if n_words == 0:
        raise ValueError(
            f"all {len(refs)} references are empty: error rates have no denominator; check the reference file"
        )
    return ErrorRates(
        n_utts=len(per_utt),
        cer=100.0 * char_err / n_chars,
        wer=100.0 * word_err / n_words,
        char_errors=char_err,
        n_chars=n_chars,
        word_errors=word_err,
        n_words=n_words,
        per_utt=per_utt,
        n_empty_refs=n_empty,
        empty_ref_word_insertions=empty_word_ins,
        empty_ref_char_insertions=empty_char_ins,
        char_substitutions=kinds["char_s"],
        char_deletions=kinds["char_d"],
        char_insertions=kinds["char_i"],
        word_substitutions=kinds["word_s"],
        word_deletions=kinds["word_d"],
        word_insertions=kinds["word_i"],
    )


def summary(rates: ErrorRates) -> str:
    """The lines of ``score.txt``: corpus CER/WER with counts, and what empty references contributed."""
    lines = [
        f"CER {rates.cer:.2f} % ({rates.char_errors}/{rates.n_chars}) "
        f"WER {rates.wer:.2f} % ({rates.word_errors}/{rates.n_words}) over {rates.n_utts} utterances",
        f"empty references: {rates.n_empty_refs} (their hypotheses count as insertions: "
        f"{rates.empty_ref_word_insertions} words, {rates.empty_ref_char_insertions} characters; "
        "they add 0 to the reference length)",
    ]
    return "\n".join(lines) + "\n"


def write_per_utt(rates: ErrorRates, refs: Dict[str, str], hyps: Dict[str, str], path: Path) -> None:
    """Write one block per utterance: id, errors, reference and hypothesis."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("utt_id\tchar_errors\tn_chars\tword_errors\tn_words\tref\thyp\n")
        for key, ce, nc, we, nw in rates.per_utt:
            f.write(f"{key}\t{ce}\t{nc}\t{we}\t{nw}\t{normalize_text(refs[key])}\t{normalize_text(hyps[key])}\n")


def results_table(rows: Sequence[Tuple[str, ErrorRates]], title: str = "Results") -> str:
    """Markdown table of corpus CER/WER, one row per system."""
    lines = [
        f"## {title}",
        "",
        "| system | #utts | #chars | CER (%) | #words | WER (%) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r.n_utts} | {r.n_chars} | {r.cer:.2f} | {r.n_words} | {r.wer:.2f} |")
    return "\n".join(lines) + "\n"


def results_json(rows: Sequence[Tuple[str, ErrorRates]], title: str = "Results") -> Dict[str, Any]:
    """The numbers of :func:`results_table` for programs: ``{"title", "systems": [{"name", ...counts}]}``."""
    return {"title": title, "systems": [{"name": name, **r.to_json()} for name, r in rows]}
