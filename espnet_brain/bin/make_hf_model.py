"""Write a randomly initialised Hugging Face CTC speech model for a token list.

Used where no pretrained checkpoint exists (the synthetic corpus: its audio ASR baseline starts
from this and is then exported as the corpus's "pretrained Wav2Vec2"), and by tests.

Example::

    python -m espnet_brain.bin.make_hf_model --model_type wav2vec2 \\
        --config conf/wav2vec2_mini.yaml --token_list data/token_list/char/tokens.txt \\
        --output_dir exp/wav2vec2_init
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
import yaml

MODEL_TYPES = ("wav2vec2", "wavlm", "hubert")


def read_token_list(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f if line.strip()]
    if not tokens or tokens[0] != "<blank>":
        raise ValueError(f"{path}: an ESPnet CTC token list starts with <blank>, got {tokens[:1]}")
    return tokens


def hf_vocab(token_list: Sequence[str]) -> Dict[str, int]:
    """ESPnet character tokens -> a Wav2Vec2CTCTokenizer vocabulary with the same indices.

    ESPnet's blank ``<blank>`` (index 0) becomes HF's ``<pad>`` (HF CTC uses the pad token as
    blank) and ``<space>`` becomes the word delimiter ``|``; other tokens keep their spelling.
    """
    rename = {"<blank>": "<pad>", "<space>": "|"}
    return {rename.get(t, t): i for i, t in enumerate(token_list)}


def write_tokenizer(token_list: Sequence[str], output_dir: Path) -> None:
    """Save a Wav2Vec2CTCTokenizer and feature extractor so the directory works with HF pipelines."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor

    vocab_file = output_dir / "vocab.json"
    vocab_file.write_text(json.dumps(hf_vocab(token_list), ensure_ascii=False, indent=1), encoding="utf-8")
    unk = "<unk>" if "<unk>" in token_list else "<pad>"
    # The special tokens must already be in the vocabulary: a token the tokenizer adds (its default
    # "<s>"/"</s>") would get an id beyond the CTC head.
    sos_eos = "<sos/eos>" if "<sos/eos>" in token_list else unk
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file),
        pad_token="<pad>",
        unk_token=unk,
        bos_token=sos_eos,
        eos_token=sos_eos,
        word_delimiter_token="|",
    )
    tokenizer.save_pretrained(str(output_dir))
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True).save_pretrained(
        str(output_dir)
    )


def make_model(model_type: str, config: Dict[str, Any], token_list: Sequence[str], seed: int = 0):
    """Build a randomly initialised ``*ForCTC`` model whose head matches ``token_list``."""
    import transformers

    if model_type not in MODEL_TYPES:
        raise ValueError(f"--model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    names = {"wav2vec2": "Wav2Vec2", "wavlm": "WavLM", "hubert": "Hubert"}[model_type]
    config_cls = getattr(transformers, f"{names}Config")
    model_cls = getattr(transformers, f"{names}ForCTC")
    vocab = hf_vocab(token_list)
    cfg = config_cls(**config, vocab_size=len(token_list), pad_token_id=vocab["<pad>"])
    torch.manual_seed(seed)
    return model_cls(cfg)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", choices=MODEL_TYPES, default="wav2vec2")
    parser.add_argument("--config", required=True, help="YAML/JSON of HF config fields (hidden_size, ...)")
    parser.add_argument("--token_list", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    with open(args.config, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{args.config}: expected a mapping of config fields, got {type(config).__name__}")
    token_list = read_token_list(args.token_list)
    model = make_model(args.model_type, config, token_list, args.seed)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    write_tokenizer(token_list, out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote a randomly initialised {type(model).__name__} ({n_params / 1e6:.2f} M parameters) to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
