"""Generate the broad synthetic speech corpus that the offline pretrained speech models are trained on.

Example::

    python -m espnet_brain.bin.simulate_broad_speech --out downloads/broad_speech --seed 0 \\
        --exclude_presets tiny,small,bench --exclude_seeds 0-9
"""

import argparse
import dataclasses
import logging
import sys
from typing import List, Optional

from espnet_brain.simulate.broad_speech import BroadSpeechConfig, english_words, make_broad_speech, read_word_list
from espnet_brain.simulate.presets import get_preset
from espnet_brain.simulate.text import generate_sentences


def _seeds(spec: str) -> List[int]:
    out: List[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def brain_sentences(presets: List[str], seeds: List[int]) -> List[str]:
    """Every sentence of the main corpus for these presets and seeds (its text is cheap to regenerate)."""
    texts = []
    for name in presets:
        t = get_preset(name).text
        for seed in seeds:
            splits = generate_sentences(seed, t.n_train, t.n_dev, t.n_test, t.vocab_size_per_class, lexicon=t.lexicon)
            texts.extend(s.text for sents in splits.values() for s in sents)
    return texts


def get_parser() -> argparse.ArgumentParser:
    d = BroadSpeechConfig()
    parser = argparse.ArgumentParser(
        prog="python -m espnet_brain.bin.simulate_broad_speech",
        description="Write a broad eSpeak NG speech corpus (many voices, rates, pitches and a vocabulary of "
        "thousands of words) in the layout of the main corpus's speech part.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (non-negative)")
    parser.add_argument("--n_train", type=int, default=d.n_train, help="training sentences (~3.3 s each)")
    parser.add_argument("--n_dev", type=int, default=d.n_dev)
    parser.add_argument("--n_test", type=int, default=d.n_test)
    parser.add_argument("--vocab_size", type=int, default=d.vocab_size, help="words from the top of the list")
    parser.add_argument(
        "--words", default=None, help="word list, one per line, most frequent first (default: wordfreq)"
    )
    parser.add_argument(
        "--exclude_presets",
        default="tiny,small,bench",
        help="main-corpus presets whose sentences must not occur here (empty: none)",
    )
    parser.add_argument("--exclude_seeds", default="0-9", help="their seeds, e.g. 0-9 or 0,3,7")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.seed < 0:
        get_parser().error(f"--seed must be non-negative, got {args.seed}")
    cfg = dataclasses.replace(
        BroadSpeechConfig(), n_train=args.n_train, n_dev=args.n_dev, n_test=args.n_test, vocab_size=args.vocab_size
    )
    try:
        words = read_word_list(args.words) if args.words else english_words(cfg.vocab_size)
        presets = [p for p in args.exclude_presets.split(",") if p.strip()]
        exclude = brain_sentences(presets, _seeds(args.exclude_seeds)) if presets else []
        manifest = make_broad_speech(args.out, args.seed, cfg, words, exclude, progress=not args.no_progress)
    except (ValueError, ImportError, OSError) as e:
        logging.error("%s", e)
        return 2
    for split, info in manifest["splits"].items():
        logging.info(
            "%-5s %5d sentences %6.2f h, %d words", split, info["utterances"], info["hours"], info["vocabulary"]
        )
    logging.info(
        "wrote %s: %d words in all, %d brain-corpus sentences excluded, %.0f s",
        args.out,
        manifest["vocabulary"],
        len(exclude),
        manifest["seconds_to_generate"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
