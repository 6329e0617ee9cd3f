"""The probe study's specs, row trimming, and a small run: a feature set that carries the targets beats one that
does not (the command line and report are tested in tests/bin/test_probe_features.py)."""

import numpy as np
import pytest

from espnet_brain.voxelwise.probe_report import write_table
from espnet_brain.voxelwise.probe_runs import (
    ProbeConfig,
    parse_feats,
    parse_targets,
    run_probes,
    select_columns,
    trim_rows,
)


def test_target_columns():
    assert parse_targets("acoustic=gt/features:0-31") == ("acoustic", "gt/features", "0-31")
    assert parse_targets("semantic=gt/features") == ("semantic", "gt/features", None)
    np.testing.assert_array_equal(select_columns("33-", 36, "x"), [33, 34, 35])
    np.testing.assert_array_equal(select_columns("0-2,5", 8, "x"), [0, 1, 2, 5])
    np.testing.assert_array_equal(select_columns(None, 3, "x"), [0, 1, 2])
    with pytest.raises(ValueError, match="x: columns '7-8'"):
        select_columns("7-8", 8, "x")


def test_feature_specs_and_trim():
    assert parse_feats("lora r4:12=exp/a:b/feats.scp") == ("lora r4", 12, "exp/a:b/feats.scp")
    for bad in ("frozen=x", "frozen:x=y", ":3=y", "frozen:3="):
        with pytest.raises(ValueError, match="NAME:LAYER=SOURCE"):
            parse_feats(bad)
    arrays = {"a": np.arange(20.0).reshape(10, 2)}
    np.testing.assert_array_equal(trim_rows(arrays, (3, 2), "x")["a"], arrays["a"][3:8])
    assert trim_rows(arrays, None, "x") is arrays
    with pytest.raises(ValueError, match="x: story a has 10 rows, too few for --trim 6 4"):
        trim_rows(arrays, (6, 4), "x")


def test_run_probes_on_arrays(tmp_path):
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((3, 5))
    for d in ("truth", "good", "bad"):
        (tmp_path / d).mkdir()
    for s in ("a", "b", "c"):
        latent = rng.standard_normal((80, 3))
        np.save(tmp_path / "truth" / f"{s}.npy", latent[2:78] + 0.2 * rng.standard_normal((76, 3)))
        np.save(tmp_path / "good" / f"{s}.npy", latent @ mix)
        np.save(tmp_path / "bad" / f"{s}.npy", rng.standard_normal((80, 5)))
    config = ProbeConfig(
        feats=[f"bad:1={tmp_path / 'bad'}", f"good:1={tmp_path / 'good'}"],
        targets=[f"x={tmp_path / 'truth'}:0-1"],
        trim=[2, 2],
        n_resamples=50,
    )
    results, comparisons, reference = run_probes(config)
    assert reference == "bad" and list(results) == ["bad", "good"]
    assert results["good"][1]["x"].mean_r > 0.8 > 0.2 > results["bad"][1]["x"].mean_r
    assert comparisons["good"][1]["x"]["mean_diff"] > 0.6
    assert "| good | 1 | " in write_table(results, ["x"])
    with pytest.raises(ValueError, match="--words builds its own targets"):
        run_probes(ProbeConfig(feats=config.feats, targets=config.targets, words=str(tmp_path)))
