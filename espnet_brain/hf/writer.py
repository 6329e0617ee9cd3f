"""Writing Hugging Face speech model directories: randomly initialised models for recipes and tests, tokenizers.

A random model stands in for a pretrained checkpoint where none is on the machine (the synthetic ``mini_brain``
corpus, tests): its directory loads like a downloaded ``microsoft/wavlm-base-plus`` (no head) or
``facebook/wav2vec2-base-960h`` (``head="ctc"``, with a character tokenizer built from an ESPnet token list), but its
weights are random, so whatever is measured with it tests a pipeline, not a pretrained model.
"""

import json
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch

from espnet_brain.hf.tokens import ESPNET_UNK, HF_PAD, HF_WORD_DELIMITER, blank_id, espnet_to_hf_vocab

# model_type -> prefix of the transformers classes (``<prefix>Config``, ``<prefix>Model``, ``<prefix>ForCTC``)
MODEL_TYPES = {"wav2vec2": "Wav2Vec2", "wavlm": "WavLM", "hubert": "Hubert"}
SAMPLE_RATE = 16000


def build_random_model(
    model_type: str, config: Dict[str, Any], token_list: Optional[Sequence[str]] = None, seed: int = 0
) -> torch.nn.Module:
    """Build ``<Type>Model`` (or ``<Type>ForCTC`` with a head for ``token_list``) with seeded random weights.

    Args:
        model_type: One of ``wav2vec2``, ``wavlm``, ``hubert``.
        config: Fields of the transformers config (``hidden_size``, ``num_hidden_layers``, ...).
        token_list: ESPnet CTC tokens (``<blank>`` first) for a ``*ForCTC`` model whose head row i is token i
            (``vocab_size`` and ``pad_token_id`` = the blank come from it); None for the bare model.
        seed: ``torch.manual_seed`` right before the weights are drawn.

    Returns:
        torch.nn.Module: The model.
    """
    import transformers
    from huggingface_hub.errors import StrictDataclassError

    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type: expected one of {sorted(MODEL_TYPES)}, got {model_type!r}")
    name = MODEL_TYPES[model_type]
    fields = dict(config)
    if token_list is not None:
        given = sorted({"vocab_size", "pad_token_id"} & set(fields))
        if given:
            raise ValueError(f"config: {given} come from the token list; remove them from the config")
        fields.update(vocab_size=len(token_list), pad_token_id=blank_id(token_list))
    try:
        cfg = getattr(transformers, f"{name}Config")(**fields)
    except (TypeError, ValueError, StrictDataclassError) as e:  # transformers 5 validates configs strictly
        raise ValueError(f"config: not a valid {name}Config: {e}") from e
    torch.manual_seed(seed)
    return getattr(transformers, f"{name}ForCTC" if token_list is not None else f"{name}Model")(cfg)


def write_tokenizer(token_list: Sequence[str], output_dir: Union[str, Path]) -> None:
    """Save a ``Wav2Vec2CTCTokenizer`` whose ids are the indices of an ESPnet token list.

    Args:
        token_list: ESPnet CTC tokens (``<blank>`` becomes ``<pad>``, ``<space>`` becomes ``|``).
        output_dir: An existing directory.
    """
    from transformers import Wav2Vec2CTCTokenizer

    out = Path(output_dir)
    vocab_file = out / "vocab.json"
    vocab_file.write_text(json.dumps(espnet_to_hf_vocab(token_list), ensure_ascii=False, indent=1), encoding="utf-8")
    unk = ESPNET_UNK if ESPNET_UNK in token_list else HF_PAD
    # The special tokens must already be in the vocabulary: a token the tokenizer adds (its default
    # "<s>"/"</s>") would get an id beyond the CTC head.
    sos_eos = "<sos/eos>" if "<sos/eos>" in token_list else unk
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file),
        pad_token=HF_PAD,
        unk_token=unk,
        bos_token=sos_eos,
        eos_token=sos_eos,
        word_delimiter_token=HF_WORD_DELIMITER,
    )
    tokenizer.save_pretrained(str(out))


def write_preprocessor(output_dir: Union[str, Path], config, do_normalize: bool = True) -> None:
    """Save the ``preprocessor_config.json`` a hub checkpoint has (16 kHz, zero-mean unit-variance input).

    Args:
        output_dir: An existing directory.
        config: The model config; as on the hub, an attention mask is returned only for models with
            ``feat_extract_norm == "layer"`` (the others were trained on zero-padded batches without one).
        do_normalize: Whether the model expects per-utterance normalised waveforms.
    """
    from transformers import Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=do_normalize,
        return_attention_mask=getattr(config, "feat_extract_norm", "group") == "layer",
    ).save_pretrained(str(output_dir))


def write_random_model(
    model_type: str,
    config: Dict[str, Any],
    output_dir: Union[str, Path],
    token_list: Optional[Sequence[str]] = None,
    seed: int = 0,
) -> torch.nn.Module:
    """Write a random model (see :func:`build_random_model`) with its preprocessor config, tokenizer and a README.

    Args:
        model_type: One of ``wav2vec2``, ``wavlm``, ``hubert``.
        config: Fields of the transformers config.
        output_dir: Directory to write (created).
        token_list: ESPnet CTC tokens for a ``*ForCTC`` model and its tokenizer; None for the bare model.
        seed: Seed of the random weights.

    Returns:
        torch.nn.Module: The model written.
    """
    model = build_random_model(model_type, config, token_list, seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    write_preprocessor(out, model.config)
    if token_list is not None:
        write_tokenizer(token_list, out)
    (out / "README.md").write_text(
        f"Randomly initialised {type(model).__name__} (seed {seed}), written by espnet_brain.hf.writer.\n"
        "It is NOT a pretrained model: results obtained with it test the pipeline only.\n",
        encoding="utf-8",
    )
    return model


def read_model_config(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a YAML (or JSON) mapping of transformers config fields, e.g. ``conf/wavlm_mini.yaml``."""
    import yaml

    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping of config fields (hidden_size: ...), got {type(config).__name__}")
    return config
