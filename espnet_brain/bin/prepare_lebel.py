"""Kaldi-style story-level data directories from the LeBel et al. (2023) corpus (OpenNeuro ds003020).

Reads the dataset as published (or the synthetic corpus in the same layout)::

    <corpus>/stimuli/<story>.wav
    <corpus>/derivative/TextGrids/<story>.TextGrid
    <corpus>/derivative/respdict.json                           {story: N TRs acquired}
    <corpus>/derivative/preprocessed_data/<subject>/<story>.hf5 "data" (N - 20, V); the test story also holds
                                                                "individual_repeats" (R, N - 20, V)

and writes, per set, ``<dst>/<set>/``: ``wav.scp`` (story -> wav), ``resp.scp`` (story -> response file: ``.hf5``
or a 4-D NIfTI), ``textgrid.scp``, ``num_trs`` (story -> N), ``utt2spk``/``spk2utt`` (story -> subject) and, for
the test set, ``repeats.scp`` (story -> file(s) of the repeated presentations). Every story is checked before
anything is written: files exist, the TextGrid parses (an error names the file), the response rows match
``N - 20`` and the audio length matches N (the grid of N - 5 TRs from 10 s before the audio must cover it).

With ``--responses nifti``, the responses are 4-D NIfTI runs inside a 3-D ``--brain_mask``, found with
``--nifti_template``: a path with ``{root}``, ``{subject}``, ``{story}`` that may hold glob wildcards. The default
reads the dataset's own BIDS layout, every session and run::

    <corpus>/sub-<subject>/ses-*/func/sub-<subject>_ses-*_task-<story>[_run-K]_bold.nii.gz

A story with several runs (the test story's ``_run-K`` repeats) gets ``<dst>/<set>/responses/<story>.hf5``, laid out
like the published files: "data" (N - 20, V), the mean of the runs, and "individual_repeats" (R, N - 20, V), kept for
the noise ceiling (voxels in the brain mask's C order, runs trimmed to ``[10:-10]`` when they have N volumes).
The checks and the writing are ``espnet_brain.data.lebel_prepare``.

Example::

    python -m espnet_brain.bin.prepare_lebel --corpus /data/ds003020 --subject UTS01 --dst data \\
        --test_stories wheretheressmoke --n_dev 2
    python -m espnet_brain.bin.prepare_lebel --corpus /data/ds003020 --subject UTS01 --dst data \\
        --responses nifti --brain_mask /data/UTS01_mask.nii.gz
"""

import argparse
import logging
import sys
from typing import List, Optional, Sequence

from espnet_brain.data.lebel import TEST_STORY
from espnet_brain.data.lebel_prepare import BIDS_TEMPLATE, prepare
from espnet_brain.voxelwise.timing import TR


def _names(value: str) -> List[str]:
    return [s for s in value.replace(",", " ").split() if s]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="ds003020 root (the directory holding stimuli/, derivative/)")
    parser.add_argument("--subject", default="UTS01")
    parser.add_argument("--dst", required=True, help="writes DST/train, DST/dev, DST/test")
    parser.add_argument("--test_stories", type=_names, default=[TEST_STORY])
    parser.add_argument("--dev_stories", type=_names, default=[], help="validation stories (default: --n_dev)")
    parser.add_argument("--n_dev", type=int, default=1, help="the last N training stories (sorted) validate")
    parser.add_argument("--stories", type=_names, default=None, help="use only these stories (default: all)")
    parser.add_argument("--responses", choices=["hf5", "nifti"], default="hf5")
    parser.add_argument(
        "--nifti_template",
        default=None,
        help="path of a story's 4-D NIfTI run(s) with {root}, {subject}, {story}; glob wildcards match several runs "
        "(sessions, _run-K repeats), averaged into DST/<set>/responses/<story>.hf5 and kept as the test story's "
        f"repeats (default: ds003020's BIDS layout, {BIDS_TEMPLATE}). The runs are averaged as stored: give runs "
        "aligned to the brain mask (e.g. a preprocessed derivative in the same layout)",
    )
    parser.add_argument(
        "--repeats_template",
        default=None,
        help="glob of the test story's repeated NIfTI runs, when --nifti_template matches one file for it",
    )
    parser.add_argument("--brain_mask", default=None, help="3-D NIfTI; its non-zero voxels are the voxels (nifti)")
    parser.add_argument("--roi_file", default=None, help="JSON {roi: [voxel indices]}, copied to DST/rois.json")
    parser.add_argument("--tolerance_s", type=float, default=2 * TR, help="audio length vs TR count tolerance (s)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(name)s) %(levelname)s: %(message)s")
    try:
        prepare(**vars(args))
    except ValueError as e:
        print(f"prepare_lebel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
