"""Print the model type of a pretrained model (``wav2vec2``, ``whisper``, ...) from its config alone (for recipes).

``python -m espnet_brain.bin.model_type whisper-tiny.en`` prints ``whisper``; it accepts whatever the loaders accept
(hub id, directory, CTranslate2 directory, short id) and exits non-zero with the loaders' message when it cannot.
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet_brain.hf.loading import SUPPORTED_MODEL_TYPES, load_config

MODEL_TYPES = SUPPORTED_MODEL_TYPES + ("whisper",)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_name_or_path", help="Hugging Face hub id, local directory or short id")
    args = parser.parse_args(cmd)
    try:
        config = load_config(args.model_name_or_path, "pretrained model", model_types=MODEL_TYPES)
    except (OSError, ValueError) as err:
        print(f"model_type: {err}", file=sys.stderr)
        return 1
    print(config.model_type)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
