import argparse

import kaldiio
import numpy as np
import pytest
import torch
import yaml
from fixtures.hf_models import save_tiny_wav2vec2_ctc

from espnet_brain.tasks.brain_asr import BrainASRTask, param_groups

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory) -> str:
    return save_tiny_wav2vec2_ctc(tmp_path_factory.mktemp("w2v2"), vocab_size=len(TOKENS))


def _brain_args(model_dir, extra=()):
    parser = BrainASRTask.get_parser()
    cmd = [
        "--token_list",
        ",".join(TOKENS),
        "--frontend",
        "brain_gru",
        "--frontend_conf",
        "input_size=8",
        "--frontend_conf",
        "output_size=16",
        "--frontend_conf",
        "n_days=2",
        "--frontend_conf",
        "kernel_size=4",
        "--frontend_conf",
        "stride=2",
        "--frontend_conf",
        "num_layers=1",
        "--frontend_conf",
        "hidden_size=8",
        "--encoder",
        "hf_ssl",
        "--encoder_conf",
        f"model_name_or_path={model_dir}",
        "--decoder",
        "none",
        "--normalize",
        "none",
        "--model_conf",
        "ctc_weight=1.0",
        *extra,
    ]
    args = parser.parse_args(cmd)
    args.token_list = list(TOKENS)
    return args


def test_parser_lists_plugin_choices_beside_espnet_ones():
    parser = BrainASRTask.get_parser()
    actions = {a.dest: a for a in parser._actions}
    assert {"brain_gru", "hf_cnn", "default"} <= set(actions["frontend"].choices)
    assert {"hf_ssl", "conformer", "transformer"} <= set(actions["encoder"].choices)
    assert {"brain", "espnet"} <= set(actions["model"].choices)
    assert "transferlr" in actions["scheduler"].choices
    assert parser.parse_args([]).model == "brain"


def test_stock_conformer_ctc_model_builds_and_trains_through_the_same_task():
    parser = BrainASRTask.get_parser()
    args = parser.parse_args(
        [
            "--token_list",
            ",".join(TOKENS),
            "--model",
            "espnet",
            "--frontend_conf",
            "n_fft=64",
            "--frontend_conf",
            "n_mels=8",
            "--encoder",
            "conformer",
            "--encoder_conf",
            "output_size=16",
            "--encoder_conf",
            "attention_heads=2",
            "--encoder_conf",
            "linear_units=16",
            "--encoder_conf",
            "num_blocks=1",
            "--decoder",
            "none",
            "--model_conf",
            "ctc_weight=1.0",
        ]
    )
    args.token_list = list(TOKENS)
    model = BrainASRTask.build_model(args)
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.espnet_model import ESPnetASRModel

    assert type(model) is ESPnetASRModel and isinstance(model.encoder, ConformerEncoder)
    speech = torch.randn(2, 4000)
    loss, stats, _ = model(speech, torch.tensor([4000, 3000]), torch.tensor([[3, 4], [5, -1]]), torch.tensor([2, 1]))
    assert torch.isfinite(loss)
    loss.backward()


def test_brain_model_uses_day_ids_and_trains(tiny_wav2vec2):
    args = _brain_args(tiny_wav2vec2)
    model = BrainASRTask.build_model(args)
    assert type(model).__name__ == "BrainESPnetASRModel"
    model.eval()
    speech = torch.randn(2, 30, 8)
    lengths = torch.tensor([30, 24])
    day0 = torch.tensor([[0], [0]])
    day1 = torch.tensor([[1], [1]])
    with torch.no_grad():
        model.frontend.day_weight.data[1] *= 3.0  # both days start as identity layers
        enc0, _ = model.encode(speech, lengths, day=day0)
        enc1, _ = model.encode(speech, lengths, day=day1)
    # Different day layers must give different encodings of the same input.
    assert not torch.allclose(enc0, enc1)
    model.train()
    text = torch.tensor([[3, 4, 5], [4, 3, -1]])
    loss, stats, _ = model(speech, lengths, text, torch.tensor([3, 2]), day=day1)
    assert torch.isfinite(loss)
    loss.backward()
    # Only day 1's input layer was used, so only its slice of the day weights gets a gradient.
    grad = model.frontend.day_weight.grad
    assert grad[1].abs().sum() > 0 and grad[0].abs().sum() == 0


def test_day_scope_is_cleared_after_each_call(tiny_wav2vec2):
    model = BrainASRTask.build_model(_brain_args(tiny_wav2vec2))
    model.eval()
    with torch.no_grad():
        model.encode(torch.randn(1, 20, 8), torch.tensor([20]), day=torch.tensor([1]))
    assert model._day is None


def test_input_size_with_a_brain_frontend_is_rejected(tiny_wav2vec2):
    args = _brain_args(tiny_wav2vec2, extra=["--input_size", "8"])
    with pytest.raises(ValueError, match="input_size"):
        BrainASRTask.build_model(args)


