import pytest
import torch

from espnet_brain.asr.lm.lexicon_search import Hypothesis
from espnet_brain.asr.lm.rescoring import CausalLMScorer, rescore, sentence_case


def test_sentence_case():
    assert sentence_case("I DON'T KNOW WHAT I MEAN") == "I don't know what I mean"
    assert sentence_case("") == ""


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    from fixtures.causal_lm import make_tiny_causal_lm

    return make_tiny_causal_lm(tmp_path_factory.mktemp("llm"))


def test_scores_are_sentence_log_probabilities_and_batching_does_not_change_them(llm_dir):
    scorer = CausalLMScorer(str(llm_dir), batch_size=1)
    texts = ["THE CAT SAT", "I DON'T KNOW WHAT YOU MEAN", ""]
    one_by_one = scorer(texts)
    scorer.batch_size = 3
    assert scorer(texts) == pytest.approx(one_by_one, abs=1e-4)
    # By hand: BOS, the tokens, EOS; the sum of each next token's log-probability.
    ids = [scorer.start] + scorer.tokenizer("The cat sat", add_special_tokens=False)["input_ids"] + [scorer.end]
    with torch.no_grad():
        logp = scorer.model(torch.tensor([ids])).logits[0, :-1].log_softmax(-1)
    assert one_by_one[0] == pytest.approx(float(logp[torch.arange(len(ids) - 1), ids[1:]].sum()), abs=1e-4)


def test_rescore_picks_by_the_weighted_sum():
    nbest = {"u1": [Hypothesis([1], "A", -1.0), Hypothesis([2], "B", -2.0)]}
    llm = {"u1": [-10.0, -3.0]}
    assert rescore(nbest, llm, 0.0)["u1"].text == "A"
    assert rescore(nbest, llm, 1.0)["u1"].text == "B"
    with pytest.raises(ValueError, match="u1"):
        rescore(nbest, {"u1": [0.0]}, 1.0)
