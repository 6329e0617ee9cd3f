"""Score decoding results at corpus level and write RESULTS.md.

Example::

    python -m espnet_brain.bin.score --ref data/test/text \\
        --hyp "audio ASR=exp/asr_audio/decode_test/text" --hyp "full fine-tune=exp/brain_full/decode_test/text" \\
        --out exp/RESULTS.md

Each ``--hyp`` is ``name=path``; per-utterance errors go beside each hypothesis file as
``per_utt.tsv``, with a ``score.txt`` (for people) and a ``score.json`` (for programs) holding the corpus
numbers. ``--out`` gets the Markdown table and, beside it with the suffix ``.json`` (``RESULTS.json``), the
same numbers per system: counts, CER and WER, substitutions/deletions/insertions of characters and words,
and what empty references contributed. Utterances whose reference is empty are scored as sclite scores
them (every hypothesis word and character is an insertion, the reference adds nothing to the denominator).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_brain.asr.scoring import results_json, results_table, score, summary, write_per_utt
from espnet_brain.data.datadir import read_2columns


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--ref",
        action="append",
        required=True,
        help="Kaldi-style reference text (utt_id text): once for all hypotheses, or once after each --hyp",
    )
    parser.add_argument("--hyp", action="append", required=True, help="name=path of a hypothesis text file")
    parser.add_argument(
        "--out",
        required=True,
        help="Markdown file to write; its numbers also go to the same path with the suffix .json",
    )
    parser.add_argument("--title", default="Test set, greedy CTC, no LM")
    return parser


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON (one key per line, so that diffs of results stay readable)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    if len(args.ref) not in (1, len(args.hyp)):
        raise ValueError(f"give --ref once or once per --hyp; got {len(args.ref)} for {len(args.hyp)} hypotheses")
    ref_files = args.ref * len(args.hyp) if len(args.ref) == 1 else args.ref
    rows = []
    for spec, ref_file in zip(args.hyp, ref_files):
        refs = read_2columns(ref_file)
        name, sep, path = spec.partition("=")
        if not sep:
            raise ValueError(f"--hyp must be name=path, got '{spec}'")
        hyps = read_2columns(path)
        rates = score(refs, hyps)
        write_per_utt(rates, refs, hyps, Path(path).parent / "per_utt.tsv")
        (Path(path).parent / "score.txt").write_text(summary(rates), encoding="utf-8")
        write_json(Path(path).parent / "score.json", {"name": name, "hyp": path, "ref": ref_file, **rates.to_json()})
        rows.append((name, rates))
    table = results_table(rows, args.title)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table, encoding="utf-8")
    write_json(Path(args.out).with_suffix(".json"), results_json(rows, args.title))
    print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
