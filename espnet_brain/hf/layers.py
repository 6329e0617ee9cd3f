"""Cutting a Hugging Face speech transformer to its first layers without changing what those layers output."""

import torch


def match_truncated_output(encoder: torch.nn.Module, config, num_layers: int, full_num_layers: int) -> None:
    """Make an encoder cut to its first layers output the full model's ``hidden_states[num_layers]``.

    Models with ``do_stable_layer_norm`` (pre-norm layers: wav2vec2-large-lv60, wavlm-large, hubert-large) apply a
    final ``encoder.layer_norm`` to the output of their last layer only; ``hidden_states[k]`` for ``k`` below the
    layer count is the raw output of layer ``k``. Once the encoder is cut to ``num_layers`` layers, Hugging Face would
    apply that norm to layer ``num_layers`` instead, so it is replaced by the identity here (in place). Post-norm
    models normalise at the input of the first layer and need nothing.

    Args:
        encoder: the HF ``encoder`` module (``layers`` already cut to ``num_layers``).
        config: the model's config (``do_stable_layer_norm`` is read).
        num_layers: transformer layers kept.
        full_num_layers: transformer layers of the pretrained model.
    """
    if num_layers < full_num_layers and getattr(config, "do_stable_layer_norm", False):
        encoder.layer_norm = torch.nn.Identity()
