#!/usr/bin/env bash
# Stage script for brain-to-text decoding (and its audio ASR baseline) with ESPnet.
# Recipes call it from egs2/<corpus>/asr1 (where utils/, cmd.sh and path.sh are linked).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data preparation (local/data.sh -> data/<set>)"
define_stage 2 "Feature dumping (neural: kaldi ark/scp, z-scored per block or with training statistics; raw: wav.scp)"
define_stage 3 "Token list"
define_stage 4 "Pretrained model check (local directory or hub id)"
define_stage 5 "Shape statistics (ESPnet collect_stats) and CTC feasibility check"
define_stage 6 "Training (ESPnet trainer)"
define_stage 7 "Decoding"
define_stage 8 "Scoring (corpus-level CER/WER with jiwer)"
define_stage 9 "Packing (espnet2.bin.pack)"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "4 9".
ngpu=0                  # GPUs per node for training (0: CPU).
num_nodes=1             # Nodes for training (Slurm: set cmd_backend=slurm in cmd.sh).
nj=2                    # Threads for dumping.
inference_nj=1          # Parallel jobs for decoding.
dumpdir=dump            # Where dumped features go.
expdir=exp              # Where experiments go.
# Data
feats_type=neural       # neural (brain features) or raw (16 kHz audio).
train_set=train         # Training set (a directory under data/).
valid_set=dev           # Validation set.
test_sets="test"        # Sets to decode, space separated.
local_data_opts=""      # Options passed to local/data.sh.
feature_set=tx1_spikepow_6v  # Neural features to dump (see python -m espnet_brain.bin.dump_neural --help).
zscore=block            # Neural normalisation: block (per recording block, each test block with its own
                        # statistics), train (per day, statistics of the training set only) or none.
# Tokens
token_listdir=data/token_list/char  # Shared by audio and brain systems.
# Model
asr_config=             # Training YAML.
asr_tag=                # Experiment name (default: the config's file name).
pretrained_model=none   # Hub id or local directory checked in stage 4 (none: skip).
ctc_max_infeasible=0.05 # Stage 5 stops when a larger fraction of train/valid utterances is too short for CTC.
asr_args=""             # Extra arguments for the trainer, e.g. "--max_epoch 3".
# Decoding
inference_model=valid.loss.ave.pth  # Checkpoint to decode with (ESPnet averages the n best).
decoding=greedy         # greedy or beam.
inference_args=""       # Extra arguments for espnet_brain.bin.brain_asr_inference.
# end options

help_message="Usage: $0 [options]
Brain-to-text (and audio ASR) recipe stages on top of ESPnet.
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice feats_type neural raw
require_choice decoding greedy beam
require_choice zscore block train none
require_int ngpu 0
require_int num_nodes 1
require_int nj 1
require_int inference_nj 1

. ./path.sh
. ./cmd.sh

[ -n "${asr_config}" ] || die "--asr_config is required"
[ -f "${asr_config}" ] || die "--asr_config ${asr_config} does not exist"
[ -n "${asr_tag}" ] || asr_tag=$(basename "${asr_config}" .yaml)
asr_exp=${expdir}/asr_${asr_tag}
data_feats=${dumpdir}/${feats_type}
token_list=${token_listdir}/tokens.txt
if [ "${feats_type}" = neural ]; then
    speech_file=feats.scp
    speech_type=kaldi_ark
else
    speech_file=wav.scp
    speech_type=sound
fi
all_sets="${train_set} ${valid_set} ${test_sets}"

data_model_args() {
    # The BFE's input size and day count come from the dumped training data, not the config, so one config
    # serves every feature set, preset and corpus. Prints trainer arguments (none for audio features).
    [ "${feats_type}" = neural ] || return 0
    local shapes=${data_feats}/${train_set}/feats_shape days=${data_feats}/${train_set}/days
    [ -s "${shapes}" ] || die "${shapes} missing or empty; run stage 2"
    # feats_shape lines are "<utt> <frames>,<features>".
    echo "--frontend_conf input_size=$(head -n 1 "${shapes}" | cut -d ' ' -f 2 | cut -d , -f 2)"
    [ ! -s "${days}" ] || echo "--frontend_conf n_days=$(wc -l <"${days}")"
}

