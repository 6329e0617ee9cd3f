import json

import kaldiio
import pytest
import torch

from espnet_brain.asr.lm.search import SearchConfig, build_searcher, tune
from tests.asr.lm.test_lexicon_search import SENTENCES, TOKENS, _posteriors, lm_files  # noqa: F401


def test_greedy_and_beam_searchers_read_log_posteriors():
    greedy = build_searcher(SearchConfig(decoder="greedy"), TOKENS)
    beam = build_searcher(SearchConfig(decoder="beam", beam_size=100), TOKENS)
    assert greedy(_posteriors())[0].text == "BAT BAT"
    assert beam(_posteriors())[0].text == "BAT BAT"


def test_missing_files_are_named_before_anything_runs():
    with pytest.raises(ValueError, match="decoder ngram needs --lexicon and --ngram"):
        build_searcher(SearchConfig(decoder="ngram"), TOKENS)
    with pytest.raises(ValueError, match="needs --llm"):
        SearchConfig(decoder="ngram_llm", lexicon="x", ngram="y").check()


def test_tuning_picks_the_lm_weight_with_the_lowest_dev_wer(lm_files):  # noqa: F811
    cfg = SearchConfig(decoder="ngram", lexicon=str(lm_files / "lexicon.txt"), ngram=str(lm_files / "words.arpa"))
    dev = {"u1": _posteriors()}
    grid = {"lm_weight": [0.0, 2.0], "word_score": [0.0], "llm_weight": [0.5]}  # ngram tunes no LLM weight
    best, rows = tune(cfg, TOKENS, dev, {"u1": "CAT BAT"}, grid)
    assert [r["lm_weight"] for r in rows] == [0.0, 2.0] and all("llm_weight" not in r for r in rows)
    assert rows[0]["dev_wer"] == 50.0 and rows[1]["dev_wer"] == 0.0
    assert best.lm_weight == 2.0


def test_program_tunes_on_dev_and_writes_text_and_settings(tmp_path, lm_files):  # noqa: F811
    from espnet_brain.bin.ctc_search import main

    scp = {}
    for name in ("dev", "test"):
        with kaldiio.WriteHelper(f"ark,scp:{tmp_path / name}.ark,{tmp_path / name}.scp") as writer:
            writer("u1", _posteriors().numpy())
        scp[name] = str(tmp_path / f"{name}.scp")
    (tmp_path / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    (tmp_path / "dev_text").write_text("u1 CAT BAT\n")
    out = tmp_path / "out"
    main(
        ["--token_list", str(tmp_path / "tokens.txt"), "--decoder", "ngram", "--lm_dir", str(lm_files)]
        + ["--logp_scp", scp["test"], "--output_dir", str(out), "--beam_size", "10"]
        + ["--dev_logp_scp", scp["dev"], "--dev_text", str(tmp_path / "dev_text"), "--lm_weights", "0", "2"]
    )
    assert (out / "text").read_text() == "u1 CAT BAT\n"
    summary = json.loads((out / "search.json").read_text())
    assert summary["settings"]["lm_weight"] == 2.0 and len(summary["dev_grid"]) == 2
    assert json.loads((out / "nbest.jsonl").read_text())["hyps"][0][0] == "CAT BAT"
    assert torch.is_tensor(_posteriors())


def test_dev_tuning_and_llm_rescoring_keep_the_last_word(lm_files):  # noqa: F811
    """Both paths of the n-gram decoders (the dev grid, and the n-best that the LLM rescores) read the last word of
    a sentence that has no delimiter after it."""
    from espnet_brain.asr.lm.search import decode_set
    from tests.asr.lm.test_lexicon_search import NO_FINAL_DELIMITER, _confident

    files = dict(lexicon=str(lm_files / "lexicon.txt"), ngram=str(lm_files / "words.arpa"), beam_size=10)
    dev = {"u1": _confident(NO_FINAL_DELIMITER)}
    best, rows = tune(SearchConfig(decoder="ngram", **files), TOKENS, dev, {"u1": "CAT BAT"}, {"lm_weight": [1.0]})
    assert rows[0]["dev_wer"] == 0.0

    def llm(texts):  # a stand-in causal LM: longer sentences are likelier
        return [float(len(t.split())) for t in texts]

    cfg = SearchConfig(decoder="ngram_llm", llm="stand-in", nbest=3, **files)
    best, rows = tune(cfg, TOKENS, dev, {"u1": "CAT BAT"}, {"lm_weight": [1.0], "llm_weight": [0.0, 1.0]}, llm)
    assert [r["dev_wer"] for r in rows] == [0.0, 0.0, 0.0]
    chosen, nbest = decode_set(best, TOKENS, dev, llm_scorer=llm)
    assert chosen["u1"].text == "CAT BAT"
    assert all(len(h.text.split()) == 2 for h in nbest["u1"]), [h.text for h in nbest["u1"]]
