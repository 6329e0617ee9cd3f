import pytest

from espnet_brain.asr.scoring import normalize_text, results_json, results_table, score


def test_scoring_normalises_case_and_punctuation_on_both_sides():
    assert normalize_text("I don't  know, Sir-Name!") == "I DON'T KNOW SIR NAME"
    assert score({"a": "I don't know."}, {"a": "i DON'T know"}).wer == 0.0


def test_corpus_level_rates_are_not_averages_of_utterance_rates():
    refs = {"a": "one", "b": "two words here and more words"}
    hyps = {"a": "won", "b": "two words here and more words"}
    r = score(refs, hyps)
    # 1 word error over 7 reference words, not the mean of 100 % and 0 %.
    assert r.word_errors == 1 and r.n_words == 7
    assert r.wer == pytest.approx(100.0 / 7)
    assert r.char_errors == 2  # "one" -> "won": insert "w", delete "e"
    assert r.cer == pytest.approx(100.0 * r.char_errors / r.n_chars)


def test_missing_hypothesis_is_an_error():
    with pytest.raises(ValueError, match="no hypothesis"):
        score({"a": "x", "b": "y"}, {"a": "x"})


def test_empty_references_count_every_hypothesis_word_as_an_insertion():
    # As sclite: the hypothesis against an empty reference is all insertions, the reference adds 0 words.
    r = score({"a": "", "b": "yes", "c": ""}, {"a": "noise here", "b": "yes", "c": ""})
    assert r.n_utts == 3 and r.n_empty_refs == 2
    assert (r.word_errors, r.n_words) == (2, 1) and r.wer == pytest.approx(200.0)
    assert (r.char_errors, r.n_chars) == (len("NOISE HERE"), 3)
    assert (r.empty_ref_word_insertions, r.empty_ref_char_insertions) == (2, 10)
    assert ("a", 10, 0, 2, 0) in r.per_utt and ("c", 0, 0, 0, 0) in r.per_utt


def test_all_references_empty_is_an_error():
    with pytest.raises(ValueError, match="all 2 references are empty"):
        score({"a": "", "b": " "}, {"a": "x", "b": ""})


def test_results_table_has_one_row_per_system():
    r = score({"a": "hi there"}, {"a": "hi"})
    table = results_table([("full", r), ("scratch", r)])
    assert table.count("| full |") == 1 and table.count("| scratch |") == 1
    assert "50.00" in table  # WER 1/2


def test_results_json_has_the_table_numbers_and_the_errors_by_kind():
    r = score({"a": "hi there", "b": ""}, {"a": "ho", "b": "x"})
    data = results_json([("full", r)], "Test")
    assert data["title"] == "Test" and "per_utt" not in data["systems"][0]
    system = data["systems"][0]
    assert (system["name"], system["n_words"], system["word_errors"]) == ("full", 2, 3)
    assert (system["word_substitutions"], system["word_deletions"], system["word_insertions"]) == (1, 1, 1)
    assert system["char_substitutions"] + system["char_deletions"] + system["char_insertions"] == r.char_errors
    assert (system["n_empty_refs"], system["empty_ref_word_insertions"]) == (1, 1)
