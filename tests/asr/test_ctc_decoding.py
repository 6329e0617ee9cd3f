import pytest
import torch

from espnet_brain.asr.ctc_decoding import CTCBeamSearch, greedy_ctc, tokens_to_text

TOKENS = ["<blank>", "<unk>", "<space>", "A", "B", "C", "<sos/eos>"]


def _one_hot_path(path, size=len(TOKENS), scale=20.0):
    x = torch.full((len(path), size), -scale)
    x[torch.arange(len(path)), torch.tensor(path)] = scale
    return x


def test_greedy_merges_repeats_drops_blanks_and_ignores_padding():
    lp = torch.stack(
        [
            _one_hot_path([3, 3, 0, 3, 2, 4, 0, 0]),  # A A _ A <space> B -> "A A B" once merged
            _one_hot_path([5, 0, 5, 5, 4, 4, 4, 4]),  # only 4 valid frames: C C ; padding says B
        ]
    ).log_softmax(-1)
    hyps = greedy_ctc(lp, torch.tensor([8, 4]), blank=0)
    assert hyps == [[3, 3, 2, 4], [5, 5]]
    assert tokens_to_text(hyps[0], TOKENS) == "AA B"


def test_tokens_to_text_skips_special_tokens_and_collapses_spaces():
    assert tokens_to_text([2, 3, 2, 2, 1, 4, 6, 2], TOKENS) == "A B"


@pytest.fixture(scope="module")
def ctc_model():
    from types import SimpleNamespace

    from espnet2.asr.ctc import CTC

    ctc = CTC(odim=len(TOKENS), encoder_output_size=len(TOKENS))
    with torch.no_grad():  # the CTC layer passes its input through, so the input frames are the logits
        ctc.ctc_lo.weight.copy_(torch.eye(len(TOKENS)))
        ctc.ctc_lo.bias.zero_()
    eos = len(TOKENS) - 1
    return SimpleNamespace(ctc=ctc.eval(), sos=eos, eos=eos, token_list=TOKENS)


def test_beam_search_agrees_with_greedy_on_a_peaked_posterior(ctc_model):
    enc = _one_hot_path([0, 3, 3, 0, 4, 2, 5, 0, 5])
    beam = CTCBeamSearch(ctc_model, beam_size=4)
    greedy = greedy_ctc(ctc_model.ctc.log_softmax(enc[None]), torch.tensor([enc.shape[0]]))[0]
    assert beam(enc) == greedy == [3, 4, 2, 5, 5]


def test_beam_search_finds_a_better_prefix_than_the_best_path(ctc_model):
    # Each frame: blank 0.45, A 0.275, B 0.275. The best path is all blanks (P("") = 0.091), but summed
    # over its alignments "A" has P = 0.256 (likewise "B"): only a prefix search finds it.
    posterior = torch.tensor([[0.45, 1e-6, 1e-6, 0.275, 0.275, 1e-6, 1e-6]] * 3)
    logits = posterior.log()
    assert greedy_ctc(logits[None], torch.tensor([3]))[0] == []
    assert CTCBeamSearch(ctc_model, beam_size=4)(logits) in ([3], [4])
