"""Summaries of decoding results over runs (espnet_brain.asr.seed_summary and its program)."""

import json
import math

import pytest

from espnet_brain.asr.seed_summary import pair, read_results, summarize, summary_table
from espnet_brain.bin import seed_summary


def _results(path, cers, title="t"):
    systems = [{"name": name, "cer": cer, "wer": 2 * cer} for name, cer in cers.items()]
    path.write_text(json.dumps({"title": title, "systems": systems}))
    return str(path)


@pytest.fixture
def runs(tmp_path):
    return [
        ("0", read_results(_results(tmp_path / "a.json", {"full": 10.0, "scratch": 30.0, "bfe": 50.0}))),
        ("1", read_results(_results(tmp_path / "b.json", {"full": 14.0, "scratch": 12.0, "bfe": 40.0}))),
        ("2", read_results(_results(tmp_path / "c.json", {"full": 12.0, "scratch": 21.0}))),
    ]


def test_mean_and_sample_sd_over_the_runs_of_systems_every_run_has(runs):
    rows, missing = summarize(runs)
    assert [r.name for r in rows] == ["full", "scratch"]
    assert missing == {"bfe": ["2"]}
    full, scratch = rows
    assert full.values == [10.0, 14.0, 12.0] and full.mean == pytest.approx(12.0)
    assert full.sd == pytest.approx(2.0)  # sqrt(((-2)^2 + 2^2 + 0) / (3 - 1))
    assert scratch.mean == pytest.approx(21.0) and scratch.sd == pytest.approx(9.0)
    (wer_full, _), _ = summarize(runs, "wer")
    assert wer_full.values == [20.0, 28.0, 24.0]


def test_paired_difference_keeps_the_runs_paired_and_counts_wins(runs):
    rows, _ = summarize(runs)
    p = pair(rows, "full", "scratch")
    assert p.differences == [-20.0, 2.0, -9.0]
    assert p.mean == pytest.approx(-9.0) and p.first_lower == 2
    with pytest.raises(ValueError, match="no system 'bfe' in every run"):
        pair(rows, "full", "bfe")


def test_one_run_has_no_spread(runs):
    (full, *_), _ = summarize(runs[:1])
    assert math.isnan(full.sd)
    assert "| full | 10.00 | 10.00 | - | 10.00 to 10.00 |" in summary_table([full], ["0"])


def test_a_file_that_is_not_a_results_file_is_named(tmp_path):
    bad = tmp_path / "RESULTS.json"
    bad.write_text('{"title": "x"}')
    with pytest.raises(ValueError, match=f"{bad}: not a RESULTS.json"):
        read_results(str(bad))


def test_program_writes_the_table_and_the_numbers(tmp_path, runs):
    paths = [_results(tmp_path / f"r{i}.json", {"full": 10.0 + i, "scratch": 20.0 - i}) for i in range(3)]
    out = tmp_path / "SEEDS.md"
    args = ["--out", str(out), "--pair", "full=scratch"] + [f"--run={i}={p}" for i, p in enumerate(paths)]
    assert seed_summary.main(args) == 0
    text = out.read_text()
    assert "| full | 10.00 | 11.00 | 12.00 | 11.00 | 1.00 | 10.00 to 12.00 |" in text
    assert "| full | scratch | -10.00 | -8.00 | -6.00 | -8.00 | 3 of 3 |" in text
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert numbers["systems"][1] == {"name": "scratch", "values": [20.0, 19.0, 18.0], "mean": 19.0, "sd": 1.0}
    assert seed_summary.main(["--out", str(out), f"--run=0={tmp_path / 'none.json'}"]) == 1


def test_any_statistic_of_the_encoding_report_can_be_summarised(tmp_path):
    def encoding(path, frac, diff):
        systems = [
            {"name": "ridge | all", "fraction_of_ceiling": frac},
            {"name": "tuned | all", "fraction_of_ceiling": frac + 0.1, "minus_first_mean_r": diff},
        ]
        path.write_text(json.dumps({"title": "t", "first": "ridge", "systems": systems}))
        return read_results(str(path))

    runs = [("0", encoding(tmp_path / "a.json", 0.4, 0.01)), ("1", encoding(tmp_path / "b.json", 0.5, 0.03))]
    rows, _ = summarize(runs, "fraction_of_ceiling")
    assert [(r.name, r.mean) for r in rows] == [("ridge | all", pytest.approx(0.45)), ("tuned | all", 0.55)]
    # the first system has no difference from itself: left out of that statistic, not an error
    (diff,), _ = summarize(runs, "minus_first_mean_r")
    assert diff.name == "tuned | all" and diff.mean == pytest.approx(0.02)
    assert "| tuned \\| all | 0.010 | 0.030 | 0.020 | 0.014 | 0.010 to 0.030 |" in summary_table(  # 3 digits
        [diff], ["0", "1"], metric="minus_first_mean_r"
    )
    with pytest.raises(ValueError, match="no system has the statistic 'r2'"):
        summarize(runs, "r2")
