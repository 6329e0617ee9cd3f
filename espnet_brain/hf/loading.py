"""Loading Hugging Face speech SSL checkpoints with errors that say how to fix the call.

Shared by :mod:`espnet_brain.asr.encoder.hf_ssl`, :mod:`espnet_brain.asr.frontend.hf_cnn` and
:mod:`espnet_brain.asr.ctc_init`: a hub id that cannot be resolved (offline machine, typo) must fail
while the model is being built, with a message that tells the user to pass a local directory,
instead of a bare ``OSError`` from deep inside the hub client.
"""

import logging
import os
from typing import Any, Dict, Optional

import torch

# Model types whose backbone has the layout these wrappers rely on: ``feature_extractor`` (CNN),
# ``feature_projection`` (layer norm + linear) and ``encoder`` (positional conv + transformer).
SUPPORTED_MODEL_TYPES = ("wav2vec2", "wavlm", "hubert")


def _looks_like_path(name_or_path: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a slash is meant as a directory.
    return os.path.isabs(name_or_path) or name_or_path.startswith((".", "~")) or name_or_path.count("/") > 1


def _unreachable_message(name_or_path: str, what: str, err: Exception) -> str:
    return (
        f"{what}: could not load {name_or_path!r} ({type(err).__name__}: {err}). "
        "If this is a Hugging Face hub id and this machine has no network (or HF_HUB_OFFLINE=1), "
        "download the model on a machine that has one (e.g. `huggingface-cli download <id> --local-dir DIR`) "
        "and pass the local directory DIR as model_name_or_path."
    )


def check_name_or_path(name_or_path: str, what: str) -> str:
    """Expand ``~`` and reject a local path that does not exist.

    Args:
        name_or_path: Hub id (``facebook/wav2vec2-base-960h``) or local directory.
        what: The config key, quoted in errors (e.g. ``encoder_conf.model_name_or_path``).

    Returns:
        The expanded name or path.
    """
    expanded = os.path.expanduser(name_or_path)
    if _looks_like_path(name_or_path) and not os.path.isdir(expanded):
        raise ValueError(f"{what}: local model directory {name_or_path!r} does not exist")
    return expanded


def load_config(name_or_path: str, what: str, overrides: Optional[Dict[str, Any]] = None):
    """Load an HF config (``AutoConfig``) and apply attribute overrides.

    Args:
        name_or_path: Hub id or local directory.
        what: The config key, quoted in errors.
        overrides: Attributes to set on the config (e.g. ``{"layerdrop": 0.0}``).

    Returns:
        transformers.PretrainedConfig: The config.
    """
    from transformers import AutoConfig

    name_or_path = check_name_or_path(name_or_path, what)
    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise OSError(_unreachable_message(name_or_path, what, err)) from err
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"{what}: model type {config.model_type!r} of {name_or_path!r} is not supported; "
            f"expected one of {SUPPORTED_MODEL_TYPES}"
        )
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    return config


def load_backbone(name_or_path: str, config, what: str, pretrained: bool = True) -> torch.nn.Module:
    """Build the HF base model (``Wav2Vec2Model``, ``WavLMModel``, ``HubertModel``) for ``config``.

    Args:
        name_or_path: Hub id or local directory (a ``*ForCTC`` checkpoint works too: its head is dropped).
        config: Config from :func:`load_config` (its overrides are applied when building).
        what: The config key, quoted in errors.
        pretrained: False builds the same architecture with Hugging Face's random initialisation.

    Returns:
        torch.nn.Module: The base model in float32.
    """
    from transformers import AutoModel

    if not pretrained:
        return AutoModel.from_config(config).float()
    name_or_path = check_name_or_path(name_or_path, what)
    try:
        # float32 explicitly: transformers 5 keeps the checkpoint's dtype by default (fp16 uploads exist).
        return AutoModel.from_pretrained(name_or_path, config=config, dtype=torch.float32)
    except OSError as err:
        raise OSError(_unreachable_message(name_or_path, what, err)) from err


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


def load_ctc_model(name_or_path: str, what: str) -> torch.nn.Module:
    """Load a ``Wav2Vec2ForCTC``-style model (backbone + ``lm_head``) in float32.

    Args:
        name_or_path: Hub id or local directory.
        what: The argument name, quoted in errors.

    Returns:
        torch.nn.Module: The CTC model.
    """
    from transformers import AutoModelForCTC

    name_or_path = check_name_or_path(name_or_path, what)
    try:
        return AutoModelForCTC.from_pretrained(name_or_path, dtype=torch.float32)
    except OSError as err:
        raise OSError(_unreachable_message(name_or_path, what, err)) from err


def load_ctc_tokenizer(name_or_path: str, what: str):
    """Load the character tokenizer (``vocab.json``) of a CTC checkpoint.

    Args:
        name_or_path: Hub id or local directory holding the tokenizer files of the checkpoint.
        what: The argument name, quoted in errors.

    Returns:
        transformers.Wav2Vec2CTCTokenizer: ``get_vocab()`` maps tokens to rows of ``lm_head``.
    """
    from transformers import Wav2Vec2CTCTokenizer

    name_or_path = check_name_or_path(name_or_path, what)
    try:
        return Wav2Vec2CTCTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError, TypeError) as err:
        raise OSError(_unreachable_message(name_or_path, what + " (tokenizer vocab.json)", err)) from err


def read_do_normalize(name_or_path: str) -> bool:
    """The checkpoint's ``preprocessor_config.json`` ``do_normalize`` flag; False when it has none.

    Models trained on per-utterance normalised waveforms (e.g. wav2vec2-base-960h) expect the same
    normalisation at their input; the flag lives in the feature-extractor config, not the model config.
    """
    from transformers import AutoFeatureExtractor

    try:
        extractor = AutoFeatureExtractor.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        logging.warning(f"no feature-extractor config for {name_or_path!r} ({err}); waveforms are not normalised")
        return False
    return bool(getattr(extractor, "do_normalize", False))
