"""select_lr: the rates of the short run with the lowest dev loss, from ESPnet's own reporter state."""

import json
import math

from fixtures.checkpoints import write_reporter_checkpoint

from espnet_brain.bin.select_lr import main


def _short_run(path, valid_losses):
    """A run directory whose checkpoint.pth holds an ESPnet reporter with these per-epoch dev losses."""
    path.mkdir(parents=True)
    write_reporter_checkpoint(path / "checkpoint.pth", valid_losses)
    return str(path)


def test_the_lowest_dev_loss_over_epochs_wins(tmp_path, capsys):
    slow = _short_run(tmp_path / "slow", [3.0, 2.5, 2.2])
    good = _short_run(tmp_path / "good", [2.0, 1.1, 1.3])  # its best epoch is not its last
    diverged = _short_run(tmp_path / "diverged", [float("nan"), float("inf")])
    rc = main([
        "--run", f"{slow}:0.0001:1e-05", "--run", f"{good}:0.001:0.0001", "--run", f"{diverged}:0.01:0.001",
        "--run", f"{tmp_path / 'crashed'}:0.1:0.01", "--out", str(tmp_path / "sel"),
    ])  # fmt: skip
    assert rc == 0
    assert capsys.readouterr().out.strip() == "--optim_conf lr=0.001 --encoder_lr 0.0001"
    table = json.loads((tmp_path / "sel.json").read_text())
    assert table["chosen"]["run"] == good and table["chosen"]["best_epoch"] == 2
    by_run = {r["run"]: r for r in table["runs"]}
    assert math.isclose(by_run[slow]["valid_loss"], 2.2) and by_run[slow]["epochs"] == 3
    assert "no checkpoint" in by_run[str(tmp_path / "crashed")]["error"]
    md = (tmp_path / "sel.md").read_text()
    assert "| 0.001 | 0.0001 | 1.1000 | 2 | chosen |" in md and "| 0.01 | 0.001 | - |" in md


def test_no_usable_run_is_an_error(tmp_path, capsys):
    diverged = _short_run(tmp_path / "diverged", [float("nan")])
    assert main(["--run", f"{diverged}:0.01:0.001", "--out", str(tmp_path / "sel")]) == 1
    assert "no run has a finite dev loss" in capsys.readouterr().err
    assert not (tmp_path / "sel.json").exists()


def test_short_run_prints_the_trainer_arguments(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("scheduler: transferlr\nscheduler_conf: {freeze_steps: 700, warmup_steps: 400}\nmax_epoch: 100\n")
    rc = main(["--short_run", "1e-4:1e-5", "--epochs", "5", "--config", str(config), "--", "--max_epoch", "50"])
    assert rc == 0
    out = capsys.readouterr()
    assert (
        out.out.split()
        == (
            "--max_epoch 5 --optim_conf lr=0.0001 --encoder_lr 1e-05 --keep_nbest_models 1 "
            "--scheduler_conf freeze_steps=70 --scheduler_conf warmup_steps=40"
        ).split()
    )
    assert "freeze_steps 700 -> 70" in out.err
    config.write_text("scheduler: transferlr\nscheduler_conf: {freeze_steps: 700}\n")
    assert main(["--short_run", "1e-4:1e-5", "--config", str(config)]) == 1
    assert "max_epoch" in capsys.readouterr().err
