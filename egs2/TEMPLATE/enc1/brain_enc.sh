#!/usr/bin/env bash
# Stage script for speech-to-fMRI encoding models with ESPnet (BrainWavLM-style LoRA fine-tuning of a speech SSL
# model, against ridge regression on its frozen features, scored on a held-out story with a noise ceiling).
# Recipes call it from egs2/<corpus>/enc1 (where utils/, cmd.sh and path.sh are linked).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data preparation (local/data.sh -> data/{train,dev,test}: stories, responses, TR counts)"
define_stage 2 "Pretrained model check (local directory or hub id)"
define_stage 3 "Dumping (16 kHz stories, z-scored responses, NaN voxel mask, chunks of TRs with their audio context)"
define_stage 4 "Ridge on frozen features (pretrained model, per-voxel alpha by CV), log-mel and articulatory controls; variance partition of the three (banded ridge)"
define_stage 5 "Shape statistics (ESPnet collect_stats)"
define_stage 6 "Fine-tuning (ESPnet trainer: LoRA adapters + readout head on chunks of TRs; whole cortex, and each --target_rois)"
define_stage 7 "Inference: fine-tuned features and predictions of every story"
define_stage 8 "Ridge refit on fine-tuned features"
define_stage 9 "Scoring (voxelwise r, noise ceiling, per ROI, against the controls, variance partition, plots -> RESULTS.md)"
define_stage 10 "Packing (espnet_brain.bin.pack_fmri, with espnet2.bin.pack)"
define_stage 11 "Cross-subject transfer (--transfer_subjects: ridge on frozen and tuned features, refit and scored on other subjects)"
define_stage 12 "Probes: per layer, linear probes from frozen and tuned features to acoustic / semantic targets"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "10".
ngpu=0                  # GPUs for training and inference (0: CPU).
num_nodes=1             # Nodes for training (Slurm: set cmd_backend=slurm in cmd.sh).
dumpdir=dump            # Where dumped data go.
expdir=exp              # Where experiments go.
# Data
train_set=train         # Training stories (data/<train_set>).
valid_set=dev           # Validation stories.
test_set="test"         # Held-out story (its repeats give the noise ceiling).
local_data_opts=""      # Options passed to local/data.sh, split like a command line: quote values with spaces.
chunk_trs=10            # TRs per training example (BrainWavLM: 10).
use_voxel_mask=true     # Leave voxels with NaN out of the loss (dump/voxel_mask.npy).
# Model
enc_config=             # Training YAML (frontend, head, model, optimiser).
enc_tag=                # Experiment name (default: the config's file name).
pretrained_model=none   # Hub id or local directory of the speech model (none: the config's model_name_or_path).
enc_args=""             # Extra arguments for the trainer, e.g. "--max_epoch 3".
inference_model=valid.loss.best.pth  # Checkpoint for inference.
# Ridge
ridge_layers=""         # Hidden layers for frozen-feature ridge (empty: the config's layer), e.g. "6 9 12".
target_rois=""          # ROIs to tune a model on alone, besides the whole cortex (stages 6-9), e.g. "auditory".
no_lora_arms=""         # Arms tuned without LoRA besides it (stages 6-9; BrainWavLM's stability comparison): head (the
                        # readout alone on the frozen model) and/or full (every weight but the CNN), e.g. "head full".
probe_layers=""         # Stage 12: layers probed, each at most the layer the tuned models read (empty: 1 to that layer).
probe_targets=""        # Stage 12: target families besides the log-mel bands, "FAMILY=SOURCE[:COLS] ..." (per-story
                        # arrays on the stimulus grid, e.g. word embeddings per TR: semantic=DIR_OF_NPY).
probe_words=""          # Stage 12: a directory of <story>.TextGrid (word and phone tiers) for word-level probes too
                        # (one row per word: its phonemes and, with --probe_embeddings, its vector; in
                        # exp/probes/words). Give it to stage 4 as well, so its frozen pass also writes the window
                        # features that these probes read.
probe_embeddings=""     # Stage 12: word vectors for the word-level probes ("word v1 v2 ..." text or .npz).
transfer_subjects=""    # Subjects the tuned models are transferred to in stage 11 (their data: local/data.sh --subject S
                        # --dst data_S), e.g. "UTS02 UTS03"; each gets <expdir>/transfer_<S>/RESULTS.md.
spectral_baseline=true  # Also fit the ridge on log mel energies (the low-level control; same grid and delays).
spectral_conf=""        # Its settings, e.g. "n_mels=64 f_max=8000" (espnet_brain.fmri.spectral.LogMelWindowFrontend).
articulatory_baseline=true  # Also fit the ridge on articulatory features of the phone tier (de Heer et al. 2017's 22
                        # features per TR, from data/<set>/textgrid.scp; the interpretable control).
