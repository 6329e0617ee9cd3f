import random

import pytest

from espnet_brain.asr.lm.ngram import ArpaFormatError, estimate_kneser_ney, read_arpa

WORDS = "the cat dog sat ran on a mat log big red".split()


def _corpus(n=300, seed=0):
    rng = random.Random(seed)
    return [[rng.choice(WORDS) for _ in range(rng.randint(1, 7))] for _ in range(n)]


@pytest.mark.parametrize("prune", [[0], [0, 0, 1], [0, 1, 1]])
def test_every_context_is_a_distribution(prune):
    lm = estimate_kneser_ney(_corpus(), order=3, prune=prune)
    vocab = [w for w in lm.vocabulary if w != "<s>"]
    for history in ([], ["<s>"], ["<s>", "the"], ["cat", "sat"], ["unseen", "the"], ["red", "red"]):
        total = sum(10 ** lm.log10_prob(w, history) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-9), (prune, history)


def test_pruning_drops_rare_ngrams_but_keeps_their_contexts():
    full = estimate_kneser_ney(_corpus(), order=3)
    pruned = estimate_kneser_ney(_corpus(), order=3, prune=[0, 0, 1])
    assert len(pruned.entries[2]) < len(full.entries[2])
    for gram in pruned.entries[2]:
        assert gram[:2] in pruned.entries[1] and gram[1:] in pruned.entries[1]


def test_lower_orders_use_continuation_counts():
    # "francisco" is frequent but only ever follows "san"; "glasses" is rarer but follows many words. Kneser-Ney
    # gives the unigram of the word with more distinct left contexts the larger probability.
    sents = [["san", "francisco"]] * 10 + [[w, "glasses"] for w in ("my", "red", "new")] + [["the", "cat"]] * 3
    lm = estimate_kneser_ney(sents, order=2)
    assert lm.log10_prob("glasses", []) > lm.log10_prob("francisco", [])
    assert lm.log10_prob("francisco", ["san"]) > lm.log10_prob("glasses", ["san"])


def test_arpa_round_trip_and_kenlm_agree(tmp_path):
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    lm = estimate_kneser_ney(_corpus(), order=3, prune=[0, 0, 1])
    path = tmp_path / "lm.arpa"
    lm.write_arpa(str(path))
    again = read_arpa(str(path))
    words = Dictionary()
    for w in again.vocabulary + ["never_seen"]:
        words.add_entry(w)
    kenlm = KenLM(str(path), words)
    for sentence in ("the cat sat on a mat", "never_seen the never_seen", "red"):
        state, total = kenlm.start(False), 0.0
        for w in sentence.split():
            state, s = kenlm.score(state, words.get_index(w))
            total += s
        total += kenlm.finish(state)[1]
        assert total == pytest.approx(lm.sentence_log10(sentence.split()), abs=1e-4)
        assert again.sentence_log10(sentence.split()) == pytest.approx(lm.sentence_log10(sentence.split()), abs=1e-5)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("\\end\\", ""), "no \\end\\"),
        (lambda t: t.replace("ngram 2=", "ngram 2=1"), "header says ngram 2="),
        (lambda t: t.replace("\\2-grams:\n", "\\2-grams:\nnot-a-number the cat\n"), ":"),
        (lambda t: t.replace("\\data\\", "data"), "no \\data\\"),
    ],
)
def test_malformed_arpa_names_the_file(tmp_path, edit, message):
    path = tmp_path / "bad.arpa"
    estimate_kneser_ney(_corpus(50), order=2).write_arpa(str(path))
    path.write_text(edit(path.read_text()))
    with pytest.raises(ArpaFormatError) as err:
        read_arpa(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no sentences"):
        estimate_kneser_ney([], order=2)
    with pytest.raises(ValueError, match="reserved"):
        estimate_kneser_ney([["a", "</s>"]], order=2)
    with pytest.raises(FileNotFoundError, match="missing.arpa"):
        read_arpa("missing.arpa")


def test_modified_kneser_ney_by_hand():
    """Chen & Goodman's discounts and one interpolated and one backed-off bigram probability, computed by hand.

    Bigrams (the highest order: raw counts), with <s> and </s>:
        A </s> 5;  B A 4;  <s> B 3;  <s> C 2, <s> A 2;  C B, B B, A B, B </s>, C </s> 1 each
        counts of counts n1..n4 = 5, 2, 1, 1 (A </s>, seen 5 times, is in none of them)
    Unigrams (lower order: continuation counts, the distinct words seen to the left):
        A {<s>, B} 2;  B {<s>, C, B, A} 4;  C {<s>} 1;  </s> {A, B, C} 3;  total 10
        counts of counts n1..n4 = 1, 1, 1, 1
    """
    sentences = [s.split() for s in ["C B A", "B B A", "B A", "B A B", "A", "C", "A"]]
    lm = estimate_kneser_ney(sentences, order=2)

    def chen_goodman(n1, n2, n3, n4):
        y = n1 / (n1 + 2 * n2)
        return 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3

    uni, bi = chen_goodman(1, 1, 1, 1), chen_goodman(5, 2, 1, 1)
    assert bi == pytest.approx((5 / 9, 7 / 6, 7 / 9)) and uni == pytest.approx((1 / 3, 1, 5 / 3))
    assert lm.discounts[1] == pytest.approx(bi) and lm.discounts[0] == pytest.approx(uni)

    # unigrams: discounted continuation counts, plus the freed mass spread over A, B, C, </s> and <unk>
    d1, d2, d3 = uni
    gamma_uni = (d1 * 1 + d2 * 1 + d3 * 2) / 10  # one word seen once (C), one twice (A), two 3+ (B, </s>)
    p_a = (2 - d2) / 10 + gamma_uni / 5
    p_c = (1 - d1) / 10 + gamma_uni / 5
    assert 10 ** lm.log10_prob("A", []) == pytest.approx(p_a)
    assert 10 ** lm.log10_prob("<unk>", []) == pytest.approx(gamma_uni / 5)

    # P(A | B), interpolated: context B has B A 4, B B 1, B </s> 1 (total 6)
    d1, d2, d3 = bi
    p_a_b = (4 - d3) / 6 + (d1 * 2 + d3 * 1) / 6 * p_a
    assert p_a_b == pytest.approx(4843 / 8100)
    assert 10 ** lm.log10_prob("A", ["B"]) == pytest.approx(p_a_b)

    # P(C | A), backed off: A C was never seen; context A has A </s> 5 (discount D3+), A B 1 (D1), total 6
    p_c_a = (d1 + d3) / 6 * p_c
    assert p_c_a == pytest.approx(8 / 225)
    assert 10 ** lm.log10_prob("C", ["A"]) == pytest.approx(p_c_a)
    assert 10 ** lm.entries[0][("A",)][1] == pytest.approx((d1 + d3) / 6)  # the ARPA backoff weight of A
