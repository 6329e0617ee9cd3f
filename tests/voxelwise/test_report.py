"""The encoding report: voxelwise r against a reference, masked voxels, noise ceiling, ROI tables, plots."""

import json

import kaldiio
import numpy as np
import pytest

from espnet_brain.voxelwise.report import score, summarize


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(80, 6))
    reps = np.stack([signal + rng.normal(size=signal.shape) for _ in range(4)]).astype(np.float32)
    reps[:, :, 5] = rng.normal(size=(4, 80))  # a pure-noise voxel
    resp = reps.mean(0)
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/resp.ark,{tmp_path}/resp.scp") as w:
        w("story", resp)
    np.save(tmp_path / "reps.npy", reps)
    (tmp_path / "repeats.scp").write_text(f"story {tmp_path}/reps.npy\n")
    (tmp_path / "pred").mkdir()
    np.save(tmp_path / "pred" / "story.npy", signal)  # the noiseless signal as a prediction
    (tmp_path / "shuffled").mkdir()
    np.save(tmp_path / "shuffled" / "story.npy", signal[rng.permutation(len(signal))])  # same values, TRs shuffled
    mask = np.ones(6, dtype=bool)
    mask[2] = False
    np.save(tmp_path / "mask.npy", mask)
    (tmp_path / "rois.json").write_text(json.dumps({"a": [0, 1, 2], "b": [3, 4, 5]}))
    return dict(tmp=tmp_path, signal=signal, resp=resp, reps=reps)


