"""Check that the frontend leaves every utterance enough frames for its CTC label, before training.

Counts, per set, the utterances whose frontend output (``output_lengths`` of the configured frontend, e.g. the
BFE's kernel and stride) is shorter than their character label needs, prints the fraction, and stops with an
error when a checked set exceeds ``--max_infeasible``; ``--report`` sets (test sets) are only reported.

Example::

    python -m espnet_brain.bin.check_ctc_feasibility --token_list data/token_list/char/tokens.txt \\
        --check train=exp/stats/train/speech_shape,dump/train/text --report test=dump/test/feats_shape,dump/test/text \\
        -- --config conf/train_brain_full.yaml --frontend_conf stride=2

Everything after ``--`` is parsed as the trainer's arguments, so the check sees the frontend training will build.
"""

import argparse
import logging
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_brain.asr.ctc_feasibility import FeasibilityReport, check_set, read_lengths
from espnet_brain.asr.frontend import FRONTEND_PATHS, frontend_class
from espnet_brain.data.datadir import read_2columns
from espnet_brain.tasks.options import trainer_options


def read_labels(text_file: str, token_list: str) -> Dict[str, List[int]]:
    """Character token ids per utterance, tokenised as the recipes' training does (char, no cleaner: ESPnet's
    ``build_tokenizer("char")`` is this tokenizer, without the import of every other one)."""
    from espnet2.text.char_tokenizer import CharTokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    tokenizer = CharTokenizer(non_linguistic_symbols=None, space_symbol="<space>")
    converter = TokenIDConverter(token_list=token_list, unk_symbol="<unk>")
    labels = {}
    for utt, text in read_2columns(text_file).items():
        labels[utt] = converter.tokens2ids(tokenizer.text2tokens(text))
    return labels


def build_frontend(train_args: Sequence[str]):
    """The frontend the trainer would build from ``train_args`` (``--config`` and overrides), or None.

    The plugin's frontends are built from the config and the command line read without ESPnet's parser
    (:mod:`espnet_brain.tasks.options`), which saves the ~20 s import of ESPnet's ASR task; any other frontend is
    resolved by the task itself.
    """
    # ESPnet's ASR task: frontend "default" unless given; names are read in lower case, "none" is no frontend
    options = trainer_options(train_args, {"frontend": (str, "default"), "frontend_conf": (dict, {})})
    name, conf = str(options["frontend"]).lower(), dict(options["frontend_conf"])
    if options["frontend"] is None or name == "none":
        return None, "none"
    if name in FRONTEND_PATHS:
        frontend_class_ = frontend_class(name)
    else:
        import espnet2.tasks.asr as asr_task

        from espnet_brain.tasks.brain_asr import BrainASRTask

        args, _ = BrainASRTask.get_parser().parse_known_args(list(train_args))
        if args.frontend is None:
            return None, "none"
        name, conf = args.frontend, dict(args.frontend_conf or {})
        frontend_class_ = asr_task.frontend_choices.get_class(name)
    if name == "brain_gru":
        # Lengths depend on the windowing only: a placeholder input size avoids needing the data's.
        conf.setdefault("input_size", 1)
    return frontend_class_(**conf), name


def parse_set(spec: str, option: str) -> Tuple[str, str, str]:
    name, sep, files = spec.partition("=")
    shape_file, sep2, text_file = files.partition(",")
    if not sep or not sep2 or not name or not shape_file or not text_file:
        raise ValueError(f"{option} {spec!r}: expected NAME=SHAPE_FILE,TEXT_FILE")
    return name, shape_file, text_file


def frontend_description(frontend) -> str:
    parts = [f"{k}={getattr(frontend, k)}" for k in ("kernel_size", "stride") if hasattr(frontend, k)]
    return f"{frontend.__class__.__name__}({', '.join(parts)})" if parts else frontend.__class__.__name__


def main(cmd: Optional[Sequence[str]] = None) -> List[FeasibilityReport]:
    cmd = list(sys.argv[1:] if cmd is None else cmd)
    train_args: List[str] = []
    if "--" in cmd:
        split = cmd.index("--")
        cmd, train_args = cmd[:split], cmd[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token_list", required=True, help="Token list of the training (one token per line)")
    parser.add_argument(
        "--check", action="append", default=[], help="NAME=SHAPE_FILE,TEXT_FILE of a set held to --max_infeasible"
    )
    parser.add_argument(
        "--report", action="append", default=[], help="NAME=SHAPE_FILE,TEXT_FILE of a set only reported"
    )
    parser.add_argument(
        "--max_infeasible",
        type=float,
        default=0.05,
        help="Largest fraction of a checked set's utterances that may be too short for CTC (default 0.05)",
    )
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    frontend, name = build_frontend(train_args)
    if frontend is None or not hasattr(frontend, "output_lengths"):
        logging.warning(f"frontend {name} has no output_lengths; CTC feasibility not checked before training")
        return []
    description = frontend_description(frontend)
    reports, failures = [], []
    for option, specs in (("--check", args.check), ("--report", args.report)):
        for spec in specs:
            set_name, shape_file, text_file = parse_set(spec, option)
            report = check_set(
                set_name, read_lengths(shape_file), read_labels(text_file, args.token_list), frontend.output_lengths
            )
            reports.append(report)
            print(f"[ctc feasibility] {description} {report.summary()}")
            if option == "--check" and report.fraction > args.max_infeasible:
                failures.append(report)
    if failures:
        worst = max(failures, key=lambda r: r.fraction)
        raise SystemExit(
            f"{worst.name}: {100 * worst.fraction:.1f} % of the utterances are too short for CTC with {description} "
            f"(allowed: {100 * args.max_infeasible:.1f} %); CTC would give them zero loss and no gradient. "
            "Lower frontend_conf.stride (more output frames per second) or kernel_size in the training config, "
            "or raise --ctc_max_infeasible if these utterances are expected."
        )
    return reports


if __name__ == "__main__":
    main()