variance_partition=true # Stage 4: variance partition (banded ridge, joint and subset models) of the speech model's
                        # features with the log-mel and articulatory features -> <expdir>/partition; stage 9 adds its
                        # section (per ROI: each space's r / ceiling, unique variance, winning space) to RESULTS.md.
partition_layer=""      # The speech model's layer in the partition (empty: the config's layer, or of --ridge_layers
                        # the one with the best mean cross-validated r).
partition_args=""       # Extra partition_encoding arguments, e.g. "--alphas logspace(0,8,9)" (with --ngpu > 0 it
                        # runs on himalaya's torch_cuda backend unless these say otherwise).
ridge_args=""           # Extra ridge arguments, e.g. "--chunk_len 20" (--alphas in himalaya units: S/(S^2+alpha)).
# Scoring
extra_systems=""        # More rows for RESULTS.md: "NAME=PATH;NAME=PATH" (pred.scp or a directory of .npy).
results_title="fMRI encoding"  # Title of RESULTS.md.
results_notes=""        # Lines for the header of RESULTS.md, separated by ";".
brain_mask=""           # A 3-D NIfTI mask whose non-zero voxels (C order) are the responses' voxels: glass-brain views
                        # of every system and difference in RESULTS.md's plots (needs nilearn; skipped without it).
                        # Default: the mask of NIfTI responses (data/brain_mask, local/data.sh --brain_mask).
# end options

help_message="Usage: $0 [options]
Speech-to-fMRI encoding recipe stages on top of ESPnet.
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_int ngpu 0
require_int num_nodes 1
require_int chunk_trs 1
require_choice spectral_baseline true false
require_choice articulatory_baseline true false
require_choice variance_partition true false

. ./path.sh
. ./cmd.sh

[ -n "${enc_config}" ] || die "--enc_config is required"
[ -f "${enc_config}" ] || die "--enc_config ${enc_config} does not exist"
[ -n "${enc_tag}" ] || enc_tag=$(basename "${enc_config}" .yaml)
enc_exp=${expdir}/enc_${enc_tag}
stats_dir=${expdir}/enc_stats_${train_set}
all_sets="${train_set} ${valid_set} ${test_set}"

# Arguments shared by every program that builds the model from ${enc_config}.
frontend_override=()
if [ "${pretrained_model}" != none ]; then
    frontend_override=(--frontend_conf "model_name_or_path=${pretrained_model}")
fi

data_args() {
    # ESPnet data triples of the chunks of a training and a validation set.
    local train=$1 valid=$2
    echo --train_data_path_and_name_and_type "${dumpdir}/${train}/wav.scp,speech,sound" \
        --train_data_path_and_name_and_type "${dumpdir}/${train}/response.scp,response,kaldi_ark" \
        --train_data_path_and_name_and_type "${dumpdir}/${train}/tr_start,tr_start,text_float" \
        --valid_data_path_and_name_and_type "${dumpdir}/${valid}/wav.scp,speech,sound" \
        --valid_data_path_and_name_and_type "${dumpdir}/${valid}/response.scp,response,kaldi_ark" \
        --valid_data_path_and_name_and_type "${dumpdir}/${valid}/tr_start,tr_start,text_float"
}

model_args() {
    # Voxel count, voxel mask and ROI table of the dump, and the pretrained model if given.
    local args=(--n_voxels "$(cat "${dumpdir}/n_voxels")")
    if "${use_voxel_mask}"; then
        args+=(--model_conf "voxel_mask_file=${dumpdir}/voxel_mask.npy")
    fi
    if [ -f "${dumpdir}/rois.json" ]; then
        args+=(--model_conf "roi_file=${dumpdir}/rois.json")
    fi
    if [ "${pretrained_model}" != none ]; then
        args+=(--frontend_conf "model_name_or_path=${pretrained_model}")
    fi
    echo "${args[@]}"
}

if run_stage 1; then
    [ -x local/data.sh ] || die "local/data.sh is missing or not executable"
    # Split the options as a shell would: quotes group words (a value may hold spaces or quotes), and globs stay
    # unexpanded (a --nifti_template holds wildcards for prepare_lebel to match).
    data_opts=()
    set -f
    eval "data_opts=(${local_data_opts})" || die "--local_data_opts: cannot split ${local_data_opts} (unbalanced quotes?)"
    set +f
    local/data.sh "${data_opts[@]}"
fi

if run_stage 2; then
    model=${pretrained_model}
    if [ "${model}" = none ]; then
        model=$(python3 -m espnet_brain.bin.config_value "${enc_config}" frontend_conf.model_name_or_path)
    fi
    python3 -m espnet_brain.bin.check_pretrained "${model}"
