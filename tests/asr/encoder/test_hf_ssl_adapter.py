"""mode: adapter of HFSSLEncoder: LoRA adapters in a frozen pretrained transformer (Wav2Vec2, WavLM, HuBERT)."""

import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from fixtures.hf_models import save_tiny_wav2vec2_ctc
from peft.tuners.lora import LoraLayer

from espnet_brain.asr.encoder.hf_ssl import HFSSLEncoder
from espnet_brain.tasks.brain_asr import BrainASRTask, param_groups

from .test_hf_ssl import KINDS, _batch, _loss, save_tiny

TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """{kind: directory} of tiny pretrained checkpoints."""
    root = tmp_path_factory.mktemp("hf")
    for kind in KINDS:
        save_tiny(root / kind, kind)
    return {kind: str(root / kind) for kind in KINDS}


def _pair(path, **adapter_conf):
    """A fine-tune encoder and an adapter encoder of the same checkpoint, with the same input projection."""
    plain = HFSSLEncoder(input_size=12, model_name_or_path=path, mode="finetune")
    adapted = HFSSLEncoder(input_size=12, model_name_or_path=path, mode="adapter", **adapter_conf)
    adapted.input_proj.load_state_dict(plain.input_proj.state_dict())
    return plain.eval(), adapted.eval()


def _perturb_adapters(enc, seed=3):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in enc.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_adapters_start_as_the_pretrained_model_and_only_they_train(tiny_dirs, kind):
    plain, adapted = _pair(tiny_dirs[kind])
    x, lengths = _batch()
    torch.testing.assert_close(adapted(x, lengths)[0], plain(x, lengths)[0])  # B = 0: no change yet
    adapted.train()
    _loss(adapted(x, lengths)[0]).backward()
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("input_proj") for n in trainable)
    lora_b = [(n, p) for n, p in adapted.named_parameters() if "lora_B" in n]
    # q/k/v/out of both layers by default; every adapter is reached (WavLM's attention is patched for it)
    assert len(lora_b) == 2 * 4
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in lora_b), [n for n, p in lora_b]
    assert all(p.grad is None for n, p in adapted.named_parameters() if not p.requires_grad)


def test_targets_layers_and_rank_come_from_lora_conf(tiny_dirs):
    enc = HFSSLEncoder(
        input_size=12,
        model_name_or_path=tiny_dirs["wav2vec2"],
        mode="adapter",
        lora_conf={"r": 2, "alpha": 4, "targets": ["v_proj", "intermediate_dense", "output_dense"], "layers": [1]},
    )
    wrapped = {n for n, m in enc.transformer.named_modules() if isinstance(m, LoraLayer)}
    assert wrapped == {"layers.1.attention.v_proj", "layers.1.feed_forward.intermediate_dense",
                       "layers.1.feed_forward.output_dense"}  # fmt: skip
    a = dict(enc.transformer.named_parameters())["layers.1.attention.v_proj.lora_A.default.weight"]
    assert a.shape[0] == 2
    saved = enc.adapter_state_dict()
    assert saved and all("lora_" in k for k in saved)
    n_adapter = sum(v.numel() for v in saved.values())
    assert n_adapter < 0.25 * sum(p.numel() for p in enc.transformer.parameters())


