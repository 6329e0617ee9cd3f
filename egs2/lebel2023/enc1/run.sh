#!/usr/bin/env bash
# lebel2023 enc1: speech-to-fMRI encoding on LeBel et al. (2023), OpenNeuro ds003020 (set LEBEL2023 in db.sh).
#
# BrainWavLM (Vattikonda et al. 2025): microsoft/wavlm-base-plus, hidden layer 9 read at the end of 4 s windows
# every 0.25 s, Lanczos-resampled to the TRs, FIR delays of 1-4 TRs and a Linear(3072 -> 100 -> voxels) readout,
# LoRA r=4 on q/k/v, trained on 10-TR chunks with minus the spatial correlation, compared with ridge regression on
# the frozen features and refit on the tuned ones; all scored on wheretheressmoke against the noise ceiling of its
# repeats. The hub id needs network (or the Hugging Face cache) once; offline, pass a local directory with
# --pretrained_model DIR (written by save_pretrained).
set -euo pipefail

. utils/stage_utils.sh
. ./db.sh

# begin options
stage=1                 # First stage of brain_enc.sh to run (./brain_enc.sh --help lists them).
stop_stage=9            # Last stage of brain_enc.sh (10 packs the model, 11 transfers it to --transfer_subjects).
subject=UTS01           # Subject.
confdir=conf            # Configs: conf (BrainWavLM settings) or conf/tiny (the test-suite variant).
pretrained_model=microsoft/wavlm-base-plus  # Hub id or local directory of the speech model, or whisper-tiny.en /
                        # whisper-base (the encoder of OpenAI's Whisper, from its installed package).
enc_config=""           # Training config (empty: ${confdir}/train_wavlm_lora.yaml, or for a Whisper
                        # ${confdir}/train_whisper_lora.yaml, train_whisper_base_lora.yaml for whisper-base).
ngpu=1                  # GPUs for training and inference.
ridge_layers=""         # Frozen-feature ridge at these layers too (empty: layer 9 of the config), e.g. "6 9 12".
target_rois=""          # ROIs of the ROI file (local/data.sh --roi_file) to tune a model on alone, besides the
                        # whole cortex (BrainWavLM's auditory-targeted tuning), e.g. "auditory".
transfer_subjects=""    # Stage 11: refit and score ridge on frozen and tuned features for these subjects, e.g.
                        # "UTS02 UTS03" (BrainWavLM's cross-subject claim; their stories must be among --subject's).
no_lora_arms=""         # Arms tuned without LoRA besides it, for the stability comparison: "head", "full" or both.
probe_layers=""         # Stage 12: layers probed (empty: 1 to the layer the config reads).
probe_targets=""        # Stage 12: target families besides the log-mel bands, "FAMILY=SOURCE[:COLS] ..." (per-story
                        # arrays on the stimulus grid, e.g. semantic=DIR_OF_NPY of word embeddings per TR).
probe_words=""          # Stages 4 and 12: the TextGrids directory, for word-level probes too (each word's phonemes
                        # and, with --probe_embeddings, its vector).
probe_embeddings=""     # Stage 12: word vectors ("word v1 v2 ..." text, e.g. GloVe, or .npz of words/vectors).
brain_mask=""           # Stage 9: 3-D NIfTI mapping the voxels into the brain: glass-brain views (needs nilearn).
enc_args=""             # Extra trainer arguments.
ridge_args="--n_targets_batch 10000"  # Extra ridge arguments (voxels per batch keep ~100k voxels in memory).
variance_partition=true # Stage 4: variance partition of the speech model's features, log-mel and articulatory features
                        # of the TextGrids' phone tier (banded ridge, 7 models); its section in RESULTS.md (stage 9).
partition_layer=""      # The speech model's layer in the partition (empty: the config's, or the best of --ridge_layers).
partition_args="--n_targets_batch 10000"  # Extra partition_encoding arguments (e.g. --alphas "logspace(0,8,9)").
local_data_opts=""      # Extra options for local/data.sh, e.g. "--responses nifti --brain_mask mask.nii.gz".
# end options

help_message="Usage: $0 [options]
LeBel et al. 2023 (ds003020): BrainWavLM-style LoRA fine-tuning vs ridge on frozen WavLM (or Whisper) features.
$(options_help "$0")"
. utils/parse_options.sh
. ./path.sh

# is_whisper MODEL
. utils/speech_model.sh

if [ -z "${enc_config}" ]; then
    enc_config=${confdir}/train_wavlm_lora.yaml
    if is_whisper "${pretrained_model}"; then
        enc_config=${confdir}/train_whisper_lora.yaml
        [ "${pretrained_model}" != whisper-base ] || [ ! -f "${confdir}/train_whisper_base_lora.yaml" ] \
            || enc_config=${confdir}/train_whisper_base_lora.yaml
    fi
fi
[ -f "${enc_config}" ] || die "--enc_config ${enc_config} does not exist"
# the experiment is named after the config: enc_wavlm_lora_UTS01, enc_whisper_lora_UTS01, ...
enc_tag=$(basename "${enc_config}" .yaml)
enc_tag=${enc_tag#train_}_${subject}

# Without LEBEL2023, local/data.sh stops with what is missing and where to get it. brain_enc.sh splits the options
# like a command line: printf %q quotes a corpus path with spaces.
data_opts="--subject $(printf %q "${subject}") ${local_data_opts}"
[ -z "${LEBEL2023}" ] || data_opts="--corpus $(printf %q "${LEBEL2023}") ${data_opts}"

./brain_enc.sh --stage "${stage}" --stop_stage "${stop_stage}" --ngpu "${ngpu}" \
    --enc_config "${enc_config}" --enc_tag "${enc_tag}" \
    --pretrained_model "${pretrained_model}" --ridge_layers "${ridge_layers}" --ridge_args "${ridge_args}" \
    --enc_args "${enc_args}" --target_rois "${target_rois}" --transfer_subjects "${transfer_subjects}" \
    --no_lora_arms "${no_lora_arms}" --probe_layers "${probe_layers}" --probe_targets "${probe_targets}" \
    --probe_words "${probe_words}" --probe_embeddings "${probe_embeddings}" --brain_mask "${brain_mask}" \
    --variance_partition "${variance_partition}" --partition_layer "${partition_layer}" \
    --partition_args "${partition_args}" \
    --local_data_opts "${data_opts}" --results_title "LeBel et al. 2023 (ds003020), ${subject}, wheretheressmoke"
