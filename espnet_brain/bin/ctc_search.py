"""Decode saved CTC log-posteriors with greedy, beam, n-gram, token-LM or LLM-rescored search.

Example (word 3-gram, weights chosen on dev, then the test set decoded)::

    python -m espnet_brain.bin.ctc_search --token_list data/token_list/char/tokens.txt --decoder ngram \\
        --lm_dir data/lm/train --logp_scp exp/asr_x/decode_test/logp.scp --output_dir exp/asr_x/decode_test/ngram \\
        --dev_logp_scp exp/asr_x/decode_dev/logp.scp --dev_text data/dev/text --lm_weights 0.5 1 2 \\
        --word_scores -1 0 1

The log-posteriors come from ``brain_asr_inference --logp_dir``. The weights are tuned once; then each
``--logp_scp`` is decoded into its ``--output_dir`` (``text``, ``token``, ``nbest.jsonl``, and ``search.json``:
settings, dev grid and WERs, search time); see :mod:`espnet_brain.asr.lm.search` for the decoders.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from espnet_brain.asr.lm.search import DECODERS, GRID, SearchConfig, run
from espnet_brain.data.datadir import read_2columns
from espnet_brain.hf.tokens import read_token_list


def read_logps(scp: str) -> Dict[str, torch.Tensor]:
    """utt_id -> (T, V) log-posteriors of a ``logp.scp``."""
    import kaldiio

    if not Path(scp).is_file():
        raise FileNotFoundError(f"{scp} does not exist; write it with brain_asr_inference --logp_dir")
    return {utt: torch.from_numpy(mat.copy()) for utt, mat in kaldiio.load_scp(scp).items()}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token_list", required=True)
    parser.add_argument(
        "--logp_scp", action="append", required=True, help="log-posteriors of a set to decode (repeatable)"
    )
    parser.add_argument("--output_dir", action="append", required=True, help="one per --logp_scp, in order")
    parser.add_argument("--decoder", choices=DECODERS, default="greedy")
    parser.add_argument("--beam_size", type=int, default=50)
    parser.add_argument("--nbest", type=int, default=None, help="n-best size (default: 1; ngram_llm: 20)")
    parser.add_argument("--lm_dir", default=None, help="build_lm output: lexicon.txt and words.arpa")
    parser.add_argument("--lexicon", default=None)
    parser.add_argument("--ngram", default=None, help="word ARPA file")
    parser.add_argument("--token_lm_config", default=None, help="ESPnet LM config.yaml (decoder token_lm)")
    parser.add_argument("--token_lm_file", default=None, help="ESPnet LM checkpoint (decoder token_lm)")
    parser.add_argument("--llm", default=None, help="hub id or directory of a causal LM (decoder ngram_llm)")
    parser.add_argument("--lm_weight", type=float, default=1.0)
    parser.add_argument("--word_score", type=float, default=0.0)
    parser.add_argument("--unk_score", type=float, default=float("-inf"))
    parser.add_argument("--llm_weight", type=float, default=0.5)
    parser.add_argument("--dev_logp_scp", default=None, help="dev log-posteriors: tune the weights there first")
    parser.add_argument("--dev_text", default=None, help="dev transcripts (Kaldi text)")
    for weight, (option, tuned_by) in GRID.items():
        parser.add_argument(
            f"--{option}", type=float, nargs="*", default=[], help=f"dev grid of --{weight} ({', '.join(tuned_by)})"
        )
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    token_list = read_token_list(args.token_list)
    files = {"lexicon": args.lexicon, "ngram": args.ngram}
    if args.lm_dir is not None:
        for key, name in (("lexicon", "lexicon.txt"), ("ngram", "words.arpa")):
            files[key] = files[key] or str(Path(args.lm_dir) / name)
    cfg = SearchConfig(
        decoder=args.decoder,
        beam_size=args.beam_size,
        nbest=args.nbest or (20 if args.decoder == "ngram_llm" else 1),
        lm_weight=args.lm_weight,
        word_score=args.word_score,
        unk_score=args.unk_score,
        llm_weight=args.llm_weight,
        token_lm_config=args.token_lm_config,
        token_lm_file=args.token_lm_file,
        llm=args.llm,
        **files,
    )
    dev_logps = read_logps(args.dev_logp_scp) if args.dev_logp_scp else None
    dev_refs = read_2columns(args.dev_text) if args.dev_text else None
    grid = {weight: getattr(args, option) for weight, (option, _) in GRID.items()}
    if len(args.logp_scp) != len(args.output_dir):
        raise SystemExit(f"{len(args.logp_scp)} --logp_scp but {len(args.output_dir)} --output_dir; give one each")
    sets = [(read_logps(scp), out) for scp, out in zip(args.logp_scp, args.output_dir)]
    run(cfg, token_list, sets, dev_logps, dev_refs, grid)


if __name__ == "__main__":
    main(sys.argv[1:])
