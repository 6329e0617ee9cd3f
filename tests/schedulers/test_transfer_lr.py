import pytest
import torch

from espnet_brain.schedulers.transfer_lr import TransferLR


def _optimizer():
    enc, front = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(
        [
            {"name": "frontend", "params": front.parameters()},
            {"name": "encoder", "params": enc.parameters(), "lr": 1e-5},
        ],
        lr=1e-4,
    )
    return opt, enc, front


def test_encoder_group_is_frozen_then_warmed_up_linearly():
    opt, _, _ = _optimizer()
    sched = TransferLR(opt, freeze_steps=3, warmup_steps=4)
    enc_lrs, front_lrs = [], []
    for _ in range(9):
        enc_lrs.append(opt.param_groups[1]["lr"])
        front_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert enc_lrs[:3] == [0.0, 0.0, 0.0]
    assert enc_lrs[3:7] == pytest.approx([0.25e-5, 0.5e-5, 0.75e-5, 1e-5])
    assert enc_lrs[7:] == pytest.approx([1e-5, 1e-5])
    assert front_lrs == pytest.approx([1e-4] * 9)


def test_frozen_steps_leave_encoder_weights_untouched():
    opt, enc, front = _optimizer()
    sched = TransferLR(opt, freeze_steps=2, warmup_steps=0)
    w0, f0 = enc.weight.detach().clone(), front.weight.detach().clone()
    for _ in range(2):
        opt.zero_grad()
        (enc(torch.ones(1, 2)).sum() + front(torch.ones(1, 2)).sum()).backward()
        opt.step()
        sched.step()
    assert torch.equal(enc.weight, w0)
    assert not torch.equal(front.weight, f0)
    opt.zero_grad()
    enc(torch.ones(1, 2)).sum().backward()
    opt.step()
    assert not torch.equal(enc.weight, w0)


def test_state_dict_round_trip_resumes_the_schedule():
    opt, _, _ = _optimizer()
    sched = TransferLR(opt, freeze_steps=1, warmup_steps=4)
    for _ in range(3):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2, _, _ = _optimizer()
    sched2 = TransferLR(opt2, freeze_steps=1, warmup_steps=4)
    sched2.load_state_dict(state)
    opt2.step()
    sched2.step()
    opt.step()
    sched.step()
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())


def test_negative_steps_are_rejected():
    opt, _, _ = _optimizer()
    with pytest.raises(ValueError, match="freeze_steps"):
        TransferLR(opt, freeze_steps=-1)
