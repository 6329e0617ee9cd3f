"""The short runs of the learning-rate search: their trainer arguments, the transfer schedule scaled to them."""

import math

import pytest
import torch
import yaml

from espnet_brain.asr.sweep.lr_search import short_run_args, trainer_schedule, yaml_float
from espnet_brain.schedulers.transfer_lr import TransferLR

UPDATES_PER_EPOCH = 100


def _config(tmp_path, **overrides):
    conf = dict(
        optim="adam",
        optim_conf=dict(lr=0.0001),
        encoder_lr=0.00001,
        scheduler="transferlr",
        # the full run holds the transformer for 7 epochs of 100 updates, then warms it up over 4
        scheduler_conf=dict(freeze_steps=7 * UPDATES_PER_EPOCH, warmup_steps=4 * UPDATES_PER_EPOCH),
        max_epoch=100,
    )
    conf.update(overrides)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    return str(path)


def _parse(args):
    """The short run's settings as the trainer reads its arguments (later ones win)."""
    out = {}
    for key, value in zip(args[::2], args[1::2]):
        if key in ("--optim_conf", "--scheduler_conf"):
            k, v = value.split("=")
            out[f"{key[2:]}.{k}"] = yaml.safe_load(v)
        else:
            out[key[2:]] = yaml.safe_load(value)
    return out


def _encoder_factors(freeze_steps, warmup_steps, n_updates):
    """The transformer's learning-rate factor at each update under the transfer schedule."""
    opt = torch.optim.Adam([{"params": [torch.zeros(1, requires_grad=True)], "name": "encoder"}], lr=1.0)
    sched = TransferLR(opt, freeze_steps=freeze_steps, warmup_steps=warmup_steps)
    return [sched.factor(step) for step in range(n_updates)]


def test_a_short_run_trains_the_transformer_for_the_same_fraction_as_the_full_run(tmp_path):
    args, note = short_run_args(1e-3, 1e-4, epochs=5, config=_config(tmp_path))
    got = _parse(args)
    assert got["max_epoch"] == 5 and got["keep_nbest_models"] == 1
    assert got["optim_conf.lr"] == 1e-3 and isinstance(got["optim_conf.lr"], float) and got["encoder_lr"] == 1e-4
    # 7 and 4 epochs of 100 updates, scaled by 5/100: 35 and 20 updates
    assert got["scheduler_conf.freeze_steps"] == 35 and got["scheduler_conf.warmup_steps"] == 20
    assert "freeze_steps 700 -> 35" in note
    # the transformer moves in the same share of the short run's 500 updates as of the full run's, and ends at its
    # full rate (unscaled, a 5-epoch run never moved it: the encoder rate was not compared)
    short = _encoder_factors(got["scheduler_conf.freeze_steps"], got["scheduler_conf.warmup_steps"], 500)
    full = _encoder_factors(700, 400, 100 * UPDATES_PER_EPOCH)
    assert sum(f > 0 for f in short) / len(short) == pytest.approx(sum(f > 0 for f in full) / len(full), abs=0.01)
    assert short[-1] == 1.0
    assert max(_encoder_factors(700, 400, 500)) == 0.0


def test_the_trainer_arguments_of_the_full_run_are_what_is_scaled(tmp_path):
    # brain_asr.sh's --freeze_epochs (as freeze_steps) and the user's --max_epoch come after the config
    config = _config(tmp_path)
    trainer = ["--frontend_conf", "input_size=8", "--scheduler_conf", "freeze_steps=1000", "--max_epoch=50"]
    assert trainer_schedule(config, trainer) == ("transferlr", {"freeze_steps": 1000, "warmup_steps": 400}, 50)
    got = _parse(short_run_args(1e-3, 1e-4, epochs=5, config=config, trainer_args=trainer)[0])
    assert got["scheduler_conf.freeze_steps"] == 100 and got["scheduler_conf.warmup_steps"] == 40
    # a full run no longer than the short one keeps its schedule
    got = _parse(short_run_args(1e-3, 1e-4, epochs=5, config=config, trainer_args=["--max_epoch", "3"])[0])
    assert got["scheduler_conf.freeze_steps"] == 700


def test_schedules_without_a_freeze_are_left_alone(tmp_path):
    args, _ = short_run_args(1e-3, 1e-4, 5, _config(tmp_path, scheduler="warmuplr", scheduler_conf={}))
    assert "--scheduler_conf" not in args
    args, _ = short_run_args(1e-3, 1e-4, 5, _config(tmp_path, scheduler_conf=dict(freeze_steps=0)))
    assert "--scheduler_conf" not in args


def test_a_schedule_that_cannot_be_scaled_is_refused(tmp_path):
    conf = yaml.safe_load(open(_config(tmp_path)))
    del conf["max_epoch"]
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(conf))
    config = str(tmp_path / "train.yaml")
    with pytest.raises(ValueError, match=r"train.yaml: the transferlr schedule .* max_epoch"):
        short_run_args(1e-3, 1e-4, 5, config)
    with pytest.raises(ValueError, match="at least 1 epoch"):
        short_run_args(1e-3, 1e-4, 0, config)


def test_rates_are_written_as_yaml_floats():
    for x in (1e-4, 1e-9, 0.001, 3e-3, 1.0, 2.5e-5):
        text = yaml_float(x)
        assert isinstance(yaml.safe_load(text), float) and math.isclose(yaml.safe_load(text), x), text
    assert isinstance(yaml.safe_load("1e-05"), str)  # why: PyYAML's YAML 1.1 floats need a dot
