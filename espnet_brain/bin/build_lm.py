"""Write the n-gram decoder's files: word ARPA, lexicon and a vocabulary coverage report.

Example::

    python -m espnet_brain.bin.build_lm --token_list data/token_list/char/tokens.txt \\
        --text data/train/text --order 3 --prune 0 0 1 --check dev=data/dev/text --out_dir data/lm

Estimates a modified Kneser-Ney word n-gram from Kaldi texts (``--text``) and plain-text corpora
(``--plain_text``, one sentence per line), or checks and uses a given ARPA file (``--arpa``); see
:mod:`espnet_brain.asr.lm.prepare` for the files written.
"""

import argparse
import logging
import sys
from typing import Optional, Sequence

from espnet_brain.asr.lm.prepare import prepare_lm
from espnet_brain.hf.tokens import read_token_list


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token_list", required=True, help="the CTC model's tokens.txt")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--text", action="append", default=[], help="Kaldi text (utt_id words) to estimate from")
    parser.add_argument("--plain_text", action="append", default=[], help="plain-text corpus, one sentence a line")
    parser.add_argument("--arpa", default=None, help="use this word ARPA file instead of estimating one")
    parser.add_argument("--order", type=int, default=3, help="word n-gram order")
    parser.add_argument("--prune", type=int, nargs="+", default=[0], help="per-order count thresholds, e.g. 0 0 1")
    parser.add_argument("--check", action="append", default=[], help="name=text: report lexicon coverage of a set")
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    token_list = read_token_list(args.token_list)
    checks = {}
    for item in args.check:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--check expects name=path, got {item!r}")
        checks[name] = path
    report = prepare_lm(
        args.out_dir,
        token_list,
        texts=args.text,
        plain_texts=args.plain_text,
        arpa=args.arpa,
        order=args.order,
        prune=args.prune,
        check_sets=checks,
    )
    for name, cov in report.items():
        print(f"{name}: {100 * cov['covered']:.1f}% of running words in the lexicon, {cov['oov_types']} OOV types")


if __name__ == "__main__":
    main(sys.argv[1:])
