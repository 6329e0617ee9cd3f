#!/usr/bin/env bash
# Stage script for brain-to-text decoding (and its audio ASR baseline) with ESPnet, the transfer modes of a brain
# decoder included. Recipes call it from egs2/<corpus>/asr1 (where utils/, cmd.sh and path.sh are linked).
#
# With --mode, it trains one transfer mode of a GRU brain feature extractor (BFE) in front of a pretrained speech
# transformer and its character CTC head (<confdir>/train_brain_<mode>.yaml):
#
#   full     fine-tune the pretrained transformer, CTC head initialised from the pretrained model
#   scratch  the same architecture, randomly initialised
#   frozen   the pretrained transformer and CTC head kept fixed
#   adapter  the pretrained transformer kept fixed, LoRA adapters in it trained with the BFE and the CTC head
#   whisper  Whisper's encoder in place of the Wav2Vec2 transformer (--pretrained_model: a Whisper checkpoint;
#            train_brain_whisper.yaml, LoRA adapters by default), with a new CTC head
#   bfe      the control: the same BFE and CTC head with no transformer (encoder: identity), no pretrained model
#
# With --causal true the mode trains its streaming variant (<confdir>/train_brain_<mode>_causal.yaml: causal BFE,
# chunked attention, causal positional convolution; experiment exp/asr_brain_<mode>_causal_<tag>), which
# espnet_brain.asr.streaming.StreamingDecoder decodes live; pair it with --zscore online. Stage 9 puts the offline
# and causal experiments of the same features side by side.
#
# and names its dump directory dump/<tag> and its experiment exp/asr_brain_<mode>_<tag> (<tag>: the feature set),
# so that another input never reuses features or a model; stage 9 puts the modes decoded so far side by side.
#
# Decoding (stage 7) runs the network once per set, saves its CTC log-posteriors, and decodes them with each of
# --decoders: greedy, beam (prefix beam search), token_lm (+ an ESPnet token LM), ngram (lexicon + word n-gram),
# ngram_llm (ngram's n-best rescored by a causal LM, --llm). LM weights
# are chosen on --valid_set over the --lm_weights/--word_scores/--llm_weights grid (search.json beside each
# result). Stage 3 writes the LMs: the n-grams and the lexicon from the training text (plus --lm_text, or a given
# --ngram_arpa) to --lm_dir, and the ESPnet token LM (exp/lm_token_<train_set>) when token_lm is asked for.
# The BFE's input size and day count are read from the dumped data, so switching --feature_set (or the corpus)
# needs no config edit. E.g.
#   ./brain_asr.sh --mode scratch --feature_set all --pretrained_model facebook/wav2vec2-base-960h --stop_stage 8
#   ./brain_asr.sh --stage 9 --stop_stage 9 --results_title "test set, greedy CTC"
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Data preparation (local/data.sh -> data/<set>)"
define_stage 2 "Feature dumping (neural: kaldi ark/scp, z-scored per block or with training statistics; raw: wav.scp)"
define_stage 3 "Token list and language models (n-grams and lexicon; the ESPnet token LM for token_lm)"
define_stage 4 "Pretrained model check (local directory or hub id)"
define_stage 5 "Shape statistics (ESPnet collect_stats) and CTC feasibility check"
define_stage 6 "Training (ESPnet trainer)"
define_stage 7 "Decoding: log-posteriors once per set, then each of --decoders (LM weights tuned on the dev set)"
define_stage 8 "Scoring (corpus-level CER/WER with jiwer)"
define_stage 9 "Results table of the transfer modes decoded so far (first test set)"
define_stage 10 "Packing (espnet2.bin.pack)"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "4 10".
ngpu=0                  # GPUs per node for training (0: CPU).
num_nodes=1             # Nodes for training (Slurm: set cmd_backend=slurm in cmd.sh).
nj=2                    # Threads for dumping.
inference_nj=1          # Parallel jobs for decoding.
dumpdir=                # Where dumped features go (default: dump/<tag> with --mode, dump without).
expdir=exp              # Where experiments and the transfer-mode results table go.
# Data
feats_type=neural       # neural (brain features) or raw (16 kHz audio).
train_set=train         # Training set (a directory under data/).
valid_set=dev           # Validation set.
test_sets="test"        # Sets to decode, space separated.
local_data_opts=""      # Options passed to local/data.sh.
feature_set=tx1_spikepow_6v  # Neural features to dump (see python -m espnet_brain.bin.dump_neural --help).
zscore=block            # Neural normalisation: block (per recording block, each test block with its own
                        # statistics), train (per day, statistics of the training set only), online (a running
                        # z-score from the training statistics that never reads a later bin) or none.
