"""Linear probes of stimulus features: how well each layer of each feature set (e.g. a frozen and a brain-tuned
speech model) linearly predicts families of interpretable targets (acoustic, phonemic, semantic) on the same TR grid.

For every ``--feats`` (system, layer) and ``--targets`` family, a ridge probe is fit with leave-one-story-out
cross-validation (:func:`espnet_brain.voxelwise.probes.probe_scores`): features z-scored with the training stories'
statistics, one penalty per target from an inner cross-validation over contiguous chunks of TRs, Pearson r of the
out-of-fold predictions of all stories per target, each story's targets and predictions centred on their own mean.

Features and targets must have the same rows per story. Features on the whole stimulus grid ((N - 5, D), e.g. the
per-layer ``feats.scp`` of ``espnet_brain.bin.fmri_encoding_inference``) can be cut to targets on fewer rows with
``--trim START END`` (rows dropped from the start and the end of every feature array).

With ``--words TEXTGRID_DIR`` the probes are word-level: one row per spoken word. Each ``--feats`` SOURCE is then the
``windows.scp`` that ``fmri_encoding_inference --write_windows`` writes (the features of every window before
resampling, ``window_ends.scp`` beside it); a word's features are the mean of the windows whose last stride overlaps
it, and its targets are its phonemes (counts, from the TextGrid's phone tier, stress digits dropped) and, with
``--embeddings``, its vector. A TR mixes the two or three words heard in it; a word-level probe asks what the model
holds about each word.

Every other system is compared with a reference system (``--reference``, default the first of ``--feats``, e.g. the
frozen model) at each layer both have and for each family (:func:`espnet_brain.voxelwise.probes.compare_probes`):
the difference in mean r with a 95 % interval and p from a paired block bootstrap over the scored TRs
(``--block_trs`` TRs per block, inside stories), and the fraction of targets that gain with Wilcoxon's p over targets.

Writes ``<output_dir>/probes.json`` (every system, layer and family: mean r and r per target; the comparisons),
``probes.md`` (mean r, rows system/layer, columns families; then the comparisons) and ``probes_<family>.png`` (mean r
per layer, one line per system).

Example::

    python -m espnet_brain.bin.probe_features \\
        --feats frozen:3=exp/frozen_layer3/train/feats.scp --feats frozen:6=exp/frozen_layer6/train/feats.scp \\
        --feats tuned:3=exp/tuned_layer3/train/feats.scp --feats tuned:6=exp/tuned_layer6/train/feats.scp \\
        --targets acoustic=lebel2023/derivative/ground_truth/UTS01/features:0-7 \\
        --targets semantic=lebel2023/derivative/ground_truth/UTS01/features:9- \\
        --stories $(cut -d' ' -f1 exp/frozen_layer3/train/feats.scp) --output_dir exp/probes

(per-layer features as ``fmri_encoding_inference --layer 3 6 --output_dir 'exp/frozen_layer{layer}/train'`` writes
them; the simulator's ground-truth features are 8 acoustic bands, the word rate, then the word embedding).
"""

import argparse
import dataclasses
import logging
import sys
from typing import Optional, Sequence

from espnet_brain.voxelwise.probe_report import write_probe_report
from espnet_brain.voxelwise.probe_runs import ProbeConfig, run_probes
from espnet_brain.voxelwise.ridge import HUTH_ALPHAS, parse_alphas


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--feats",
        action="append",
        required=True,
        help="NAME:LAYER=SOURCE (repeated): features of system NAME (e.g. frozen, tuned) at layer LAYER (an int); "
        "SOURCE an .scp or a directory of <story>.npy",
    )
    parser.add_argument(
        "--targets",
        action="append",
        default=[],
        help="FAMILY=SOURCE[:COLS] (repeated): targets of family FAMILY (e.g. acoustic); COLS selects columns: "
        "'0-31', '33-', '5', '0-3,7' (inclusive ranges)",
    )
    parser.add_argument(
        "--words",
        default=None,
        metavar="TEXTGRID_DIR",
        help="word-level probes: one row per spoken word instead of per TR. Each --feats SOURCE is then a windows.scp "
        "of fmri_encoding_inference --write_windows (window_ends.scp beside it); the targets are each word's "
        "phonemes (from the phone tier of TEXTGRID_DIR/<story>.TextGrid) and, with --embeddings, its embedding",
    )
    parser.add_argument(
        "--embeddings",
        default=None,
        help="with --words: word vectors (text 'word v1 v2 ...' or .npz of words/vectors), the semantic target",
    )
    parser.add_argument("--stories", nargs="+", default=None, help="probe only these stories (default: all)")
    parser.add_argument(
        "--trim",
        nargs=2,
        type=int,
        default=None,
        metavar=("START", "END"),
        help="drop START rows from the start and END from the end of every feature array (e.g. 10 5: the stimulus "
        "grid cut to the response rows); default: none, and feature and target rows must match",
    )
    parser.add_argument(
        "--alphas",
        type=parse_alphas,
        default=list(HUTH_ALPHAS),
        help="ridge penalties, himalaya/scikit-learn convention: list or 'logspace(a,b,n)' (default logspace(2,8,10))",
    )
    parser.add_argument("--n_inner_splits", type=int, default=5, help="inner cross-validation folds (penalty choice)")
    parser.add_argument(
        "--reference",
        default=None,
        help="system the others are compared with, at each layer both have (default: the first of --feats)",
    )
    parser.add_argument(
        "--block_trs", type=int, default=10, help="TRs (words with --words) per block of the paired bootstrap"
    )
    parser.add_argument("--n_resamples", type=int, default=1000, help="resamples of the paired bootstrap (0: none)")
    parser.add_argument("--output_dir", required=True)
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    config = ProbeConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ProbeConfig)})
    try:
        results, comparisons, reference = run_probes(config)
    except ValueError as e:
        print(f"probe_features: {e}", file=sys.stderr)
        return 1
    write_probe_report(args.output_dir, config, results, comparisons, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
