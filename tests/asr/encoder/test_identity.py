import pytest
import torch

from espnet_brain.asr.encoder.identity import IdentityEncoder


def test_frames_and_lengths_pass_through_unchanged():
    enc = IdentityEncoder(input_size=8)
    x, lens = torch.randn(2, 5, 8), torch.tensor([5, 3])
    y, ylens, states = enc(x, lens)
    assert y is x and ylens is lens and states is None
    assert enc.output_size() == 8 and not list(enc.parameters())


def test_the_bfe_only_model_trains_only_the_bfe_and_the_ctc_head():
    from espnet_brain.tasks.brain_asr import BrainASRTask

    parser = BrainASRTask.get_parser()
    args = parser.parse_args(
        ["--token_list", "<blank>,A,<sos/eos>", "--frontend", "brain_gru", "--encoder", "identity"]
        + ["--frontend_conf", "input_size=6", "--frontend_conf", "output_size=4", "--frontend_conf", "n_days=1"]
        + ["--frontend_conf", "hidden_size=4", "--frontend_conf", "kernel_size=2", "--frontend_conf", "stride=1"]
        + ["--decoder", "none", "--normalize", "none", "--model", "brain", "--model_conf", "ctc_weight=1.0"]
    )
    args.token_list = ["<blank>", "A", "<sos/eos>"]
    model = BrainASRTask.build_model(args)
    names = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert names == {"frontend", "ctc"}
    assert model.ctc.ctc_lo.in_features == 4  # the CTC head reads the BFE's frames directly
    with pytest.raises(ValueError, match="input_size"):
        IdentityEncoder(input_size=0)