zscore_time_constant=   # --zscore online: time constant of the running statistics in bins (empty: 3000, 60 s).
tag=                    # Name of the features in --mode dump and experiment names (default: --feature_set, plus
                        # _zscore<mode> unless --zscore is block).
# Tokens
token_listdir=data/token_list/char  # Shared by audio and brain systems.
# Model
mode=                   # Transfer mode: full, scratch, frozen, adapter (LoRA), whisper or bfe (the BFE-only control; empty: train
                        # --asr_config as it is).
causal=false            # With --mode: train the mode's streaming (causal) variant.
confdir=conf            # Directory of the train_brain_<mode>.yaml configs of --mode (e.g. conf/tiny).
asr_config=             # Training YAML (default with --mode: <confdir>/train_brain_<mode>.yaml).
asr_tag=                # Experiment name (default: brain_<mode>_<tag> with --mode, else the config's file name).
pretrained_model=none   # Hub id or local directory checked in stage 4 (none: skip); with --mode, the
                        # Wav2Vec2ForCTC checkpoint whose transformer (and CTC head, but in scratch) is used.
freeze_epochs=          # Epochs the pretrained transformer is held in mode full, as scheduler freeze_steps (empty: the config's).
warmup_epochs=          # Epochs of its linear warm-up afterwards, as scheduler warmup_steps (empty: the config's).
ctc_max_infeasible=0.05 # Stage 5 stops when a larger fraction of train/valid utterances is too short for CTC.
asr_args=""             # Extra arguments for the trainer, e.g. "--max_epoch 3".
lr_grid=""              # Learning rates chosen on the dev set before training: "LR:ENCODER_LR ..." pairs, one short
                        # run each (e.g. "1e-4:1e-5 1e-3:1e-4 3e-3:1e-3"); empty: the config's rates.
lr_grid_epochs=5        # Epochs of each short run of --lr_grid; the transformer's freeze and warm-up (transferlr)
                        # are scaled to it (the same fractions of the run as in the full run's max_epoch).
# Language models
lm_dir=                 # n-gram decoders' files (words.arpa, lexicon.txt), written in stage 3
                        # (default: data/lm/<train_set>).
lm_text=""              # Extra plain-text corpora for the n-grams (one sentence a line), space separated.
ngram_arpa=             # A word ARPA file to use instead of estimating one (its words make the lexicon).
ngram_order=3           # Word n-gram order.
ngram_prune="0"         # Per-order count thresholds of the word n-gram, e.g. "0 0 1".
token_lm_config=        # ESPnet LM config of token_lm (default: <confdir>/train_lm.yaml).
llm=none                # Causal LM (hub id or local directory) that rescores ngram_llm's n-best.
# Decoding and results
inference_model=valid.loss.ave.pth  # Checkpoint to decode with (ESPnet averages the n best).
decoders=greedy         # Any of: greedy beam token_lm ngram ngram_llm.
beam_size=50            # Beam of the beam searches.
lm_weights="0.5 1 2"    # Grid of LM weights tuned on the dev set (token_lm, ngram, ngram_llm).
word_scores="-1 0 1"    # Grid of word insertion scores (ngram, ngram_llm).
unk_score=-inf          # Score of a word ending outside the lexicon (ngram; -inf: lexicon words only).
llm_weights="0 0.25 0.5 1"  # Grid of LLM weights (ngram_llm).
inference_args=""       # Extra arguments for espnet_brain.bin.brain_asr_inference.
results_title=          # Title of the stage 9 table (default: "<test set> (<tag>)").
# end options

