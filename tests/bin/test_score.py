"""score: RESULTS.md and RESULTS.json, per-utterance errors, score.txt and score.json, empty references included."""

import json

from espnet_brain.asr.sweep.report import read_score
from espnet_brain.bin import score


def test_score_txt_counts_insertions_against_empty_references(tmp_path):
    (tmp_path / "ref").write_text("u1 one two\nu2\nu3 three\n")
    hyp = tmp_path / "decode" / "text"
    hyp.parent.mkdir()
    hyp.write_text("u1 one two\nu2 extra words\nu3 three\n")
    score.main(["--ref", str(tmp_path / "ref"), "--hyp", f"sys={hyp}", "--out", str(tmp_path / "RESULTS.md")])
    lines = (hyp.parent / "score.txt").read_text().splitlines()
    # 2 inserted words over 3 reference words; 11 inserted characters ("EXTRA WORDS") over 12 ("ONE TWO", "THREE").
    assert lines[0] == "CER 91.67 % (11/12) WER 66.67 % (2/3) over 3 utterances"
    assert lines[1].startswith("empty references: 1 (") and "2 words, 11 characters" in lines[1]
    assert read_score(hyp.parent / "score.json").word_errors == 2
    numbers = json.loads((hyp.parent / "score.json").read_text())
    assert (numbers["n_empty_refs"], numbers["empty_ref_word_insertions"], numbers["empty_ref_char_insertions"]) == (
        1,
        2,
        11,
    )
    assert numbers["word_insertions"] == 2 and numbers["word_substitutions"] == numbers["word_deletions"] == 0
    results = json.loads((tmp_path / "RESULTS.json").read_text())
    assert [s["name"] for s in results["systems"]] == ["sys"]
    assert results["systems"][0]["char_errors"] == 11 and results["systems"][0]["n_chars"] == 12
    per_utt = (hyp.parent / "per_utt.tsv").read_text().splitlines()
    assert "u2\t11\t0\t2\t0\t\tEXTRA WORDS" in per_utt
