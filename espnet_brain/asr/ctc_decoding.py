"""CTC decoding for brain (and audio) decoders: greedy and prefix beam search with an optional LM."""

from typing import Dict, List, Optional, Sequence, Tuple

import torch


def greedy_ctc(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> List[List[int]]:
    """Best-path CTC decoding over the valid frames of each utterance.

    Args:
        log_probs: (B, T, V) frame log-posteriors (or logits).
        lengths: (B,) number of valid frames; padded frames are never decoded.
        blank: Index of the blank token.

    Returns:
        B token-id sequences with repeats merged and blanks removed.
    """
    best = log_probs.argmax(dim=-1)  # (B, T)
    return [collapse_path(best[b, : int(lengths[b])].tolist(), blank)[0] for b in range(best.shape[0])]


def collapse_path(path: Sequence[int], blank: int = 0, prev: Optional[int] = None) -> Tuple[List[int], Optional[int]]:
    """CTC's collapse of a best path: repeats merged, blanks removed.

    Args:
        path: Frame symbols (best-path token ids).
        blank: Index of the blank token.
        prev: The symbol of the frame before ``path`` (a stream decoded in pieces), None at the start.

    Returns:
        The tokens and the symbol of the last frame (``prev`` for an empty path).
    """
    out = []
    for t in path:
        if t != prev and t != blank:
            out.append(t)
        prev = t
    return out, prev


def tokens_to_text(token_ids: Sequence[int], token_list: Sequence[str], space: str = "<space>") -> str:
    """Join character tokens into text (ESPnet's ``<space>`` becomes a blank)."""
    chars = []
    for i in token_ids:
        tok = token_list[i]
        if tok in ("<blank>", "<unk>", "<sos/eos>"):
            continue
        chars.append(" " if tok == space else tok)
    return " ".join("".join(chars).split())


class CTCBeamSearch:
    """Prefix beam search over ESPnet's CTC prefix scorer, optionally fused with an ESPnet LM.

    Thin wrapper around ESPnet's :class:`espnet.nets.beam_search.BeamSearch` so that decoding
    uses the same scorers as ESPnet's own ``asr_inference`` for CTC-only models.

    Args:
        model: ESPnet ASR model (with ``ctc``, ``sos``, ``eos``, ``token_list``).
        beam_size: Beam width.
        lm: Optional ESPnet LM module (``LMTask`` model's ``.lm``).
        lm_weight: LM weight in the log-linear combination.
        penalty: Length bonus per token.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        beam_size: int = 10,
        lm: Optional[torch.nn.Module] = None,
        lm_weight: float = 0.0,
        penalty: float = 0.0,
    ):
        from espnet.nets.beam_search import BeamSearch
        from espnet.nets.scorers.ctc import CTCPrefixScorer
        from espnet.nets.scorers.length_bonus import LengthBonus

        token_list = list(model.token_list)
        scorers: Dict[str, object] = {
            "ctc": CTCPrefixScorer(ctc=model.ctc, eos=model.eos),
            "length_bonus": LengthBonus(len(token_list)),
        }
        weights = {"ctc": 1.0, "length_bonus": penalty}
        if lm is not None:
            scorers["lm"] = lm
            weights["lm"] = lm_weight
        self.search = BeamSearch(
            scorers=scorers,
            weights=weights,
            # ESPnet's top-k fails on a beam wider than the vocabulary, and one as wide returns empty hypotheses.
            beam_size=min(beam_size, len(token_list) - 1),
            vocab_size=len(token_list),
            sos=model.sos,
            eos=model.eos,
            token_list=token_list,
            pre_beam_score_key=None,
        )
        self.search.eval()
        self.sos, self.eos = model.sos, model.eos

    @torch.no_grad()
    def __call__(self, enc: torch.Tensor) -> List[int]:
        """Decode one utterance.

        Args:
            enc: (T, H) encoder output of the valid frames only.

        Returns:
            The best token-id sequence without sos/eos.
        """
        hyps = self.search(x=enc, maxlenratio=0.0, minlenratio=0.0)
        seq = hyps[0].yseq.tolist()
        return [t for t in seq if t not in (self.sos, self.eos)]
