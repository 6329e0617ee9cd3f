"""Tests of the model card's training log: every epoch of a training that was resumed."""

from espnet_brain.bin.write_model_card import epoch_summaries


def _summary(epoch: int, loss: float) -> str:
    return f"[vm] 2026-01-01 00:00:00,000 (trainer:394) INFO: {epoch}epoch results: [train] loss={loss}, [valid]"


def _log(path, lines):
    noise = "[vm] 2026-01-01 00:00:00,000 (trainer:811) INFO: 1epoch:train:1-10batch: loss=9.0"
    path.write_text("\n".join([noise, *lines, "# Finished"]) + "\n")


def test_a_resumed_training_keeps_every_epoch_in_order_and_the_last_summary_of_each(tmp_path):
    # The first run logged epochs 1-2; the second (train.1.log after rotation) resumed at 3 and logged 3-4;
    # the third resumed at 4 again (a crash before the checkpoint) and went on to 6.
    _log(tmp_path / "train.2.log", [_summary(1, 5.0), _summary(2, 4.0)])
    _log(tmp_path / "train.1.log", [_summary(3, 3.0), _summary(4, 2.5)])
    _log(tmp_path / "train.log", [_summary(4, 2.0), _summary(5, 1.5), _summary(6, 1.0)])
    (tmp_path / "train.x.log").write_text(_summary(7, 0.1) + "\n")  # not a rotated log
    lines = epoch_summaries(str(tmp_path / "train.log"))
    assert lines == [
        _summary(1, 5.0),
        _summary(2, 4.0),
        _summary(3, 3.0),
        _summary(4, 2.0),
        _summary(5, 1.5),
        _summary(6, 1.0),
    ]


def test_a_training_in_one_run_reads_its_own_log_only(tmp_path):
    _log(tmp_path / "train.log", [_summary(1, 2.0), _summary(2, 1.0)])
    assert epoch_summaries(str(tmp_path / "train.log")) == [_summary(1, 2.0), _summary(2, 1.0)]
