"""The decoders of a CTC model's saved log-posteriors, their tuning on a dev set, and their outputs.

A decoding stage runs the network once per set and saves its frame log-posteriors
(:func:`espnet_brain.asr.inference.decode` with ``logp_dir``); every decoder then reads them, so a grid of
LM weights costs searches, not forward passes. Decoders (``--decoder``):

=============  ==============================================================================
greedy         best path
beam           CTC prefix beam search (ESPnet's scorers), no LM
token_lm       the same search fused with an ESPnet token LM (``espnet2.bin.lm_train``)
ngram          lexicon + word n-gram beam search (KenLM through torchaudio's flashlight decoder)
ngram_llm      ``ngram``'s n-best rescored with a Hugging Face causal LM
=============  ==============================================================================

Weights (LM weight, word score, LLM weight) are chosen on the dev set by word error rate over a grid;
the grid, its dev WERs and the chosen values are written to ``<output_dir>/search.json``.
"""

import functools
import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from espnet_brain.asr.ctc_decoding import CTCBeamSearch, greedy_ctc, tokens_to_text
from espnet_brain.asr.lm.lexicon_search import Hypothesis, LexiconBeamSearch
from espnet_brain.asr.scoring import score

DECODERS = ("greedy", "beam", "token_lm", "ngram", "ngram_llm")
# Which files each decoder needs, and which weights it tunes on dev.
NEEDS = {"token_lm": ("token_lm_config", "token_lm_file"), "ngram": ("lexicon", "ngram")}
NEEDS["ngram_llm"] = NEEDS["ngram"] + ("llm",)
# The weights a dev grid holds: weight -> (the option of ``ctc_search`` that lists its values, the decoders that
# tune it). ``llm_weight`` is tuned after the others, on the n-best of the best first pass.
GRID = {
    "lm_weight": ("lm_weights", ("token_lm", "ngram", "ngram_llm")),
    "word_score": ("word_scores", ("ngram", "ngram_llm")),
    "llm_weight": ("llm_weights", ("ngram_llm",)),
}
TUNED = {decoder: tuple(w for w, (_, tuned_by) in GRID.items() if decoder in tuned_by) for decoder in DECODERS}


