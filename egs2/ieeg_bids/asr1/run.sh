#!/usr/bin/env bash
# ieeg_bids asr1: brain-to-text on any iEEG-BIDS dataset of spoken (or attempted) sentences, SEEG or ECoG.
#
# High-gamma envelopes (configurable band and re-referencing, resampled to 20 ms bins, segmented by
# events.tsv) feed the GRU brain feature extractor (BFE) in front of a pretrained Wav2Vec2 transformer and its
# character CTC head, in three transfer modes that differ only in the encoder mode and the CTC init: full
# fine-tuning, the same architecture from scratch, and a frozen pretrained transformer. Each subject session
# is a "day" with its own input layer. Stage 5 compares the modes on the test set.
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "High-gamma features and data directories data/{train,dev,test} (local/data.sh)"
define_stage 2 "Brain decoder, full fine-tuning of the pretrained transformer"
define_stage 3 "Brain decoder, same architecture from scratch"
define_stage 4 "Brain decoder, frozen pretrained transformer"
define_stage 5 "RESULTS.md: the transfer modes on the test set"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "3 4".
ngpu=0                  # GPUs for training.
nj=4                    # Threads for dumping.
# Data (see local/data.sh --help)
bids_root=              # Root of the iEEG-BIDS dataset (default: IEEG_BIDS from db.sh).
task=                   # BIDS task to read (empty: every task).
subjects=               # Comma-separated subject labels (empty: all); all must keep the same channel count.
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
# Model
pretrained_model=facebook/wav2vec2-base-960h  # Hub id or local directory of a Wav2Vec2ForCTC checkpoint.
confdir=conf            # Training configs: conf (the reference setting) or conf/tiny (the test-suite variant).
freeze_epochs=7         # Epochs the pretrained transformer is held (scheduler freeze_steps, from the data size).
warmup_epochs=4         # Epochs of its linear warm-up afterwards (scheduler warmup_steps).
decoding=greedy         # greedy or beam.
asr_args=""             # Extra trainer arguments for every mode, e.g. "--max_epoch 3".
# end options

help_message="Usage: $0 [options]
iEEG-BIDS sentences: high-gamma features, GRU brain feature extractor + pretrained Wav2Vec2 in three transfer
modes.
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice reref none average bipolar
require_int freeze_epochs 0
require_int warmup_epochs 0

. ./path.sh
. ./db.sh
[ -n "${bids_root}" ] || bids_root=${IEEG_BIDS}

# One dump directory and experiment name per feature definition: changing the band, rate or reference never
# reuses features or a model of another input.
feat_tag=hg${band_low}-${band_high}_${sfreq}hz_${reref}
dumpdir=dump/${feat_tag}
# Features were z-scored over each whole recording when they were computed (stage 1).
common=(--ngpu "${ngpu}" --nj "${nj}" --decoding "${decoding}" --feats_type neural --feature_set all
    --zscore none --dumpdir "${dumpdir}" --train_set train --valid_set dev --test_sets test
    --pretrained_model "${pretrained_model}")

tag_of() { echo "brain_${1}_${feat_tag}"; }

# Dump, tokens, pretrained check, statistics, training, decoding and scoring of one transfer mode.
train_mode() {
    local mode=$1 tag config dim n_days n_train batch_size per_epoch init
    tag=$(tag_of "${mode}")
    config=${confdir}/train_brain_${mode}.yaml
    ./brain_asr.sh "${common[@]}" --asr_config "${config}" --asr_tag "${tag}" --stage 2 --stop_stage 4
    # Input size and day count come from the data; the transformer's freeze and warm-up are given in epochs
    # and turned into updates here, since iEEG datasets differ widely in size.
    dim=$(head -n 1 "${dumpdir}/neural/train/feats_shape" | cut -d ' ' -f 2 | cut -d , -f 2)
    n_days=$(wc -l <data/train/days)
    n_train=$(wc -l <"${dumpdir}/neural/train/feats_shape")
    batch_size=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["batch_size"])' "${config}")
    per_epoch=$(((n_train + batch_size - 1) / batch_size))
    init="--encoder_conf model_name_or_path=${pretrained_model}"
    # Full fine-tuning and the frozen mode start from the pretrained character head; scratch does not.
    [ "${mode}" = scratch ] || init="${init} --ctc_init ${pretrained_model}"
    log "${mode}: ${dim} channels, ${n_days} subject sessions, ${n_train} training sentences (${per_epoch} updates/epoch)"
    ./brain_asr.sh "${common[@]}" --asr_config "${config}" --asr_tag "${tag}" --stage 5 --stop_stage 8 \
        --asr_args "--frontend_conf input_size=${dim} --frontend_conf n_days=${n_days} ${init}
            --scheduler_conf freeze_steps=$((freeze_epochs * per_epoch))
            --scheduler_conf warmup_steps=$((warmup_epochs * per_epoch)) ${asr_args}"
}

if run_stage 1; then
    local/data.sh --bids_root "${bids_root}" --task "${task}" --subjects "${subjects}" --ch_types "${ch_types}" \
        --reref "${reref}" --band_low "${band_low}" --band_high "${band_high}" --sfreq "${sfreq}" \
        --trial_type "${trial_type}" --text_column "${text_column}" --split_column "${split_column}" \
        --dev_fraction "${dev_fraction}" --test_fraction "${test_fraction}"
fi

for mode_stage in "2 full" "3 scratch" "4 frozen"; do
    read -r n mode <<<"${mode_stage}"
    if run_stage "${n}"; then
        train_mode "${mode}"
    fi
done

if run_stage 5; then
    hyps=()
    for mode_name in "full:full fine-tune" "scratch:from scratch" "frozen:frozen transformer"; do
        hyp=exp/asr_$(tag_of "${mode_name%%:*}")/decode_test/text
        if [ -f "${hyp}" ]; then
            hyps+=(--hyp "${mode_name#*:}=${hyp}")
        else
            log "no ${hyp}: mode ${mode_name%%:*} left out of the table"
        fi
    done
    [ ${#hyps[@]} -gt 0 ] || die "no decoded test set under exp/; run stages 2-4 first"
    python3 -m espnet_brain.bin.score --out "exp/RESULTS_${feat_tag}.md" --ref data/test/text "${hyps[@]}" \
        --title "iEEG test set (high gamma ${band_low}-${band_high} Hz, ${sfreq} Hz, reref ${reref}), ${decoding} CTC, no LM"
fi

log "done"
