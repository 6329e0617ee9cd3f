#!/usr/bin/env bash
# Data preparation for mini_brain enc1: generate the synthetic LeBel-format corpus (if needed), then the
# story-level data directories data/{train,dev,test} with the same reader as the real corpus (egs2/lebel2023/enc1).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Generate the synthetic corpus's fMRI part (python -m espnet_brain.bin.simulate)"
define_stage 2 "Data directories data/{train,dev,test} (python -m espnet_brain.bin.prepare_lebel)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
corpus=downloads/mini_brain  # Where the corpus is (or will be) written.
preset=small            # Corpus size: tiny, small or bench.
seed=0                  # Corpus seed.
subject=UTS01           # Simulated subject.
n_dev=1                 # Training stories held out for validation.
dst=data                # Where the data directories go (data_<subject> for a cross-subject transfer subject).
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages

. ./path.sh

if run_stage 1; then
    # ensure_corpus keeps a corpus generated earlier with the same preset, seed and knobs.
    python3 - "${corpus}" "${preset}" "${seed}" <<'PY'
import sys
from espnet_brain.simulate import ensure_corpus
manifest = ensure_corpus(sys.argv[1], sys.argv[2], int(sys.argv[3]), parts=["fmri"])
print(f"{sys.argv[1]}: preset {manifest['preset']}, seed {manifest['seed']}, parts {manifest['parts']}", file=sys.stderr)
PY
fi

if run_stage 2; then
    # The simulator's ROI table (voxel kinds auditory_primary, speech, semantic, mixed_*, noise, and the group
    # auditory) goes along for per-ROI scores.
    python3 -m espnet_brain.bin.prepare_lebel --corpus "${corpus}/lebel2023" --subject "${subject}" --dst "${dst}" \
        --test_stories wheretheressmoke --n_dev "${n_dev}" \
        --roi_file "${corpus}/lebel2023/derivative/ground_truth/${subject}/roi.json"
fi
