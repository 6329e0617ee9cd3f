"""Everything the n-gram decoders read, written to one directory from text or from a user's ARPA file.

``<lm_dir>/words.arpa``   word n-gram (estimated here, or the user's file checked and copied)
``<lm_dir>/lexicon.txt``  each word of the n-gram spelled in the CTC tokens
``<lm_dir>/coverage.json`` per checked set: running words covered by the lexicon, and the uncovered words
"""

import json
import logging
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_brain.asr.lm.lexicon import build_lexicon, coverage, word_counts, write_lexicon
from espnet_brain.asr.lm.ngram import BOS, EOS, UNK, estimate_kneser_ney, read_arpa
from espnet_brain.data.text import normalize_transcript


def read_sentences(path: str, kaldi_text: bool) -> List[List[str]]:
    """Sentences of a text file: a Kaldi ``text`` (``utt_id words``) or plain text (normalised here).

    Raises:
        FileNotFoundError: No such file.
        ValueError: No words in it.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"LM text {path} does not exist")
    sentences = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if kaldi_text:
                parts = line.split(maxsplit=1)
                words = parts[1].split() if len(parts) > 1 else []
            else:
                words = normalize_transcript(line).split()
            if words:
                sentences.append(words)
    if not sentences:
        raise ValueError(f"LM text {path} has no words")
    return sentences


def prepare_lm(
    out_dir: str,
    token_list: Sequence[str],
    texts: Sequence[str] = (),
    plain_texts: Sequence[str] = (),
    arpa: Optional[str] = None,
    order: int = 3,
    prune: Sequence[int] = (0,),
    check_sets: Optional[Dict[str, str]] = None,
) -> Dict[str, dict]:
    """Write the n-gram decoders' files.

    Args:
        out_dir: Output directory.
        token_list: The CTC model's tokens.
        texts: Kaldi ``text`` files (e.g. the training transcripts) to estimate from.
        plain_texts: Plain-text corpora (one sentence per line; normalised like the transcripts).
        arpa: A user's word ARPA file, used instead of estimating one (its words make the lexicon).
        order: Word n-gram order.
        prune: Per-order count thresholds (see :func:`~espnet_brain.asr.lm.ngram.estimate_kneser_ney`).
        check_sets: name -> Kaldi ``text`` whose words are checked against the lexicon (dev/test).

    Returns:
        name -> coverage (``covered``: fraction of running words, ``oov_types``, ``oov``: first 50 words).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sentences = [s for t in texts for s in read_sentences(t, kaldi_text=True)]
    sentences += [s for t in plain_texts for s in read_sentences(t, kaldi_text=False)]
    if arpa is not None:
        model = read_arpa(arpa)
        shutil.copyfile(arpa, out / "words.arpa")
        source = arpa
    else:
        if not sentences:
            raise ValueError("no LM text given (a Kaldi text or a plain-text corpus) and no ARPA file")
        model = estimate_kneser_ney(sentences, order=order, prune=prune)
        model.write_arpa(str(out / "words.arpa"))
        source = ", ".join(list(texts) + list(plain_texts))
    words = [w for w in model.vocabulary if w not in (BOS, EOS, UNK)]
    write_lexicon(build_lexicon(words, token_list, source=source), str(out / "lexicon.txt"))
    logging.info(f"{out / 'words.arpa'}: {model.order}-gram, {[len(e) for e in model.entries]} n-grams")
    report = {}
    for name, path in (check_sets or {}).items():
        counts = word_counts(" ".join(s) for s in read_sentences(path, kaldi_text=True))
        covered, oov = coverage(counts, words)
        report[name] = {"covered": round(covered, 4), "oov_types": len(oov), "oov": oov[:50]}
        if oov:
            logging.warning(
                f"{name} ({path}): {len(oov)} word types ({100 * (1 - covered):.1f}% of running words) are not in "
                f"the lexicon and cannot be decoded by 'ngram': {' '.join(oov[:20])}{' ...' if len(oov) > 20 else ''}"
            )
    (out / "coverage.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