help_message="Usage: $0 [options]
Brain-to-text (and audio ASR) recipe stages on top of ESPnet; with --mode, one transfer mode of a BFE + pretrained
speech transformer brain decoder (exp/asr_brain_<mode>_<tag>) and the table exp/RESULTS_<tag>.md of the modes
full, scratch, frozen, adapter, whisper and bfe.
$(options_help "$0")"
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value; see --help)"
check_stages
require_choice feats_type neural raw
for decoder in ${decoders}; do
    case ${decoder} in
        greedy | beam | token_lm | ngram | ngram_llm) ;;
        *) die "--decoders: unknown decoder '${decoder}'; choose from greedy beam token_lm ngram ngram_llm" ;;
    esac
done
[ -n "${decoders// /}" ] || die "--decoders is empty"
require_choice zscore block train online none
require_choice causal true false
[ -z "${mode}" ] || require_choice mode full scratch frozen adapter whisper bfe
[ "${causal}" = false ] || [ -n "${mode}" ] || die "--causal true trains the streaming variant of a --mode; give --mode"
require_int ngpu 0
require_int num_nodes 1
require_int nj 1
require_int lr_grid_epochs 1
require_int inference_nj 1
for name in freeze_epochs warmup_epochs; do
    [ -z "${!name}" ] || require_int "${name}" 0
done
[ -n "${test_sets// /}" ] || die "--test_sets is empty"

. ./path.sh
. ./cmd.sh

if [ -z "${tag}" ]; then
    # Another normalisation is another input: it must not reuse the dump or the model of the default one.
    tag=${feature_set}
    [ "${zscore}" = block ] || tag=${tag}_zscore${zscore}
fi
exp_name() { echo "brain_${1}_${tag}"; }  # the experiment of transfer mode $1 ("full", or "full_causal")
variant=${mode}
[ "${causal}" = false ] || variant=${mode}_causal
has_decoder() { [[ " ${decoders} " == *" $1 "* ]]; }
needs_ngram() { has_decoder ngram || has_decoder ngram_llm; }
[ -n "${token_lm_config}" ] || token_lm_config=${confdir}/train_lm.yaml
[ -n "${lm_dir}" ] || lm_dir=data/lm/${train_set}
token_lm_exp=${expdir}/lm_token_${train_set}
if has_decoder ngram_llm && [ "${llm}" = none ]; then
    die "decoder ngram_llm needs --llm (hub id or local directory of a causal LM)"
fi
if [ -n "${mode}" ]; then
    [ "${feats_type}" = neural ] || die "--mode ${mode} trains a brain decoder: it needs --feats_type neural"
    [ "${pretrained_model}" != none ] || [ "${mode}" = bfe ] \
        || die "--mode ${mode} needs --pretrained_model (hub id or local directory)"
    [ -n "${dumpdir}" ] || dumpdir=dump/${tag}
    if [ -z "${asr_config}" ]; then
        asr_config=${confdir}/train_brain_${variant}.yaml
        [ -f "${asr_config}" ] || die "--mode ${mode}: ${asr_config} does not exist (--confdir ${confdir})"
    fi
    [ -n "${asr_tag}" ] || asr_tag=$(exp_name "${variant}")
fi
[ -n "${dumpdir}" ] || dumpdir=dump
if stage_selected 5 || stage_selected 6 || stage_selected 7 || stage_selected 8 || stage_selected 10; then
    [ -n "${asr_config}" ] || die "--asr_config (or --mode) is required for stages 5-8 and 10"
    [ -f "${asr_config}" ] || die "--asr_config ${asr_config} does not exist"
fi
[ -n "${asr_tag}" ] || asr_tag=$(basename "${asr_config:-none}" .yaml)
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

