import json

import pytest

from espnet_brain.bin import simulate_broad_speech
from espnet_brain.data.text import normalize_transcript
from espnet_brain.simulate.broad_speech import (
    BROAD_VOICES,
    BroadSpeechConfig,
    broad_sentences,
    filter_words,
    make_broad_speech,
    read_word_list,
)
from espnet_brain.simulate.espeak import VOICES
from espnet_brain.simulate.speech import render_settings

WORDS = [f"w{c}{d}" for c in "abcdefghij" for d in "klmnopqrst"]  # 100 distinct pronounceable tokens


def _norm(split):
    return {normalize_transcript(s.text) for s in split}


def test_splits_disjoint_lengths_and_ids():
    cfg = BroadSpeechConfig(n_train=200, n_dev=20, n_test=20, words_range=(3, 6))
    splits = broad_sentences(WORDS, 0, cfg)
    assert [len(splits[k]) for k in ("train", "dev", "test")] == [200, 20, 20]
    a, b, c = (_norm(splits[k]) for k in ("train", "dev", "test"))
    assert len(a) == 200 and not a & b and not a & c and not b & c
    assert all(3 <= len(s.words) <= 6 for v in splits.values() for s in v)
    assert splits["dev"][0].sent_id == "dev-00000"
    assert all(s.text[0].isupper() and s.text.endswith(".") for v in splits.values() for s in v)


def test_exclusion_is_respected():
    # One-word sentences over 100 words: 80 remain once 20 are excluded, and an 81st cannot be drawn.
    banned = [w.capitalize() + "." for w in WORDS[:20]]
    cfg = BroadSpeechConfig(n_train=70, n_dev=5, n_test=5, words_range=(1, 1))
    splits = broad_sentences(WORDS, 1, cfg, exclude=banned)
    drawn = set().union(*(_norm(v) for v in splits.values()))
    assert len(drawn) == 80 and not drawn & {normalize_transcript(b) for b in banned}
    with pytest.raises(ValueError, match="distinct sentences"):
        broad_sentences(WORDS, 1, BroadSpeechConfig(n_train=81, n_dev=0, n_test=0, words_range=(1, 1)), banned)


def test_vocabulary_is_broad_and_frequency_shaped():
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [f"z{letters[i // 676]}{letters[i // 26 % 26]}{letters[i % 26]}" for i in range(2000)]
    cfg = BroadSpeechConfig(n_train=2500, n_dev=0, n_test=0, vocab_size=2000)
    splits = broad_sentences(words, 0, cfg)
    counts = {}
    for s in splits["train"]:
        for w in s.words:
            counts[w] = counts.get(w, 0) + 1
    assert len(counts) >= 1900  # the uniform share reaches the rare end of the list
    assert counts["ZAAA"] > 10 * counts.get(words[-1].upper(), 1)  # the Zipf share keeps frequent words frequent


def test_seeded():
    cfg = BroadSpeechConfig(n_train=30, n_dev=3, n_test=3)
    a, b, c = (broad_sentences(WORDS, s, cfg) for s in (4, 4, 5))
    assert [s.text for s in a["train"]] == [s.text for s in b["train"]] != [s.text for s in c["train"]]


def test_filter_and_read_words(tmp_path):
    assert filter_words(["The", "the", "don't", "x", "a", "I", "rock'n'roll", "e-mail", "naïve", "it\u2019s"]) == [
        "the",
        "don't",
        "a",
        "i",
        "it's",
    ]
    p = tmp_path / "words.txt"
    p.write_text("# frequent first\nhello\n\nworld  # a comment\n", encoding="utf-8")
    assert read_word_list(str(p)) == ["hello", "world"]
    p.write_text("123\n---\n", encoding="utf-8")
    with pytest.raises(ValueError, match="words.txt"):
        read_word_list(str(p))


def test_voices_drawn_from_the_broad_set():
    cfg = BroadSpeechConfig().speech_config()
    splits = broad_sentences(WORDS, 0, BroadSpeechConfig(n_train=300, n_dev=0, n_test=0))
    voices = {render_settings(0, s, cfg).voice for s in splits["train"]}
    assert len(BROAD_VOICES) >= 60 and set(VOICES) - set(BROAD_VOICES) <= {"en+m1"}
    assert len(voices) > 40 and voices <= set(BROAD_VOICES)


def test_make_broad_speech_writes_the_speech_layout(tmp_path):
    cfg = BroadSpeechConfig(n_train=4, n_dev=2, n_test=2, words_range=(2, 3))
    manifest = make_broad_speech(str(tmp_path / "c"), 0, cfg, words=WORDS[:30], exclude=["Wak wal."])
    on_disk = json.loads((tmp_path / "c" / "MANIFEST.json").read_text())
    assert on_disk == manifest and manifest["splits"]["train"]["utterances"] == 4
    assert 0 < manifest["splits"]["dev"]["seconds"] < 30 and manifest["vocabulary"] <= 30
    text = (tmp_path / "c" / "speech" / "test" / "text").read_text().splitlines()
    assert len(text) == 2 and len(list((tmp_path / "c" / "speech" / "test").glob("*.wav"))) == 2


def test_cli_word_list_and_exclusion(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS[:40]) + "\n", encoding="utf-8")
    rc = simulate_broad_speech.main(
        ["--out", str(tmp_path / "c"), "--n_train", "3", "--n_dev", "1", "--n_test", "1", "--words", str(words),
         "--exclude_presets", "tiny", "--exclude_seeds", "0-1", "--no-progress"]  # fmt: skip
    )
    assert rc == 0 and (tmp_path / "c" / "speech" / "train" / "text").is_file()
    assert simulate_broad_speech._seeds("0-2,5") == [0, 1, 2, 5]
    tiny = simulate_broad_speech.brain_sentences(["tiny"], [0])
    assert len(tiny) == 52 and all(t[-1] in ".?" for t in tiny)
    words.write_text("1\n", encoding="utf-8")
    assert simulate_broad_speech.main(["--out", str(tmp_path / "d"), "--words", str(words)]) == 2


def test_english_words_without_wordfreq_says_how_to_install(monkeypatch):
    import sys

    from espnet_brain.simulate.broad_speech import english_words

    monkeypatch.setitem(sys.modules, "wordfreq", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install wordfreq"):
        english_words(10)


def test_english_words_are_frequent_and_usable():
    pytest.importorskip("wordfreq")
    from espnet_brain.simulate.broad_speech import english_words

    words = english_words(2000)
    assert len(words) == 2000 and words[0] == "the" and filter_words(words) == words
