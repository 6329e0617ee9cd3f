"""Write a randomly initialised Hugging Face speech SSL model (no task head) with ``save_pretrained``.

For corpora without a real pretrained checkpoint on the machine (the synthetic ``mini_brain`` corpus, tests): the
directory loads like a downloaded ``microsoft/wavlm-base-plus``, but its weights are random, so whatever is
measured with it tests a pipeline, not the pretrained model. The model with a CTC head is written by
``espnet_brain.bin.make_hf_model``; both call :mod:`espnet_brain.hf.writer`.

Example::

    python -m espnet_brain.bin.make_ssl_model --model_type wavlm --config conf/wavlm_mini.yaml \\
        --output_dir exp/wavlm_random --seed 0
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_brain.hf.writer import MODEL_TYPES, read_model_config, write_random_model


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", choices=sorted(MODEL_TYPES), default="wavlm")
    parser.add_argument("--config", required=True, help="YAML of config fields (hidden_size, num_hidden_layers, ...)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    try:
        model = write_random_model(args.model_type, read_model_config(args.config), args.output_dir, seed=args.seed)
    except ValueError as e:
        print(f"make_ssl_model: {args.config}: {e}", file=sys.stderr)
        return 1
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote a randomly initialised {args.model_type} model ({n / 1e6:.2f} M parameters) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
