#!/usr/bin/env bash
# Data preparation for an iEEG-BIDS dataset (SEEG/ECoG, sentences in events.tsv): high-gamma features per
# recording (data/local/features/*.hdf5) and Kaldi-style data/{train,dev,test}.
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "High-gamma features and data directories data/{train,dev,test} (python -m espnet_brain.bin.prepare_ieeg_bids)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
bids_root=              # Root of the iEEG-BIDS dataset.
task=                   # BIDS task to read (empty: every task).
subjects=               # Comma-separated subject labels (empty: all), e.g. 01,03.
ch_types=seeg,ecog      # Channel types to keep.
reref=none              # Re-referencing: none, average or bipolar.
band_low=70             # Lower edge of the high-gamma band (Hz).
band_high=170           # Upper edge of the high-gamma band (Hz).
sfreq=50                # Feature rate (Hz); 50 gives the 20 ms bins of the brain feature extractor.
trial_type=sentence     # events.tsv trial_type of the sentences.
text_column=sentence    # events.tsv column with the sentence text.
split_column=           # events.tsv column with train/dev/test (empty: split by sentence text).
dev_fraction=0.1        # Without split_column: fraction of the distinct sentences for dev.
test_fraction=0.1       # Without split_column: fraction of the distinct sentences for test.
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice reref none average bipolar

. ./path.sh

if [ -z "${bids_root}" ]; then
    die "no dataset: set IEEG_BIDS in db.sh (or export it) to the root of an iEEG-BIDS dataset: sub-*/[ses-*/]ieeg/*_ieeg.{vhdr,edf,fif,nwb,set} with channels.tsv (bad channels) and events.tsv (onset, duration and the sentence text of each sentence). Public iEEG datasets in BIDS are on OpenNeuro (https://openneuro.org); MNE-BIDS (https://mne.tools/mne-bids) converts others."
fi

if run_stage 1; then
    opts=()
    [ -z "${task}" ] || opts+=(--task "${task}")
    [ -z "${subjects}" ] || opts+=(--subjects "${subjects}")
    [ -z "${split_column}" ] || opts+=(--split_column "${split_column}")
    python3 -m espnet_brain.bin.prepare_ieeg_bids --bids_root "${bids_root}" --dst data \
        --feats_dir data/local/features --ch_types "${ch_types}" --reref "${reref}" \
        --band "${band_low}" "${band_high}" --sfreq "${sfreq}" --trial_type "${trial_type}" \
        --text_column "${text_column}" --dev_fraction "${dev_fraction}" --test_fraction "${test_fraction}" \
        "${opts[@]}"
fi
