import pytest
import torch

from espnet_brain.asr.ctc_feasibility import check_set, infeasible_mask, read_lengths, required_frames
from espnet_brain.asr.frontend.brain_gru import BrainGRUFrontend


@pytest.mark.parametrize(
    "label, needed",
    [([], 0), ([3], 1), ([3, 4, 5], 3), ([3, 3], 3), ([3, 3, 3, 4, 4], 8), ([3, 4, 3], 3)],
)
def test_required_frames_is_length_plus_adjacent_repeats(label, needed):
    assert required_frames(label) == needed


def test_required_frames_agrees_with_torch_ctc_loss_being_finite():
    # torch's CTC is the ground truth: a label is alignable exactly when its loss is finite.
    torch.manual_seed(0)
    for label in ([1, 1, 2], [1, 2, 2, 2], [1, 2, 1, 2], [3, 3, 3, 3]):
        needed = required_frames(label)
        for frames in (needed - 1, needed):
            lp = torch.randn(frames, 1, 5).log_softmax(-1)
            loss = torch.nn.functional.ctc_loss(
                lp, torch.tensor([label]), torch.tensor([frames]), torch.tensor([len(label)]), reduction="sum"
            )
            assert torch.isfinite(loss).item() == (frames >= needed), (label, frames)


def test_infeasible_mask_ignores_padding_and_counts_repeats():
    ys = torch.tensor([[3, 3, 4, -1, -1], [3, 4, 5, 6, 7], [5, -1, -1, -1, -1]])
    lens = torch.tensor([3, 5, 1])
    # Needs 4, 5 and 1 frames.
    mask = infeasible_mask(ys, lens, torch.tensor([3, 5, 1]))
    assert mask.tolist() == [True, False, False]
    # Padding with equal values (-1, -1) must not count as repeats.
    assert infeasible_mask(ys, lens, torch.tensor([4, 5, 1])).tolist() == [False, False, False]


def test_check_set_counts_utterances_too_fast_for_the_stride():
    bfe = BrainGRUFrontend(input_size=4, output_size=8, kernel_size=32, stride=4, num_layers=1, hidden_size=8)
    # 100 bins -> (100 - 32) // 4 + 1 = 18 frames; 200 bins -> 43 frames.
    lengths = {"slow": 200, "fast": 100, "nolabel": 50}
    labels = {"slow": list(range(3, 33)), "fast": list(range(3, 33))}  # 30 tokens each
    report = check_set("train", lengths, labels, bfe.output_lengths)
    assert report.n_utts == 2
    assert report.infeasible == [("fast", 18, 30)]
    assert report.fraction == 0.5
    assert "1 of 2 utterances (50.0 %)" in report.summary()


def test_read_lengths_reads_espnet_shape_files_and_names_bad_lines(tmp_path):
    path = tmp_path / "speech_shape"
    path.write_text("a 120,256\nb 80,256\n")
    assert read_lengths(str(path)) == {"a": 120, "b": 80}
    path.write_text("a 120,256\nb\n")
    with pytest.raises(ValueError, match=r"speech_shape: utterance b"):
        read_lengths(str(path))
