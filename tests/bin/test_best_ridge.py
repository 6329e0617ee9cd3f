"""python -m espnet_brain.bin.best_ridge: the ridge fit (layer) with the best mean cross-validated score."""

import numpy as np
import pytest

from espnet_brain.bin.best_ridge import best_ridge, main


def _fit(root, name, scores):
    d = root / name
    d.mkdir()
    np.save(d / "cv_scores.npy", np.asarray(scores, dtype=float))
    return str(d)


def test_the_highest_mean_score_wins_and_is_printed_without_the_prefix(tmp_path, capsys):
    dirs = [
        _fit(tmp_path, "ridge_frozen_layer1", [0.1, 0.2, 0.3]),
        _fit(tmp_path, "ridge_frozen_layer2", [0.5, 0.3, 0.4]),
        _fit(tmp_path, "ridge_frozen_layer3", [0.9, np.nan, -0.5]),  # the best voxel, not the best mean; a NaN voxel
    ]
    assert best_ridge(dirs) == dirs[1]
    assert main(dirs) == 0
    assert capsys.readouterr().out.strip() == "frozen_layer2"


def test_a_directory_without_scores_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="ridge_frozen_layer4/cv_scores.npy"):
        best_ridge([_fit(tmp_path, "ridge_frozen_layer1", [0.1]), str(tmp_path / "ridge_frozen_layer4")])
