"""Sentence-length curriculum: the shortest batches first, all batches after the curriculum epochs."""

import pytest
from espnet2.iterators.sequence_iter_factory import SequenceIterFactory

from espnet_brain.tasks.curriculum import CurriculumIterFactory, curriculum_fraction, read_lengths


class _Items(dict):
    def __getitem__(self, uid):
        return uid, {}


def _factory(n_utts=20, batch=2):
    lengths = {f"u{i:02d}": 10 * (i + 1) for i in range(n_utts)}  # u00 shortest, u19 longest
    batches = [[f"u{i:02d}", f"u{i + 1:02d}"] for i in range(0, n_utts, batch)]
    base = SequenceIterFactory(dataset=_Items(), batches=batches, seed=3, shuffle=True, collate_fn=lambda x: x)
    return base, lengths


def _seen(factory, epoch):
    return sorted(uid for batch in factory.build_iter(epoch) for uid, _ in batch)


def test_early_epochs_use_the_shortest_batches_and_later_ones_all():
    base, lengths = _factory()
    cur = CurriculumIterFactory(base, lengths, epochs=2, start_fraction=0.3)
    first = _seen(cur, 1)
    assert first == [f"u{i:02d}" for i in range(6)]  # ceil(0.3 * 10) = 3 batches, the shortest
    second = _seen(cur, 2)
    assert len(second) == 14 and second[:6] == first  # 0.65 of the batches
    assert _seen(cur, 3) == sorted(lengths) == _seen(base, 3)  # the curriculum is over
    assert _seen(cur, 1) == first  # an epoch's batches depend on the epoch alone (resuming sees the same)


def test_fraction_schedule_and_errors(tmp_path):
    assert curriculum_fraction(1, 4, 0.2) == 0.2 and curriculum_fraction(5, 4, 0.2) == 1.0
    assert curriculum_fraction(3, 0, 0.2) == 1.0
    base, lengths = _factory()
    with pytest.raises(ValueError, match="start_fraction"):
        CurriculumIterFactory(base, lengths, epochs=2, start_fraction=0.0)
    del lengths["u05"]
    with pytest.raises(ValueError, match="no length for 1 utterances"):
        CurriculumIterFactory(base, lengths, epochs=2, start_fraction=0.5).build_iter(1)
    shape = tmp_path / "speech_shape"
    shape.write_text("a 120,256\nb 80,256\n\nc oops\n")
    with pytest.raises(ValueError, match=r"speech_shape:4: expected"):
        read_lengths(str(shape))
    shape.write_text("a 120,256\nb 80\n")
    assert read_lengths(str(shape)) == {"a": 120, "b": 80}


def test_the_task_wraps_only_the_training_iterator(monkeypatch):
    from espnet2.tasks.asr import ASRTask

    from espnet_brain.tasks.brain_asr import BrainASRTask

    base, lengths = _factory()
    monkeypatch.setattr(ASRTask, "build_sequence_iter_factory", classmethod(lambda cls, a, o, m: base))
    monkeypatch.setattr("espnet_brain.tasks.curriculum.read_lengths", lambda path: lengths)
    args = BrainASRTask.get_parser().parse_args(["--curriculum_epochs", "3", "--output_dir", "x"])

    class _Options:
        shape_files = ["speech_shape"]

    assert isinstance(BrainASRTask.build_sequence_iter_factory(args, _Options(), "train"), CurriculumIterFactory)
    assert BrainASRTask.build_sequence_iter_factory(args, _Options(), "valid") is base
    args.curriculum_epochs = 0
    assert BrainASRTask.build_sequence_iter_factory(args, _Options(), "train") is base
