"""Write a randomly initialised Hugging Face CTC speech model for an ESPnet token list.

Used where no pretrained checkpoint exists (the synthetic corpus: its audio ASR baseline starts
from this and is then exported as the corpus's "pretrained Wav2Vec2"), and by tests. The model
without a head is written by ``espnet_brain.bin.make_ssl_model``; both call :mod:`espnet_brain.hf.writer`.

Example::

    python -m espnet_brain.bin.make_hf_model --model_type wav2vec2 \\
        --config conf/wav2vec2_mini.yaml --token_list data/token_list/char/tokens.txt \\
        --output_dir exp/wav2vec2_init
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_brain.hf.tokens import read_token_list
from espnet_brain.hf.writer import MODEL_TYPES, read_model_config, write_random_model


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", choices=sorted(MODEL_TYPES), default="wav2vec2")
    parser.add_argument("--config", required=True, help="YAML/JSON of HF config fields (hidden_size, ...)")
    parser.add_argument("--token_list", required=True, help="ESPnet tokens.txt (<blank> first)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    config = read_model_config(args.config)
    model = write_random_model(args.model_type, config, args.output_dir, read_token_list(args.token_list), args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"wrote a randomly initialised {type(model).__name__} ({n_params / 1e6:.2f} M parameters) to {args.output_dir}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
