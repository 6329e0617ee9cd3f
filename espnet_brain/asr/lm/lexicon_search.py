"""CTC beam search with a lexicon and a KenLM word n-gram, through torchaudio's flashlight decoder.

Hypotheses are sequences of lexicon words scored by a word ARPA model. Words outside the lexicon: with
``unk_score`` finite the decoder may also end a word on a spelling that is not in the lexicon but is a
prefix of one of its words (flashlight's rule); the LM scores it as ``<unk>``, plus ``unk_score``, and its
spelling is kept in the output (the text is made from the tokens, not the words). The default (``-inf``)
keeps the vocabulary closed: extend it with ``--lm_text`` so the test words are in the lexicon (stage 3
reports the dev/test coverage). Without a lexicon the search is a plain lexicon-free beam search.

The search reads frame log-posteriors, so it runs on the output of any CTC model without it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import torch
from typeguard import typechecked

from espnet_brain.asr.ctc_decoding import tokens_to_text
from espnet_brain.asr.lm.lexicon import SPACE, read_lexicon


@dataclass
class Hypothesis:
    """One n-best entry: token ids (blanks and repeats removed), its text, and the decoder's score.

    ``score`` is the search's total: CTC log-probability + lm_weight * LM log-probability (natural
    log) + word_score per word.
    """

    tokens: List[int]
    text: str
    score: float


class LexiconBeamSearch:
    """Beam search over CTC log-posteriors with an optional lexicon and n-gram LM.

    Args:
        token_list: The CTC model's tokens, index 0 the blank (ESPnet's ``<blank>``).
        lexicon: Lexicon file (see :mod:`espnet_brain.asr.lm.lexicon`); None: lexicon-free.
        lm: ARPA (or KenLM binary) file; None: no LM (a plain beam search, lexicon-constrained if given).
        beam_size: Hypotheses kept per frame.
        lm_weight: Weight of the LM log-probability.
        word_score: Score added per emitted word (insertion bonus; negative: penalty).
        unk_score: Score of a word ending outside the lexicon (lexicon mode; -inf: not allowed).
        nbest: Hypotheses returned per utterance.
        beam_threshold: Hypotheses scoring this far below the best are dropped.
    """

    @typechecked
    def __init__(
        self,
        token_list: Sequence[str],
        lexicon: Optional[str] = None,
        lm: Optional[str] = None,
        beam_size: int = 50,
        lm_weight: float = 1.0,
        word_score: float = 0.0,
        unk_score: float = float("-inf"),
        nbest: int = 1,
        beam_threshold: float = 25.0,
    ):
        from torchaudio.models.decoder import ctc_decoder

        for path in (lexicon, lm):
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"{path} does not exist")
        if len(set(token_list)) != len(token_list):
            raise ValueError("the token list has duplicate tokens")
        if SPACE not in token_list:
            raise ValueError(f"the token list has no word delimiter {SPACE!r}")
        self.token_list = list(token_list)
        self.lexicon_mode = lexicon is not None
        if lexicon is not None:
            read_lexicon(lexicon, self.token_list)  # a clear error (file:line) instead of the decoder's own
        self.decoder = ctc_decoder(
            lexicon=lexicon,
            tokens=self.token_list,
            lm=lm,
            nbest=nbest,
            beam_size=beam_size,
            beam_threshold=beam_threshold,
            lm_weight=lm_weight if lm is not None else 0.0,
            word_score=word_score,
            unk_score=unk_score,
            blank_token=self.token_list[0],
            sil_token=SPACE,
            unk_word="<unk>",
        )

    def __call__(self, log_probs: torch.Tensor) -> List[Hypothesis]:
        """Decode one utterance.

        Args:
            log_probs: (T, V) frame log-posteriors of its valid frames.

        Returns:
            Up to ``nbest`` hypotheses, best first.
        """
        if log_probs.dim() != 2 or log_probs.shape[1] != len(self.token_list):
            raise ValueError(f"expected (T, {len(self.token_list)}) log-posteriors, got {tuple(log_probs.shape)}")
        emissions = log_probs.detach().to("cpu", torch.float32)
        if self.lexicon_mode:
            emissions = torch.cat([emissions, self.boundary_frame()])
        return self.convert(self.decoder(emissions.contiguous()[None])[0])

    def boundary_frame(self) -> torch.Tensor:
        """The frame appended to every utterance's emissions in lexicon mode: (1, V) scores, 0 for ``<space>`` and
        the blank, -inf for every other token.

        Flashlight's lexicon decoder emits a word when the last token of its spelling is read, and every spelling
        ends with the word delimiter (``C A T <space>``); at the end of the utterance it keeps only the hypotheses
        that stand on a word boundary, or, when the beam holds none, hypotheses whose last word was never emitted.
        Transcripts have no delimiter after their last word, so a model rarely emits one there: a confident model
        left no boundary hypothesis in the beam, and the last word was dropped. This frame lets every path read the
        delimiter once more at no cost: a path at the end of a spelling completes its word (with the word's LM
        score), a path on a word boundary stays there. The blank (also at no cost) keeps a path that ends inside
        a spelling that is no word, as before, so a sentence cut mid-word still keeps its earlier words; the
        decoder prefers the boundary hypotheses when there are any. No path's acoustic score changes.

        Spellings without the delimiter (a word complete at its last letter) would need no extra frame, but then
        the decoder could start the next word without a delimiter (``CATAT`` read as ``CAT AT``) and ``<space>``
        would become optional silence: the model's own word boundaries would no longer be required between words.
        """
        frame = torch.full((1, len(self.token_list)), float("-inf"))
        frame[0, 0] = 0.0  # the blank
        frame[0, self.token_list.index(SPACE)] = 0.0
        return frame

    def convert(self, results: list) -> List[Hypothesis]:
        """torchaudio's hypotheses of one utterance (``CTCHypothesis``, best first) as :class:`Hypothesis`.

        Public so that an online search (``decode_begin``/``decode_step``/``decode_end`` on ``self.decoder``) gives
        the same text as the offline one.
        """
        hyps = []
        for r in results:
            ids = [int(t) for t in r.tokens if int(t) != 0]
            text = tokens_to_text(ids, self.token_list)
            if self.lexicon_mode:
                text = self._words_text(text.split(), list(r.words))
                ids = self._spell(text)
            hyps.append(Hypothesis(tokens=ids, text=text, score=float(r.score)))
        return hyps

    @staticmethod
    def _words_text(spelled: List[str], words: List[str]) -> str:
        """The text of the decoded words; an unknown word keeps its spelling.

        The decoder's token path can end in a spelling that never became a word (flashlight keeps hypotheses
        that stop inside the lexicon tree, without the LM cost of a word): such a tail is not output.
        """
        return " ".join(spelled[i] if w == "<unk>" and i < len(spelled) else w for i, w in enumerate(words))

    def _spell(self, text: str) -> List[int]:
        index = {t: i for i, t in enumerate(self.token_list)}
        ids: List[int] = []
        for k, word in enumerate(text.split()):
            if k:
                ids.append(index[SPACE])
            ids.extend(index[c] for c in word)
        return ids
