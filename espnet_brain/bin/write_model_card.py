"""Write the model card (README.md) and the training log of an exported pretrained speech model.

The card states what a user of the model needs to judge it: the training data (from the corpus
manifest), the architecture and its size, the held-out CER/WER, and the command that reproduces it.

Example::

    python -m espnet_brain.bin.write_model_card --model_dir models/wav2vec2 --exp_dir exp/asr_wav2vec2 \\
        --corpus downloads/broad_speech --model_conf conf/wav2vec2.yaml --train_conf conf/train_wav2vec2.yaml \\
        --test_text data/test/text --test_hyp exp/asr_wav2vec2/decode_test/text --command "./run.sh"
"""

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from espnet_brain.asr.scoring import score
from espnet_brain.data.datadir import read_2columns

# ESPnet's per-epoch summary line: "<n>epoch results: [train] ... [valid] ..., elapsed_time=..."
_EPOCH_LINE = re.compile(r"(\d+)epoch results:")


def epoch_summaries(train_log: str) -> List[str]:
    """The per-epoch result lines of an ESPnet training, one per epoch in epoch order.

    A resumed training leaves its earlier part in the launcher's rotated logs (``train.1.log`` is the previous
    run, ``train.2.log`` the one before), so those are read too, oldest first; an epoch logged twice keeps its
    last summary.
    """
    log = Path(train_log)
    numbered = re.compile(re.escape(log.stem) + r"\.(\d+)" + re.escape(log.suffix) + "$")
    rotated = [(int(m.group(1)), p) for p in log.parent.iterdir() for m in [numbered.match(p.name)] if m]
    by_epoch = {}
    for path in [p for _, p in sorted(rotated, reverse=True)] + [log]:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = _EPOCH_LINE.search(line)
                if m:
                    by_epoch[int(m.group(1))] = line.rstrip("\n")
    return [by_epoch[e] for e in sorted(by_epoch)]


def _weights_mb(model_dir: Path) -> float:
    return sum(p.stat().st_size for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin")) / 2**20


def write_card(args: argparse.Namespace) -> Path:
    model_dir = Path(args.model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    with open(os.path.join(args.corpus, "MANIFEST.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(args.train_conf, encoding="utf-8") as f:
        train_conf = yaml.safe_load(f)
    rates = score(read_2columns(args.test_text), read_2columns(args.test_hyp))
    epochs = epoch_summaries(os.path.join(args.exp_dir, "train.log"))
    (model_dir / "train_log.txt").write_text("\n".join(epochs) + "\n", encoding="utf-8")
    shutil.copy(args.model_conf, model_dir / "shape.yaml")
    shutil.copy(args.train_conf, model_dir / "train.yaml")

    from safetensors.torch import load_file

    n_params = sum(t.numel() for t in load_file(str(model_dir / "model.safetensors")).values())
    splits = manifest["splits"]
    hours = {s: splits[s]["hours"] for s in splits}
    kind = config.get("model_type", "?")
    lines = [
        f"# {model_dir.name}: a small {config.get('architectures', [kind])[0]} trained on synthetic speech",
        "",
        "An offline stand-in for a pretrained speech model, for the mini_brain recipes (no download): character "
        "CTC on eSpeak NG speech, trained from random weights. It knows synthetic English speech, not natural "
        "speech; use a real checkpoint (hub id) when you have a network.",
        "",
        "## Data",
        f"- broad synthetic speech (`espnet_brain.bin.simulate_broad_speech`, seed {manifest['seed']}): "
        f"{splits['train']['utterances']} training sentences ({hours['train']:.2f} h), "
        f"{splits['dev']['utterances']} dev ({hours['dev']:.2f} h), {splits['test']['utterances']} test "
        f"({hours['test']:.2f} h)",
        f"- {manifest['vocabulary']} distinct words (the most frequent English words of wordfreq), "
        f"{len(manifest['voices'])} eSpeak NG voices, rates {manifest['config']['rate_range']} wpm, pitches "
        f"{manifest['config']['pitch_range']}; no sentence of the mini_brain corpora (presets tiny/small/bench, "
        "seeds 0-9)",
        "",
        "## Model",
        f"- {config.get('num_hidden_layers')} transformer layers, width {config.get('hidden_size')}, "
        f"{config.get('num_attention_heads')} heads, feed-forward {config.get('intermediate_size')}; CNN "
        f"{len(config.get('conv_dim', []))} layers x {config.get('conv_dim', [None])[0]} channels (50 frames/s)",
        f"- {n_params:,} parameters, {_weights_mb(model_dir):.1f} MB of weights "
        f"(float32); character vocabulary of {config.get('vocab_size')} tokens",
        f"- training: {len(epochs)} epochs, Adam lr {train_conf['optim_conf']['lr']}, "
        f"{train_conf['scheduler']} ({train_conf.get('scheduler_conf')}), batches of "
        f"{train_conf['batch_bins']} samples; the average of the best checkpoints by validation loss "
        "(`train_log.txt`: one line per epoch; `shape.yaml`, `train.yaml`: the configs)",
        "",
        "## Held-out speech (test split, greedy CTC, no language model)",
        f"- CER {rates.cer:.2f} %, WER {rates.wer:.2f} % on {rates.n_utts} sentences",
        "",
        "## Reproduce",
        "```",
        args.command,
        "```",
        "",
    ]
    path = model_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m espnet_brain.bin.write_model_card", description=__doc__)
    parser.add_argument("--model_dir", required=True, help="exported HF model directory")
    parser.add_argument("--exp_dir", required=True, help="ESPnet experiment directory (train.log)")
    parser.add_argument("--corpus", required=True, help="corpus directory (MANIFEST.json)")
    parser.add_argument("--model_conf", required=True, help="the model's shape config")
    parser.add_argument("--train_conf", required=True, help="the training config")
    parser.add_argument("--test_text", required=True, help="reference text of the held-out set")
    parser.add_argument("--test_hyp", required=True, help="greedy hypotheses of the held-out set")
    parser.add_argument("--command", required=True, help="the command that reproduces the model")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    print(write_card(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
