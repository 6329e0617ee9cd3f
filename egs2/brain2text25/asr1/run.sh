#!/usr/bin/env bash
# brain2text25 asr1: brain-to-text on the Card et al. (2024) intracortical speech data (Brain-to-text '25).
#
# A GRU brain feature extractor (BFE) feeds a pretrained Wav2Vec2 transformer and its character CTC head
# (Fiedler et al. 2025), in three transfer modes that differ only in the encoder mode and the CTC init:
# full fine-tuning, the same architecture from scratch, and a frozen pretrained transformer. Stage 5
# compares them on the test set (the released validation partition, data_val.hdf5); stage 6 decodes the
# unlabelled data_test.hdf5 trials and writes the competition's submission file (id,text CSV).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data directories data/{train,dev,test,holdout} (local/data.sh)"
define_stage 2 "Brain decoder, full fine-tuning of the pretrained transformer"
define_stage 3 "Brain decoder, same architecture from scratch"
define_stage 4 "Brain decoder, frozen pretrained transformer"
define_stage 5 "RESULTS.md: the transfer modes on the test set"
define_stage 6 "Decode the competition test set (data_test.hdf5) and write the submission file"
define_stage 7 "BFE window and projection chosen on dev with --bfe_grid (bfe_choice.sh; runs right after stage 1)"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "3 4".
ngpu=0                  # GPUs for training.
nj=4                    # Threads for dumping.
# Data
corpus=                 # t15_copyTask_neuralData directory (default: BRAIN2TEXT25 from db.sh).
feature_set=all         # all (512), tx_all (256 threshold crossings), sbp_all (256 spike-band powers), tx_sbp_6v (256).
zscore=block            # block (per recording block, each test block with its own statistics), train
                        # (training-set statistics only) or online (running statistics, as a live decoder has;
                        # use it with --causal true).
# Model
pretrained_model=facebook/wav2vec2-base-960h  # Hub id or local directory of a Wav2Vec2ForCTC checkpoint.
extra_modes=""          # More transfer modes trained in stage 4 after frozen: adapter (LoRA in the frozen
                        # transformer), whisper (Whisper's encoder, --whisper_model), bfe (the BFE-only control).
whisper_model=whisper-base  # Whisper of --extra_modes whisper (installed: whisper-base, whisper-tiny.en; hub id; dir).
confdir=conf            # Training configs: conf (the reference setting) or conf/tiny (the test-suite variant).
decoders=greedy         # CTC decoders, any of: greedy beam token_lm ngram ngram_llm (brain_asr.sh).
llm=none                # Causal LM of ngram_llm (hub id or local directory).
causal=false            # Train the streaming (causal) variant of each mode (conf/train_brain_<mode>_causal.yaml).
submit_decoder=greedy   # The decoder whose holdout hypotheses are submitted (one of --decoders).
asr_args=""             # Extra trainer arguments for every mode, e.g. "--max_epoch 3".
bfe_grid=               # Grid YAML of BFE frontend_conf keys (e.g. conf/bfe_small_corpus.yaml: kernel_size x
                        # window_projection): stage 7 trains the BFE-only control once per point for
                        # --bfe_grid_epochs, and every mode then trains the BFE of the lowest dev loss. For small
                        # corpora; empty: the configs' BFE (the reference shape, built for 8.8k sentences).
bfe_grid_epochs=10      # Epochs of each short run of --bfe_grid.
submit_mode=full        # The system whose holdout decoding is submitted: full, scratch or frozen.
# end options

help_message="Usage: $0 [options]
Brain-to-text '25: GRU brain feature extractor + pretrained Wav2Vec2 in three transfer modes, and the
competition submission.
$(options_help "$0")"
run_args=$([ $# -eq 0 ] || printf ' %q' "$@")  # this run's options, for the command an error gives
. utils/parse_options.sh
check_stages
require_choice submit_mode full scratch frozen
require_choice zscore block train online

. ./path.sh
. ./db.sh
[ -n "${corpus}" ] || corpus=${BRAIN2TEXT25}

# brain_asr.sh --mode keeps one dump directory and experiment name per feature set
# (dump/<feature_set>, exp/asr_brain_<mode>_<feature_set>): switching --feature_set never reuses features or a
# model of another input size.
common=(--ngpu "${ngpu}" --nj "${nj}" --decoders "${decoders}" --llm "${llm}" --causal "${causal}" --feature_set "${feature_set}" --zscore "${zscore}"
    --train_set train --valid_set dev --pretrained_model "${pretrained_model}" --confdir "${confdir}")

if run_stage 1; then
    local/data.sh --corpus "${corpus}"
fi

# Stage 7 runs before the training stages (2-4): with --bfe_grid, the BFE's window and projection are chosen on dev
# from short runs of the BFE-only control (TEMPLATE/utils/bfe_choice_stage.sh, TEMPLATE/asr1/bfe_choice.sh).
. utils/bfe_choice_stage.sh
feat_tag=${feature_set}
[ "${zscore}" = block ] || feat_tag=${feat_tag}_zscore${zscore}  # brain_asr.sh's --mode naming
bfe_dir=$(bfe_choice_dir "${feat_tag}")
if run_stage 7; then
    run_bfe_choice "${bfe_dir}" "${common[@]}"
fi
set_mode_asr_args "${bfe_dir}" 7

mode_stages=("2 full" "3 scratch" "4 frozen")
for mode in ${extra_modes}; do mode_stages+=("4 ${mode}"); done
for mode_stage in "${mode_stages[@]}"; do
    read -r n mode <<<"${mode_stage}"
    if run_stage "${n}"; then
        mode_model=()
        [ "${mode}" != whisper ] || mode_model=(--pretrained_model "${whisper_model}")
        ./brain_asr.sh "${common[@]}" "${mode_model[@]}" --mode "${mode}" --test_sets test --asr_args "${mode_asr_args}" --stage 2 \
            --stop_stage 8
    fi
done

if run_stage 5; then
    ./brain_asr.sh "${common[@]}" --test_sets test --stage 9 --stop_stage 9 \
        --results_title "Brain-to-text '25 test set (data_val, ${feature_set})"
fi

if run_stage 6; then
    # Decode the holdout set with the --submit_mode system and write the submission (TEMPLATE/asr1/brain_submit.sh).
    ./brain_submit.sh --format brain2text25 --holdout_source "data_test.hdf5 files" --submit_mode "${submit_mode}" \
        --submit_decoder "${submit_decoder}" --decoders "${decoders}" --feature_set "${feature_set}" \
        --zscore "${zscore}" --causal "${causal}" -- "${common[@]}"
fi

log "done"
