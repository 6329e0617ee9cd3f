"""Loading Hugging Face speech checkpoints (Wav2Vec2, WavLM, HuBERT) from a hub id or a local directory.

Both wings load through here: the decoding frontend and encoder (:mod:`espnet_brain.asr.frontend.hf_cnn`,
:mod:`espnet_brain.asr.encoder.hf_ssl`), CTC initialisation (:mod:`espnet_brain.asr.ctc_init`), the encoding
feature extractor (:mod:`espnet_brain.fmri.ssl_model`) and ``bin/check_pretrained.py``.

Resolution: an existing directory is used as is, unless it holds a CTranslate2 Whisper (``model.bin`` and no
Hugging Face weights, e.g. a faster-whisper download), which is converted once into a cached transformers
checkpoint (:mod:`espnet_brain.hf.ctranslate2`); the short ids of the installed Whisper packages
(``whisper-tiny.en``, ``whisper-base``) resolve to their cached conversions the same way; a path-like name that
does not exist is an error; a hub id is read from its snapshot in the local Hugging Face cache when it is there (no
network call at all), else fetched by ``transformers`` unless ``local_files_only`` or ``HF_HUB_OFFLINE`` forbids the
network. A snapshot the cache
holds only part of (e.g. its config) is completed from the hub when the network is allowed.

Errors: a model that cannot be found or read raises :class:`ModelNotFoundError`, one type with one message
naming the id or path, the config key, the reason and both fixes.

Dtype policy: weights are always loaded in float32, whatever the checkpoint stores (fp16 uploads exist and
``transformers`` 5 keeps the stored dtype by default); mixed precision is the trainer's business (autocast).
"""

import logging
import os
from typing import Any, Callable, Dict, Optional, Sequence

import torch

# Model types whose backbone has the layout the wrappers rely on: ``feature_extractor`` (CNN),
# ``feature_projection`` (layer norm + linear) and ``encoder`` (positional conv + transformer).
SUPPORTED_MODEL_TYPES = ("wav2vec2", "wavlm", "hubert")
HEADS = (None, "ctc")
DTYPE = torch.float32
MODEL_FILES = "a loadable model (config.json and weights written by save_pretrained)"


class ModelNotFoundError(OSError, ValueError):
    """A pretrained model that cannot be found or read (offline, not cached, a typo, an empty directory).

    Both an ``OSError`` (what ``transformers`` raises for a missing file) and a ``ValueError`` (a bad config value),
    like :class:`io.UnsupportedOperation`, so callers written for either keep catching it.
    """


def not_found_message(name_or_path: str, what: str, reason: str) -> str:
    """The one message of :class:`ModelNotFoundError`: id or path, config key, reason and both fixes."""
    hub_id = "ID" if _looks_like_path(name_or_path) else name_or_path
    return (
        f"{what}: could not load {name_or_path!r}: {reason}. Fix it in one of two ways: (1) on a machine with network "
        f"access (HF_HUB_OFFLINE unset), pass the hub id once so that it is downloaded into the cache; or "
        f"(2) where there is network, save the model with `from_pretrained({hub_id!r}).save_pretrained(DIR)` "
        f"(or `huggingface-cli download {hub_id} --local-dir DIR`), copy DIR here and pass the local directory DIR."
    )


def _is_offline(local_files_only: bool) -> bool:
    from huggingface_hub import constants

    return local_files_only or bool(constants.HF_HUB_OFFLINE)


