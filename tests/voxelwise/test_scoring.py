import numpy as np
import pytest
from scipy.stats import pearsonr

from espnet_brain.voxelwise.scoring import (
    normalized_correlation,
    paired_difference,
    pearson_r,
    plot_roi_bars,
    plot_score_histogram,
    roi_summary,
)


def test_pearson_r_matches_scipy_and_handles_constants():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 4))
    p = y + rng.standard_normal((50, 4))
    p[:, 3] = 1.0  # constant prediction
    r = pearson_r(y, p)
    for v in range(3):
        assert r[v] == pytest.approx(pearsonr(y[:, v], p[:, v])[0], abs=1e-12)
    assert r[3] == 0.0
    with pytest.raises(ValueError, match="NaN"):
        pearson_r(y, np.where(p > 2, np.nan, p))
    with pytest.raises(ValueError, match="equal shapes"):
        pearson_r(y, p[:, :3])


def test_normalized_correlation():
    got = normalized_correlation(np.array([0.2, 0.3, 0.1]), np.array([0.4, 0.0, np.nan]))
    np.testing.assert_allclose(got, [0.5, np.nan, np.nan])
    np.testing.assert_allclose(normalized_correlation(np.array([0.1]), np.array([0.05]), min_ceiling=0.1), [np.nan])


def test_roi_summary_and_plots(tmp_path):
    scores = np.array([0.1, 0.2, 0.3, 0.4, np.nan, -0.1])
    rois = {"auditory": np.array([True, True, True, False, False, False]), "semantic": [3, 4, 5]}
    summary = roi_summary(scores, rois, ceiling=np.full(6, 0.5))
    assert summary["auditory"]["mean"] == pytest.approx(0.2)
    assert summary["auditory"]["mean_normalized"] == pytest.approx(0.4)
    assert summary["semantic"]["n_voxels"] == 2 and summary["semantic"]["mean"] == pytest.approx(0.15)
    assert summary["all"]["n_voxels"] == 5
    with pytest.raises(ValueError, match="auditory"):
        roi_summary(scores, {"auditory": np.array([True, False])})
    hist = plot_score_histogram(scores, tmp_path / "plots" / "hist.png")
    bars = plot_roi_bars(summary, tmp_path / "bars.png", key="mean_normalized")
    for path in (hist, bars):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="p95"):
        plot_roi_bars(summary, tmp_path / "x.png", key="p95")


def test_paired_difference_finds_a_consistent_gain_and_not_noise():
    rng = np.random.default_rng(0)
    r_a = rng.uniform(0.0, 0.5, size=300)
    better = r_a + 0.05 + rng.normal(0, 0.02, size=300)
    same = r_a + rng.normal(0, 0.02, size=300)
    gain = paired_difference(r_a, better)
    assert gain["p"] < 1e-10 and gain["wins"] > 0.95 and abs(gain["mean_diff"] - 0.05) < 0.01
    noise = paired_difference(r_a, same)
    assert noise["p"] > 0.01 and abs(noise["mean_diff"]) < 0.01
    assert paired_difference(r_a, r_a)["p"] == 1.0  # identical models: no evidence of a difference
    with_nan = r_a.copy()
    with_nan[:10] = np.nan
    assert paired_difference(with_nan, better)["n_voxels"] == 290  # masked voxels are left out of the pairs
    assert np.isnan(paired_difference(r_a[:3], better[:3])["p"])
    with pytest.raises(ValueError, match="same shape"):
        paired_difference(r_a, better[:10])
