import json
import logging

import pytest

from espnet_brain.asr.lm.ngram import read_arpa
from espnet_brain.asr.lm.prepare import prepare_lm

TOKENS = ["<blank>", "<unk>", "<space>", "A", "B", "C", "D", "O", "G", "T", "<sos/eos>"]


def _text(path, lines):
    path.write_text("".join(f"u{i} {line}\n" for i, line in enumerate(lines)))
    return str(path)


def test_writes_arpa_lexicon_and_counts_uncovered_test_words(tmp_path, caplog):
    train = _text(tmp_path / "train", ["CAT BAT", "A CAT", "A BAT"])
    test = _text(tmp_path / "test", ["A DOG", "DOG CAT", "TOAD"])
    with caplog.at_level(logging.WARNING):
        report = prepare_lm(str(tmp_path / "lm"), TOKENS, texts=[train], order=2, check_sets={"test": test})
    assert report["test"]["oov"] == ["DOG", "TOAD"] and report["test"]["covered"] == pytest.approx(2 / 5)
    assert "test" in caplog.text and test in caplog.text and "DOG TOAD" in caplog.text
    assert json.loads((tmp_path / "lm" / "coverage.json").read_text()) == report
    assert sorted(line.split()[0] for line in (tmp_path / "lm" / "lexicon.txt").open()) == ["A", "BAT", "CAT"]
    assert read_arpa(str(tmp_path / "lm" / "words.arpa")).order == 2


def test_a_given_arpa_makes_the_lexicon_and_bad_characters_are_named(tmp_path):
    train = _text(tmp_path / "train", ["CAT BAT", "A CAT", "DOG"])
    prepare_lm(str(tmp_path / "lm1"), TOKENS, texts=[train], order=2)
    prepare_lm(str(tmp_path / "lm2"), TOKENS, arpa=str(tmp_path / "lm1" / "words.arpa"))
    assert (tmp_path / "lm2" / "lexicon.txt").read_text() == (tmp_path / "lm1" / "lexicon.txt").read_text()
    bad = _text(tmp_path / "bad", ["CAT ZEBRA"])
    with pytest.raises(ValueError, match=r"ZEBRA .*'ERZ'"):
        prepare_lm(str(tmp_path / "lm3"), TOKENS, texts=[bad], order=2)
    with pytest.raises(ValueError, match="no LM text"):
        prepare_lm(str(tmp_path / "lm4"), TOKENS)
