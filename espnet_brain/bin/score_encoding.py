"""Score encoding models on held-out stories: voxelwise r, noise ceiling, normalised r, per ROI, plots, RESULTS.md.

Each ``--system NAME=PATH`` gives predictions per test story (``pred.scp`` or a directory of ``<story>.npy``, rows
as the responses). For each system the voxelwise Pearson r over the test TRs (stories concatenated) is computed
against ``--responses``. The noise ceiling comes from the repeated presentations of the test story
(``--repeats``: (R, T, V)) as Schoppe et al.'s CC_max (``espnet_brain.voxelwise.noise_ceiling``); with
``--ceiling_reference mean`` (default) it is the ceiling of a model scored against the mean of the repeats, which is
what the LeBel ``data`` of the test story is. Normalised r = r / ceiling on voxels whose ceiling exceeds
``--min_ceiling``. Voxels outside ``--voxel_mask`` (voxels with NaN) are left out of every number and counted.

Writes ``--out`` (Markdown: whole cortex and per-ROI tables), ``r_<system>.npy``, ``noise_ceiling.npy`` and, under
``--plot_dir``, a bar plot of every system's mean r per ROI with the noise ceiling and a histogram of voxelwise r per
system (PNG). With ``--control`` (e.g. the log-mel and articulatory ridge), every ``--compare`` system (e.g. each
layer of the speech model) is compared with each control per ROI, with the paired block bootstrap; with
``--partition`` (the output of ``espnet_brain.bin.partition_encoding``) the variance partition's section follows:
per ROI, each feature space's r / ceiling, its unique variance, the shared variance and the winning space (plot).
The scoring and the report are ``espnet_brain.voxelwise.report``.

Example::

    python -m espnet_brain.bin.score_encoding --responses dump/test/stories/response.scp \\
        --repeats dump/test/stories/repeats.scp --voxel_mask dump/voxel_mask.npy --rois dump/rois.json \\
        --system "ridge, frozen features=exp/ridge_frozen/pred.scp" --out exp/RESULTS.md
"""

import argparse
import logging
import sys
from typing import Optional, Sequence, Tuple

from espnet_brain.voxelwise.report import score


def _system(value: str) -> Tuple[str, str]:
    if "=" not in value:
        raise argparse.ArgumentTypeError(f"--system: expected NAME=PATH, got {value!r}")
    name, path = value.rsplit("=", 1)
    return name.strip(), path.strip()


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", required=True, help="test responses: response.scp or directory of .npy")
    parser.add_argument("--system", type=_system, action="append", required=True, help="NAME=PATH of predictions")
    parser.add_argument("--out", required=True, help="Markdown report (e.g. exp/RESULTS.md)")
    parser.add_argument("--repeats", default=None, help="repeats.scp of the test story (R, T, V)")
    parser.add_argument("--voxel_mask", default=None, help=".npy (V,) bool of the voxels to score")
    parser.add_argument("--rois", default=None, help="JSON {roi: [voxel indices]}")
    parser.add_argument("--plot_dir", default=None)
    parser.add_argument("--title", default="fMRI encoding")
    parser.add_argument("--ceiling_reference", choices=["mean", "single"], default="mean")
    parser.add_argument("--min_ceiling", type=float, default=0.2)
    parser.add_argument("--note", action="append", default=[], help="a line added to the report's header")
    parser.add_argument(
        "--brain_mask",
        default=None,
        help="3-D NIfTI mask whose non-zero voxels are the V voxels: glass-brain views in --plot_dir (needs nilearn)",
    )
    parser.add_argument(
        "--brain_mask_order", choices=["C", "F"], default="C", help="order in which the mask's voxels were flattened"
    )
    parser.add_argument(
        "--partition",
        default=None,
        help="output directory of espnet_brain.bin.partition_encoding: adds its section (per ROI: each feature space's "
        "r / ceiling, unique and shared variance, winning space)",
    )
    parser.add_argument(
        "--control",
        action="append",
        default=[],
        help="a control system (e.g. the log-mel ridge; repeatable): the --compare systems (default: all others) are "
        "compared with it per ROI, with the paired block bootstrap",
    )
    parser.add_argument("--compare", action="append", default=[], help="a system compared with the controls")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        score(
            args.responses, args.system, args.out, args.repeats, args.voxel_mask, args.rois, args.plot_dir,
            args.title, args.ceiling_reference, args.min_ceiling, args.note, args.brain_mask, args.brain_mask_order,
            args.partition, args.control, args.compare,
        )  # fmt: skip
    except ValueError as e:
        print(f"score_encoding: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
