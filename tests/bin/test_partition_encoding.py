"""partition_encoding as a program, and its section in score_encoding's RESULTS.md (--partition, --control)."""

import json

import numpy as np
import pytest

from espnet_brain.bin.partition_encoding import main
from espnet_brain.bin.score_encoding import main as score_main
from espnet_brain.voxelwise.timing import TRIM_END, TRIM_START


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    """Directories of <story>.npy: spaces A, B on the grid (N - 5 rows); responses (N - 20 rows) of voxels 0-3 driven
    by A, 4-7 by B, 8-9 noise; 4 training stories and a test story with 3 repeats."""
    tmp = tmp_path_factory.mktemp("partition")
    rng = np.random.default_rng(0)
    w_a, w_b = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))
    for sub in ("A", "B", "train", "test", "repeats"):
        (tmp / sub).mkdir()
    for i in range(5):
        story = f"s{i}" if i < 4 else "test"
        a, b = rng.standard_normal((100, 4)), rng.standard_normal((100, 3))
        np.save(tmp / "A" / f"{story}.npy", a)
        np.save(tmp / "B" / f"{story}.npy", b)
        sig = np.concatenate([np.roll(a, 2, 0) @ w_a, np.roll(b, 2, 0) @ w_b, np.zeros((100, 2))], axis=1)
        sig = sig[TRIM_START:-TRIM_END]
        if story == "test":
            reps = sig[None] + 0.8 * rng.standard_normal((3,) + sig.shape)
            np.save(tmp / "repeats" / "test.npy", reps.astype(np.float32))
            np.save(tmp / "test" / "test.npy", reps.mean(0).astype(np.float32))
        else:
            np.save(tmp / "train" / f"{story}.npy", (sig + 0.8 * rng.standard_normal(sig.shape)).astype(np.float32))
    (tmp / "rois.json").write_text(json.dumps({"a_voxels": [0, 1, 2, 3], "b_voxels": [4, 5, 6, 7]}))
    return tmp


def _args(tmp, out):
    return [
        "--train_feats", f"A={tmp / 'A'}", "--test_feats", f"A={tmp / 'A'}",
        "--train_feats", f"B={tmp / 'B'}", "--test_feats", f"B={tmp / 'B'}",
        "--train_responses", str(tmp / "train"), "--test_responses", str(tmp / "test"),
        "--repeats", str(tmp / "repeats"), "--rois", str(tmp / "rois.json"), "--output_dir", str(out),
        "--alphas", "logspace(0,6,4)", "--n_splits", "3", "--chunk_len", "20",
    ]  # fmt: skip


def test_program_writes_the_partition_and_its_report(stories):
    out = stories / "part"
    assert main(_args(stories, out)) == 0
    unique = np.load(out / "unique_variance.npy")
    assert unique.shape == (10, 2)
    assert unique[:4, 0].min() > 0.2 and unique[:4, 1].max() < 0.05
    assert unique[4:8, 1].min() > 0.2 and unique[4:8, 0].max() < 0.05
    assert (out / "winning_space.txt").read_text().split()[:8] == ["A"] * 4 + ["B"] * 4
    meta = json.loads((out / "partition.json").read_text())
    assert meta["space_names"] == ["A", "B"] and meta["alphas"] == [1.0, 100.0, 10000.0, 1000000.0]
    assert meta["train_stories"] == ["s0", "s1", "s2", "s3"] and meta["test_stories"] == ["test"]
    report = (out / "partition.md").read_text()
    assert report.startswith("# Variance partition: A, B\n")
    assert "| a_voxels | 4 |" in report and "(fraction of ceiling)" in report
    assert (out / "plots" / "partition_winning_space.png").is_file()
    assert sorted(p.name for p in out.glob("pred_*")) == ["pred_A", "pred_B", "pred_joint"]


def test_results_md_gets_the_partition_and_the_control_comparisons(stories):
    out = stories / "part2"
    assert main(_args(stories, out)) == 0
    results = stories / "exp" / "RESULTS.md"
    rc = score_main([
        "--responses", str(stories / "test"), "--repeats", str(stories / "repeats"),
        "--rois", str(stories / "rois.json"),
        "--system", f"speech={out / 'pred_joint'}", "--system", f"control A={out / 'pred_A'}",
        "--system", f"control B={out / 'pred_B'}", "--control", "control A", "--control", "control B",
        "--compare", "speech", "--partition", str(out), "--out", str(results),
    ])  # fmt: skip
    assert rc == 0
    text = results.read_text()
    assert "## Speech-model features against the controls" in text and "## Variance partition: A, B" in text
    row = next(line for line in text.split("\n") if line.startswith("| speech - control A |"))
    cells = [c.strip() for c in row.split("|")[2:-1]]  # all, a_voxels, b_voxels
    assert cells[2].startswith("+") and "bootstrap p=" in cells[2]  # the joint model beats A where B drives
    assert not any(line.startswith("| control A - ") for line in text.split("\n"))
    rc = score_main(["--responses", str(stories / "test"), "--system", f"x={out / 'pred_A'}", "--control", "nope",
                     "--out", str(results)])  # fmt: skip
    assert rc == 1


def test_program_reports_bad_spaces(stories, capsys):
    args = _args(stories, stories / "bad")
    args[args.index(f"B={stories / 'B'}", 6)] = f"C={stories / 'B'}"  # a test space that is not a training space
    assert main(args) == 1
    assert "expected the same" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--train_feats", "no-name", "--test_feats", "A=x", "--train_responses", "x", "--test_responses", "x",
              "--output_dir", "x"])  # fmt: skip
