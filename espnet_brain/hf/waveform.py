"""Per-utterance waveform normalisation, as the Hugging Face feature extractors do it (``do_normalize``).

``Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm`` standardises each waveform over its valid samples with
``eps = 1e-7`` and pads with zeros; :func:`normalize_waveforms` is the same on a padded torch batch, so that the
decoding frontend (:mod:`espnet_brain.asr.frontend.hf_cnn`) and the encoding feature extractor
(:mod:`espnet_brain.fmri.ssl_model`) feed a checkpoint what its processor would.
"""

import torch

EPS = 1e-7


def masked_standardize(x: torch.Tensor, mask: torch.Tensor, dim: int, eps: float) -> torch.Tensor:
    """Zero mean, unit (biased) variance over the valid entries along ``dim``; masked entries become 0.

    Args:
        x: Values of any shape, e.g. (B, L) waveforms or (B, G, N) grouped activations.
        mask: Same shape as ``x`` (or broadcastable), True (or 1) on valid entries.
        dim: The dimension to standardise over.
        eps: Added to the variance before the square root.

    Returns:
        torch.Tensor: Same shape as ``x``.
    """
    m = mask.to(x.dtype)
    count = m.sum(dim, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(dim, keepdim=True) / count
    var = (((x - mean) * m) ** 2).sum(dim, keepdim=True) / count
    return (x - mean) / torch.sqrt(var + eps) * m


def normalize_waveforms(speech: torch.Tensor, speech_lengths: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Zero mean, unit variance over each waveform's valid samples; padding becomes 0.

    Args:
        speech: Waveforms (B, L), right-padded.
        speech_lengths: Valid samples per waveform (B,).
        eps: Added to the variance (the HF feature extractors use 1e-7).

    Returns:
        torch.Tensor: Normalised waveforms (B, L), a new tensor.
    """
    lengths = speech_lengths.to(speech.device)
    mask = torch.arange(speech.size(1), device=speech.device)[None, :] < lengths[:, None]  # (B, L)
    return masked_standardize(speech, mask, dim=1, eps=eps)