fi

if run_stage 3; then
    for dset in ${all_sets}; do
        [ -f "data/${dset}/wav.scp" ] || die "data/${dset}/wav.scp does not exist; run stage 1"
    done
    # The chunks carry the audio context the model needs (window, Lanczos support, FIR delays): read from the config.
    # shellcheck disable=SC2086
    ${train_cmd} "${dumpdir}/log/dump.log" \
        python3 -m espnet_brain.bin.dump_encoding --data_root data --sets ${all_sets} \
        --chunk_sets "${train_set}" "${valid_set}" --out "${dumpdir}" --chunk_trs "${chunk_trs}" \
        --train_config "${enc_config}"
    log "$(cat "${dumpdir}/n_voxels") voxels, $(wc -l <"${dumpdir}/nan_voxels.txt") with NaN (masked);" \
        "$(wc -l <"${dumpdir}/${train_set}/wav.scp") training chunks"
fi

# Frozen-feature ridge: one system per layer (the config's layer when ridge_layers is empty), and the spectral
# baseline (log mel energies on the same window grid, through the same resampling, delays and ridge).
ridge_tags=()
if [ -z "${ridge_layers}" ]; then
    ridge_tags=(frozen)
else
    for layer in ${ridge_layers}; do ridge_tags+=("frozen_layer${layer}"); done
fi
"${spectral_baseline}" && ridge_tags+=(logmel)
"${articulatory_baseline}" && ridge_tags+=(articulatory)

