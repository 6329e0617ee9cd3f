import pytest

from espnet_brain.asr.scoring import normalize_text, read_kaldi_text, results_table, score


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


def test_empty_references_are_skipped():
    r = score({"a": "", "b": "yes"}, {"a": "noise", "b": "yes"})
    assert r.n_utts == 1 and r.wer == 0.0


def test_read_kaldi_text_rejects_duplicates(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 hello\nu2\nu1 again\n")
    with pytest.raises(ValueError, match="u1"):
        read_kaldi_text(str(p))


def test_results_table_has_one_row_per_system():
    r = score({"a": "hi there"}, {"a": "hi"})
    table = results_table([("full", r), ("scratch", r)])
    assert table.count("| full |") == 1 and table.count("| scratch |") == 1
    assert "50.00" in table  # WER 1/2