if run_stage 1; then
    [ -x local/data.sh ] || die "local/data.sh is missing or not executable"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if run_stage 2; then
    # --zscore train: the training set (dumped first) writes the statistics every set is normalised with.
    zscore_stats=${data_feats}/${train_set}/zscore_stats.npz
    for dset in ${all_sets}; do
        [ -d "data/${dset}" ] || die "data/${dset} does not exist; run stage 1"
        out=${data_feats}/${dset}
        mkdir -p "${out}"
        # Up to date: dumped after the data directory (and the training statistics) were written, with the same
        # feature options.
        settings="${feats_type} ${feature_set} zscore=${zscore}"
        if [ -f "${out}/.done" ] && [ "${out}/.done" -nt "data/${dset}/text" ] \
            && [ "$(cat "${out}/.done")" = "${settings}" ] \
            && { [ "${zscore}" != train ] || [ ! "${zscore_stats}" -nt "${out}/.done" ]; }; then
            log "${out} is up to date (${settings})"
            continue
        fi
        if [ "${feats_type}" = neural ]; then
            zscore_opts=(--zscore "${zscore}")
            if [ "${zscore}" = train ]; then
                fit=false
                [ "${dset}" != "${train_set}" ] || fit=true
                zscore_opts+=(--stats_file "${zscore_stats}" --fit_stats "${fit}")
            fi
            ${train_cmd} --num_threads "${nj}" "${out}/log/dump.log" \
                python3 -m espnet_brain.bin.dump_neural --data_dir "data/${dset}" --out_dir "${out}" \
                --feature_set "${feature_set}" "${zscore_opts[@]}"
        else
            for f in wav.scp text utt2spk; do
                cp "data/${dset}/${f}" "${out}/${f}"
            done
        fi
        echo "${settings}" >"${out}/.done"
    done
fi

if run_stage 3; then
    if [ -f "${token_list}" ]; then
        log "${token_list} exists; keeping it (audio and brain systems must share one token list)"
    else
        mkdir -p "${token_listdir}"
        # Characters of the normalised training text; <blank>=0 as ESPnet's CTC expects.
        python3 -m espnet2.bin.tokenize_text --token_type char --input "data/${train_set}/text" \
            --output "${token_list}" --field 2- --cleaner none --g2p none --write_vocabulary true \
            --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1"
        log "$(wc -l <"${token_list}") tokens in ${token_list}"
    fi
fi

if run_stage 4; then
    if [ "${pretrained_model}" = none ]; then
        log "no pretrained model to check"
    else
        python3 -m espnet_brain.bin.check_pretrained "${pretrained_model}"
    fi
fi