if run_stage 4; then
    # The speech model runs once for every requested layer; the spectral features need no model.
    for features in speech logmel; do
        [ "${features}" = speech ] || "${spectral_baseline}" || continue
        feature_args=()
        if [ "${features}" = logmel ]; then
            pattern="${expdir}/feats_logmel"
            feature_args=(--frontend logmel)
            read -r -a spectral_opts <<<"${spectral_conf}"
            for item in "${spectral_opts[@]}"; do feature_args+=(--frontend_conf "${item}"); done
        elif [ -z "${ridge_layers}" ]; then
            pattern="${expdir}/feats_frozen"
            feature_args=("${frontend_override[@]}")
        else
            pattern="${expdir}/feats_frozen_layer{layer}"
            # shellcheck disable=SC2086
            feature_args=(--layer ${ridge_layers} "${frontend_override[@]}")
        fi
        # the window features too, for stage 12's word-level probes to reuse this pass
        [ "${features}" = logmel ] || [ -z "${probe_words}" ] || feature_args+=(--write_windows)
        data_dirs=()
        out_dirs=()
        for dset in ${all_sets}; do
            data_dirs+=("${dumpdir}/${dset}/stories")
            out_dirs+=("${pattern}/${dset}")
        done
        log_dir=${pattern/\{layer\}/s}
        mkdir -p "${log_dir}"
        ${cuda_cmd} --gpu "${ngpu}" "${log_dir}/infer.log" \
            python3 -m espnet_brain.bin.fmri_encoding_inference --train_config "${enc_config}" \
            --data_dir "${data_dirs[@]}" --output_dir "${out_dirs[@]}" --ngpu "${ngpu}" "${feature_args[@]}"
    done
    if "${articulatory_baseline}"; then
        # The phone tier of every story's TextGrid, on the stimulus grid of the extracted features (N - 5 TRs).
        data_dirs=()
        out_dirs=()
        for dset in ${all_sets}; do
            [ -f "data/${dset}/textgrid.scp" ] || die "data/${dset}/textgrid.scp does not exist: no phone tier for the articulatory features (--articulatory_baseline false to go without)"
            data_dirs+=("data/${dset}")
            out_dirs+=("${expdir}/feats_articulatory/${dset}")
        done
        ${train_cmd} "${expdir}/feats_articulatory/features.log" \
            python3 -m espnet_brain.bin.articulatory_features --data_dir "${data_dirs[@]}" --output_dir "${out_dirs[@]}"
    fi
    for tag in "${ridge_tags[@]}"; do
        # shellcheck disable=SC2086
        ${train_cmd} "${expdir}/ridge_${tag}/ridge.log" \
            python3 -m espnet_brain.bin.ridge_encoding \
            --train_feats "${expdir}/feats_${tag}/${train_set}/feats.scp" \
            --train_feats "${expdir}/feats_${tag}/${valid_set}/feats.scp" \
            --train_responses "${dumpdir}/${train_set}/stories/response.scp" \
            --train_responses "${dumpdir}/${valid_set}/stories/response.scp" \
            --test_feats "${expdir}/feats_${tag}/${test_set}/feats.scp" --output_dir "${expdir}/ridge_${tag}" ${ridge_args}
        log "ridge on ${tag} features: ${expdir}/ridge_${tag}/pred.scp"
    done
    if "${variance_partition}"; then
        # The speech model's layer: --partition_layer, the config's, or of --ridge_layers the best by mean CV r.
        speech_tag=frozen
        if [ -n "${partition_layer}" ] && [ -n "${ridge_layers}" ]; then
            speech_tag=frozen_layer${partition_layer}
        elif [ -n "${partition_layer}" ]; then
            config_layer=$(python3 -m espnet_brain.bin.config_value "${enc_config}" frontend_conf.layer)
            [ "${partition_layer}" = "${config_layer}" ] \
                || die "--partition_layer ${partition_layer}: stage 4 extracted the config's layer ${config_layer} only; add it to --ridge_layers"
        elif [ -n "${ridge_layers}" ]; then
            # the layer whose frozen-feature ridge has the best cross-validated score (training stories only)
            # shellcheck disable=SC2046
            speech_tag=$(python3 -m espnet_brain.bin.best_ridge \
                $(for layer in ${ridge_layers}; do echo "${expdir}/ridge_frozen_layer${layer}"; done))
        fi
        [ -f "${expdir}/feats_${speech_tag}/${test_set}/feats.scp" ] \
            || die "--partition_layer ${partition_layer}: ${expdir}/feats_${speech_tag} does not exist (give a layer of --ridge_layers)"
        spaces=("speech=${speech_tag}")
        "${spectral_baseline}" && spaces+=("log-mel=logmel")
        "${articulatory_baseline}" && spaces+=("articulatory=articulatory")
        if [ "${#spaces[@]}" -lt 2 ]; then
            log "variance partition skipped: it needs --spectral_baseline or --articulatory_baseline true"
        else
            feat_args=()
            for item in "${spaces[@]}"; do
                name=${item%%=*}
                tag=${item#*=}
                feat_args+=(--train_feats "${name}=${expdir}/feats_${tag}/${train_set}/feats.scp"
                    --train_feats "${name}=${expdir}/feats_${tag}/${valid_set}/feats.scp"
                    --test_feats "${name}=${expdir}/feats_${tag}/${test_set}/feats.scp")
            done
            extra_args=()
            [ "${ngpu}" -eq 0 ] || extra_args+=(--backend torch_cuda)
            [ ! -f "${dumpdir}/${test_set}/stories/repeats.scp" ] || extra_args+=(--repeats "${dumpdir}/${test_set}/stories/repeats.scp")
            [ ! -f "${dumpdir}/rois.json" ] || extra_args+=(--rois "${dumpdir}/rois.json")
            # shellcheck disable=SC2086
            ${cuda_cmd} --gpu "${ngpu}" "${expdir}/partition/partition.log" \
                python3 -m espnet_brain.bin.partition_encoding "${feat_args[@]}" \
                --train_responses "${dumpdir}/${train_set}/stories/response.scp" \
                --train_responses "${dumpdir}/${valid_set}/stories/response.scp" \
                --test_responses "${dumpdir}/${test_set}/stories/response.scp" \
                --voxel_mask "${dumpdir}/voxel_mask.npy" "${extra_args[@]}" --output_dir "${expdir}/partition" \
                ${partition_args}
            log "variance partition (${spaces[*]}): ${expdir}/partition/partition.md"
        fi
    fi
fi

if run_stage 5; then
    # Shapes only (the batch sampler needs them); the model has no statistics to collect. It is built all the
    # same, so it gets the trainer's arguments (--enc_args, e.g. the layer read), as ESPnet's asr.sh does.
    # shellcheck disable=SC2046,SC2086
    ${train_cmd} "${stats_dir}/stats.log" \
        python3 -m espnet_brain.bin.fmri_encoding_train --collect_stats true \
        $(data_args "${train_set}" "${valid_set}") \
        --train_shape_file "${dumpdir}/${train_set}/wav.scp" --valid_shape_file "${dumpdir}/${valid_set}/wav.scp" \
        --output_dir "${stats_dir}" --config "${enc_config}" $(model_args) ${enc_args}
fi

# Tuned models: the whole cortex (${enc_exp}) and, with --target_rois, one per ROI whose loss sees only that ROI's
# voxels (${enc_exp}_roi_<roi>; BrainWavLM's auditory-targeted tuning); each is then run on every story and refit.
tuned=("${enc_exp}")
for roi in ${target_rois}; do tuned+=("${enc_exp}_roi_${roi}"); done
for arm in ${no_lora_arms}; do
    case "${arm}" in
        head | full) tuned+=("${enc_exp}_${arm}") ;;
        *) die "--no_lora_arms: unknown arm ${arm} (choose from: head full)" ;;
    esac
