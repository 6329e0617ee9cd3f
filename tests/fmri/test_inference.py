"""fMRI encoding inference: argument errors are raised before any model is built.

Features and predictions of real (tiny) models are tested through the program, in
tests/bin/test_fmri_encoding_inference.py.
"""

import pytest

from espnet_brain.fmri.inference import build_model, infer


def test_a_layer_is_only_for_the_pretrained_model(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("frontend_conf: {model_name_or_path: nowhere}\n")
    with pytest.raises(ValueError, match="--layer: only for the pretrained model"):
        build_model(str(config), str(tmp_path / "model.pth"), layer=1)


def test_data_and_output_directories_come_in_pairs(tmp_path):
    config = str(tmp_path / "config.yaml")
    with pytest.raises(ValueError, match="expected as many of each, got 2 and 1"):
        infer(config, ["a", "b"], ["out"])
    with pytest.raises(ValueError, match="got 0 and 0"):
        infer(config, [], [])
