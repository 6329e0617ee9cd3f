"""Check, before any training, that a pretrained speech model can be loaded.

``python -m espnet_brain.bin.check_pretrained facebook/wav2vec2-base-960h`` (or a local directory)
loads the config and the weights with the loader that decoding and encoding training use
(:func:`espnet_brain.hf.loading.load_model`) and prints what was found; it exits non-zero with a
message that says how to fix the call (e.g. download elsewhere and pass a directory) when it cannot.
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_brain.hf.loading import SUPPORTED_MODEL_TYPES, load_config, load_model

# the speech SSL models of hf_ssl and Whisper of hf_whisper
MODEL_TYPES = SUPPORTED_MODEL_TYPES + ("whisper",)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_name_or_path", help="Hugging Face hub id or local directory")
    parser.add_argument("--local_files_only", action="store_true", help="never try the network")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    try:
        local = args.local_files_only
        config = load_config(
            args.model_name_or_path, "pretrained_model", local_files_only=local, model_types=MODEL_TYPES
        )
        model = load_model(args.model_name_or_path, "pretrained_model", config=config, local_files_only=local)
    except (OSError, ValueError) as err:
        print(f"check_pretrained: {err}", file=sys.stderr)
        return 1
    config = model.config
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model_name_or_path}: {config.model_type}, hidden size {config.hidden_size}, "
        f"{config.num_hidden_layers} layers, {n_params / 1e6:.1f} M parameters"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
