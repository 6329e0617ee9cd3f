"""Tiny Hugging Face speech SSL checkpoints saved to disk, for offline tests."""

import pytest
import torch
from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig, WavLMModel

TINY = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
)
MODELS = {
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
    "wavlm": (WavLMConfig, WavLMModel),
    "hubert": (HubertConfig, HubertModel),
}


def save_tiny(path, kind="wav2vec2", **overrides):
    config_cls, model_cls = MODELS[kind]
    torch.manual_seed(0)
    model = model_cls(config_cls(**{**TINY, **overrides}))
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """{kind: directory} of tiny pretrained checkpoints."""
    root = tmp_path_factory.mktemp("hf")
    dirs = {}
    for kind in MODELS:
        save_tiny(root / kind, kind)
        dirs[kind] = str(root / kind)
    return dirs