mode_model_args() {
    # The transfer mode's trainer arguments (none without --mode): the pretrained transformer, the pretrained
    # character head in full and frozen (scratch starts from random weights), and the epoch-based schedule.
    # The BFE-only control has no transformer and no pretrained head.
    [ -n "${mode}" ] && [ "${mode}" != bfe ] || return 0
    echo "--encoder_conf model_name_or_path=${pretrained_model}"
    # scratch starts from random weights; Whisper (mode whisper, or any config with encoder: hf_whisper) has no CTC
    # head to start from
    if [ "${mode}" != scratch ] && [ "${mode}" != whisper ]; then
        local encoder
        encoder=$(python3 -m espnet_brain.bin.config_value "${asr_config}" encoder) \
            || die "${asr_config}: no encoder (see above)"
        [ "${encoder}" = hf_whisper ] || echo "--ctc_init ${pretrained_model}"
    fi
    # Only full fine-tuning (and its adapters) holds and warms up the transformer: scratch has nothing pretrained
    # to protect and trains it from the first update (Fiedler et al.), frozen does not train it at all.
    if [ -n "${freeze_epochs}${warmup_epochs}" ] && { [ "${mode}" = full ] || [ "${mode}" = adapter ]; }; then
        # Epochs become updates from the data size, since datasets differ widely in size.
        local batch_size per_epoch n_train
        batch_size=$(python3 -m espnet_brain.bin.config_value "${asr_config}" batch_size) \
            || die "--freeze_epochs/--warmup_epochs need batch_size in ${asr_config}"
        [[ ${batch_size} =~ ^[1-9][0-9]*$ ]] \
            || die "${asr_config}: --freeze_epochs/--warmup_epochs need a positive integer batch_size, got ${batch_size}"
        n_train=$(wc -l <"${data_feats}/${train_set}/feats_shape")
        per_epoch=$(((n_train + batch_size - 1) / batch_size))
        log "${mode}: ${per_epoch} updates/epoch (${n_train} utterances, batch_size ${batch_size})"
        [ -z "${freeze_epochs}" ] || echo "--scheduler_conf freeze_steps=$((freeze_epochs * per_epoch))"
        [ -z "${warmup_epochs}" ] || echo "--scheduler_conf warmup_steps=$((warmup_epochs * per_epoch))"
    fi
}

if run_stage 1; then
    [ -x local/data.sh ] || die "local/data.sh is missing or not executable"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if run_stage 2; then
    # --zscore train/online: the training set (dumped first) writes the statistics every set is normalised with.
    zscore_stats=${data_feats}/${train_set}/zscore_stats.npz
    for dset in ${all_sets}; do
        [ -d "data/${dset}" ] || die "data/${dset} does not exist; run stage 1"
        out=${data_feats}/${dset}
        mkdir -p "${out}"
        # Up to date: dumped after the data directory (and the training statistics) were written, with the same
        # feature options.
        settings="${feats_type} ${feature_set} zscore=${zscore}${zscore_time_constant:+ tau=${zscore_time_constant}}"
        if [ -f "${out}/.done" ] && [ "${out}/.done" -nt "data/${dset}/text" ] \
            && [ "$(cat "${out}/.done")" = "${settings}" ] \
            && { [ "${zscore}" = block ] || [ "${zscore}" = none ] || [ ! "${zscore_stats}" -nt "${out}/.done" ]; }; then
            log "${out} is up to date (${settings})"
            continue
        fi
        if [ "${feats_type}" = neural ]; then
            zscore_opts=(--zscore "${zscore}")
            if [ "${zscore}" = train ] || [ "${zscore}" = online ]; then
                fit=false
                [ "${dset}" != "${train_set}" ] || fit=true
                zscore_opts+=(--stats_file "${zscore_stats}" --fit_stats "${fit}")
            fi
            [ -z "${zscore_time_constant}" ] || zscore_opts+=(--online_time_constant "${zscore_time_constant}")
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
        # ESPnet's programs run through run_espnet: the plugin's import hooks apply (no NLTK download attempt).
        python3 -m espnet_brain.bin.run_espnet espnet2.bin.tokenize_text --token_type char \
            --input "data/${train_set}/text" --output "${token_list}" --field 2- --cleaner none --g2p none \
            --write_vocabulary true --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1"
        log "$(wc -l <"${token_list}") tokens in ${token_list}"
    fi
    if needs_ngram; then
        # Up to date: written after the training text and the token list, with the same settings.
        lm_settings="${train_set} ${ngram_arpa:-order=${ngram_order} prune=${ngram_prune}} ${lm_text}"
        if [ -f "${lm_dir}/.done" ] && [ "${lm_dir}/.done" -nt "data/${train_set}/text" ] \
            && [ "${lm_dir}/.done" -nt "${token_list}" ] && [ "$(cat "${lm_dir}/.done")" = "${lm_settings}" ]; then
            log "${lm_dir} is up to date (${lm_settings})"
        else
            lm_args=(--text "data/${train_set}/text" --order "${ngram_order}")
            for f in ${lm_text}; do lm_args+=(--plain_text "${f}"); done
            [ -z "${ngram_arpa}" ] || lm_args+=(--arpa "${ngram_arpa}")
            for dset in ${valid_set} ${test_sets}; do
                [ ! -f "data/${dset}/text" ] || lm_args+=(--check "${dset}=data/${dset}/text")
            done
            # shellcheck disable=SC2086
            python3 -m espnet_brain.bin.build_lm --token_list "${token_list}" --out_dir "${lm_dir}" \
                --prune ${ngram_prune} "${lm_args[@]}"
            echo "${lm_settings}" >"${lm_dir}/.done"
        fi
    fi
    if has_decoder token_lm; then
        [ -f "${token_lm_config}" ] || die "decoder token_lm: ${token_lm_config} does not exist (--token_lm_config)"
        lm_stats=${token_lm_exp}/stats
        lm_data=(--token_type char --token_list "${token_list}" --non_linguistic_symbols none --cleaner none
            --g2p none --train_data_path_and_name_and_type "data/${train_set}/text,text,text"
            --valid_data_path_and_name_and_type "data/${valid_set}/text,text,text")
        ${train_cmd} "${lm_stats}/stats.log" \
            python3 -m espnet_brain.bin.run_espnet espnet2.bin.lm_train --collect_stats true --use_preprocessor true \
            "${lm_data[@]}" \
            --train_shape_file "data/${train_set}/text" --valid_shape_file "data/${valid_set}/text" \
            --output_dir "${lm_stats}" --config "${token_lm_config}"
        log "training the token LM ${token_lm_exp} (log: ${token_lm_exp}/train.log)"
        ${train_cmd} "${token_lm_exp}/train.log" \
            python3 -m espnet_brain.bin.run_espnet espnet2.bin.lm_train --resume true --use_preprocessor true \
            "${lm_data[@]}" \
            --train_shape_file "${lm_stats}/train/text_shape" --valid_shape_file "${lm_stats}/valid/text_shape" \
            --fold_length 150 \
            --output_dir "${token_lm_exp}" --config "${token_lm_config}"
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
mode_args=""
if [ -n "${mode}" ] && { stage_selected 5 || stage_selected 6; }; then
    shapes=${data_feats}/${train_set}/feats_shape
    [ -s "${shapes}" ] || die "${shapes} missing or empty; run stage 2"
    mode_args=$(mode_model_args) || die "--mode ${mode}: could not set the transfer schedule (see above)"
    log "${mode}: $(wc -l <"${shapes}") training utterances, pretrained model ${pretrained_model}"
