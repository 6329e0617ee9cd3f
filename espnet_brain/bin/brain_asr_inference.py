"""Decode brain (or audio) recordings with a trained BrainASRTask model.

Example::

    python -m espnet_brain.bin.brain_asr_inference \\
        --asr_train_config exp/asr_full/config.yaml --asr_model_file exp/asr_full/valid.loss.ave.pth \\
        --data_path_and_name_and_type dump/test/feats.scp,speech,kaldi_ark \\
        --data_path_and_name_and_type dump/test/utt2day,day,text_int \\
        --output_dir exp/asr_full/decode_test --decoding greedy

Writes ``<output_dir>/text`` (``utt_id hypothesis``) and ``<output_dir>/token`` (token ids).
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from espnet2.utils.types import str2triple_str, str_or_none

from espnet_brain.asr.inference import decode


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr_train_config", type=str, required=True)
    parser.add_argument("--asr_model_file", type=str, required=True)
    parser.add_argument(
        "--data_path_and_name_and_type",
        type=str2triple_str,
        action="append",
        required=True,
        help="path,name,type triples as in ESPnet (speech, and day for brain models)",
    )
    parser.add_argument("--key_file", type=str_or_none, default=None)
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--decoding", choices=["greedy", "beam"], default="greedy")
    parser.add_argument("--beam_size", type=int, default=10)
    parser.add_argument("--penalty", type=float, default=0.0)
    parser.add_argument("--lm_train_config", type=str_or_none, default=None)
    parser.add_argument("--lm_file", type=str_or_none, default=None)
    parser.add_argument("--lm_weight", type=float, default=0.0)
    parser.add_argument(
        "--logp_dir",
        type=str_or_none,
        default=None,
        help="also write each utterance's CTC log-posteriors to <logp_dir>/logp.{ark,scp} (for ctc_search)",
    )
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    kwargs = vars(args)
    kwargs.pop("log_level")
    decode(**kwargs)


if __name__ == "__main__":
    main(sys.argv[1:])
