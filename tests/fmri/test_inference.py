"""fMRI encoding inference: argument errors are raised before any model is built.

Features and predictions of real (tiny) models are tested through the program, in
tests/bin/test_fmri_encoding_inference.py.
"""

import pytest

from espnet_brain.fmri.inference import infer


def test_data_and_output_directories_come_in_pairs(tmp_path):
    config = str(tmp_path / "config.yaml")
    with pytest.raises(ValueError, match="expected as many of each, got 2 and 1"):
        infer(config, ["a", "b"], ["out"])
    with pytest.raises(ValueError, match="got 0 and 0"):
        infer(config, [], [])
