import pytest
import torch
from fixtures.hf_models import KINDS

from espnet_brain.fmri.ssl_model import SSLSpeechModel
from espnet_brain.hf.loading import load_model
from espnet_brain.hf.lora import (
    ATTENTION_TARGETS,
    add_lora,
    check_adapters_reached,
    lora_target_names,
    patch_attention_for_adapters,
)

ALL_ATTN = list(ATTENTION_TARGETS)


def _wave(n_batch=2, n_samples=1600, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_batch, n_samples, generator=g)


def _lora_params(model, part):
    return {n: p for n, p in model.named_parameters() if f"{part}.lora_" in n}


def test_peft_lora_on_unpatched_wavlm_is_a_noop(tiny_model_dirs):
    """The trap this module exists for: without the patch, WavLM's q/k/v/out adapters are never called."""
    from peft import LoraConfig, get_peft_model

    hf = load_model(tiny_model_dirs["wavlm"])
    peft_model = get_peft_model(hf, LoraConfig(r=2, target_modules=lora_target_names(hf, ALL_ATTN)))
    with pytest.raises(RuntimeError, match="never called"):
        check_adapters_reached(peft_model, lambda: peft_model(_wave()))


@pytest.mark.parametrize("kind", KINDS)
def test_only_wavlm_needs_patching(tiny_model_dirs, kind):
    hf = load_model(tiny_model_dirs[kind])
    assert patch_attention_for_adapters(hf) == (hf.config.num_hidden_layers if kind == "wavlm" else 0)


@pytest.mark.parametrize("with_mask", [False, True])
def test_patched_wavlm_attention_matches_original(tiny_model_dirs, with_mask):
    hf = load_model(tiny_model_dirs["wavlm"])
    wav = _wave(n_samples=2000)
    mask = None
    if with_mask:
        mask = torch.ones(2, 2000, dtype=torch.long)
        mask[1, 1200:] = 0
        wav[1, 1200:] = 0
    with torch.no_grad():
        ref = hf(wav, attention_mask=mask, output_hidden_states=True, output_attentions=True)
        patch_attention_for_adapters(hf)
        new = hf(wav, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    assert len(ref.hidden_states) == len(new.hidden_states) == 4
    for a, b in zip(ref.hidden_states, new.hidden_states):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(ref.attentions, new.attentions):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_lora_trains_and_merges(tiny_model_dirs, kind):
    torch.manual_seed(0)
    lora_conf = dict(r=2, targets=ALL_ATTN, dropout=0.0)
    # check_adapters=False: the gradients below must prove on their own that the adapters are reached
    ssl = SSLSpeechModel(tiny_model_dirs[kind], layer=3, lora_conf=lora_conf, check_adapters=False)
    head = torch.nn.Linear(ssl.output_size(), 5)
    wav = _wave()

    trainable = {n for n, p in ssl.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    # every q/k/v/out projection of all 3 layers carries an adapter
    for part in ALL_ATTN:
        assert len(_lora_params(ssl, part)) == 2 * 3

    ssl.eval()
    with torch.no_grad():
        before = ssl(wav)[0].clone()
    ssl.train()
    optim = torch.optim.Adam([p for p in ssl.parameters() if p.requires_grad] + list(head.parameters()), lr=1e-2)
    for step in range(2):
        optim.zero_grad()
        feats, _ = ssl(wav)
        head(feats).pow(2).mean().backward()
        for part in ALL_ATTN:
            # B starts at 0, so A only gets gradient from the second step on
            names = [n for n in _lora_params(ssl, part) if ".lora_B." in n or step > 0]
            grads = {n: p.grad for n, p in _lora_params(ssl, part).items() if n in names}
            assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), (kind, part, step)
        optim.step()

    ssl.eval()
    with torch.no_grad():
        after = ssl(wav)[0].clone()
        assert (after - before).abs().max() > 1e-4
        ssl.merge_adapters()
        merged = ssl(wav)[0]
    torch.testing.assert_close(merged, after, rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in ssl.parameters())
    assert not any("lora_" in n for n, _ in ssl.named_parameters())


def test_ffn_targets_and_layer_subset(tiny_model_dirs):
    hf = load_model(tiny_model_dirs["wav2vec2"])
    names = lora_target_names(hf, ["q_proj", "intermediate_dense", "output_dense"], layers=[1])
    assert sorted(names) == [
        "encoder.layers.1.attention.q_proj",
        "encoder.layers.1.feed_forward.intermediate_dense",
        "encoder.layers.1.feed_forward.output_dense",
    ]
    with pytest.raises(ValueError, match="targets"):
        lora_target_names(hf, ["query"])
    peft_model = add_lora(hf, r=2, targets=["intermediate_dense"], layers=[0, 2])
    assert len([n for n, _ in peft_model.named_parameters() if "lora_A" in n]) == 2
