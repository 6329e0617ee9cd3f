import pytest
import torch

from espnet_brain.asr.lm.lexicon import build_lexicon, write_lexicon
from espnet_brain.asr.lm.lexicon_search import LexiconBeamSearch
from espnet_brain.asr.lm.ngram import estimate_kneser_ney

TOKENS = ["<blank>", "<unk>", "<space>", "A", "B", "C", "T", "<sos/eos>"]
SENTENCES = [s.split() for s in ["CAT BAT", "CAT BAT", "A CAT", "A BAT", "CAT BAT"] * 5]


def _posteriors():
    """'CAT BAT' where the first letter's frame is slightly more B than C (the acoustics say 'BAT BAT')."""
    path = [0, 4, 0, 3, 6, 0, 2, 0, 4, 3, 6, 0]
    probs = torch.full((len(path), len(TOKENS)), 0.1 / (len(TOKENS) - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = 0.9
    probs[1] = torch.tensor([0.02, 0.01, 0.01, 0.01, 0.48, 0.45, 0.01, 0.01])
    return probs.log()


@pytest.fixture(scope="module")
def lm_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    estimate_kneser_ney(SENTENCES, order=2).write_arpa(str(root / "words.arpa"))
    write_lexicon(build_lexicon({w for s in SENTENCES for w in s}, TOKENS), str(root / "lexicon.txt"))
    return root


def test_the_word_lm_corrects_what_the_acoustics_get_wrong(lm_files):
    without = LexiconBeamSearch(TOKENS, lexicon=str(lm_files / "lexicon.txt"), beam_size=10)
    with_lm = LexiconBeamSearch(
        TOKENS, lexicon=str(lm_files / "lexicon.txt"), lm=str(lm_files / "words.arpa"), beam_size=10, lm_weight=2.0
    )
    assert without(_posteriors())[0].text == "BAT BAT"
    best = with_lm(_posteriors())[0]
    assert best.text == "CAT BAT"
    assert [TOKENS[i] for i in best.tokens if TOKENS[i] != "<space>"] == list("CATBAT")


def test_nbest_is_sorted_and_bad_input_is_refused(lm_files):
    search = LexiconBeamSearch(TOKENS, beam_size=10, nbest=3)
    hyps = search(_posteriors())
    assert len(hyps) > 1 and [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    with pytest.raises(ValueError, match=r"expected \(T, 8\)"):
        search(torch.zeros(5, 7))
    with pytest.raises(FileNotFoundError, match="nope.arpa"):
        LexiconBeamSearch(TOKENS, lm=str(lm_files / "nope.arpa"))
    bad = lm_files / "bad_lexicon.txt"
    bad.write_text("CAT\tC A T <space>\nDOG\tD O G <space>\n")
    with pytest.raises(ValueError, match=r"bad_lexicon.txt:2: .*'DOG'"):
        LexiconBeamSearch(TOKENS, lexicon=str(bad))


def test_unknown_words_need_a_finite_unk_score(lm_files):
    # "CA CAT": "CA" is not a lexicon word (but a prefix of one, flashlight's rule for unknown words).
    path = [5, 0, 3, 0, 2, 0, 5, 3, 6, 0]
    probs = torch.full((len(path), len(TOKENS)), 0.05 / (len(TOKENS) - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = 0.95
    files = dict(lexicon=str(lm_files / "lexicon.txt"), lm=str(lm_files / "words.arpa"), beam_size=20)
    assert LexiconBeamSearch(TOKENS, **files)(probs.log())[0].text == "A CAT"
    assert LexiconBeamSearch(TOKENS, unk_score=0.0, **files)(probs.log())[0].text == "CA CAT"


def test_a_spelling_that_never_became_a_word_is_not_output(lm_files):
    # The decoder's token path may end inside the lexicon tree ("... BA"): only whole words are text.
    search = LexiconBeamSearch(TOKENS, lexicon=str(lm_files / "lexicon.txt"), beam_size=10)
    assert search._words_text(["CAT", "BAT", "BA"], ["CAT", "BAT"]) == "CAT BAT"
    assert search._words_text(["CA", "CAT"], ["<unk>", "CAT"]) == "CA CAT"
    assert search._spell("CAT A") == [5, 3, 6, 2, 3]


def _confident(path, floor=1e-12):
    """(T, V) log-posteriors of a model sure of its best path: every other token at ``floor`` (log ~ -27.6, past
    the decoder's beam threshold of 25, so no path through them survives)."""
    probs = torch.full((len(path), len(TOKENS)), floor)
    probs[torch.arange(len(path)), torch.tensor(path)] = 1.0
    return (probs / probs.sum(-1, keepdim=True)).log()


# "CAT BAT" with no delimiter after the last word, as transcripts end and as models emit them
NO_FINAL_DELIMITER = [0, 5, 0, 3, 6, 0, 2, 0, 4, 3, 6, 0]


@pytest.mark.parametrize("lm", [False, True])
def test_the_last_word_is_complete_without_a_delimiter_after_it(lm_files, lm):
    files = dict(lexicon=str(lm_files / "lexicon.txt"), lm=str(lm_files / "words.arpa") if lm else None)
    search = LexiconBeamSearch(TOKENS, beam_size=10, nbest=3, **files)
    hyps = search(_confident(NO_FINAL_DELIMITER))
    assert hyps[0].text == "CAT BAT"
    assert hyps[0].tokens == search._spell("CAT BAT")
    # a delimiter the model did emit after the last word changes nothing
    assert search(_confident(NO_FINAL_DELIMITER[:-1] + [2]))[0].text == "CAT BAT"
    # a sentence cut inside a spelling that is no word ("BA") keeps its earlier words
    assert search(_confident([0, 5, 0, 3, 6, 0, 2, 0, 4, 3, 0]))[0].text == "CAT"


def test_the_boundary_frame_costs_nothing(lm_files):
    search = LexiconBeamSearch(TOKENS, lexicon=str(lm_files / "lexicon.txt"), beam_size=10)
    frame = search.boundary_frame()
    assert frame.shape == (1, len(TOKENS))
    assert frame[0, 0] == 0 and frame[0, TOKENS.index("<space>")] == 0
    assert torch.isinf(frame).sum() == len(TOKENS) - 2
    # a sentence the model ends with a delimiter: same score as the decoder gives it without the extra frame
    logp = _confident(NO_FINAL_DELIMITER[:-1] + [2])
    raw = search.decoder(logp.contiguous()[None])[0][0]
    assert list(raw.words) == ["CAT", "BAT"]
    assert search(logp)[0].score == pytest.approx(float(raw.score), abs=1e-4)
