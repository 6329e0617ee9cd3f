"""plot_training_curves: every run's dev curve from ESPnet's reporter state, and how steadily it fell."""

import torch
from espnet2.train.reporter import Reporter

from espnet_brain.bin.plot_training_curves import main
from espnet_brain.tasks.reporter import curve, read_epoch_stats, stability


def _run(path, valid_losses, train_losses=None):
    reporter = Reporter()
    for epoch, loss in enumerate(valid_losses, start=1):
        reporter.set_epoch(epoch)
        for phase, value in (("train", (train_losses or valid_losses)[epoch - 1]), ("valid", loss)):
            with reporter.observe(phase) as sub:
                sub.register({"loss": value, "acc": 0.5})
                sub.next()
    path.mkdir(parents=True)
    torch.save({"reporter": reporter.state_dict(), "model": {}}, path / "checkpoint.pth")
    return str(path)


def test_curves_come_back_per_epoch_from_the_checkpoint(tmp_path):
    run = _run(tmp_path / "a", [3.0, 2.0, 2.5, 1.5], train_losses=[4.0, 3.0, 2.0, 1.0])
    stats = read_epoch_stats(run)
    assert list(stats) == [1, 2, 3, 4]
    assert curve(stats, "valid") == [(1, 3.0), (2, 2.0), (3, 2.5), (4, 1.5)]
    assert curve(stats, "train")[-1] == (4, 1.0)
    s = stability(curve(stats, "valid"))
    assert (s["best"], s["best_epoch"], s["final"], s["n_worse"], s["max_rise"]) == (1.5, 4, 1.5, 1, 0.5)


def test_table_and_plot_tell_a_steady_run_from_an_unsteady_one(tmp_path):
    steady = _run(tmp_path / "lora", [3.0, 2.0, 1.5, 1.2])
    unsteady = _run(tmp_path / "full", [3.0, 1.8, 2.9, 1.4, 2.2])
    out = tmp_path / "plots" / "curves"
    assert main(["--run", f"LoRA={steady}", "--run", f"full fine-tuning={unsteady}", "--out", str(out)]) == 0
    md = (tmp_path / "plots" / "curves.md").read_text()
    assert "| LoRA | 4 | 1.2 (4) | 1.2 | 0 | 0 |" in md
    assert "| full fine-tuning | 5 | 1.4 (4) | 2.2 | 2 | 1.1 |" in md
    assert (tmp_path / "plots" / "curves.png").stat().st_size > 5000


def test_a_run_without_a_checkpoint_is_named(tmp_path, capsys):
    assert main(["--run", f"head only={tmp_path / 'missing'}", "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "head only" in err and "no checkpoint" in err