done
tuned_args() {
    # The trainer arguments of tuned model $1 beyond the config's: the loss's ROI, or the arm without adapters.
    case "$1" in
        "${enc_exp}_roi_"*) echo "--model_conf loss_rois=[${1#"${enc_exp}"_roi_}]" ;;
        "${enc_exp}_head") echo "--frontend_conf lora_conf=null --frontend_conf freeze=true" ;;
        "${enc_exp}_full") echo "--frontend_conf lora_conf=null --frontend_conf freeze=false" ;;
    esac
}
ridge_name() {
    # The RESULTS.md name of frozen-feature ridge system $1 (a stage 4 tag).
    case "$1" in
        frozen) echo "ridge, frozen pretrained features" ;;
        logmel) echo "ridge, log-mel spectrogram (low-level control)" ;;
        articulatory) echo "ridge, articulatory features of the phone tier (interpretable control)" ;;
        *) echo "ridge, frozen pretrained features (layer ${1#frozen_layer})" ;;
    esac
}
tuned_name() {
    # What tuned model $1 is, for RESULTS.md.
    case "$1" in
        "${enc_exp}") echo "${enc_tag}" ;;
        "${enc_exp}_head") echo "head only, no LoRA" ;;
        "${enc_exp}_full") echo "full fine-tuning, no LoRA" ;;
        *) echo "${enc_tag}, tuned on ${1#"${enc_exp}"_roi_} only" ;;
    esac
}
refit_models() {
    # The tuned models whose features differ from the frozen ones (the head-only arm reads the frozen features).
    local exp
    for exp in "${tuned[@]}"; do [ "${exp}" = "${enc_exp}_head" ] || echo "${exp}"; done
}
if [ -n "${target_rois}" ] && { stage_selected 6 || stage_selected 9; }; then
    [ -f "${dumpdir}/rois.json" ] || die "--target_rois ${target_rois}: no ROI file (${dumpdir}/rois.json; local/data.sh --roi_file)"
fi

if run_stage 6; then
    for exp in "${tuned[@]}"; do
        mkdir -p "${exp}"
        log "training ${exp} (log: ${exp}/train.log)"
        # ESPnet's launcher picks the multi-GPU / multi-node method (srun for slurm.pl) from ${cuda_cmd}.
        # --resume true: an interrupted run continues from ${exp}/checkpoint.pth.
        # shellcheck disable=SC2046,SC2086
        python3 -m espnet2.bin.launch --cmd "${cuda_cmd} --name $(basename "${exp}")" --log "${exp}/train.log" \
            --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${exp}/.dist_init_" \
            --multiprocessing_distributed true -- \
            python3 -m espnet_brain.bin.fmri_encoding_train --ngpu "${ngpu}" --resume true \
            $(data_args "${train_set}" "${valid_set}") \
            --train_shape_file "${stats_dir}/train/speech_shape" --train_shape_file "${stats_dir}/train/response_shape" \
            --valid_shape_file "${stats_dir}/valid/speech_shape" --valid_shape_file "${stats_dir}/valid/response_shape" \
            --output_dir "${exp}" --config "${enc_config}" $(model_args) $(tuned_args "${exp}") ${enc_args}
    done
fi

if run_stage 7; then
    for exp in "${tuned[@]}"; do
        [ -f "${exp}/${inference_model}" ] || die "${exp}/${inference_model} not found; train first (stage 6)"
        data_dirs=()
        out_dirs=()
        for dset in ${all_sets}; do
            data_dirs+=("${dumpdir}/${dset}/stories")
            out_dirs+=("${exp}/infer_${dset}")
        done
        ${cuda_cmd} --gpu "${ngpu}" "${exp}/infer.log" \
            python3 -m espnet_brain.bin.fmri_encoding_inference --train_config "${exp}/config.yaml" \
            --model_file "${exp}/${inference_model}" --data_dir "${data_dirs[@]}" --output_dir "${out_dirs[@]}" \
            --ngpu "${ngpu}"
    done
fi

if run_stage 8; then
    for exp in $(refit_models); do
        # shellcheck disable=SC2086
        ${train_cmd} "${exp}/ridge_refit/ridge.log" \
            python3 -m espnet_brain.bin.ridge_encoding \
            --train_feats "${exp}/infer_${train_set}/feats.scp" --train_feats "${exp}/infer_${valid_set}/feats.scp" \
            --train_responses "${dumpdir}/${train_set}/stories/response.scp" \
            --train_responses "${dumpdir}/${valid_set}/stories/response.scp" \
            --test_feats "${exp}/infer_${test_set}/feats.scp" --output_dir "${exp}/ridge_refit" ${ridge_args}
    done
