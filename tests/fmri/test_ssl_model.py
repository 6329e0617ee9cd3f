import pytest
import torch
from fixtures.hf_models import KINDS, make_tiny_model

from espnet_brain.fmri.ssl_model import SSLSpeechModel
from espnet_brain.hf.loading import load_model


def _wave(n_batch=2, n_samples=1600):
    return torch.randn(n_batch, n_samples, generator=torch.Generator().manual_seed(1))


def test_unresolvable_hub_id_says_to_pass_a_local_directory():
    with pytest.raises(ValueError, match="local directory"):
        SSLSpeechModel("no-such-org/no-such-speech-model", local_files_only=True)


def test_cached_hub_id_loads_offline_from_its_snapshot(tiny_model_dirs, tmp_path, monkeypatch):
    import shutil

    from huggingface_hub import constants

    snapshot = tmp_path / "models--tiny-org--tiny-wavlm" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dirs["wavlm"], snapshot)
    (tmp_path / "models--tiny-org--tiny-wavlm" / "refs").mkdir()
    (tmp_path / "models--tiny-org--tiny-wavlm" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    ssl = SSLSpeechModel("tiny-org/tiny-wavlm", layer=1, local_files_only=True)
    assert ssl.output_size() == 16


def test_directory_without_model_is_reported(tmp_path):
    with pytest.raises(ValueError, match="does not hold a loadable model"):
        load_model(str(tmp_path))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", [0, 2, -1])
def test_layer_matches_hidden_states(tiny_model_dirs, kind, layer):
    ref_model = load_model(tiny_model_dirs[kind])
    ssl = SSLSpeechModel(tiny_model_dirs[kind], layer=layer).eval()
    wav = _wave()
    with torch.no_grad():
        ref = ref_model(wav, output_hidden_states=True).hidden_states[layer]
        feats, lengths = ssl(wav, torch.tensor([1600, 1000]))
    torch.testing.assert_close(feats, ref)
    assert feats.shape == (2, 79, 16) and ssl.output_size() == 16
    assert lengths.tolist() == ref_model._get_feat_extract_output_lengths(torch.tensor([1600, 1000])).tolist()
    # layers above the chosen one are dropped
    assert len(ssl.hf_model.encoder.layers) == max(1, layer % 4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tie_last", [True, False])
def test_stable_layer_norm_model_cut_above_a_layer_gives_the_full_models_features(tmp_path, kind, tie_last):
    """Pre-norm models apply a final layer norm to the last layer only; cutting the layers must not move it.

    ``tie_last_hidden_states``: whether Hugging Face reports the last hidden state after that norm (the transformers
    4 convention, kept by checkpoints whose config sets it) or before it (transformers 5's default for these models).
    """
    path = make_tiny_model(kind, tmp_path / kind, stable_layer_norm=True, tie_last_hidden_states=tie_last)
    full = load_model(path)
    assert full.config.do_stable_layer_norm
    wav = _wave()
    with torch.no_grad():
        ref = full(wav, output_hidden_states=True).hidden_states  # 4 tensors of (B, T, D)
    for layer in (1, 2):
        ssl = SSLSpeechModel(path, layer=layer).eval()
        assert len(ssl.hf_model.encoder.layers) == layer
        with torch.no_grad():
            torch.testing.assert_close(ssl(wav)[0], ref[layer])
    weighted = SSLSpeechModel(path, layer="weighted", weighted_layers=[0, 2]).eval()
    with torch.no_grad():
        torch.testing.assert_close(weighted(wav)[0], (ref[0] + ref[2]) / 2)
    # the last layer keeps the final norm (nothing is cut), and the cut model's weights reload
    last = SSLSpeechModel(path, layer=-1).eval()
    cut = SSLSpeechModel(path, layer=2).eval()
    with torch.no_grad():
        torch.testing.assert_close(last(wav)[0], ref[3])
        for p in cut.parameters():
            p.normal_()
    cut.reload_pretrained_parameters()
    with torch.no_grad():
        torch.testing.assert_close(cut(wav)[0], ref[2])


def test_weighted_sum_of_layers_learns_its_weights(tiny_model_dirs):
    ref_model = load_model(tiny_model_dirs["wavlm"])
    ssl = SSLSpeechModel(tiny_model_dirs["wavlm"], layer="weighted", weighted_layers=[1, 3])
    wav = _wave()
    with torch.no_grad():
        hidden = ref_model(wav, output_hidden_states=True).hidden_states
    feats, _ = ssl(wav)
    torch.testing.assert_close(feats, (hidden[1] + hidden[3]) / 2)  # zero logits -> equal weights
    # a random readout: with layer-normed hidden states of equal norms, the gradient of feats.pow(2).mean() with
    # respect to the weights is exactly 0 at equal weights
    (feats * torch.randn(feats.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    assert ssl.layer_weights.grad is not None and ssl.layer_weights.grad.abs().sum() > 0
    assert [n for n, p in ssl.named_parameters() if p.requires_grad] == ["layer_weights"]


def test_bad_layer_and_lora_keys_are_rejected(tiny_model_dirs):
    with pytest.raises(ValueError, match="layer"):
        SSLSpeechModel(tiny_model_dirs["hubert"], layer=7)
    with pytest.raises(ValueError, match="lora_conf"):
        SSLSpeechModel(tiny_model_dirs["hubert"], layer=1, lora_conf={"rank": 4})


def test_unfrozen_model_keeps_feature_encoder_frozen(tiny_model_dirs):
    ssl = SSLSpeechModel(tiny_model_dirs["wav2vec2"], layer=3, freeze=False)
    trainable = [n for n, p in ssl.named_parameters() if p.requires_grad]
    assert trainable and not any("feature_extractor" in n for n in trainable)
    assert any("encoder.layers.0.attention.q_proj" in n for n in trainable)


def test_waveform_normalisation_removes_gain_and_offset(tiny_model_dirs):
    wav = _wave(2, 1600) * 3.0 + 1.0
    ssl = SSLSpeechModel(tiny_model_dirs["wav2vec2"], layer=2, normalize_waveform=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(ssl(wav)[0], ssl(wav * 0.1 - 2.0)[0], rtol=1e-3, atol=1e-3)


def test_reload_pretrained_parameters_restores_weights_and_resets_adapters(tiny_model_dirs):
    ssl = SSLSpeechModel(tiny_model_dirs["wavlm"], layer=2, lora_conf={"r": 2}).eval()
    wav = _wave()
    with torch.no_grad():
        ref = ssl(wav)[0].clone()
        for p in ssl.parameters():  # what a global re-initialisation would do
            p.normal_()
        assert (ssl(wav)[0] - ref).abs().max() > 1e-3
    ssl.reload_pretrained_parameters()
    with torch.no_grad():
        torch.testing.assert_close(ssl(wav)[0], ref)
