"""Per-ROI tables and the winning-space plot of a variance partition."""

import numpy as np
import pytest

from espnet_brain.voxelwise.partition_report import (
    format_partition_table,
    partition_roi_table,
    plot_winning_space_by_roi,
)
from espnet_brain.voxelwise.variance_partition import partition_from_scores


@pytest.fixture
def partition():
    # 5 voxels: A only, A only, B only, shared, nothing (regions: A .3 .1 0 0 0; B 0 0 .2 0 0; A&B 0 0 0 .4 0)
    a = np.array([0.3, 0.1, 0.0, 0.0, 0.0])
    b = np.array([0.0, 0.0, 0.2, 0.0, 0.0])
    ab = np.array([0.0, 0.0, 0.0, 0.4, 0.0])
    scores = {"A": a + ab, "B": b + ab, "A+B": a + b + ab}
    return partition_from_scores(scores, ["A", "B"], correction="none")


def test_roi_table(partition):
    labels = np.array(["early", "early", "late", "late", "late"])
    table = partition_roi_table(partition, labels)
    assert list(table) == ["all", "early", "late"]
    early, late = table["early"], table["late"]
    assert early["n_voxels"] == 2 and late["n_voxels"] == 3
    np.testing.assert_allclose(early["mean_joint_r2"], 0.2)
    np.testing.assert_allclose([early["mean_unique_A"], early["mean_unique_B"], early["mean_shared"]], [0.2, 0, 0])
    np.testing.assert_allclose(
        [late["mean_unique_A"], late["mean_unique_B"], late["mean_shared"]], [0, 0.2 / 3, 0.4 / 3]
    )
    np.testing.assert_allclose([early["win_A"], early["win_B"], early["win_none"]], [1, 0, 0])
    # the shared voxel has no unique variance: nobody wins it, as nobody wins the empty one
    np.testing.assert_allclose([late["win_A"], late["win_B"], late["win_none"]], [0, 1 / 3, 2 / 3])
    single = partition_roi_table(partition, labels, by="single")["late"]  # shared variance counts for both
    np.testing.assert_allclose(single["win_A"] + single["win_B"], 2 / 3)
    np.testing.assert_allclose(table["all"]["win_A"], 0.4)
    text = format_partition_table(table, ["A", "B"])
    assert text.splitlines()[0].startswith("| ROI | voxels | joint R2 | unique A | unique B | shared | wins A")
    assert "| early | 2 | 0.200 | 0.200 | 0.000 | 0.000 | 100 % | 0 % | 0 % |" in text
    with pytest.raises(ValueError, match="one label per voxel"):
        partition_roi_table(partition, labels[:3])


def test_masked_voxels_are_left_out(partition):
    partition.subset_r2["A+B"][4] = np.nan
    table = partition_roi_table(partition, np.array(["x"] * 5))
    assert table["x"]["n_voxels"] == 4


def test_winning_space_plot(partition, tmp_path):
    table = partition_roi_table(partition, np.array(["early", "early", "late", "late", "late"]))
    path = plot_winning_space_by_roi(table, ["A", "B"], tmp_path / "plots" / "wins.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
