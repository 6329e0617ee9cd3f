"""Whisper's log-mel + conv stem as an ESPnet frontend, on a tiny random Whisper written by save_pretrained."""

import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from transformers import Wav2Vec2Config, Wav2Vec2Model, WhisperConfig, WhisperFeatureExtractor, WhisperModel

from espnet_brain.asr.frontend import frontend_class
from espnet_brain.asr.frontend.hf_whisper_stem import HFWhisperStemFrontend

N_MELS = 16


def _tiny_whisper(path, with_extractor=True):
    torch.manual_seed(0)
    config = WhisperConfig(
        d_model=16,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=32,
        num_mel_bins=N_MELS,
        max_source_positions=100,
        max_target_positions=16,
        vocab_size=40,
        pad_token_id=38,
        bos_token_id=38,
        eos_token_id=38,
        decoder_start_token_id=39,
    )
    model = WhisperModel(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "conv" in name:  # a stem whose weights are far from any re-initialisation
                param.normal_()
    model.save_pretrained(str(path))
    if with_extractor:
        WhisperFeatureExtractor(feature_size=N_MELS).save_pretrained(str(path))
    return model.eval()


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_whisper")
    return str(path), _tiny_whisper(path)


def _waves(lengths=(16000, 9600, 4000), seed=1):
    torch.manual_seed(seed)
    wav = torch.randn(len(lengths), max(lengths)) * 0.1
    wav[:, 2000:3600] *= 1e-5  # a near-silent stretch, 10 below the maximum: clipped at 8
    return wav, torch.tensor(lengths)


def test_shapes_and_lengths(whisper):
    frontend = HFWhisperStemFrontend(whisper[0])
    assert "HFWhisperStemFrontend" in repr(frontend)
    assert frontend.output_size() == 16
    wav, lengths = _waves()
    feats, feats_lengths = frontend(wav, lengths)
    # 10 ms mel frames (L // 160 = 100, 60, 25), halved by conv2 (stride 2, padding 1)
    assert feats_lengths.tolist() == frontend.output_lengths(lengths).tolist() == [50, 30, 13]
    assert feats.shape == (3, 50, 16)
    assert torch.all(feats[1, 30:] == 0) and torch.all(feats[2, 13:] == 0)
    assert torch.all(feats[2, :13].abs().sum(-1) > 0)


def test_matches_whisper_feature_extractor_and_stem(whisper):
    path, model = whisper
    frontend = HFWhisperStemFrontend(path).eval()
    wav, lengths = _waves((9700,))  # 60 frames and 100 samples: the stem reads windows past the last frame
    hf_mel = WhisperFeatureExtractor.from_pretrained(path)(
        wav[0].numpy(), sampling_rate=16000, return_tensors="pt"
    ).input_features  # (1, n_mels, 3000): padded to 30 s
    with torch.no_grad():
        mel, n_frames = frontend.log_mel(wav, lengths)
        assert n_frames.tolist() == [60]
        torch.testing.assert_close(mel, hf_mel[:, :, :62], atol=1e-4, rtol=1e-4)  # + 2 frames of silence
        feats, feats_lengths = frontend(wav, lengths)
        enc = model.encoder
        expected = torch.nn.functional.gelu(enc.conv2(torch.nn.functional.gelu(enc.conv1(hf_mel)))).transpose(1, 2)
    torch.testing.assert_close(feats, expected[:, : int(feats_lengths[0])], atol=1e-4, rtol=1e-4)


def test_ragged_batch_equals_each_utterance_alone(whisper):
    frontend = HFWhisperStemFrontend(whisper[0]).eval()
    wav, lengths = _waves((16000, 9650, 4100), seed=2)
    with torch.no_grad():
        batch, batch_lengths = frontend(wav, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_lengths = frontend(wav[i : i + 1, :n], lengths[i : i + 1])
            assert alone_lengths.tolist() == [int(batch_lengths[i])]
            torch.testing.assert_close(batch[i : i + 1, : int(alone_lengths[0])], alone, atol=1e-5, rtol=1e-5)


def test_backward_reaches_the_stem_and_the_waveform(whisper):
    frontend = HFWhisperStemFrontend(whisper[0])
    wav, lengths = _waves()
    wav.requires_grad_(True)
    feats, _ = frontend(wav, lengths)
    feats.pow(2).sum().backward()
    assert frontend.conv1.weight.grad.abs().sum() > 0 and frontend.conv2.bias.grad.abs().sum() > 0
    assert wav.grad[2, :3600].abs().sum() > 0
    assert torch.all(wav.grad[2, 4000:] == 0)  # padding never reaches the output


def test_weights_are_the_checkpoints_and_survive_reinitialisation(whisper):
    path, model = whisper
    frontend = HFWhisperStemFrontend(path)
    for name in ("conv1", "conv2"):
        for key, value in getattr(model.encoder, name).state_dict().items():
            assert torch.equal(getattr(frontend, name).state_dict()[key], value), (name, key)
    initialize(frontend, "xavier_uniform")
    assert not torch.equal(frontend.conv1.weight, model.encoder.conv1.weight)
    frontend.reload_pretrained_parameters()
    assert torch.equal(frontend.conv1.weight, model.encoder.conv1.weight)
    assert torch.equal(frontend.conv2.bias, model.encoder.conv2.bias)


def test_freeze_stem_and_registration(whisper):
    frontend = HFWhisperStemFrontend(whisper[0], freeze_stem=True)
    assert not any(p.requires_grad for p in frontend.parameters())
    assert frontend_class("hf_whisper_stem") is HFWhisperStemFrontend
    assert not any(k.startswith(("mel_filters", "window")) for k in frontend.state_dict())


def test_standard_mel_filters_without_a_feature_extractor_config(tmp_path, whisper):
    _tiny_whisper(tmp_path, with_extractor=False)
    torch.testing.assert_close(
        HFWhisperStemFrontend(str(tmp_path)).mel_filters, HFWhisperStemFrontend(whisper[0]).mel_filters
    )


def test_refusals(whisper, tmp_path):
    with pytest.raises(ValueError, match="frontend_conf.fs"):
        HFWhisperStemFrontend(whisper[0], fs="8k")
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="frontend_conf.model_name_or_path.*wav2vec2"):
        HFWhisperStemFrontend(str(tmp_path))
    frontend = HFWhisperStemFrontend(whisper[0])
    with pytest.raises(TooShortUttError):
        frontend(torch.zeros(2, 1000), torch.tensor([1000, 300]))
    with pytest.raises(ValueError, match=r"expected waveforms \(B, L\)"):
        frontend(torch.zeros(1, 2, 1000), torch.tensor([1000]))
