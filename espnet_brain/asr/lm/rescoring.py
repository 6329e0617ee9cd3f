"""Second-pass rescoring of n-best lists with a Hugging Face causal LM (the Brain-to-text '24/'25 recipe).

The new score of a hypothesis is ``decoder score + llm_weight * ln P_LLM(text)``; the LLM reads the
transcript in sentence case (``"I DON'T KNOW"`` -> ``"I don't know"``), the case it was trained on.
"""

import re
from typing import Dict, List, Sequence

import torch
from typeguard import typechecked

from espnet_brain.asr.lm.lexicon_search import Hypothesis

_LONE_I = re.compile(r"\bi\b")


def sentence_case(text: str) -> str:
    """``"I DON'T KNOW WHAT I MEAN"`` -> ``"I don't know what I mean"``."""
    text = _LONE_I.sub("I", text.lower())
    return text[:1].upper() + text[1:]


class CausalLMScorer:
    """Sentence log-probabilities under a causal LM.

    Args:
        model_name_or_path: Hub id or local directory of a causal LM with its tokenizer.
        device: Where the LM runs.
        batch_size: Sentences per forward pass.
    """

    @typechecked
    def __init__(self, model_name_or_path: str, device: str = "cpu", batch_size: int = 16):
        from espnet_brain.hf.loading import load_causal_lm

        self.model, self.tokenizer = load_causal_lm(model_name_or_path, "--llm")
        self.model.to(device)
        self.device = device
        self.batch_size = batch_size
        # The first word needs a context to be scored: the BOS token, or the EOS token as GPT-2 uses it.
        start = self.tokenizer.bos_token_id
        if start is None:
            start = self.tokenizer.eos_token_id
        if start is None:
            raise ValueError(f"--llm {model_name_or_path}: its tokenizer has neither a BOS nor an EOS token")
        self.start = int(start)
        self.end = self.tokenizer.eos_token_id

    @torch.no_grad()
    def __call__(self, texts: Sequence[str]) -> List[float]:
        """Natural-log probability of each text (sentence-cased), its end-of-sentence token included."""
        scores: List[float] = []
        for i in range(0, len(texts), self.batch_size):
            batch = [sentence_case(t) for t in texts[i : i + self.batch_size]]
            ids = [
                [self.start]
                + self.tokenizer(t, add_special_tokens=False)["input_ids"]
                + ([self.end] if self.end is not None else [])
                for t in batch
            ]
            width = max(len(x) for x in ids)
            input_ids = torch.zeros(len(ids), width, dtype=torch.long)
            mask = torch.zeros(len(ids), width, dtype=torch.long)
            for b, x in enumerate(ids):
                input_ids[b, : len(x)] = torch.tensor(x)
                mask[b, : len(x)] = 1
            input_ids, mask = input_ids.to(self.device), mask.to(self.device)
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
            logp = logits[:, :-1].log_softmax(-1).gather(-1, input_ids[:, 1:, None])[..., 0]
            scores.extend((logp * mask[:, 1:]).sum(-1).tolist())
        return scores


def rescore(
    nbest: Dict[str, List[Hypothesis]], llm_scores: Dict[str, List[float]], llm_weight: float
) -> Dict[str, Hypothesis]:
    """Pick each utterance's best hypothesis after adding ``llm_weight`` x its LLM log-probability.

    Args:
        nbest: utt_id -> hypotheses with the first-pass score.
        llm_scores: utt_id -> one LLM log-probability per hypothesis, in the same order.
        llm_weight: Weight of the LLM score (0 keeps the first pass's choice).
    """
    best = {}
    for utt, hyps in nbest.items():
        scores = llm_scores[utt]
        if len(scores) != len(hyps):
            raise ValueError(f"{utt}: {len(hyps)} hypotheses but {len(scores)} LLM scores")
        i = max(range(len(hyps)), key=lambda k: hyps[k].score + llm_weight * scores[k])
        best[utt] = hyps[i]
    return best
