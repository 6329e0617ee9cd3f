"""A training run's options read without ESPnet's parser agree with what the parser gives."""

import pytest
import yaml

from espnet_brain.tasks.options import trainer_options

OPTIONS = {"frontend": (str, "default"), "frontend_conf": (dict, {}), "max_epoch": (int, None)}


def test_config_then_command_line_with_conf_mappings_merged(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"frontend": "brain_gru", "frontend_conf": {"stride": 4, "kernel_size": 32}}))
    args = ["--config", str(config), "--frontend_conf", "stride=2", "--other", "x", "--max_epoch=3"]
    got = trainer_options(args + ["--frontend_conf", "hidden_size=8"], OPTIONS)
    assert got == {
        "frontend": "brain_gru",
        "frontend_conf": {"stride": 2, "kernel_size": 32, "hidden_size": 8},
        "max_epoch": 3,
    }
    assert trainer_options([], OPTIONS) == {"frontend": "default", "frontend_conf": {}, "max_epoch": None}
    config.write_text("- a list\n")
    with pytest.raises(ValueError, match="train.yaml: expected a mapping"):
        trainer_options(["--config", str(config)], OPTIONS)


def test_they_agree_with_the_task_parser(tmp_path):
    from espnet_brain.tasks.brain_asr import BrainASRTask

    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump({"frontend": "brain_gru", "frontend_conf": {"stride": 4, "dropout": 0.1}, "max_epoch": 7})
    )
    args = ["--config", str(config), "--frontend_conf", "stride=2", "--frontend_conf", "smoothing_sigma=1.5"]
    args += ["--max_epoch", "9", "--encoder_lr", "0.001"]
    parsed, _ = BrainASRTask.get_parser().parse_known_args(args)
    got = trainer_options(args, OPTIONS)
    assert got == {"frontend": parsed.frontend, "frontend_conf": parsed.frontend_conf, "max_epoch": parsed.max_epoch}
