#!/usr/bin/env bash
# Data preparation for Brain-to-text '25 (Card et al. 2024): Kaldi-style data/{train,dev,test,holdout} from
# the session files hdf5_data_final/<session>/data_{train,val,test}.hdf5. Features are read later, by the
# dump stage (brain_asr.sh stage 2, --feature_set).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data directories data/{train,dev,test,holdout} (dev: the last block of each session's data_train.hdf5)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
corpus=                 # t15_copyTask_neuralData (or its hdf5_data_final directory).
dev_blocks=last         # last: the last block of each session's data_train.hdf5 is the dev set; none: no dev set.
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice dev_blocks last none

. ./path.sh

if [ -z "${corpus}" ]; then
    die "no corpus: set BRAIN2TEXT25 in db.sh (or export it) to the unzipped t15_copyTask_neuralData directory (hdf5_data_final/<session>/data_{train,val,test}.hdf5). Get it from Dryad, doi:10.5061/dryad.dncjsxm85 (https://doi.org/10.5061/dryad.dncjsxm85, file t15_copyTask_neuralData.zip)"
fi

if run_stage 1; then
    # Checks the corpus first and names what is missing (and where to get it).
    # Sets: train/dev from data_train.hdf5, test = data_val.hdf5 (labelled), holdout = data_test.hdf5 (unlabelled).
    python3 -m espnet_brain.bin.prepare_brain2text25 --corpus "${corpus}" --dst data --dev_blocks "${dev_blocks}"
fi
