"""Training curves of several ESPnet runs side by side: a plot and a table of how steadily each one learned.

BrainWavLM reports that LoRA fine-tuning is more stable than tuning without it; this program puts the runs of the
arms (LoRA, head only, full fine-tuning) on one figure, from the per-epoch statistics each run's
``checkpoint.pth`` holds (:mod:`espnet_brain.tasks.reporter`), and writes per run: the best dev value and its
epoch, the last, the number of epochs that got worse than the one before and the largest such rise.

Writes ``<out>.png`` (dev and training curves) and ``<out>.md`` (the table).

Example::

    python -m espnet_brain.bin.plot_training_curves --run "LoRA=exp/enc_lora" --run "head only=exp/enc_lora_head" \\
        --out exp/plots/training_curves
"""

import argparse
import os
import sys
from typing import List, Optional, Sequence, Tuple

from espnet_brain.tasks.reporter import curve, read_epoch_stats, stability


def _run(value: str) -> Tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--run {value!r}: expected NAME=RUN_DIR")
    return name, path


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=_run, action="append", required=True, help="NAME=RUN_DIR (with checkpoint.pth)")
    parser.add_argument("--key", default="loss", help="the reporter statistic to plot (train and valid)")
    parser.add_argument("--out", required=True, help="output prefix: <out>.png and <out>.md")
    parser.add_argument("--title", default="training curves")
    return parser


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    runs = []
    for name, path in args.run:
        try:
            stats = read_epoch_stats(path)
        except ValueError as err:
            print(f"plot_training_curves: {name}: {err}", file=sys.stderr)
            return 1
        valid = curve(stats, "valid", args.key)
        if not valid:
            print(f"plot_training_curves: {name}: {path} has no valid/{args.key}", file=sys.stderr)
            return 1
        runs.append((name, curve(stats, "train", args.key), valid))

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    lines: List[str] = [
        f"# {args.title}",
        "",
        f"Dev {args.key} per run (ESPnet reporter of each run's checkpoint.pth). *worse epochs*: epochs whose dev "
        f"{args.key} is above the previous epoch's; *largest rise*: the biggest such step.",
        "",
        f"| run | epochs | best dev {args.key} (epoch) | last | worse epochs | largest rise |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, _, valid in runs:
        s = stability(valid)
        lines.append(
            f"| {name} | {len(valid)} | {_fmt(s['best'])} ({s['best_epoch']}) | {_fmt(s['final'])} | "
            f"{s['n_worse']} | {_fmt(s['max_rise'])} |"
        )
    with open(f"{args.out}.md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (name, train, valid), color in zip(runs, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4):
        axes[0].plot(*zip(*valid), marker="o", color=color, label=name)
        if train:
            axes[1].plot(*zip(*train), marker=".", color=color, label=name)
    for ax, phase in zip(axes, ("dev", "training")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{phase} {args.key}")
        ax.set_title(f"{args.title}: {phase}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{args.out}.png", dpi=100)
    plt.close(fig)
    print(f"{args.out}.md, {args.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
