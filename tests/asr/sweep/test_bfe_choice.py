"""The BFE's window and projection chosen on the dev set: the grid's configs, the choice, its files."""

import json
import math

import pytest
import yaml
from espnet2.utils.nested_dict_action import NestedDictAction
from fixtures.checkpoints import write_reporter_checkpoint

from espnet_brain.asr.sweep.bfe_choice import (
    DONE_FILE,
    choose_setting,
    format_value,
    frontend_args,
    plan_choice,
    read_choice_runs,
    run_dir,
    write_choice,
)

BASE = {
    "frontend": "brain_gru",
    "frontend_conf": {"input_size": 8, "output_size": 16, "n_days": 2, "kernel_size": 32, "stride": 4},
    "encoder": "identity",
    "decoder": "none",
    "optim": "adam",
    "optim_conf": {"lr": 0.0001},
    "max_epoch": 100,
}


def _plan(tmp_path, grid_text="kernel_size: [4, 8]\nwindow_projection: [null, 256]\n", base=None):
    grid = tmp_path / "grid.yaml"
    grid.write_text(grid_text)
    config = tmp_path / "train_brain_bfe.yaml"
    config.write_text(yaml.safe_dump(base or BASE))
    return plan_choice(grid, config, tmp_path / "choice")


def _train(out_dir, run, valid_losses, finished=True):
    """The run's experiment as the recipe leaves it: ESPnet's reporter state in checkpoint.pth, and the recipe's
    mark of a training that succeeded."""
    path = run_dir(out_dir, run)
    path.mkdir(parents=True)
    write_reporter_checkpoint(path / "checkpoint.pth", valid_losses)
    if finished:
        (path / DONE_FILE).write_text("epochs=3\n")


def test_each_grid_point_is_the_control_config_with_its_keys_and_null_is_no_projection(tmp_path):
    runs = _plan(tmp_path)
    assert [r.arch_id for r in runs] == ["k4_projnone", "k4_proj256", "k8_projnone", "k8_proj256"]
    configs = [yaml.safe_load(r.config.read_text()) for r in runs]
    assert [(c["frontend_conf"]["kernel_size"], c["frontend_conf"]["window_projection"]) for c in configs] == [
        (4, None), (4, 256), (8, None), (8, 256)
    ]  # fmt: skip
    # "window_projection: null" is written, not left out: the config says which BFE it trains
    assert "window_projection: null" in runs[0].config.read_text()
    for config in configs:  # everything else as in the control's config
        assert config["frontend_conf"]["stride"] == 4 and config["encoder"] == "identity" and config["max_epoch"] == 100
    assert [r.arch for r in read_choice_runs(tmp_path / "choice")] == [r.arch for r in runs]
    assert run_dir(tmp_path / "choice", runs[1]) == tmp_path / "choice" / "asr_k4_proj256"


@pytest.mark.parametrize(
    "grid, base, message",
    [
        ("kernel_size: [4]\noptim_conf.lr: [0.001]\n", None, r"frontend_conf keys only .*optim_conf\.lr.*--lr_grid"),
        ("kernel_size: [4]\ninput_size: [3]\n", None, r"unknown or fixed keys \['input_size'\]"),
        (
            "kernel_size: [4]\n",
            {**BASE, "frontend": "default"},
            r"train_brain_bfe\.yaml: expected 'frontend: brain_gru'",
        ),
    ],
)
def test_what_the_choice_cannot_sweep_is_refused_with_the_file_named(tmp_path, grid, base, message):
    with pytest.raises(ValueError, match=message):
        _plan(tmp_path, grid, base)