@dataclass
class SearchConfig:
    """One decoder and its settings; the weights are the ones tuned on dev when a grid is given."""

    decoder: str = "greedy"
    beam_size: int = 50
    lm_weight: float = 1.0
    word_score: float = 0.0
    unk_score: float = float("-inf")
    nbest: int = 1
    llm_weight: float = 0.0
    lexicon: Optional[str] = None
    ngram: Optional[str] = None
    token_lm_config: Optional[str] = None
    token_lm_file: Optional[str] = None
    llm: Optional[str] = None

    def check(self) -> None:
        """Fail early, naming the option, when the decoder's files are not given."""
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose from {DECODERS}")
        missing = [f"--{k}" for k in NEEDS.get(self.decoder, ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"decoder {self.decoder} needs {' and '.join(missing)}")


Searcher = Callable[[torch.Tensor], List[Hypothesis]]


@functools.lru_cache(maxsize=2)
def load_token_lm(config: str, model_file: str, token_list: Tuple[str, ...]) -> torch.nn.Module:
    """The ESPnet LM's scorer module (loaded once per process: the dev grid reuses it).

    Raises:
        ValueError: Its token list is not the CTC model's (the scores would be of other tokens).
    """
    from espnet2.tasks.lm import LMTask

    lm_model, lm_args = LMTask.build_model_from_file(config, model_file, "cpu")
    if list(lm_args.token_list) != list(token_list):
        raise ValueError(f"{config}: the token LM's token list differs from the CTC model's")
    return lm_model.lm.eval()


def build_searcher(cfg: SearchConfig, token_list: Sequence[str]) -> Searcher:
    """A function from one utterance's (T, V) log-posteriors to its n-best (``ngram_llm``: the first pass)."""
    cfg.check()
    token_list = list(token_list)
    if cfg.decoder == "greedy":

        def greedy(logp: torch.Tensor) -> List[Hypothesis]:
            ids = greedy_ctc(logp[None], torch.tensor([logp.shape[0]]), blank=0)[0]
            return [Hypothesis(ids, tokens_to_text(ids, token_list), float(logp.max(-1).values.sum()))]

        return greedy
    if cfg.decoder in ("beam", "token_lm"):
        lm = None
        if cfg.decoder == "token_lm":
            lm = load_token_lm(cfg.token_lm_config, cfg.token_lm_file, tuple(token_list))
        # The saved frames are log-posteriors already; log_softmax leaves them as they are.
        eos = len(token_list) - 1
        stand_in = SimpleNamespace(ctc=SimpleNamespace(log_softmax=lambda x: torch.log_softmax(x, dim=-1)))
        stand_in.sos, stand_in.eos, stand_in.token_list = eos, eos, token_list
        search = CTCBeamSearch(stand_in, beam_size=cfg.beam_size, lm=lm, lm_weight=cfg.lm_weight)

        def beam(logp: torch.Tensor) -> List[Hypothesis]:
            ids = search(logp)
            return [Hypothesis(ids, tokens_to_text(ids, token_list), 0.0)]

        return beam
    return LexiconBeamSearch(
        token_list,
        lexicon=cfg.lexicon,
        lm=cfg.ngram,
        beam_size=cfg.beam_size,
        lm_weight=cfg.lm_weight,
        word_score=cfg.word_score,
        unk_score=cfg.unk_score,
        nbest=cfg.nbest,
    )


def search_all(logps: Dict[str, torch.Tensor], searcher: Searcher) -> Dict[str, List[Hypothesis]]:
    """Run a searcher over every utterance (utt_id -> (T, V) log-posteriors)."""
    out = {}
    for utt, logp in logps.items():
        hyps = searcher(logp)
        out[utt] = hyps if hyps else [Hypothesis([], "", float("-inf"))]
    return out


def wer_of(refs: Dict[str, str], best: Dict[str, Hypothesis]) -> float:
    """Corpus WER (%) of the chosen hypotheses."""
    return score(refs, {u: h.text for u, h in best.items()}).wer


def tune(
    cfg: SearchConfig,
    token_list: Sequence[str],
    dev_logps: Dict[str, torch.Tensor],
    dev_refs: Dict[str, str],
    grid: Dict[str, Sequence[float]],
    llm_scorer=None,
) -> Tuple[SearchConfig, List[Dict[str, float]]]:
    """Choose the decoder's weights by dev WER.

    Args:
        cfg: The decoder and its fixed settings.
        token_list: CTC tokens.
        dev_logps: utt_id -> (T, V) dev log-posteriors.
        dev_refs: utt_id -> dev transcript.
        grid: weight name (:data:`GRID`) -> values; only the decoder's tuned weights (:data:`TUNED`) are read; a
            weight without values keeps ``cfg``'s.
        llm_scorer: :class:`~espnet_brain.asr.lm.rescoring.CausalLMScorer` for ``ngram_llm``.

    Returns:
        The config with the chosen weights, and one row per grid point (weights and dev WER).
    """
    from espnet_brain.asr.lm.rescoring import rescore

    names = [n for n in TUNED[cfg.decoder] if n != "llm_weight" and grid.get(n)]
    rows: List[Dict[str, float]] = []
    best_cfg, best_wer = cfg, float("inf")
    for values in itertools.product(*(grid[n] for n in names)):
        trial = replace(cfg, **dict(zip(names, values)))
        first = {u: h[0] for u, h in search_all(dev_logps, build_searcher(trial, token_list)).items()}
        wer = wer_of(dev_refs, first)
        rows.append({**dict(zip(names, values)), "dev_wer": wer})
        logging.info(f"{cfg.decoder} {dict(zip(names, values))}: dev WER {wer:.2f}")
        if wer < best_wer:
            best_cfg, best_wer = trial, wer
    if cfg.decoder == "ngram_llm" and grid.get("llm_weight"):
        nbest = search_all(dev_logps, build_searcher(best_cfg, token_list))
        llm = llm_scores(nbest, llm_scorer)
        best_llm, best_wer = best_cfg.llm_weight, float("inf")
        for w in grid["llm_weight"]:
            wer = wer_of(dev_refs, rescore(nbest, llm, w))
            rows.append({**{n: getattr(best_cfg, n) for n in names}, "llm_weight": w, "dev_wer": wer})
            logging.info(f"{cfg.decoder} llm_weight {w}: dev WER {wer:.2f}")
            if wer < best_wer:
                best_llm, best_wer = w, wer
        best_cfg = replace(best_cfg, llm_weight=best_llm)
    return best_cfg, rows


def llm_scores(nbest: Dict[str, List[Hypothesis]], scorer) -> Dict[str, List[float]]:
    """The LLM log-probability of every hypothesis (utt_id -> one score per hypothesis)."""
    utts = list(nbest)
    flat = [h.text for u in utts for h in nbest[u]]
    scores = scorer(flat)
    out, i = {}, 0
    for u in utts:
        out[u] = scores[i : i + len(nbest[u])]
        i += len(nbest[u])
    return out


def decode_set(
    cfg: SearchConfig, token_list: Sequence[str], logps: Dict[str, torch.Tensor], llm_scorer=None
) -> Tuple[Dict[str, Hypothesis], Dict[str, List[Hypothesis]]]:
    """Decode a set with fixed weights: the best hypothesis per utterance, and the n-best it came from."""
    from espnet_brain.asr.lm.rescoring import rescore

    nbest = search_all(logps, build_searcher(cfg, token_list))
    if cfg.decoder == "ngram_llm":
        return rescore(nbest, llm_scores(nbest, llm_scorer), cfg.llm_weight), nbest
    return {u: h[0] for u, h in nbest.items()}, nbest


def write_outputs(
    out_dir: str,
    best: Dict[str, Hypothesis],
    nbest: Dict[str, List[Hypothesis]],
    cfg: SearchConfig,
    rows: List[Dict[str, float]],
    seconds: float,
    n_frames: int,
) -> None:
    """Write ``text``, ``token``, ``nbest.jsonl`` and ``search.json`` (settings, dev grid, timing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "text", "w", encoding="utf-8") as f_text, open(out / "token", "w", encoding="utf-8") as f_tok:
        for utt in sorted(best):
            f_text.write(f"{utt} {best[utt].text}\n")
            f_tok.write(f"{utt} {' '.join(map(str, best[utt].tokens))}\n")
    with open(out / "nbest.jsonl", "w", encoding="utf-8") as f:
        for utt in sorted(nbest):
            f.write(json.dumps({"utt": utt, "hyps": [[h.text, h.score] for h in nbest[utt]]}) + "\n")
    settings = {k: v for k, v in asdict(cfg).items() if v is not None and v != float("-inf")}
    summary = {"settings": settings, "dev_grid": rows, "search_seconds": round(seconds, 3), "frames": n_frames}
    (out / "search.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def run(
    cfg: SearchConfig,
    token_list: Sequence[str],
    sets: Sequence[Tuple[Dict[str, torch.Tensor], str]],
    dev_logps: Optional[Dict[str, torch.Tensor]] = None,
    dev_refs: Optional[Dict[str, str]] = None,
    grid: Optional[Dict[str, Sequence[float]]] = None,
) -> SearchConfig:
    """Tune on dev once (when given), then decode each set and write its outputs.

    Args:
        cfg: Decoder and settings (the weights are the fallback when there is no grid).
        token_list: CTC tokens.
        sets: (utt_id -> (T, V) log-posteriors, output directory) per set to decode.
        dev_logps, dev_refs, grid: See :func:`tune`.

    Returns:
        The settings used.
    """
    cfg.check()
    scorer = None
    if cfg.decoder == "ngram_llm":
        from espnet_brain.asr.lm.rescoring import CausalLMScorer

        scorer = CausalLMScorer(cfg.llm)
    rows: List[Dict[str, float]] = []
    if dev_logps is not None and any(grid.get(n) for n in TUNED[cfg.decoder]):
        if dev_refs is None:
            raise ValueError("tuning on dev needs its transcripts")
        cfg, rows = tune(cfg, token_list, dev_logps, dev_refs, grid, llm_scorer=scorer)
        chosen = min(rows, key=lambda r: r["dev_wer"])
        logging.info(f"{cfg.decoder}: lowest dev WER {chosen['dev_wer']:.2f} at {chosen}")
    for logps, out_dir in sets:
        start = time.perf_counter()
        best, nbest = decode_set(cfg, token_list, logps, llm_scorer=scorer)
        seconds = time.perf_counter() - start
        write_outputs(out_dir, best, nbest, cfg, rows, seconds, sum(int(x.shape[0]) for x in logps.values()))
    return cfg
