import numpy as np
import torch

from espnet_brain.asr.frontend import hf_cnn
from espnet_brain.fmri import ssl_model
from espnet_brain.hf.waveform import normalize_waveforms


def _wave(n_batch=2, n_samples=1600):
    return torch.randn(n_batch, n_samples, generator=torch.Generator().manual_seed(1))


def _former_zscore(speech, speech_lengths, eps=1e-7):
    """The encoding wing's former copy (fmri/ssl_model.py), kept here to show the shared one is the same."""
    valid = torch.arange(speech.shape[1])[None, :] < speech_lengths[:, None]
    n = speech_lengths[:, None].clamp_min(1).to(speech.dtype)
    mean = (speech * valid).sum(1, keepdim=True) / n
    var = (((speech - mean) * valid) ** 2).sum(1, keepdim=True) / n
    return (speech - mean) / torch.sqrt(var + eps) * valid


def _former_masked_standardize(speech, speech_lengths, eps=1e-7):
    """The decoding wing's former copy (asr/frontend/hf_cnn.py): masked input, then masked standardisation."""
    mask = torch.arange(speech.shape[1])[None, :] < speech_lengths[:, None]
    x = speech * mask
    m = mask.to(x.dtype)
    count = m.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(1, keepdim=True) / count
    var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / count
    return (x - mean) / torch.sqrt(var + eps) * m


def test_waveform_normalisation_uses_valid_samples_only():
    wav = _wave(2, 1600) * 3.0 + 1.0
    padded = torch.cat([wav, torch.full((2, 800), 5.0)], dim=1)
    out = normalize_waveforms(padded, torch.tensor([1600, 1200]))
    assert out[:, 1600:].abs().max() == 0 and out[1, 1200:].abs().max() == 0
    torch.testing.assert_close(out[0, :1600].mean(), torch.tensor(0.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1, :1200].std(unbiased=False), torch.tensor(1.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[0, :1600], normalize_waveforms(wav[:1], torch.tensor([1600]))[0])


def test_both_wings_use_the_one_function_and_it_equals_both_former_copies():
    assert hf_cnn.normalize_waveforms is ssl_model.normalize_waveforms is normalize_waveforms
    wav = torch.cat([_wave(3, 1000) * 2.0 - 0.5, torch.full((3, 300), 7.0)], dim=1)
    lengths = torch.tensor([1300, 1000, 17])
    out = normalize_waveforms(wav, lengths)
    torch.testing.assert_close(out, _former_zscore(wav, lengths), rtol=0, atol=0)
    torch.testing.assert_close(out, _former_masked_standardize(wav, lengths), rtol=0, atol=0)


def test_matches_the_hugging_face_feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    wav = _wave(2, 1600) * 0.3 + 0.1
    lengths = [1600, 900]
    reference = Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm(
        [w.numpy().astype(np.float64) for w in wav],
        attention_mask=np.array([[1] * n + [0] * (1600 - n) for n in lengths]),
    )
    out = normalize_waveforms(wav.double(), torch.tensor(lengths))
    for i, n in enumerate(lengths):
        torch.testing.assert_close(out[i, :n], torch.from_numpy(reference[i][:n]), rtol=1e-10, atol=1e-10)
