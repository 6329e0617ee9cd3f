"""The variance-partition section of RESULTS.md and the comparisons with control systems
(espnet_brain.voxelwise.partition_results)."""

import numpy as np
import pytest

from espnet_brain.voxelwise.partition_results import (
    control_comparisons,
    format_control_comparisons,
    partition_section,
    partition_table,
)
from espnet_brain.voxelwise.story_partition import JOINT, StoryPartition
from espnet_brain.voxelwise.variance_partition import partition_from_scores


def _partition(n_voxels=6, n_trs=40, seed=0):
    """Spaces A (wins voxels 0-2) and B (wins 3-5); predictions of A good on 0-2, of B on 3-5."""
    rng = np.random.default_rng(seed)
    resp = rng.standard_normal((n_trs, n_voxels))
    r2 = {"A": np.r_[0.3, 0.3, 0.3, 0.05, 0.05, 0.05], "B": np.r_[0.05, 0.05, 0.05, 0.3, 0.3, 0.3]}
    r2["A+B"] = np.full(n_voxels, 0.35)
    part = partition_from_scores(r2, ["A", "B"])
    noise = rng.standard_normal(resp.shape)
    good_a = np.where(np.arange(n_voxels) < 3, resp + 0.5 * noise, noise)
    good_b = np.where(np.arange(n_voxels) >= 3, resp + 0.5 * noise, noise)
    preds = {"A": {"s1": good_a[:20], "s2": good_a[20:]}, "B": {"s1": good_b[:20], "s2": good_b[20:]},
             JOINT: {"s1": resp[:20] + 0.5 * noise[:20], "s2": resp[20:] + 0.5 * noise[20:]}}  # fmt: skip
    return StoryPartition(part, preds, {"fit_seconds": {"A": 1.0, "B": 1.0, "A+B": 2.0}}), resp


def test_section_reports_r_unique_variance_and_winners_per_roi(tmp_path):
    sp, resp = _partition()
    rois = {"first": np.array([0, 1, 2]), "second": np.array([3, 4, 5]), "overlap": np.array([2, 3])}
    ceiling = np.full(6, 0.8)
    lines = partition_section(sp, resp, ["s1", "s2"], rois, ceiling, 0.2, str(tmp_path / "plots"), str(tmp_path))
    text = "\n".join(lines)
    assert "## Variance partition: A, B" in text and "fitted in 4.0 s" in text
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    a_cells = [c.strip() for c in rows["A"].split("|")[2:-1]]  # all, first, second, overlap
    assert float(a_cells[1].split()[0]) > 0.7 and float(a_cells[2].split()[0]) < 0.3
    assert "(" in a_cells[0]  # a fraction of the ceiling
    assert "joint (all spaces)" in rows
    first = [c.strip() for c in rows["first"].split("|")[2:-1]]
    # voxels, joint R2, unique A, unique B, shared, wins A, wins B, wins none
    assert first[0] == "3" and first[5] == "100 %" and first[6] == "0 %"
    second = [c.strip() for c in rows["second"].split("|")[2:-1]]
    assert second[5] == "0 %" and second[6] == "100 %"
    assert (tmp_path / "plots" / "partition_winning_space.png").is_file()
    assert "(plots/partition_winning_space.png)" in text


def test_partition_table_handles_overlapping_rois():
    sp, _ = _partition()
    table = partition_table(sp, {"x": np.array([0, 3]), "y": np.array([0, 1, 2, 3])})
    assert list(table) == ["all", "x", "y"]
    assert table["x"]["n_voxels"] == 2 and table["y"]["n_voxels"] == 4
    assert table["x"]["win_A"] == 0.5 and table["y"]["win_A"] == 0.75


def test_section_refuses_predictions_of_other_stories():
    sp, resp = _partition()
    with pytest.raises(ValueError, match="no test stories"):
        partition_section(sp, resp, ["s1", "s3"], {})


def test_control_comparisons_find_the_better_system():
    rng = np.random.default_rng(1)
    resp = rng.standard_normal((60, 8))
    preds = {"speech": resp + 0.5 * rng.standard_normal(resp.shape), "log-mel": rng.standard_normal(resp.shape),
             "same": None}  # fmt: skip
    preds["same"] = preds["speech"].copy()
    r = {k: np.array([np.corrcoef(resp[:, v], p[:, v])[0, 1] for v in range(8)]) for k, p in preds.items()}
    groups = np.repeat([0, 1], 30)
    out = control_comparisons(resp, preds, r, ["log-mel", "same"], ["speech"], {"half": np.arange(4)}, groups)
    assert set(out) == {("speech", "log-mel"), ("speech", "same")}
    better = out[("speech", "log-mel")]
    assert list(better) == ["all", "half"]
    assert better["all"]["mean_diff"] > 0.5 and better["all"]["wins"] == 1.0 and better["all"]["p_bootstrap"] < 0.05
    assert out[("speech", "same")]["all"]["mean_diff"] == 0.0 and out[("speech", "same")]["all"]["p_bootstrap"] == 1
    lines = format_control_comparisons(out)
    assert lines[1] == "## Speech-model features against the controls"
    assert any(line.startswith("| speech - log-mel | +0.") for line in lines)
    with pytest.raises(ValueError, match="no system named"):
        control_comparisons(resp, preds, r, ["MFCC"], ["speech"], {}, groups)
