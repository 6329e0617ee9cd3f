#!/usr/bin/env bash
# Data preparation for LeBel et al. (2023) (OpenNeuro ds003020): story-level data directories
# data/{train,dev,test} for one subject, with wheretheressmoke (and its repeats, for the noise ceiling) as the test.
# Responses are the preprocessed .hf5 files (derivative/preprocessed_data/<subject>/), or 4-D NIfTI runs inside a
# brain mask (--responses nifti), by default from the dataset's own BIDS layout (sub-<subject>/ses-*/func/, every
# session and run; a story's runs are averaged and the test story's repeats kept for the noise ceiling).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data directories data/{train,dev,test} (python -m espnet_brain.bin.prepare_lebel)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
corpus=                 # The ds003020 root (holding stimuli/ and derivative/).
subject=UTS01           # Subject (UTS01..UTS08).
test_stories=wheretheressmoke  # Held-out stories (space or comma separated).
n_dev=2                 # Training stories held out for validation (the last ones in sorted order).
stories=""              # Only these stories (default: every story with responses for the subject).
responses=hf5           # hf5 (preprocessed_data) or nifti.
nifti_template=""       # NIfTI run(s) of a story: {root}, {subject}, {story} and glob wildcards (empty: BIDS layout).
repeats_template=""     # Glob of the test story's repeats when nifti_template matches one run (responses=nifti).
brain_mask=""           # 3-D NIfTI brain mask; its voxels are the voxels (responses=nifti).
roi_file=""             # Optional JSON {roi: [voxel indices]} for per-ROI scores.
dst=data                # Where the data directories go (data_<subject> for a cross-subject transfer subject).
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice responses hf5 nifti

. ./path.sh

if [ -z "${corpus}" ]; then
    die "no corpus: set LEBEL2023 in db.sh (or export it) to a copy of OpenNeuro ds003020 (https://openneuro.org/datasets/ds003020) with stimuli/, derivative/TextGrids/, derivative/respdict.json and derivative/preprocessed_data/${subject}/, e.g. aws s3 sync --no-sign-request s3://openneuro.org/ds003020 DIR"
fi

if run_stage 1; then
    args=(--corpus "${corpus}" --subject "${subject}" --dst "${dst}" --test_stories "${test_stories}" --n_dev "${n_dev}"
        --responses "${responses}")
    [ -z "${stories}" ] || args+=(--stories "${stories}")
    [ -z "${nifti_template}" ] || args+=(--nifti_template "${nifti_template}")
    [ -z "${repeats_template}" ] || args+=(--repeats_template "${repeats_template}")
    [ -z "${brain_mask}" ] || args+=(--brain_mask "${brain_mask}")
    [ -z "${roi_file}" ] || args+=(--roi_file "${roi_file}")
    # Checks the corpus first and names what is missing (and where to get it).
    python3 -m espnet_brain.bin.prepare_lebel "${args[@]}"
fi