fi
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
    check_model_args=(--config "${asr_config}" $(data_model_args) ${mode_args} ${asr_args})
    # A run that prepares the shared statistics and then trains repeats stage 5: the check is skipped when these
    # settings (arguments, config and token list) already passed it on these statistics.
    check_key=$(printf '%s\n' "${ctc_max_infeasible}" "${check_args[@]}" "${check_model_args[@]}" \
        | cat - "${asr_config}" "${token_list}" | md5sum | cut -c1-16)
    check_stamp=${stats_dir}/ctc_checked.${check_key}
    if [ -f "${check_stamp}" ] && [ "${check_stamp}" -nt "${stats_dir}/.done" ]; then
        log "CTC feasibility: these settings already passed on ${stats_dir} ($(cat "${check_stamp}"))"
    else
        python3 -m espnet_brain.bin.check_ctc_feasibility --token_list "${token_list}" \
            --max_infeasible "${ctc_max_infeasible}" "${check_args[@]}" -- "${check_model_args[@]}" \
            || die "CTC feasibility check failed (see above); --ctc_max_infeasible sets the allowed fraction"
        date -u +"checked %Y-%m-%dT%H:%M:%SZ" >"${check_stamp}"
    fi
fi

train_asr() {
    # train_asr OUTPUT_DIR NAME [EXTRA TRAINER ARGS...]: ESPnet's trainer on the training set, config and mode.
    local out=$1 name=$2
    shift 2
    local day_args=()
    if [ -f "${data_feats}/${train_set}/utt2day" ]; then
        day_args=(--train_data_path_and_name_and_type "${data_feats}/${train_set}/utt2day,day,text_int"
            --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2day,day,text_int")
    fi
    mkdir -p "${out}"
    # ESPnet's launcher picks the multi-GPU / multi-node method (srun for slurm.pl) from ${cuda_cmd}.
    # --resume true: an interrupted run continues from ${out}/checkpoint.pth.
    # shellcheck disable=SC2086
    python3 -m espnet2.bin.launch --cmd "${cuda_cmd} --name ${name}" --log "${out}/train.log" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${out}/.dist_init_" \
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
        --output_dir "${out}" --config "${asr_config}" ${model_args} ${mode_args} ${asr_args} "$@"
}

if run_stage 6; then
    mkdir -p "${asr_exp}"
    model_args=$(data_model_args)
    lr_args=()
    if [ -n "${lr_grid}" ]; then
        # Short runs, one per (lr, encoder_lr) pair, everything else as configured; the best dev loss picks the
        # rates of the full run (espnet_brain.bin.select_lr; table in ${asr_exp}/lr_selection.md).
        runs=()
        for pair in ${lr_grid}; do
            [[ ${pair} =~ ^[0-9.eE+-]+:[0-9.eE+-]+$ ]] || die "--lr_grid: expected LR:ENCODER_LR pairs, got ${pair}"
            lr=${pair%%:*} enc_lr=${pair#*:}
            run_dir=${asr_exp}/lr_search/lr${lr}_enc${enc_lr}
            log "learning-rate search: lr ${lr}, encoder_lr ${enc_lr}, ${lr_grid_epochs} epochs (${run_dir})"
            # The run's length and rates (lr written as a YAML float for ESPnet's --optim_conf), and the full run's
            # freeze and warm-up of the transformer scaled to its length, so that the encoder rate is compared.
            # shellcheck disable=SC2086
            read -r -a short_args < <(python3 -m espnet_brain.bin.select_lr --short_run "${lr}:${enc_lr}" \
                --epochs "${lr_grid_epochs}" --config "${asr_config}" -- ${model_args} ${mode_args} ${asr_args}) \
                || die "learning-rate search: could not set the short runs' arguments (see above)"
            train_asr "${run_dir}" "${asr_tag}_lr${lr}_enc${enc_lr}" "${short_args[@]}" \
                || log "learning-rate search: the run lr ${lr}, encoder_lr ${enc_lr} failed (see ${run_dir}/train.log)"
            runs+=(--run "${run_dir}:${lr}:${enc_lr}")
        done
        read -r -a lr_args < <(python3 -m espnet_brain.bin.select_lr "${runs[@]}" --out "${asr_exp}/lr_selection") \
            || die "learning-rate search: no run has a finite dev loss (see ${asr_exp}/lr_search/*/train.log)"
        log "learning rates chosen on ${valid_set}: ${lr_args[*]} (${asr_exp}/lr_selection.md)"
    fi
    log "training ${asr_exp} (log: ${asr_exp}/train.log)${model_args:+; from the data: ${model_args//$'\n'/ }}"
    train_asr "${asr_exp}" "${asr_tag}" "${lr_args[@]}"
fi

if run_stage 7; then
    [ -f "${asr_exp}/${inference_model}" ] || die "${asr_exp}/${inference_model} not found; train first (stage 6)"
    tuned=false
    for decoder in ${decoders}; do
        case ${decoder} in greedy | beam) ;; *) tuned=true ;; esac
    done
    # The network runs once per set: its greedy hypotheses go to decode_<set>/text and its log-posteriors to
    # decode_<set>/logp, which every decoder reads. The dev set is decoded too when LM weights are tuned there.
    forward_sets=${test_sets}
    [ "${tuned}" = false ] || forward_sets="${valid_set} ${test_sets}"
    for dset in ${forward_sets}; do
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
            --logp_dir "${out}/output.JOB" --decoding greedy ${inference_args}
        for ((j = 1; j <= inference_nj; j++)); do cat "${out}/output.${j}/text"; done | sort >"${out}/text"
        for ((j = 1; j <= inference_nj; j++)); do cat "${out}/output.${j}/logp.scp"; done >"${out}/logp.scp"
        log "$(wc -l <"${out}/text") greedy hypotheses in ${out}/text"
    done
    for decoder in ${decoders}; do
        [ "${decoder}" != greedy ] || continue
        search_args=(--decoder "${decoder}" --beam_size "${beam_size}")
        case ${decoder} in
            token_lm)
                search_args+=(--token_lm_config "${token_lm_exp}/config.yaml"
                    --token_lm_file "${token_lm_exp}/valid.loss.ave.pth") ;;
            ngram) search_args+=(--lm_dir "${lm_dir}" "--unk_score=${unk_score}") ;;
            ngram_llm) search_args+=(--lm_dir "${lm_dir}" "--unk_score=${unk_score}" --llm "${llm}") ;;
        esac
        if [ "${decoder}" != beam ]; then
            # Every grid: ctc_search tunes the weights its decoder has (espnet_brain.asr.lm.search.TUNED).
            # shellcheck disable=SC2086
            search_args+=(--dev_logp_scp "${asr_exp}/decode_${valid_set}/logp.scp" --dev_text "data/${valid_set}/text"
                --lm_weights ${lm_weights} --word_scores ${word_scores} --llm_weights ${llm_weights})
        fi
        for dset in ${test_sets}; do
            search_args+=(--logp_scp "${asr_exp}/decode_${dset}/logp.scp" --output_dir "${asr_exp}/decode_${dset}/${decoder}")
        done
        ${decode_cmd} "${asr_exp}/decode_${decoder}.log" \
            python3 -m espnet_brain.bin.ctc_search --token_list "${token_list}" "${search_args[@]}"
        for dset in ${test_sets}; do
            out=${asr_exp}/decode_${dset}/${decoder}
            log "${decoder}: $(wc -l <"${out}/text") hypotheses in ${out}/text (settings: ${out}/search.json)"
        done
    done