fi

if run_stage 9; then
    systems=()
    compare_args=()
    for tag in "${ridge_tags[@]}"; do
        [ -f "${expdir}/ridge_${tag}/pred.scp" ] || continue
        systems+=(--system "$(ridge_name "${tag}")=${expdir}/ridge_${tag}/pred.scp")
        # the speech model's layers against the controls (log-mel, articulatory), per ROI with the paired bootstrap
        case "${tag}" in
            logmel | articulatory) compare_args+=(--control "$(ridge_name "${tag}")") ;;
            *) compare_args+=(--compare "$(ridge_name "${tag}")") ;;
        esac
    done
    [[ " ${compare_args[*]} " == *" --control "* ]] || compare_args=()
    partition_report=()
    ! "${variance_partition}" || [ ! -f "${expdir}/partition/partition.json" ] \
        || partition_report=(--partition "${expdir}/partition")
    for exp in "${tuned[@]}"; do
        what=$(tuned_name "${exp}")
        [ -f "${exp}/infer_${test_set}/pred.scp" ] &&
            systems+=(--system "fine-tuned model, its own head (${what})=${exp}/infer_${test_set}/pred.scp")
        [ -f "${exp}/ridge_refit/pred.scp" ] &&
            systems+=(--system "ridge refit on fine-tuned features (${what})=${exp}/ridge_refit/pred.scp")
    done
    IFS=';' read -r -a extra <<<"${extra_systems}"
    for item in "${extra[@]}"; do
        [ -n "${item}" ] && systems+=(--system "${item}")
    done
    [ "${#systems[@]}" -gt 0 ] || die "nothing to score: run stages 4 and 6-8 first"
    notes=()
    IFS=';' read -r -a note_items <<<"${results_notes}"
    for item in "${note_items[@]}"; do
        [ -n "${item}" ] && notes+=(--note "${item}")
    done
    repeat_args=()
    [ -f "${dumpdir}/${test_set}/stories/repeats.scp" ] && repeat_args=(--repeats "${dumpdir}/${test_set}/stories/repeats.scp")
    roi_args=()
    [ -f "${dumpdir}/rois.json" ] && roi_args=(--rois "${dumpdir}/rois.json")
    [ -n "${brain_mask}" ] || [ ! -f data/brain_mask ] || brain_mask=$(cat data/brain_mask)
    python3 -m espnet_brain.bin.score_encoding --responses "${dumpdir}/${test_set}/stories/response.scp" \
        "${repeat_args[@]}" --voxel_mask "${dumpdir}/voxel_mask.npy" "${roi_args[@]}" "${systems[@]}" "${notes[@]}" \
        "${compare_args[@]}" "${partition_report[@]}" \
        --out "${expdir}/RESULTS.md" --plot_dir "${expdir}/plots" --title "${results_title}" \
        ${brain_mask:+--brain_mask "${brain_mask}"}
    if [ "${#tuned[@]}" -gt 1 ]; then
        # The arms' training curves side by side (BrainWavLM: LoRA tunes more stably than tuning without it).
        curve_runs=()
        for exp in "${tuned[@]}"; do
            [ -f "${exp}/checkpoint.pth" ] && curve_runs+=(--run "$(tuned_name "${exp}")=${exp}")
        done
        python3 -m espnet_brain.bin.plot_training_curves "${curve_runs[@]}" --out "${expdir}/plots/training_curves" \
            --title "training curves of the tuned models"
        { echo; sed 's/^# /## /' "${expdir}/plots/training_curves.md"; } >>"${expdir}/RESULTS.md"
    fi
    log "see ${expdir}/RESULTS.md"
fi

if run_stage 10; then
    [ -f "${enc_exp}/${inference_model}" ] || die "${enc_exp}/${inference_model} not found; train first (stage 6)"
    # The config refers to the pretrained speech model's directory and to the voxel mask: pack them too.
    options=()
    model_dir=$(python3 -m espnet_brain.bin.config_value "${enc_exp}/config.yaml" frontend_conf.model_name_or_path)
    if [ -d "${model_dir}" ]; then
        while IFS= read -r f; do options+=(--option "${f}"); done < <(find "${model_dir}" -type f | sort)
    fi
    for f in "${dumpdir}/voxel_mask.npy" "${dumpdir}/rois.json"; do
        [ -f "${f}" ] && options+=(--option "${f}")
    done
    python3 -m espnet_brain.bin.pack_fmri --train_config "${enc_exp}/config.yaml" \
        --model_file "${enc_exp}/${inference_model}" "${options[@]}" --outpath "${enc_exp}/packed_model.zip"
    log "packed ${enc_exp}/packed_model.zip"
