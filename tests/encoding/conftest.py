"""Tiny Hugging Face speech SSL models written to disk, shared by the encoding tests."""

import pytest

TINY = dict(
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_stride=(5, 4),
    conv_kernel=(10, 4),
    num_conv_pos_embeddings=4,
    num_conv_pos_embedding_groups=2,
    hidden_dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    feat_proj_dropout=0.0,
)
KINDS = ("wavlm", "wav2vec2", "hubert")


def make_tiny_model(kind: str, path, stable_layer_norm: bool = False, **overrides) -> str:
    """Write a randomly initialised tiny model of ``kind`` with save_pretrained; return its directory.

    ``stable_layer_norm`` gives the large models' architecture (wav2vec2-large-lv60, wavlm-large, hubert-large):
    pre-norm layers, a final layer norm after the last layer, layer-normed convolutions. ``overrides`` are more
    config attributes.
    """
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig, WavLMModel

    torch.manual_seed(0)
    conf = dict(TINY, do_stable_layer_norm=True, feat_extract_norm="layer") if stable_layer_norm else dict(TINY)
    conf.update(overrides)
    if kind == "wavlm":
        model = WavLMModel(WavLMConfig(**conf, num_buckets=16, max_bucket_distance=32))
    elif kind == "wav2vec2":
        model = Wav2Vec2Model(Wav2Vec2Config(**conf))
    elif kind == "hubert":
        model = HubertModel(HubertConfig(**conf))
    else:
        raise ValueError(kind)
    model.save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """kind -> directory of a tiny saved model, for every kind in KINDS."""
    root = tmp_path_factory.mktemp("tiny_ssl")
    return {kind: make_tiny_model(kind, root / kind) for kind in KINDS}
