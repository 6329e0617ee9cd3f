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
define_stage 6 "BFE window and projection chosen on dev with --bfe_grid (bfe_choice.sh; runs right after stage 1)"

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
extra_modes=""          # More transfer modes trained in stage 4 after frozen: adapter (LoRA in the frozen
                        # transformer), whisper (Whisper's encoder, --whisper_model), bfe (the BFE-only control).
whisper_model=whisper-base  # Whisper of --extra_modes whisper (installed: whisper-base, whisper-tiny.en; hub id; dir).
confdir=conf            # Training configs: conf (the reference setting) or conf/tiny (the test-suite variant).
freeze_epochs=7         # Epochs the pretrained transformer is held (scheduler freeze_steps, from the data size).
warmup_epochs=4         # Epochs of its linear warm-up afterwards (scheduler warmup_steps).
decoders=greedy         # CTC decoders, any of: greedy beam token_lm ngram ngram_llm (brain_asr.sh).
llm=none                # Causal LM of ngram_llm (hub id or local directory).
causal=false            # Train the streaming (causal) variant of each mode (conf/train_brain_<mode>_causal.yaml).
asr_args=""             # Extra trainer arguments for every mode, e.g. "--max_epoch 3".
bfe_grid=               # Grid YAML of BFE frontend_conf keys (e.g. conf/bfe_small_corpus.yaml: kernel_size x
                        # window_projection): stage 6 trains the BFE-only control once per point for
                        # --bfe_grid_epochs, and every mode then trains the BFE of the lowest dev loss. For small
                        # corpora; empty: the configs' BFE (the reference shape, built for 8.8k sentences).
bfe_grid_epochs=10      # Epochs of each short run of --bfe_grid.
# end options

help_message="Usage: $0 [options]
iEEG-BIDS sentences: high-gamma features, GRU brain feature extractor + pretrained Wav2Vec2 in three transfer
modes.
$(options_help "$0")"
run_args=$([ $# -eq 0 ] || printf ' %q' "$@")  # this run's options, for the command an error gives
. utils/parse_options.sh
check_stages
require_choice reref none average bipolar
require_int freeze_epochs 0
require_int warmup_epochs 0

. ./path.sh
. ./db.sh
[ -n "${bids_root}" ] || bids_root=${IEEG_BIDS}

# One dump directory and experiment name per feature definition (dump/<feat_tag>,
# exp/asr_brain_<mode>_<feat_tag>): changing the band, rate or reference never reuses features or a model of
# another input.  Features were z-scored over each whole recording when they were computed (stage 1).
feat_tag=hg${band_low}-${band_high}_${sfreq}hz_${reref}
# The transformer's freeze and warm-up are given in epochs (brain_asr.sh turns them into updates from the
# training set size), since iEEG datasets differ widely in size.
common=(--ngpu "${ngpu}" --nj "${nj}" --decoders "${decoders}" --llm "${llm}" --causal "${causal}" --feature_set all --zscore none --tag "${feat_tag}"
    --train_set train --valid_set dev --test_sets test --pretrained_model "${pretrained_model}"
    --confdir "${confdir}")

if run_stage 1; then
    local/data.sh --bids_root "${bids_root}" --task "${task}" --subjects "${subjects}" --ch_types "${ch_types}" \
        --reref "${reref}" --band_low "${band_low}" --band_high "${band_high}" --sfreq "${sfreq}" \
        --trial_type "${trial_type}" --text_column "${text_column}" --split_column "${split_column}" \
        --dev_fraction "${dev_fraction}" --test_fraction "${test_fraction}"
fi

# Stage 6 runs before the training stages (2-4): with --bfe_grid, the BFE's window and projection are chosen on dev
# from short runs of the BFE-only control (TEMPLATE/utils/bfe_choice_stage.sh, TEMPLATE/asr1/bfe_choice.sh).
. utils/bfe_choice_stage.sh
bfe_dir=$(bfe_choice_dir "${feat_tag}")
if run_stage 6; then
    run_bfe_choice "${bfe_dir}" "${common[@]}"
fi
set_mode_asr_args "${bfe_dir}" 6

mode_stages=("2 full" "3 scratch" "4 frozen")
for mode in ${extra_modes}; do mode_stages+=("4 ${mode}"); done
for mode_stage in "${mode_stages[@]}"; do
    read -r n mode <<<"${mode_stage}"
    if run_stage "${n}"; then
        mode_model=()
        [ "${mode}" != whisper ] || mode_model=(--pretrained_model "${whisper_model}")
        ./brain_asr.sh "${common[@]}" "${mode_model[@]}" --mode "${mode}" --freeze_epochs "${freeze_epochs}" \
            --warmup_epochs "${warmup_epochs}" --asr_args "${mode_asr_args}" --stage 2 --stop_stage 8
    fi
done

if run_stage 5; then
    ./brain_asr.sh "${common[@]}" --stage 9 --stop_stage 9 --results_title \
        "iEEG test set (high gamma ${band_low}-${band_high} Hz, ${sfreq} Hz, reref ${reref})"
fi

log "done"
