import re

import pytest

from espnet_brain.simulate.text import LEXICON, generate_sentences, vocabulary


def test_splits_disjoint_and_closed_vocabulary():
    splits = generate_sentences(3, 60, 10, 10, vocab_size_per_class=5)
    assert [len(splits[k]) for k in ("train", "dev", "test")] == [60, 10, 10]
    norm = {k: {" ".join(s.words) for s in v} for k, v in splits.items()}
    assert not norm["train"] & norm["dev"] and not norm["train"] & norm["test"] and not norm["dev"] & norm["test"]
    train_vocab = set(vocabulary(splits["train"]))
    for split in ("dev", "test"):
        for s in splits[split]:
            assert set(s.words) <= train_vocab, s.text
    ids = [s.sent_id for v in splits.values() for s in v]
    assert len(set(ids)) == len(ids) and ids[0] == "train-00000" and splits["dev"][0].sent_id == "dev-00000"


def test_natural_willett_style_text():
    splits = generate_sentences(0, 80, 5, 5)
    texts = [s.text for s in splits["train"]]
    assert all(t[0].isupper() and t[-1] in ".?!" for t in texts)
    assert any("'" in t for t in texts) and any("," in t for t in texts)
    assert all(re.search(r"\bi\b", t) is None for t in texts)  # the pronoun is capitalised


def test_deterministic_and_seed_dependent():
    a = generate_sentences(1, 30, 4, 4)
    b = generate_sentences(1, 30, 4, 4)
    c = generate_sentences(2, 30, 4, 4)
    assert [s.text for s in a["train"]] == [s.text for s in b["train"]]
    assert [s.text for s in a["train"]] != [s.text for s in c["train"]]


def test_vocab_size_limits_words():
    splits = generate_sentences(0, 30, 3, 3, vocab_size_per_class=3)
    allowed = {w.upper() for ws in LEXICON.values() for w in ws[:3]} | {"DID", "YOU", "WHERE", "IS", "AND", "I", "KNOW"}
    assert set(vocabulary(splits["train"])) <= allowed | {"DON'T"}


def test_too_many_sentences_raises():
    with pytest.raises(ValueError, match="distinct sentences"):
        generate_sentences(0, 5000, 0, 0, vocab_size_per_class=2, max_tries=20000)


def test_large_lexicon_keeps_the_basic_words_first_and_adds_a_thousand():
    from espnet_brain.simulate.text import full_lexicon

    basic, large = full_lexicon("basic"), full_lexicon("large")
    assert set(basic) == set(large)
    for cls, words in basic.items():
        assert large[cls][: len(words)] == words  # the basic words come first, in their order
        assert len(set(large[cls])) == len(large[cls])  # no word twice in a class
    assert sum(map(len, large.values())) - sum(map(len, basic.values())) > 1000
    with pytest.raises(ValueError, match="unknown lexicon"):
        full_lexicon("huge")


def test_large_vocab_preset_has_over_a_thousand_training_words_and_a_closed_test_vocabulary():
    from espnet_brain.simulate.presets import PRESETS

    t = PRESETS["large_vocab"].text
    splits = generate_sentences(0, t.n_train, t.n_dev, t.n_test, t.vocab_size_per_class, lexicon=t.lexicon)
    train_vocab = set(vocabulary(splits["train"]))
    assert len(train_vocab) >= 1000
    assert all(set(s.words) <= train_vocab for s in splits["test"])
    # the default lexicon is the paper's size: the small preset stays below 200 words
    s = PRESETS["small"].text
    small = generate_sentences(0, s.n_train, s.n_dev, s.n_test, s.vocab_size_per_class)
    assert len(vocabulary(small["train"])) < 200