def _looks_like_path(name_or_path: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a slash is meant as a directory.
    return os.path.isabs(name_or_path) or name_or_path.startswith((".", "~")) or name_or_path.count("/") > 1


def resolve(name_or_path: str, what: str, local_files_only: bool = False) -> str:
    """Where to load ``name_or_path`` from: a local directory, a cached hub snapshot, or the hub id itself.

    Args:
        name_or_path: Hub id (``facebook/wav2vec2-base-960h``), local directory (``~`` is expanded; a CTranslate2
            Whisper directory is converted) or short id of an installed Whisper (``whisper-tiny.en``).
        what: The config key, quoted in errors (e.g. ``encoder_conf.model_name_or_path``).
        local_files_only: Never touch the network (a hub id must then be in the local cache).

    Returns:
        A directory, or the hub id when it is not cached and the network may be used.

    Raises:
        ModelNotFoundError: A path that does not exist, or a hub id that is not cached while offline.
        espnet_brain.hf.ctranslate2.CT2FormatError: A CTranslate2 model that cannot be read, a short id whose package
            is not installed or whose files fail their checksum (a ValueError naming the file).
    """
    from espnet_brain.hf import ctranslate2

    expanded = os.path.expanduser(name_or_path)
    if os.path.isdir(expanded):
        if ctranslate2.is_ctranslate2_dir(expanded):  # a CTranslate2 Whisper: its cached transformers conversion
            return ctranslate2.resolve_directory(expanded, what)
        return expanded
    if name_or_path in ctranslate2.SHORT_IDS:  # an installed Whisper package (`whisper-tiny.en`, `whisper-base`)
        return ctranslate2.resolve_short_id(name_or_path, what)
    if _looks_like_path(name_or_path):
        raise ModelNotFoundError(not_found_message(name_or_path, what, "the local directory does not exist"))
    from huggingface_hub import snapshot_download

    try:
        # A cached snapshot is read with no network call (transformers would otherwise look files up online).
        return snapshot_download(name_or_path, local_files_only=True)
    except (OSError, ValueError) as err:
        if _is_offline(local_files_only):
            reason = (
                "it is not a local directory and could not be resolved on the Hugging Face hub "
                f"(offline, and not in the local cache; {type(err).__name__}: {err})"
            )
            raise ModelNotFoundError(not_found_message(name_or_path, what, reason)) from err
    return name_or_path


def _from_pretrained(
    load: Callable, name_or_path: str, what: str, local_files_only: bool, files: str = MODEL_FILES, **kwargs
):
    """Call ``load(source, **kwargs)`` on the resolved source; every failure to find ``files`` is one error."""
    source = resolve(name_or_path, what, local_files_only)
    is_dir = os.path.isdir(source)
    cached = is_dir and source != os.path.expanduser(name_or_path)
    try:
        return load(source, local_files_only=is_dir, **kwargs)
    except (OSError, ValueError) as err:
        cause = err
        if cached and not _is_offline(local_files_only):
            try:  # a partly cached snapshot: let the hub client fetch the missing files
                return load(name_or_path, **kwargs)
            except (OSError, ValueError) as retry_err:
                cause = retry_err
        where = "its cached snapshot" if cached else "the directory"
        reason = f"{where} does not hold {files}" if is_dir else f"{files} could not be fetched from the hub"
        reason += f"; {type(cause).__name__}: {cause}"
        raise ModelNotFoundError(not_found_message(name_or_path, what, reason)) from cause


def load_config(
    name_or_path: str,
    what: str,
    overrides: Optional[Dict[str, Any]] = None,
    local_files_only: bool = False,
    model_types: Sequence[str] = SUPPORTED_MODEL_TYPES,
):
    """Load an HF config (``AutoConfig``), check its model type and apply attribute overrides.

    Args:
        name_or_path: Hub id or local directory.
        what: The config key, quoted in errors.
        overrides: Attributes to set on the config (e.g. ``{"layerdrop": 0.0}``).
        local_files_only: Never touch the network.
        model_types: The model types the caller accepts (the speech SSL models by default).

    Returns:
        transformers.PretrainedConfig: The config.
    """
    from transformers import AutoConfig

    config = _from_pretrained(AutoConfig.from_pretrained, name_or_path, what, local_files_only)
    if config.model_type not in model_types:
        raise ValueError(
            f"{what}: model type {config.model_type!r} of {name_or_path!r} is not supported; "
            f"expected one of {tuple(model_types)}"
        )
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    return config


def load_model(
    name_or_path: str,
    what: str = "model_name_or_path",
    config=None,
    head: Optional[str] = None,
    pretrained: bool = True,
    local_files_only: bool = False,
) -> torch.nn.Module:
    """Load a pretrained HF speech model in float32.

    Args:
        name_or_path: Hub id or local directory (a ``*ForCTC`` checkpoint loads as a base model: its head is dropped).
        what: The config key, quoted in errors.
        config: Config from :func:`load_config` (its overrides are applied when building); None loads it here.
        head: None for the base model (``Wav2Vec2Model``, ``WavLMModel``, ``HubertModel``), ``"ctc"`` for the
            ``*ForCTC`` model with its character head ``lm_head``.
        pretrained: False builds the same architecture with Hugging Face's random initialisation.
        local_files_only: Never touch the network.

    Returns:
        torch.nn.Module: The model in float32 (in eval mode when pretrained, as ``from_pretrained`` leaves it).
    """
    from transformers import AutoModel, AutoModelForCTC

    if head not in HEADS:
        raise ValueError(f"{what}: head must be one of {HEADS}, got {head!r}")
    if config is None:
        config = load_config(name_or_path, what, local_files_only=local_files_only)
    auto = AutoModelForCTC if head == "ctc" else AutoModel
    if not pretrained:
        return auto.from_config(config).to(DTYPE)
    return _from_pretrained(auto.from_pretrained, name_or_path, what, local_files_only, config=config, dtype=DTYPE)


def load_ctc_tokenizer(name_or_path: str, what: str, local_files_only: bool = False):
    """Load the character tokenizer (``vocab.json``) of a CTC checkpoint.

    Args:
        name_or_path: Hub id or local directory holding the tokenizer files of the checkpoint.
        what: The config key or argument, quoted in errors.
        local_files_only: Never touch the network.

    Returns:
        transformers.Wav2Vec2CTCTokenizer: ``get_vocab()`` maps tokens to rows of ``lm_head``.
    """
    from transformers import Wav2Vec2CTCTokenizer

    def load(source, **kwargs):
        try:
            return Wav2Vec2CTCTokenizer.from_pretrained(source, **kwargs)
        except TypeError as err:  # no vocab.json: the tokenizer is built with vocab_file=None
            raise OSError(f"no tokenizer files (vocab.json) in {source!r}: {err}") from err

    return _from_pretrained(load, name_or_path, what, local_files_only, files="the tokenizer files (vocab.json)")


def read_do_normalize(name_or_path: str, what: str, local_files_only: bool = False) -> bool:
    """The checkpoint's ``preprocessor_config.json`` ``do_normalize`` flag; False when it has none.

    Models trained on per-utterance normalised waveforms (e.g. wav2vec2-base-960h) expect the same
    normalisation at their input; the flag lives in the feature-extractor config, not the model config.
    """
    from transformers import AutoFeatureExtractor

    try:
        extractor = _from_pretrained(
            AutoFeatureExtractor.from_pretrained, name_or_path, what, local_files_only, files="preprocessor_config.json"
        )
    except ModelNotFoundError as err:
        logging.warning(
            f"no feature-extractor config (preprocessor_config.json) for {name_or_path!r} "
            f"({type(err.__cause__).__name__}: {err.__cause__}); waveforms are not normalised"
        )
        return False
    return bool(getattr(extractor, "do_normalize", False))


def load_causal_lm(name_or_path: str, what: str = "llm", local_files_only: bool = False):
    """Load a causal text LM and its tokenizer (for n-best rescoring) in float32, in eval mode.

    Args:
        name_or_path: Hub id (e.g. ``facebook/opt-125m``) or local directory written by ``save_pretrained``.
        what: The option that named it, quoted in errors.
        local_files_only: Never touch the network.

    Returns:
        (transformers.PreTrainedModel, transformers.PreTrainedTokenizerBase)
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = "a causal LM and its tokenizer (written by save_pretrained)"
    tokenizer = _from_pretrained(AutoTokenizer.from_pretrained, name_or_path, what, local_files_only, files=files)
    model = _from_pretrained(
        AutoModelForCausalLM.from_pretrained, name_or_path, what, local_files_only, files=files, dtype=DTYPE
    )
    return model.eval(), tokenizer
