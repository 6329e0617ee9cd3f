"""Variance partition of story features on the LeBel grid (espnet_brain.voxelwise.story_partition)."""

import numpy as np
import pytest

from espnet_brain.voxelwise.story_partition import (
    JOINT,
    even_chunk_splits,
    fit_story_partition,
    load_story_partition,
    save_story_partition,
)
from espnet_brain.voxelwise.timing import TRIM_END, TRIM_START

ALPHAS = [1.0, 1e2, 1e4, 1e6]


def _stories(seed=0, n_train=4, n_grid=105, d=(6, 5)):
    """Stories with two spaces A, B on the stimulus grid (N - 5 rows) and responses (N - 20 rows) of 3 voxel kinds:
    0-9 driven by A at a 2-TR delay, 10-19 by B at 3 TRs, 20-29 noise only."""
    rng = np.random.default_rng(seed)
    w_a = rng.standard_normal((d[0], 10))
    w_b = rng.standard_normal((d[1], 10))
    feats = {"A": {}, "B": {}}
    resp = {}
    for i in range(n_train + 1):
        story = f"story{i}" if i < n_train else "test"
        a = rng.standard_normal((n_grid, d[0]))
        b = rng.standard_normal((n_grid, d[1]))
        feats["A"][story], feats["B"][story] = a, b
        sig_a = np.roll(a, 2, axis=0) @ w_a  # the response at TR t sees the features of TR t - 2
        sig_b = np.roll(b, 3, axis=0) @ w_b
        y = np.concatenate([sig_a / sig_a.std(0), sig_b / sig_b.std(0), np.zeros((n_grid, 10))], axis=1)
        y = y + 0.7 * rng.standard_normal(y.shape)
        resp[story] = y[TRIM_START:-TRIM_END].astype(np.float32)
    train = {s: y for s, y in resp.items() if s != "test"}
    return feats, train, {"test": resp["test"]}


def test_partition_finds_the_planted_space_of_each_voxel():
    feats, train, test = _stories()
    out = fit_story_partition(feats, train, feats, test, alphas=ALPHAS, n_splits=3, chunk_len=20)
    part = out.partition
    assert part.space_names == ("A", "B")
    ua, ub = part.unique("A"), part.unique("B")
    assert ua[:10].mean() > 0.3 and ua[10:].mean() < 0.05
    assert ub[10:20].mean() > 0.3 and ub[:10].mean() < 0.05 and ub[20:].mean() < 0.05
    assert np.all(part.shared() < 0.05)
    assert set(out.predictions) == {"A", "B", JOINT}
    assert out.predictions["A"]["test"].shape == test["test"].shape
    assert set(out.settings["fit_seconds"]) == {"A", "B", "A+B"}
    assert out.settings["spaces"] == {"A": 6, "B": 5}


def test_voxel_mask_leaves_voxels_out():
    feats, train, test = _stories()
    mask = np.ones(30, bool)
    mask[[0, 25]] = False
    out = fit_story_partition(feats, train, feats, test, alphas=ALPHAS, n_splits=3, chunk_len=20, voxel_mask=mask)
    assert np.isnan(out.partition.unique("A")[[0, 25]]).all()
    assert np.isfinite(out.partition.unique("A")[mask]).all()
    assert np.isnan(out.predictions[JOINT]["test"][:, 0]).all()


def test_save_and_load_round_trip(tmp_path):
    feats, train, test = _stories()
    out = fit_story_partition(feats, train, feats, test, alphas=ALPHAS, n_splits=3, chunk_len=20)
    save_story_partition(out, str(tmp_path))
    assert np.load(tmp_path / "unique_variance.npy").shape == (30, 2)
    assert np.load(tmp_path / "shared_variance.npy").shape == (30, 1)
    assert np.load(tmp_path / "subset_r2.npy").shape == (30, 3)
    winners = (tmp_path / "winning_space.txt").read_text().split()
    assert winners[:10].count("A") >= 9 and winners[10:20].count("B") >= 9
    back = load_story_partition(str(tmp_path))
    assert back.partition.space_names == ("A", "B")
    np.testing.assert_allclose(back.partition.unique("B"), out.partition.unique("B"))
    np.testing.assert_allclose(back.partition.joint_r2, out.partition.joint_r2)
    np.testing.assert_allclose(back.predictions["B"]["test"], out.predictions["B"]["test"])
    assert back.settings["train_stories"] == ["story0", "story1", "story2", "story3"]


def test_errors_name_what_is_wrong(tmp_path):
    feats, train, test = _stories()
    with pytest.raises(ValueError, match="two or more feature spaces"):
        fit_story_partition({"A": feats["A"]}, train, {"A": feats["A"]}, test)
    with pytest.raises(ValueError, match="expected the spaces"):
        fit_story_partition(feats, train, {"B": feats["B"], "A": feats["A"]}, test)
    with pytest.raises(ValueError, match="test stories without features"):
        fit_story_partition(feats, train, {"A": feats["A"], "B": {}}, test)
    with pytest.raises(ValueError, match="hold"):
        fit_story_partition({"a&b": feats["A"], "B": feats["B"]}, train, {"a&b": feats["A"], "B": feats["B"]}, test)
    with pytest.raises(ValueError, match="partition.json"):
        load_story_partition(str(tmp_path))


@pytest.mark.parametrize("n", [201, 241, 575, 1000])
def test_folds_have_no_short_remainder(n):
    """201 TRs in chunks of 40 over 5 folds once made a 1-TR validation fold, whose R^2 (-1e11) chose every
    voxel's penalty."""
    splits = even_chunk_splits(n, 5, 40)
    assert len(splits) == 5
    val = sorted(len(v) for _, v in splits)
    assert val[0] >= 30 and sum(val) == n
    assert sorted(np.concatenate([v for _, v in splits]).tolist()) == list(range(n))
