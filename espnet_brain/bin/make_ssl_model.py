"""Write a randomly initialised Hugging Face speech SSL model (no task head) with ``save_pretrained``.

For corpora without a real pretrained checkpoint on the machine (the synthetic ``mini_brain`` corpus, tests): the
directory loads like a downloaded ``microsoft/wavlm-base-plus``, but its weights are random, so whatever is
measured with it tests a pipeline, not the pretrained model.

Example::

    python -m espnet_brain.bin.make_ssl_model --model_type wavlm --config conf/wavlm_mini.yaml \\
        --output_dir exp/wavlm_random --seed 0
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import torch
import yaml

MODEL_TYPES = {"wavlm": "WavLM", "wav2vec2": "Wav2Vec2", "hubert": "Hubert"}


def make_ssl_model(model_type: str, config: Dict[str, Any], output_dir: str, seed: int = 0) -> int:
    """Build ``<Type>Model(<Type>Config(**config))`` with seeded random weights and save it; returns its size."""
    import transformers

    if model_type not in MODEL_TYPES:
        raise ValueError(f"--model_type: expected one of {sorted(MODEL_TYPES)}, got {model_type!r}")
    name = MODEL_TYPES[model_type]
    try:
        cfg = getattr(transformers, f"{name}Config")(**config)
    except TypeError as e:
        raise ValueError(f"--config: not a valid {name}Config: {e}") from e
    torch.manual_seed(seed)
    model = getattr(transformers, f"{name}Model")(cfg)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    # A feature-extractor config as the hub checkpoints have (zero-mean unit-variance input, like wavlm-base-plus).
    preprocessor = {
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "sampling_rate": 16000,
        "do_normalize": True,
        "feature_size": 1,
        "padding_value": 0.0,
        "return_attention_mask": cfg.feat_extract_norm == "layer",
    }
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(
        f"Randomly initialised {name}Model (seed {seed}), written by espnet_brain.bin.make_ssl_model.\n"
        "It is NOT a pretrained model: results obtained with it test the pipeline only.\n",
        encoding="utf-8",
    )
    return sum(p.numel() for p in model.parameters())


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", choices=sorted(MODEL_TYPES), default="wavlm")
    parser.add_argument("--config", required=True, help="YAML of config fields (hidden_size, num_hidden_layers, ...)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    with open(args.config, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    if not isinstance(config, dict):
        print(f"make_ssl_model: {args.config}: expected a mapping of config fields", file=sys.stderr)
        return 1
    try:
        n = make_ssl_model(args.model_type, config, args.output_dir, args.seed)
    except ValueError as e:
        print(f"make_ssl_model: {e}", file=sys.stderr)
        return 1
    print(f"wrote a randomly initialised {args.model_type} model ({n / 1e6:.2f} M parameters) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
