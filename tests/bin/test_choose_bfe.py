"""choose_bfe: the grid's configs and run list for bfe_choice.sh, then the choice and its trainer arguments."""

import torch
import yaml
from espnet2.train.reporter import Reporter

from espnet_brain.bin.choose_bfe import main


def _base(tmp_path):
    config = tmp_path / "train_brain_bfe.yaml"
    config.write_text(
        yaml.safe_dump({"frontend": "brain_gru", "frontend_conf": {"kernel_size": 32}, "encoder": "identity"})
    )
    grid = tmp_path / "grid.yaml"
    grid.write_text("kernel_size: [4, 8]\n")
    return config, grid


def _finished_run(path, loss):
    reporter = Reporter()
    reporter.set_epoch(1)
    with reporter.observe("valid") as sub:
        sub.register({"loss": loss})
        sub.next()
    path.mkdir(parents=True)
    torch.save({"reporter": reporter.state_dict()}, path / "checkpoint.pth")
    (path / "bfe_choice.done").write_text("epochs=1\n")


def test_plan_lists_setting_config_and_experiment_then_the_choice_is_printed(tmp_path, capsys):
    config, grid = _base(tmp_path)
    out = tmp_path / "choice"
    assert main(["--plan", "--grid", str(grid), "--base_config", str(config), "--out_dir", str(out)]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        ["k4", str(out / "conf" / "choice_k4_bfe.yaml"), str(out / "asr_k4")],
        ["k8", str(out / "conf" / "choice_k8_bfe.yaml"), str(out / "asr_k8")],
    ]
    assert yaml.safe_load((out / "conf" / "choice_k8_bfe.yaml").read_text())["frontend_conf"]["kernel_size"] == 8
    _finished_run(out / "asr_k4", 2.0)
    _finished_run(out / "asr_k8", 1.0)
    assert main(["--out_dir", str(out)]) == 0
    assert capsys.readouterr().out == "--frontend_conf kernel_size=8\n"


def test_no_usable_run_fails_and_says_why(tmp_path, capsys):
    config, grid = _base(tmp_path)
    out = tmp_path / "choice"
    main(["--plan", "--grid", str(grid), "--base_config", str(config), "--out_dir", str(out)])
    _finished_run(out / "asr_k4", float("nan"))
    capsys.readouterr()
    assert main(["--out_dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no run finished with a finite dev loss" in err and "k4: diverged" in err and "k8: failed" in err
    assert (out / "choice.md").exists() and not (out / "frontend_args").exists()


def test_a_choice_without_a_plan_or_a_bad_grid_is_an_error(tmp_path, capsys):
    assert main(["--out_dir", str(tmp_path / "nothing")]) == 1
    assert "no run list; plan the choice first" in capsys.readouterr().err
    config, grid = _base(tmp_path)
    grid.write_text("encoder_lr: [0.001]\n")
    assert main(["--plan", "--grid", str(grid), "--base_config", str(config), "--out_dir", str(tmp_path / "c")]) == 1
    assert "frontend_conf keys only" in capsys.readouterr().err