def test_the_lowest_best_dev_loss_is_chosen_and_failed_or_diverged_runs_never(tmp_path):
    runs = _plan(tmp_path)
    out = tmp_path / "choice"
    _train(out, runs[0], [3.0, 2.5, 2.4])
    _train(out, runs[1], [2.0, 1.1, 1.3])  # its best epoch is not its last
    # the lowest loss, but the training did not finish (no mark): failed, not chosen
    _train(out, runs[2], [0.5], finished=False)
    _train(out, runs[3], [float("nan"), float("inf")])  # diverged
    rows, best = choose_setting(runs, out)
    assert best["setting"] == "k4_proj256" and best["best_epoch"] == 2 and math.isclose(best["valid_loss"], 1.1)
    by_setting = {r["setting"]: r for r in rows}
    assert by_setting["k8_projnone"]["error"].startswith("failed: the training did not finish")
    assert by_setting["k8_proj256"]["error"].startswith("diverged")
    assert math.isclose(by_setting["k4_projnone"]["valid_loss"], 2.4) and by_setting["k4_projnone"]["epochs"] == 3


def test_a_finished_run_without_dev_statistics_is_reported_as_failed(tmp_path):
    runs = _plan(tmp_path, "kernel_size: [4, 8]\n")
    out = tmp_path / "choice"
    run_dir(out, runs[0]).mkdir(parents=True)
    (run_dir(out, runs[0]) / DONE_FILE).write_text("")
    _train(out, runs[1], [4.0])
    rows, best = choose_setting(runs, out)
    assert "no checkpoint" in rows[0]["error"] and best is rows[1]


def test_a_tie_goes_to_the_first_setting_of_the_grid(tmp_path):
    runs = _plan(tmp_path, "kernel_size: [16, 8]\n")
    for run in runs:
        _train(tmp_path / "choice", run, [1.5])
    assert choose_setting(runs, tmp_path / "choice")[1]["setting"] == "k16"


def test_choice_files_table_json_and_the_trainer_arguments(tmp_path):
    runs = _plan(tmp_path)
    out = tmp_path / "choice"
    _train(out, runs[0], [3.0, 2.0])
    _train(out, runs[2], [1.0, 1.5])
    rows, best = choose_setting(runs, out)
    args = write_choice(rows, best, out)
    assert args == "--frontend_conf kernel_size=8 --frontend_conf window_projection=null"
    assert (out / "frontend_args").read_text() == args + "\n"
    saved = json.loads((out / "choice.json").read_text())
    assert saved["chosen"]["setting"] == "k8_projnone" and saved["frontend_args"] == args
    assert [r["setting"] for r in saved["runs"]] == ["k4_projnone", "k4_proj256", "k8_projnone", "k8_proj256"]
    md = (out / "choice.md").read_text()
    assert "| setting | kernel_size | window_projection | best dev loss | at epoch | epochs | note |" in md
    assert "| k8_projnone | 8 | none | 1.0000 | 1 | 2 | **chosen** |" in md
    assert "| k4_projnone | 4 | none | 2.0000 | 2 | 2 |  |" in md
    assert "| k4_proj256 | 4 | 256 | - | - | - | failed: the training did not finish" in md
    assert md.count("**chosen**") == 1


def test_nothing_usable_writes_the_table_and_removes_a_stale_choice(tmp_path):
    runs = _plan(tmp_path, "kernel_size: [4, 8]\n")
    out = tmp_path / "choice"
    (out / "frontend_args").write_text("--frontend_conf kernel_size=4\n")
    _train(out, runs[0], [float("nan")])
    rows, best = choose_setting(runs, out)
    assert best is None
    assert write_choice(rows, best, out) is None
    assert not (out / "frontend_args").exists()
    assert "nothing chosen" in (out / "choice.md").read_text()


@pytest.mark.parametrize(
    "value, text",
    [(None, "null"), (256, "256"), (True, "true"), (1e-05, "1.0e-05"), (0.3, "0.3"), ([512, 128], "[512,128]")],
)
def test_values_reach_the_trainer_as_they_were_in_the_grid(value, text):
    assert format_value(value) == text
    # ESPnet's own --frontend_conf parser reads each argument back to the grid's value
    parser = __import__("argparse").ArgumentParser()
    parser.add_argument("--frontend_conf", action=NestedDictAction, default={"window_projection": 64})
    args = parser.parse_args(frontend_args({"window_projection": value, "kernel_size": 8}).split())
    assert args.frontend_conf == {"window_projection": value, "kernel_size": 8}
