#!/usr/bin/env bash
# Data preparation for Brain-to-text '24 (Willett et al. 2023): Kaldi-style data/{train,dev,test,holdout}
# from the day files of competitionData/{train,test,competitionHoldOut}. Features are read later, by the
# dump stage (brain_asr.sh stage 2, --feature_set).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data directories data/{train,dev,test,holdout} (dev: the last block of each training day)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
corpus=                 # The competitionData directory (holding train/, test/, competitionHoldOut/).
dev_blocks=last         # last: the last block of each day of train/ is the dev set; none: no dev set.
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice dev_blocks last none

. ./path.sh

if [ -z "${corpus}" ]; then
    die "no corpus: set BRAIN2TEXT24 in db.sh (or export it) to the competitionData directory with train/, test/ and competitionHoldOut/ (one .mat file per day). Get it from Dryad, doi:10.5061/dryad.x69p8czpq (https://doi.org/10.5061/dryad.x69p8czpq, file competitionData.tar.gz)"
fi

if run_stage 1; then
    # Checks the corpus first and names what is missing (and where to get it).
    python3 -m espnet_brain.bin.prepare_willett --corpus "${corpus}" --dst data --dev_blocks "${dev_blocks}"
fi