stats_dir=${expdir}/asr_stats_${feats_type}_${train_set}
if run_stage 5; then
    for dset in "${train_set}" "${valid_set}"; do
        [ -f "${data_feats}/${dset}/${speech_file}" ] || die "${data_feats}/${dset}/${speech_file} missing; run stage 2"
    done
    day_args=()
    if [ -f "${data_feats}/${train_set}/utt2day" ]; then
        day_args=(--train_data_path_and_name_and_type "${data_feats}/${train_set}/utt2day,day,text_int"
            --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2day,day,text_int")
    fi
    # Up to date: collected after both dumps, from the same dump directory.
    if [ -f "${stats_dir}/.done" ] && [ "${stats_dir}/.done" -nt "${data_feats}/${train_set}/.done" ] \
        && [ "${stats_dir}/.done" -nt "${data_feats}/${valid_set}/.done" ] \
        && [ "$(cat "${stats_dir}/.done")" = "${data_feats}" ]; then
        log "${stats_dir} is up to date"
    else
        # Shapes only: the batch sampler needs them; the brain frontend has no statistics to collect.
        ${train_cmd} "${stats_dir}/stats.log" \
            python3 -m espnet_brain.bin.brain_asr_train --collect_stats true --use_preprocessor true \
            --token_type char --token_list "${token_list}" --non_linguistic_symbols none --cleaner none --g2p none \
            --train_data_path_and_name_and_type "${data_feats}/${train_set}/${speech_file},speech,${speech_type}" \
            --train_data_path_and_name_and_type "${data_feats}/${train_set}/text,text,text" \
            --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/${speech_file},speech,${speech_type}" \
            --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/text,text,text" \
            "${day_args[@]}" \
            --train_shape_file "${data_feats}/${train_set}/${speech_file}" \
            --valid_shape_file "${data_feats}/${valid_set}/${speech_file}" \
            --output_dir "${stats_dir}" --config "${asr_config}" --model_conf extract_feats_in_collect_stats=false
        echo "${data_feats}" >"${stats_dir}/.done"
    fi
    # Utterances with fewer frontend output frames than their CTC label needs get zero loss in silence.
    check_args=(--check "${train_set}=${stats_dir}/train/speech_shape,${data_feats}/${train_set}/text"
        --check "${valid_set}=${stats_dir}/valid/speech_shape,${data_feats}/${valid_set}/text")
    for dset in ${test_sets}; do
        if [ -f "${data_feats}/${dset}/feats_shape" ] && [ -f "${data_feats}/${dset}/text" ]; then
            check_args+=(--report "${dset}=${data_feats}/${dset}/feats_shape,${data_feats}/${dset}/text")
        fi
    done
    # shellcheck disable=SC2046,SC2086
    python3 -m espnet_brain.bin.check_ctc_feasibility --token_list "${token_list}" \
        --max_infeasible "${ctc_max_infeasible}" "${check_args[@]}" \
        -- --config "${asr_config}" $(data_model_args) ${asr_args} \
        || die "CTC feasibility check failed (see above); --ctc_max_infeasible sets the allowed fraction"
fi

if run_stage 6; then
    mkdir -p "${asr_exp}"
    day_args=()
    if [ -f "${data_feats}/${train_set}/utt2day" ]; then
        day_args=(--train_data_path_and_name_and_type "${data_feats}/${train_set}/utt2day,day,text_int"
            --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2day,day,text_int")
    fi
    model_args=$(data_model_args)
    log "training ${asr_exp} (log: ${asr_exp}/train.log)${model_args:+; from the data: ${model_args//$'\n'/ }}"
    # ESPnet's launcher picks the multi-GPU / multi-node method (srun for slurm.pl) from ${cuda_cmd}.
    # --resume true: an interrupted run continues from ${asr_exp}/checkpoint.pth.
    # shellcheck disable=SC2086
    python3 -m espnet2.bin.launch --cmd "${cuda_cmd} --name ${asr_tag}" --log "${asr_exp}/train.log" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${asr_exp}/.dist_init_" \
        --multiprocessing_distributed true -- \
        python3 -m espnet_brain.bin.brain_asr_train --ngpu "${ngpu}" --resume true --use_preprocessor true \
        --token_type char --token_list "${token_list}" --non_linguistic_symbols none --cleaner none --g2p none \
        --train_data_path_and_name_and_type "${data_feats}/${train_set}/${speech_file},speech,${speech_type}" \
        --train_data_path_and_name_and_type "${data_feats}/${train_set}/text,text,text" \
        --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/${speech_file},speech,${speech_type}" \
        --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/text,text,text" \
        "${day_args[@]}" \
        --train_shape_file "${stats_dir}/train/speech_shape" \
        --train_shape_file "${stats_dir}/train/text_shape" \
        --valid_shape_file "${stats_dir}/valid/speech_shape" \
        --valid_shape_file "${stats_dir}/valid/text_shape" \
        --output_dir "${asr_exp}" --config "${asr_config}" ${model_args} ${asr_args}
fi

if run_stage 7; then
    [ -f "${asr_exp}/${inference_model}" ] || die "${asr_exp}/${inference_model} not found; train first (stage 6)"
    for dset in ${test_sets}; do
        out=${asr_exp}/decode_${dset}
        mkdir -p "${out}/split${inference_nj}"
        key_file=${data_feats}/${dset}/${speech_file}
        split -n "l/${inference_nj}" -d -a 3 "${key_file}" "${out}/split${inference_nj}/keys."
        for ((j = 1; j <= inference_nj; j++)); do
            mv "${out}/split${inference_nj}/keys.$(printf '%03d' $((j - 1)))" "${out}/split${inference_nj}/keys.${j}"
        done
        data_args=(--data_path_and_name_and_type "${data_feats}/${dset}/${speech_file},speech,${speech_type}")
        if [ -f "${data_feats}/${dset}/utt2day" ]; then
            data_args+=(--data_path_and_name_and_type "${data_feats}/${dset}/utt2day,day,text_int")
        fi
        # shellcheck disable=SC2086
        ${decode_cmd} JOB=1:"${inference_nj}" "${out}/log/decode.JOB.log" \
            python3 -m espnet_brain.bin.brain_asr_inference --asr_train_config "${asr_exp}/config.yaml" \
            --asr_model_file "${asr_exp}/${inference_model}" "${data_args[@]}" \
            --key_file "${out}/split${inference_nj}/keys.JOB" --output_dir "${out}/output.JOB" \
            --decoding "${decoding}" ${inference_args}
        for ((j = 1; j <= inference_nj; j++)); do cat "${out}/output.${j}/text"; done | sort >"${out}/text"
        log "$(wc -l <"${out}/text") hypotheses in ${out}/text"
    done
fi

if run_stage 8; then
    for dset in ${test_sets}; do
        out=${asr_exp}/decode_${dset}
        [ -f "${out}/text" ] || die "${out}/text not found; decode first (stage 7)"
        python3 -m espnet_brain.bin.score --ref "data/${dset}/text" --hyp "${asr_tag}=${out}/text" \
            --out "${out}/RESULTS.md" --title "${dset}, ${decoding} CTC"
    done
fi

if run_stage 9; then
    python3 -m espnet2.bin.pack asr --asr_train_config "${asr_exp}/config.yaml" \
        --asr_model_file "${asr_exp}/${inference_model}" --option "${token_list}" \
        --outpath "${asr_exp}/packed_model.zip"
    log "packed ${asr_exp}/packed_model.zip"
fi

log "done"