def test_param_groups_give_the_encoder_its_own_learning_rate(tiny_wav2vec2):
    args = _brain_args(tiny_wav2vec2, extra=["--encoder_lr", "1e-5", "--optim", "adam", "--optim_conf", "lr=0.001"])
    model = BrainASRTask.build_model(args)
    (optim,) = BrainASRTask.build_optimizers(args, model)
    lrs = {g["name"]: g["lr"] for g in optim.param_groups}
    assert lrs == {"frontend": 1e-3, "encoder": 1e-5, "head": 1e-3}
    n_grouped = sum(len(g["params"]) for g in optim.param_groups)
    assert n_grouped == sum(1 for p in model.parameters() if p.requires_grad)


def test_frozen_encoder_has_no_param_group(tiny_wav2vec2):
    args = _brain_args(tiny_wav2vec2, extra=["--encoder_conf", "mode=frozen"])
    model = BrainASRTask.build_model(args)
    names = [g["name"] for g in param_groups(model, 1e-5)]
    assert names == ["frontend", "head"]


def test_print_config_round_trips_through_config(tiny_wav2vec2, tmp_path, monkeypatch):
    cmd = [
        "--frontend",
        "brain_gru",
        "--encoder",
        "hf_ssl",
        "--encoder_conf",
        f"model_name_or_path={tiny_wav2vec2}",
        "--scheduler",
        "transferlr",
    ]
    # ESPnet's print_config re-parses sys.argv, as `python -m ... --print_config` would.
    monkeypatch.setattr("sys.argv", ["brain_asr_train", "--print_config", *cmd])
    config = tmp_path / "config.yaml"
    with open(config, "w") as f:
        BrainASRTask.print_config(file=f)
    printed = yaml.safe_load(config.read_text())
    assert printed["frontend"] == "brain_gru" and printed["encoder"] == "hf_ssl"
    assert printed["frontend_conf"]["kernel_size"] == 32  # defaults of the plugin class are printed
    assert printed["scheduler_conf"]["freeze_steps"] == 0
    args = BrainASRTask.get_parser().parse_args(["--config", str(config)])
    assert args.frontend == "brain_gru" and args.frontend_conf["kernel_size"] == 32
    assert args.encoder_conf["model_name_or_path"] == tiny_wav2vec2


def test_day_ids_reach_the_batch_through_espnet_data_loader(tmp_path):
    feats = {f"u{i}": np.random.RandomState(i).randn(10 + i, 8).astype(np.float32) for i in range(3)}
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/feats.ark,{tmp_path}/feats.scp") as writer:
        for key, value in feats.items():
            writer(key, value)
    (tmp_path / "utt2day").write_text("u0 0\nu1 1\nu2 1\n")
    args = argparse.Namespace(use_preprocessor=False)
    loader = BrainASRTask.build_streaming_iterator(
        [(f"{tmp_path}/feats.scp", "speech", "kaldi_ark"), (f"{tmp_path}/utt2day", "day", "text_int")],
        dtype="float32",
        batch_size=3,
        key_file=None,
        num_workers=0,
        preprocess_fn=None,
        collate_fn=BrainASRTask.build_collate_fn(args, False),
        allow_variable_data_keys=True,
        inference=True,
    )
    keys, batch = next(iter(loader))
    assert keys == ["u0", "u1", "u2"]
    assert batch["speech"].shape == (3, 12, 8)
    assert batch["day"][:, 0].tolist() == [0, 1, 1]


def test_new_encoder_input_projection_trains_with_the_head_not_the_pretrained_encoder(tiny_wav2vec2):
    # A BFE width different from the transformer's adds a freshly initialised projection in the encoder.
    args = _brain_args(tiny_wav2vec2, extra=["--frontend_conf", "output_size=12"])
    model = BrainASRTask.build_model(args)
    assert model.encoder.input_proj is not None
    groups = {g["name"]: {id(p) for p in g["params"]} for g in param_groups(model, 1e-5)}
    assert id(model.encoder.input_proj.weight) in groups["head"]
    assert id(model.encoder.input_proj.weight) not in groups["encoder"]


def test_forward_reports_the_fraction_of_utterances_too_short_for_ctc(tiny_wav2vec2, caplog):
    model = BrainASRTask.build_model(_brain_args(tiny_wav2vec2))
    model.train()
    # kernel 4, stride 2: 30 bins -> 14 frames, 10 bins -> 4 frames. Labels of 6 tokens fit the first only.
    speech = torch.randn(2, 30, 8)
    text = torch.tensor([[3, 4, 5, 3, 4, 5], [3, 4, 5, 3, 4, 5]])
    _, stats, _ = model(speech, torch.tensor([30, 10]), text, torch.tensor([6, 6]), day=torch.tensor([[0], [1]]))
    assert stats["ctc_infeasible"].item() == pytest.approx(0.5)
    assert "nothing is learned" not in caplog.text
    # Every utterance too short: the CTC loss is zero, which is logged, not passed off as a result.
    loss, stats, _ = model(speech, torch.tensor([10, 10]), text, torch.tensor([6, 6]), day=torch.tensor([[0], [1]]))
    assert stats["ctc_infeasible"].item() == 1.0
    assert loss.item() == 0.0
    assert "nothing is learned" in caplog.text