fi

decoded_text() {  # the hypotheses of decoder $2 in decoding directory $1
    if [ "$2" = greedy ]; then echo "$1/text"; else echo "$1/$2/text"; fi
}

if run_stage 8; then
    for dset in ${test_sets}; do
        out=${asr_exp}/decode_${dset}
        hyps=()
        for decoder in ${decoders}; do
            hyp=$(decoded_text "${out}" "${decoder}")
            [ -f "${hyp}" ] || die "${hyp} not found; decode first (stage 7)"
            hyps+=(--hyp "${asr_tag} ${decoder}=${hyp}")
        done
        python3 -m espnet_brain.bin.score --ref "data/${dset}/text" "${hyps[@]}" \
            --out "${out}/RESULTS.md" --title "${dset}, CTC decoders (LM weights chosen on ${valid_set})"
    done
fi

if run_stage 9; then
    read -r test_set _ <<<"${test_sets}"
    [ -n "${results_title}" ] || results_title="${test_set} (${tag}); LM weights chosen on ${valid_set}"
    hyps=()
    missing=()
    for mode_name in "full:full fine-tune" "scratch:from scratch" "frozen:frozen transformer" \
        "adapter:adapters (LoRA) in the frozen transformer" "whisper:Whisper encoder" "bfe:BFE only (no transformer)" \
        "full_causal:full fine-tune, causal" "scratch_causal:from scratch, causal" "frozen_causal:frozen transformer, causal"; do
        for decoder in ${decoders}; do
            hyp=$(decoded_text "${expdir}/asr_$(exp_name "${mode_name%%:*}")/decode_${test_set}" "${decoder}")
            if [ -f "${hyp}" ]; then
                hyps+=(--hyp "${mode_name#*:}, ${decoder}=${hyp}")
            else
                missing+=("${mode_name%%:*}/${decoder}")
            fi
        done
    done
    [ ${#missing[@]} -eq 0 ] || log "not decoded, left out of the table: ${missing[*]}"
    [ ${#hyps[@]} -gt 0 ] || die "no decoded ${test_set} set under ${expdir}/asr_brain_<mode>_${tag}; train and decode a mode first (--mode, stages 2-7)"
    python3 -m espnet_brain.bin.score --out "${expdir}/RESULTS_${tag}.md" --ref "data/${test_set}/text" \
        "${hyps[@]}" --title "${results_title}"
    log "results in ${expdir}/RESULTS_${tag}.md"
fi

if run_stage 10; then
    python3 -m espnet_brain.bin.run_espnet espnet2.bin.pack asr --asr_train_config "${asr_exp}/config.yaml" \
        --asr_model_file "${asr_exp}/${inference_model}" --option "${token_list}" \
        --outpath "${asr_exp}/packed_model.zip"
    log "packed ${asr_exp}/packed_model.zip"
fi

log "done"