def test_scores_masks_ceiling_and_report(files):
    tmp = files["tmp"]
    results = score(
        str(tmp / "resp.scp"), [("oracle", str(tmp / "pred")), ("shuffled", str(tmp / "shuffled"))], str(tmp / "R.md"),
        repeats=str(tmp / "repeats.scp"), voxel_mask=str(tmp / "mask.npy"), rois=str(tmp / "rois.json"),
        plot_dir=str(tmp / "plots"), title="test scores",
    )  # fmt: skip
    r = np.load(tmp / "r_oracle.npy")
    expected = [np.corrcoef(files["signal"][:, v], files["resp"][:, v])[0, 1] for v in range(6)]
    np.testing.assert_allclose(np.delete(r, 2), np.delete(expected, 2), atol=1e-6)
    assert np.isnan(r[2])  # masked voxel
    assert results["oracle"]["all"]["n_voxels"] == 5 and results["oracle"]["a"]["n_voxels"] == 2
    ceiling = np.load(tmp / "noise_ceiling.npy")
    assert np.isnan(ceiling[2]) and ceiling[5] < 0.5 < ceiling[0]
    # the oracle reaches about its ceiling on the signal voxels; the same values in shuffled order predict nothing
    assert 0.8 < results["oracle"]["a"]["fraction_of_ceiling"] < 1.2
    assert abs(results["shuffled"]["all"]["mean"]) < 0.15 and results["oracle"]["all"]["mean"] > 0.5
    assert "| shuffled | 5 |" in (tmp / "R.md").read_text()
    report = (tmp / "R.md").read_text()
    assert report.startswith("# test scores") and "(1 masked: NaN in the data)" in report
    assert "| oracle | 5 |" in report and "| noise ceiling (mean CC_max) |" in report
    assert "4 repeats" in report and "reference = mean of the repeats" in report
    for name in ("oracle_hist.png", "roi_mean_r.png"):
        assert (tmp / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[histogram of voxelwise r: oracle](plots/oracle_hist.png)" in report
    assert "(plots/roi_mean_r.png)" in report
    # the second system minus the first, voxel by voxel, all voxels and per ROI
    assert (tmp / "plots" / "shuffled_minus_first_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        "[voxelwise r of shuffled minus oracle, all voxels and per ROI](plots/shuffled_minus_first_hist.png)" in report
    )
    # the second system against the first, on the same voxels: the shuffled prediction loses on every ROI
    section = report.split('## Paired differences from "oracle"')[1].split("##")[0]
    row = [line for line in section.splitlines() if line.startswith("| shuffled |")][0]
    cells = [c.strip() for c in row.strip("|").split("|")[1:]]
    assert len(cells) == 3 and all(c.startswith("-0.") for c in cells)  # all, a, b
    assert "(0%, p=-, " in cells[0]  # no voxel where the shuffled one is better; 5 voxels are too few for a p
    # but the 80 test TRs are enough for the bootstrap: every resample has the oracle ahead
    assert all(c.endswith("bootstrap p=0.002)") for c in cells), cells


def test_the_numbers_go_to_a_json_beside_the_report_one_entry_per_system_and_roi(files):
    tmp = files["tmp"]
    results = score(
        str(tmp / "resp.scp"), [("oracle", str(tmp / "pred")), ("shuffled", str(tmp / "shuffled"))], str(tmp / "R.md"),
        repeats=str(tmp / "repeats.scp"), voxel_mask=str(tmp / "mask.npy"), rois=str(tmp / "rois.json"),
    )  # fmt: skip
    numbers = json.loads((tmp / "R.json").read_text())
    assert numbers["first"] == "oracle"
    entries = {e["name"]: e for e in numbers["systems"]}
    assert list(entries) == [f"{s} | {roi}" for s in ("oracle", "shuffled") for roi in ("all", "a", "b")]
    for name, entry in entries.items():
        system, roi = name.split(" | ")
        assert entry["fraction_of_ceiling"] == pytest.approx(results[system][roi]["fraction_of_ceiling"])
        assert entry["mean"] == pytest.approx(results[system][roi]["mean"])
    assert "minus_first_mean_r" not in entries["oracle | a"]
    r_oracle, r_shuffled = np.load(tmp / "r_oracle.npy"), np.load(tmp / "r_shuffled.npy")
    assert entries["shuffled | all"]["minus_first_mean_r"] == pytest.approx(np.nanmean(r_shuffled - r_oracle))
    assert entries["shuffled | all"]["minus_first_p_bootstrap"] == pytest.approx(0.002, abs=1e-3)
    assert entries["shuffled | all"]["minus_first_p"] is None  # 5 voxels: no Wilcoxon p (NaN written as null)


def test_single_repeat_reference_gives_a_lower_ceiling(files):
    tmp = files["tmp"]
    score(str(tmp / "resp.scp"), [("x", str(tmp / "pred"))], str(tmp / "a.md"), repeats=str(tmp / "repeats.scp"))
    mean_ref = np.load(tmp / "noise_ceiling.npy")
    score(
        str(tmp / "resp.scp"), [("x", str(tmp / "pred"))], str(tmp / "b.md"), repeats=str(tmp / "repeats.scp"),
        ceiling_reference="single",
    )  # fmt: skip
    single = np.load(tmp / "noise_ceiling.npy")
    assert np.all(single[:5] < mean_ref[:5])


def test_summary_without_ceiling_has_no_ceiling_columns():
    r = np.array([0.1, 0.2, np.nan, 0.4])
    out = summarize(r, {"x": np.array([0, 1])}, None, 0.2)
    assert out["all"]["n_voxels"] == 3 and "fraction_of_ceiling" not in out["all"]
    assert out["x"]["mean"] == pytest.approx(0.15)


def test_glass_brain_views_with_a_mask_and_nilearn(files):
    pytest.importorskip("nilearn")
    import nibabel

    tmp = files["tmp"]
    mask = np.zeros((3, 4, 5), dtype=np.uint8)
    mask.flat[[3, 7, 20, 33, 41, 59]] = 1  # the 6 voxels
    nibabel.save(nibabel.Nifti1Image(mask, np.eye(4)), str(tmp / "brain.nii.gz"))
    score(
        str(tmp / "resp.scp"), [("oracle", str(tmp / "pred")), ("shuffled", str(tmp / "shuffled"))], str(tmp / "G.md"),
        plot_dir=str(tmp / "plots"), brain_mask=str(tmp / "brain.nii.gz"),
    )  # fmt: skip
    report = (tmp / "G.md").read_text()
    for png in ("oracle_glass.png", "shuffled_glass.png", "shuffled_minus_first_glass.png"):
        assert f"(plots/{png})" in report and (tmp / "plots" / png).stat().st_size > 1000