def test_espnet_initialize_keeps_the_pretrained_weights_and_restarts_the_adapters(tiny_dirs):
    plain, adapted = _pair(tiny_dirs["wavlm"])
    model = torch.nn.Module()
    model.encoder = adapted
    initialize(model, "xavier_uniform")  # re-initialises everything, then reload_pretrained_parameters()
    adapted.input_proj.load_state_dict(plain.input_proj.state_dict())
    assert all(float(p.abs().sum()) == 0 for n, p in adapted.named_parameters() if "lora_B" in n)
    assert all(float(p.abs().sum()) > 0 for n, p in adapted.named_parameters() if "lora_A" in n)
    x, lengths = _batch()
    torch.testing.assert_close(adapted.eval()(x, lengths)[0], plain(x, lengths)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_merged_adapters_give_a_plain_transformer_with_the_same_outputs(tiny_dirs, kind):
    plain, adapted = _pair(tiny_dirs[kind])
    _perturb_adapters(adapted)
    x, lengths = _batch()
    want = adapted(x, lengths)[0]
    assert not torch.allclose(want, plain(x, lengths)[0], atol=1e-3)  # the adapters change the model
    adapted.merge_adapters()
    assert not any(isinstance(m, LoraLayer) for m in adapted.modules())
    assert set(adapted.transformer.state_dict()) == set(plain.transformer.state_dict())  # an HF encoder again
    torch.testing.assert_close(adapted(x, lengths)[0], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["wav2vec2", "wavlm"])
def test_streaming_cache_runs_the_adapters(tiny_dirs, kind):
    enc = HFSSLEncoder(
        input_size=12,
        model_name_or_path=tiny_dirs[kind],
        mode="adapter",
        chunk_size=2,
        causal_pos_conv=True,
    ).eval()
    _perturb_adapters(enc)
    x, _ = _batch(lengths=(9,))
    want = enc(x, torch.tensor([9]))[0]
    cache, outs = None, []
    for start in range(0, 9, 3):
        n_done = 0 if cache is None else cache.n_frames
        hidden, cache = enc.forward_chunk(x[:, start : start + 3], cache)
        outs = outs[:n_done] + list(hidden[0])
    torch.testing.assert_close(torch.stack(outs)[None], want, rtol=1e-4, atol=1e-5)


def test_lora_conf_errors(tiny_dirs):
    path = tiny_dirs["wav2vec2"]
    with pytest.raises(ValueError, match="unknown keys"):
        HFSSLEncoder(input_size=12, model_name_or_path=path, mode="adapter", lora_conf={"rank": 4})
    with pytest.raises(ValueError, match="rank >= 1"):
        HFSSLEncoder(input_size=12, model_name_or_path=path, mode="adapter", lora_conf={"r": 0})
    with pytest.raises(ValueError, match="for mode: adapter"):
        HFSSLEncoder(input_size=12, model_name_or_path=path, mode="finetune", lora_conf={"r": 4})
    with pytest.raises(ValueError, match="no module"):
        HFSSLEncoder(input_size=12, model_name_or_path=path, mode="adapter", lora_conf={"layers": [7]})


def test_brain_model_in_adapter_mode_trains_bfe_head_and_adapters_only(tmp_path):
    model_dir = save_tiny_wav2vec2_ctc(tmp_path / "w2v2", vocab_size=len(TOKENS))
    conf = {
        "frontend_conf": dict(input_size=8, output_size=16, n_days=1, kernel_size=4, stride=2, num_layers=1,
                              hidden_size=8),
        "encoder_conf": dict(model_name_or_path=model_dir, mode="adapter"),
    }  # fmt: skip
    cmd = ["--token_list", ",".join(TOKENS), "--frontend", "brain_gru", "--encoder", "hf_ssl", "--decoder", "none"]
    cmd += ["--normalize", "none", "--model_conf", "ctc_weight=1.0"]
    for key, values in conf.items():
        for k, v in values.items():
            cmd += [f"--{key}", f"{k}={v}"]
    args = BrainASRTask.get_parser().parse_args(cmd)
    args.token_list = list(TOKENS)
    model = BrainASRTask.build_model(args)
    _perturb_adapters(model.encoder)  # B != 0 so that A gets a gradient too
    torch.manual_seed(0)
    speech = torch.randn(2, 40, 8)
    loss, _, _ = model(
        speech=speech,
        speech_lengths=torch.tensor([40, 32]),
        text=torch.tensor([[3, 4, 5], [4, 3, -1]]),
        text_lengths=torch.tensor([3, 2]),
    )
    loss.backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    groups = {n.split(".")[0] for n in trainable}
    assert groups == {"frontend", "encoder", "ctc"}
    enc_trainable = [n for n in trainable if n.startswith("encoder.")]
    assert all("lora_" in n or n.startswith("encoder.input_proj") for n in enc_trainable)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "lora_" in n)
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("frontend.gru"))
    # the adapters sit in the optimiser's "encoder" group (encoder_lr, the transfer schedule's freeze/warm-up)
    by_name = {g["name"]: g for g in param_groups(model, 1e-4)}
    n_lora = sum(1 for n in trainable if "lora_" in n)
    assert by_name["encoder"]["lr"] == 1e-4 and len(by_name["encoder"]["params"]) == n_lora