fi

if run_stage 11; then
    [ -n "${transfer_subjects}" ] || log "stage 11: no --transfer_subjects, nothing to transfer"
    data_opts=()
    set -f
    eval "data_opts=(${local_data_opts})" || die "--local_data_opts: cannot split ${local_data_opts} (unbalanced quotes?)"
    set +f
    for subject in ${transfer_subjects}; do
        xdata=data_${subject}
        xdump=${dumpdir}_${subject}
        xdir=${expdir}/transfer_${subject}
        mkdir -p "${xdir}"
        # Later options win: the subject and the destination replace those of --local_data_opts.
        local/data.sh "${data_opts[@]}" --subject "${subject}" --dst "${xdata}"
        # Whole stories only: nothing trains on this subject's chunks.
        # shellcheck disable=SC2086
        ${train_cmd} "${xdump}/log/dump.log" \
            python3 -m espnet_brain.bin.dump_encoding --data_root "${xdata}" --sets ${all_sets} --chunk_sets \
            --out "${xdump}" --train_config "${enc_config}"
        # Features describe the stories, not the listener: those of stages 4 and 7 (this recipe's subject's stories)
        # are reused by story name; a story of ${subject} that this recipe's subject did not hear is an error.
        systems=()
        sources=()
        # tag|features of each set ({set}: stage 4's feats_<tag>/<set>, stage 7's <exp>/infer_<set>)|row name
        for tag in "${ridge_tags[@]}"; do
            sources+=("${tag}|${expdir}/feats_${tag}/{set}/feats.scp|$(ridge_name "${tag}")")
        done
        for exp in $(refit_models); do
            sources+=("$(basename "${exp}")|${exp}/infer_{set}/feats.scp|ridge on features tuned on this recipe's subject ($(tuned_name "${exp}"))")
        done
        for item in "${sources[@]}"; do
            IFS='|' read -r tag pattern name <<<"${item}"
            feats=()
            for dset in ${all_sets}; do
                scp=${pattern//\{set\}/${dset}}
                [ -f "${scp}" ] || die "stage 11: ${scp} not found; run stages 4 and 6-7 first"
                feats+=(--train_feats "${scp}")
            done
            test_scp=${feats[-1]}
            # shellcheck disable=SC2086
            ${train_cmd} "${xdir}/ridge_${tag}/ridge.log" \
                python3 -m espnet_brain.bin.ridge_encoding "${feats[@]}" \
                --train_responses "${xdump}/${train_set}/stories/response.scp" \
                --train_responses "${xdump}/${valid_set}/stories/response.scp" \
                --test_feats "${test_scp}" --output_dir "${xdir}/ridge_${tag}" ${ridge_args}
            systems+=(--system "${name}=${xdir}/ridge_${tag}/pred.scp")
        done
        repeat_args=()
        [ -f "${xdump}/${test_set}/stories/repeats.scp" ] && repeat_args=(--repeats "${xdump}/${test_set}/stories/repeats.scp")
        roi_args=()
        [ -f "${xdump}/rois.json" ] && roi_args=(--rois "${xdump}/rois.json")
        python3 -m espnet_brain.bin.score_encoding --responses "${xdump}/${test_set}/stories/response.scp" \
            "${repeat_args[@]}" --voxel_mask "${xdump}/voxel_mask.npy" "${roi_args[@]}" "${systems[@]}" \
            --note "Cross-subject transfer: every model was tuned on this recipe's subject; the ridge of each row is fit on ${subject}'s training stories and scored on ${subject}'s test story" \
            --out "${xdir}/RESULTS.md" --plot_dir "${xdir}/plots" --title "${results_title}: transfer to ${subject}"
        log "cross-subject transfer to ${subject}: ${xdir}/RESULTS.md"
    done
fi

if run_stage 12; then
    # What the features represent, before and after tuning (BrainWavLM's claim 3): linear probes, leave one story out.
    layers=${probe_layers}
    read_layer=$(python3 -m espnet_brain.bin.config_value "${enc_config}" frontend_conf.layer)
    if [ -z "${layers}" ]; then
        [[ "${read_layer}" =~ ^[0-9]+$ ]] || die "stage 12: the config reads layer '${read_layer}'; give --probe_layers"
        layers=$(seq -s ' ' 1 "${read_layer}")
    fi
    pdir=${expdir}/probes
    mkdir -p "${pdir}"
    data_dirs=()
    for dset in ${all_sets}; do data_dirs+=("${dumpdir}/${dset}/stories"); done
    feats_of() {
        # One scp over every set: $1 is the output pattern with {set} (and {layer}).
        local dset
        for dset in ${all_sets}; do cat "${1//\{set\}/${dset}}"; done
    }
    feat_args=()
    word_args=()
    # systems: frozen (the config's pretrained model) and every tuned model whose features differ from it
    systems=("frozen|")
    for exp in $(refit_models); do systems+=("$(tuned_name "${exp}")|${exp}"); done
    for item in "${systems[@]}"; do
        IFS='|' read -r name exp <<<"${item}"
        tag=${exp:+$(basename "${exp}")}
        tag=${tag:-frozen}
        # The frozen model's layers that stage 4 extracted (--ridge_layers, or the config's layer) are reused.
        declare -A patterns=()
        missing=()
        for layer in ${layers}; do
            patterns[${layer}]=${pdir}/feats_${tag}_layer${layer}/{set}/feats.scp
            if [ -z "${exp}" ]; then
                candidates=("${expdir}/feats_frozen_layer${layer}/{set}/feats.scp")
                [ "${layer}" != "${read_layer}" ] || candidates+=("${expdir}/feats_frozen/{set}/feats.scp")
                for candidate in "${candidates[@]}"; do
                    found=true
                    for dset in ${all_sets}; do
                        [ -f "${candidate//\{set\}/${dset}}" ] || found=false
                        # word-level probes also need the window features
                        [ -z "${probe_words}" ] || [ -f "$(dirname "${candidate//\{set\}/${dset}}")/windows.scp" ] \
                            || found=false
                    done
                    if "${found}"; then
                        patterns[${layer}]=${candidate}
                        log "stage 12: frozen layer ${layer} from stage 4 (${candidate%%/\{set\}*})"
                        continue 2
                    fi
                done
            fi
            missing+=("${layer}")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
            out_dirs=()
            for dset in ${all_sets}; do out_dirs+=("${pdir}/feats_${tag}_layer{layer}/${dset}"); done
            if [ -z "${exp}" ]; then
                model_args_probe=(--train_config "${enc_config}" "${frontend_override[@]}")
            else
                [ -f "${exp}/${inference_model}" ] || die "stage 12: ${exp}/${inference_model} not found; train first"
                model_args_probe=(--train_config "${exp}/config.yaml" --model_file "${exp}/${inference_model}")
            fi
            ${cuda_cmd} --gpu "${ngpu}" "${pdir}/feats_${tag}.log" \
                python3 -m espnet_brain.bin.fmri_encoding_inference "${model_args_probe[@]}" --layer "${missing[@]}" \
                --data_dir "${data_dirs[@]}" --output_dir "${out_dirs[@]}" --ngpu "${ngpu}" \
                ${probe_words:+--write_windows}
        fi
        for layer in ${layers}; do
            feats_of "${patterns[${layer}]}" >"${pdir}/feats_${tag}_layer${layer}.scp"
            feat_args+=(--feats "${name}:${layer}=${pdir}/feats_${tag}_layer${layer}.scp")
            if [ -n "${probe_words}" ]; then
                wdir=${pdir}/words/feats_${tag}_layer${layer}
                mkdir -p "${wdir}"
                feats_of "$(dirname "${patterns[${layer}]}")/windows.scp" >"${wdir}/windows.scp"
                feats_of "$(dirname "${patterns[${layer}]}")/window_ends.scp" >"${wdir}/window_ends.scp"
                word_args+=(--feats "${name}:${layer}=${wdir}/windows.scp")
            fi
        done
    done
    target_args=()
    if [ -f "${expdir}/feats_logmel/${test_set}/feats.scp" ]; then
        feats_of "${expdir}/feats_logmel/{set}/feats.scp" >"${pdir}/logmel.scp"
        target_args+=(--targets "log-mel=${pdir}/logmel.scp")
    fi
    for item in ${probe_targets}; do target_args+=(--targets "${item}"); done
    [ "${#target_args[@]}" -gt 0 ] || die "stage 12: no probe targets (--spectral_baseline true or --probe_targets)"
    ${train_cmd} "${pdir}/probe.log" \
        python3 -m espnet_brain.bin.probe_features "${feat_args[@]}" "${target_args[@]}" --output_dir "${pdir}"
    log "probes: ${pdir}/probes.md"
    if [ -n "${probe_words}" ]; then
        ${train_cmd} "${pdir}/words/probe.log" \
            python3 -m espnet_brain.bin.probe_features "${word_args[@]}" --words "${probe_words}" \
            ${probe_embeddings:+--embeddings "${probe_embeddings}"} --output_dir "${pdir}/words"
        log "word-level probes: ${pdir}/words/probes.md"
    fi
fi

log "done"
