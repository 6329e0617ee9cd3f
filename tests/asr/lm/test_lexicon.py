from collections import Counter

import pytest

from espnet_brain.asr.lm.lexicon import build_lexicon, coverage, read_lexicon, write_lexicon

TOKENS = ["<blank>", "<unk>", "<space>", "A", "B", "C", "T", "'", "<sos/eos>"]


def test_spellings_end_with_the_word_delimiter_and_round_trip(tmp_path):
    lex = build_lexicon(["CAT", "A", "TAB", "'TA"], TOKENS)
    assert lex["CAT"] == ["C", "A", "T", "<space>"]
    write_lexicon(lex, str(tmp_path / "lexicon.txt"))
    assert read_lexicon(str(tmp_path / "lexicon.txt"), TOKENS) == lex


def test_words_with_characters_the_tokens_lack_are_named():
    with pytest.raises(ValueError) as err:
        build_lexicon(["CAT", "DOG", "CAB"], TOKENS, source="corpus.txt")
    assert "DOG" in str(err.value) and "corpus.txt" in str(err.value) and "CAT" not in str(err.value)


def test_bad_lexicon_lines_name_file_and_line(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("CAT\tC A T <space>\nDOG\tD O G <space>\n")
    with pytest.raises(ValueError, match=r"lexicon.txt:2: .*DOG"):
        read_lexicon(str(path), TOKENS)
    path.write_text("CAT\n")
    with pytest.raises(ValueError, match=r"lexicon.txt:1: 'CAT' has no spelling"):
        read_lexicon(str(path), TOKENS)


def test_coverage_counts_running_words():
    covered, oov = coverage(Counter({"A": 3, "CAT": 1, "DOG": 2, "EMU": 1}), ["A", "CAT"])
    assert covered == pytest.approx(4 / 7)
    assert oov == ["DOG", "EMU"]
