import pytest
import torch
from espnet2.torch_utils.initialize import initialize
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from transformers import AutoModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model, WavLMConfig, WavLMModel

from espnet_brain.asr.frontend.hf_cnn import HFConvFrontend

TINY = dict(
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
)


def _save(path, config_cls=Wav2Vec2Config, model_cls=Wav2Vec2Model, **overrides):
    torch.manual_seed(0)
    model = model_cls(config_cls(**{**TINY, **overrides}))
    model.save_pretrained(path)
    return model.eval()


@pytest.fixture(scope="module")
def group_norm_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("w2v_group")
    _save(path, feat_extract_norm="group")
    return str(path)


def _waves(lengths=(800, 500, 100)):
    torch.manual_seed(1)
    return torch.randn(len(lengths), max(lengths)), torch.tensor(lengths)


def test_shapes_and_lengths_in_frames(group_norm_dir):
    frontend = HFConvFrontend(group_norm_dir)
    assert "HFConvFrontend" in repr(frontend)
    assert frontend.output_size() == 16
    assert frontend.receptive_field() == 20
    wav, lengths = _waves()
    feats, feats_lengths = frontend(wav, lengths)
    reference = AutoModel.from_pretrained(group_norm_dir)._get_feat_extract_output_lengths(lengths)
    assert feats_lengths.tolist() == reference.tolist() == [79, 49, 9]
    assert feats.shape == (3, 79, 16)
    assert torch.all(feats[2, 9:] == 0)


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_matches_hf_on_one_utterance(tmp_path, norm):
    model = _save(tmp_path, feat_extract_norm=norm)
    frontend = HFConvFrontend(str(tmp_path)).eval()
    wav, _ = _waves((640,))
    with torch.no_grad():
        expected = model.feature_projection(model.feature_extractor(wav).transpose(1, 2))[0]
        feats, _ = frontend(wav, torch.tensor([640]))
    torch.testing.assert_close(feats, expected, atol=1e-5, rtol=1e-4)


def test_batched_equals_alone_with_group_norm(group_norm_dir):
    frontend = HFConvFrontend(group_norm_dir).eval()
    wav, lengths = _waves()
    wav[1, 500:] = 3.0
    with torch.no_grad():
        feats, feats_lengths = frontend(wav, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_lengths = frontend(wav[i : i + 1, :n], lengths[i : i + 1])
            assert alone_lengths.item() == feats_lengths[i].item()
            torch.testing.assert_close(feats[i, : alone_lengths.item()], alone[0], atol=1e-5, rtol=1e-4)
        # control: HF's own CNN normalises over the padded length, so padding leaks there
        plain = frontend.feature_extractor(wav)[1, :, :49]
        plain_alone = frontend.feature_extractor(wav[1:2, :500])[0, :, :49]
        assert not torch.allclose(plain, plain_alone, atol=1e-3)


def test_wavlm_backward_and_freeze_cnn(tmp_path):
    _save(tmp_path, WavLMConfig, WavLMModel)
    frozen = HFConvFrontend(str(tmp_path), freeze_cnn=True)
    assert not any(p.requires_grad for p in frozen.feature_extractor.parameters())
    assert all(p.requires_grad for p in frozen.feature_projection.parameters())
    trainable = HFConvFrontend(str(tmp_path))
    wav, lengths = _waves()
    for frontend in (frozen, trainable):
        feats, _ = frontend(wav, lengths)
        feats.sum().backward()
        assert all(p.grad is not None for p in frontend.feature_projection.parameters())
    assert all(p.grad is None for p in frozen.feature_extractor.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable.feature_extractor.parameters())


def test_reload_pretrained_parameters(group_norm_dir):
    frontend = HFConvFrontend(group_norm_dir)
    before = {k: v.clone() for k, v in frontend.state_dict().items()}
    with torch.no_grad():
        for p in frontend.parameters():
            p.normal_()
    frontend.reload_pretrained_parameters()
    for k, v in frontend.state_dict().items():
        assert torch.equal(before[k], v), k
    model = torch.nn.Module()
    model.frontend = frontend
    initialize(model, "xavier_uniform")  # ESPnet's --init ends with frontend.reload_pretrained_parameters()
    for k, v in frontend.state_dict().items():
        assert torch.equal(before[k], v), k


def test_waveform_normalisation_follows_the_checkpoint(tmp_path):
    _save(tmp_path)
    assert HFConvFrontend(str(tmp_path)).normalize_waveform is False
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(tmp_path)
    frontend = HFConvFrontend(str(tmp_path)).eval()
    assert frontend.normalize_waveform is True
    assert HFConvFrontend(str(tmp_path), normalize_waveform=False).normalize_waveform is False
    wav, lengths = _waves()
    with torch.no_grad():
        a, _ = frontend(wav, lengths)
        b, _ = frontend(3.0 * wav + 0.5, lengths)  # gain and DC offset are normalised away
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_errors(group_norm_dir):
    frontend = HFConvFrontend(group_norm_dir)
    with pytest.raises(TooShortUttError) as err:
        frontend(torch.randn(2, 100), torch.tensor([100, 19]))
    assert err.value.actual_size == 19 and err.value.limit == 20
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        frontend(torch.randn(2, 100, 1), torch.tensor([100, 50]))
    with pytest.raises(ValueError, match="16000"):
        HFConvFrontend(group_norm_dir, fs="8k")
    assert HFConvFrontend(group_norm_dir, fs="16k").output_size() == 16
