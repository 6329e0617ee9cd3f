"""Pack a trained fMRI encoding model with ESPnet's packer (``espnet2.bin.pack``) under its own name.

The archive holds ``meta.yaml``, the training config (``train_config``), the weights (``model_file``) and every
``--option`` file (e.g. the pretrained speech model's directory and the voxel mask the config refers to), at the
paths the config uses, as ``python -m espnet2.bin.pack enh`` would write it.

Example::

    python -m espnet_brain.bin.pack_fmri --train_config exp/enc_lora/config.yaml \\
        --model_file exp/enc_lora/valid.loss.best.pth --option dump/voxel_mask.npy --outpath exp/enc_lora/packed.zip
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet2.bin.pack import PackedContents, add_arguments
from espnet2.main_funcs.pack_funcs import pack


class FMRIEncodingPackedContents(PackedContents):
    """What an fMRI encoding model is made of (the argument names of ``espnet_brain.bin.fmri_encoding_inference``)."""

    files = ["model_file"]
    yaml_files = ["train_config"]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, FMRIEncodingPackedContents)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    contents = FMRIEncodingPackedContents
    missing = [f"--{key}" for key in contents.yaml_files + contents.files if getattr(args, key) is None]
    if missing:
        print(f"pack_fmri: {' and '.join(missing)} required (the training config and its weights)", file=sys.stderr)
        return 1
    try:
        pack(
            yaml_files={key: getattr(args, key) for key in contents.yaml_files},
            files={key: getattr(args, key) for key in contents.files},
            option=args.option,
            outpath=args.outpath,
        )
    except FileNotFoundError as e:
        print(f"pack_fmri: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
