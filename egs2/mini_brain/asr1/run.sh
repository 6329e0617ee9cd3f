#!/usr/bin/env bash
# mini_brain asr1: brain-to-text on the offline synthetic corpus, compared with audio ASR.
#
# The pretrained Wav2Vec2 is, offline, the small one committed under ../../mini_speech/asr1/models/wav2vec2
# (character CTC on ~2 hours of broad synthetic speech; no sentence of this corpus; see its model card),
# or any hub id / local directory with --pretrained. Stage 2 fine-tunes it on this corpus's speech (the audio
# ASR baseline). The brain decoders put a GRU brain feature extractor in front of its transformer in four
# transfer modes (stages 4-6: full fine-tuning, from scratch, frozen, and frozen with LoRA adapters), stage 7
# trains the same BFE with no transformer (the control) twice: on the transfer modes' schedule (bfe), and as the
# field's own baseline tuned on dev (bfe_tuned: its learning rate from --bfe_lr_grid by short runs, then up to
# --bfe_max_epoch epochs with early stopping on the dev loss), and stage 8 writes the comparison to exp/RESULTS.md.
# --pretrained in_run restores the former stand-in: the audio model trained from random weights on this corpus's
# 11 minutes of speech (stage 2) and exported as the pretrained model (stage 3).
# With a Whisper as --pretrained (the installed OpenAI weights: whisper-tiny.en or whisper-base, a Whisper directory
# or CTranslate2 directory, or a hub id), every system uses Whisper's encoder (encoder: hf_whisper) with a new CTC
# head, and the configs are <confdir>/whisper (conf/whisper by default): the audio baseline reads the speech through
# Whisper's log-mel and conv stem (frontend: hf_whisper_stem), the brain decoders through the BFE at Whisper's 50
# frames/s, and stage 2 adds Whisper's own zero-shot transcription of the test speech as a reference row, e.g.
#     ./run.sh --pretrained whisper-tiny.en
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Synthetic corpus and data directories (local/data.sh)"
define_stage 2 "Audio ASR baseline: train, decode, score"
define_stage 3 "With --pretrained in_run: export the audio model as this corpus's pretrained Wav2Vec2 (HF format)"
define_stage 4 "Brain decoder, full fine-tuning of the pretrained transformer"
define_stage 5 "Brain decoder, same architecture from scratch"
define_stage 6 "Brain decoder, frozen pretrained transformer: as it is, and with trained LoRA adapters"
define_stage 7 "BFE-only control: the same BFE and CTC head without a transformer (the modes' schedule; tuned on dev)"
define_stage 8 "RESULTS.md: audio ASR vs the brain decoders"
define_stage 9 "Latent analysis: t-SNE of brain vs audio features (PNG)"
define_stage 10 "BFE architecture sweep in the three modes (long; local/sweep.sh, run with --stage 10)"
define_stage 11 "Streaming (causal) brain decoders in the three modes, online z-scoring; exp/RESULTS_causal.md (run with --stage 11)"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=             # Last stage to run (default 9; stages 10 (the sweep, hours on a CPU) and 11 (causal) on demand).
skip_stages=""          # Stages to skip, e.g. "8".
ngpu=0                  # GPUs for training.
nj=2                    # Parallel jobs for data preparation and dumping.
preset=small            # Corpus size: tiny (tests), small (default), bench.
seed=0                  # Corpus seed.
confdir=conf            # Configs: conf (default run, ~15-19 min on 2 CPU cores; the BFE at the pretrained model's 50
                        # frames/s), conf/reference_bfe (the reference-shaped BFE, 20 epochs: ~60-70 min),
                        # conf/rate25 (25 frames/s) or conf/tiny (the test-suite variant).
decoders="greedy ngram" # CTC decoders, any of: greedy beam token_lm ngram ngram_llm (brain_asr.sh).
llm=none                # Causal LM of ngram_llm (hub id or local directory).
asr_args=""             # Extra trainer arguments for every system, e.g. "--max_epoch 2".
train_nj=2              # Systems (stages 2, 4-7) trained at once, one CPU thread each (logs: exp/systems/log);
                        # 1 trains them in turn, on the default thread count, with their output here.
pretrained=../../mini_speech/asr1/models/wav2vec2  # Pretrained Wav2Vec2 (hub id, directory, or in_run: see above), or
                        # a Whisper (whisper-tiny.en, whisper-base, a directory): then the configs of <confdir>/whisper.
modes="full scratch frozen adapter bfe bfe_tuned"  # Brain systems of stages 4-7 to train and compare (stage 8
                        # tables these); bfe_tuned is the BFE-only control with its own rate and length (below).
bfe_lr_grid="5e-4 1e-3 2e-3"  # bfe_tuned: learning rates tried in short runs; the best dev loss is kept.
bfe_lr_epochs=4         # bfe_tuned: epochs of each short run.
bfe_max_epoch=30        # bfe_tuned: at most this many epochs ...
bfe_patience=4          # ... stopped when the dev loss has not improved for this many (ESPnet's early stopping).
# end options

help_message="Usage: $0 [options]
mini_brain: brain-to-text on a synthetic corpus, with an audio ASR baseline built from the same parts.
$(options_help "$0")"
. utils/parse_options.sh
# Without --stop_stage, run up to stage 9, or just the stage asked for with --stage 10 or 11.
[ -n "${stop_stage}" ] || stop_stage=$((stage > 9 ? stage : 9))
check_stages
require_int train_nj 1
require_int bfe_lr_epochs 1
require_int bfe_max_epoch 1
require_int bfe_patience 1
for lr in ${bfe_lr_grid}; do
    [[ ${lr} =~ ^[0-9.]+([eE][+-]?[0-9]+)?$ ]] || die "--bfe_lr_grid: expected learning rates, got '${lr}'"
done
for mode in ${modes}; do
    case "${mode}" in
        full | scratch | frozen | adapter | bfe | bfe_tuned) ;;
        *) die "--modes: unknown mode '${mode}'; choose from full scratch frozen adapter bfe bfe_tuned" ;;
    esac
done

. ./path.sh
. ./db.sh
. ./cmd.sh

whisper=false
if [ "${pretrained}" != in_run ]; then
    model_type=$(python3 -m espnet_brain.bin.model_type "${pretrained}") || die "--pretrained ${pretrained}: see above"
    if [ "${model_type}" = whisper ]; then
        whisper=true
        # Whisper has its own configs (a new CTC head, its audio front): <confdir>/whisper, unless given directly.
        if [ "$(basename "${confdir}")" != whisper ]; then
            [ -d "${confdir}/whisper" ] \
                || die "--pretrained ${pretrained} is a Whisper, which needs the configs of ${confdir}/whisper (missing)"
            confdir=${confdir}/whisper
        fi
        log "--pretrained ${pretrained} is a Whisper: configs of ${confdir}"
    fi
fi

common=(--ngpu "${ngpu}" --nj "${nj}" --decoders "${decoders}" --llm "${llm}")
audio_sets=(--feats_type raw --train_set audio_train --valid_set audio_dev --test_sets audio_test)
brain_sets=(--feats_type neural --train_set brain_train --valid_set brain_dev --test_sets brain_test)
audio_init=()
if [ "${pretrained}" = in_run ]; then
    pretrained=exp/audio_wav2vec2_hf
    in_run=true
else
    # The audio baseline fine-tunes the pretrained model, CTC head included, on this corpus's speech.
    audio_init=(--frontend_conf "model_name_or_path=${pretrained}" --encoder_conf "model_name_or_path=${pretrained}")
    # Whisper has no CTC head: its CTC layer is new (ctc_init: null in <confdir>/whisper)
    "${whisper}" || audio_init+=(--ctc_init "${pretrained}")
    in_run=false
fi

if run_stage 1; then
    local/data.sh --corpus "${MINI_BRAIN}" --preset "${preset}" --seed "${seed}"
fi

# The systems of stages 2 and 4-7 are jobs of one list (exp/systems/jobs.txt), trained --train_nj at a time.
# What they share (dumps, token list, n-gram LM, shape statistics) is prepared first, one step at a time.
system_names=()
system_lines=()
add_system() {
    # add_system NAME BRAIN_ASR_ARGS...: queue a system; its job runs ./brain_asr.sh with these arguments.
    system_names+=("$1")
    shift
    system_lines+=("$(printf '%q ' "$@")")
}
run_systems() {
    # Train, decode and score the queued systems, then empty the queue.
    local n=${#system_names[@]} list=exp/systems/jobs.txt i
    [ "${n}" -gt 0 ] || return 0
    mkdir -p exp/systems/log
    printf '%s\n' "${system_lines[@]}" >"${list}"
    if [ "${train_nj}" -eq 1 ]; then
        for ((i = 1; i <= n; i++)); do
            log "system ${system_names[i - 1]}"
            local/system_job.sh "${list}" "${i}"
        done
    else
        for ((i = 1; i <= n; i++)); do
            log "system ${system_names[i - 1]}: exp/systems/log/system.${i}.log"
        done
        log "training ${n} systems, ${train_nj} at a time on one thread each"
        # shellcheck disable=SC2086
        ${cuda_cmd} --num_threads 1 --gpu "${ngpu}" --max_jobs_run "${train_nj}" JOB=1:"${n}" \
            exp/systems/log/system.JOB.log local/system_job.sh "${list}" JOB \
            || die "a system failed (see the log named above); run the same command again to resume"
    fi
    system_names=()
    system_lines=()
}

if run_stage 2; then
    ./brain_asr.sh "${common[@]}" "${audio_sets[@]}" --asr_config "${confdir}/train_audio.yaml" --asr_tag audio \
        --stage 2 --stop_stage 3
    if "${in_run}" && [ ! -f exp/audio_init/config.json ]; then
        # The audio model starts from random weights with the shape of conf/wav2vec2_mini.yaml.
        python3 -m espnet_brain.bin.make_hf_model --model_type wav2vec2 --config "${confdir}/wav2vec2_mini.yaml" \
            --token_list data/token_list/char/tokens.txt --output_dir exp/audio_init --seed "${seed}"
    fi
    zero_shot=exp/whisper_zero_shot/decode_audio_test/text
    if "${whisper}" && ! { [ -s "${zero_shot}" ] && [ "${zero_shot}" -nt data/audio_test/text ]; }; then
        # The reference row: Whisper's own decoder on the test speech, no training on this corpus.
        log "Whisper's zero-shot transcription of data/audio_test: ${zero_shot}"
        python3 -m espnet_brain.bin.whisper_zero_shot --model "${pretrained}" --wav_scp data/audio_test/wav.scp \
            --output "${zero_shot}"
    fi
fi
queue_audio() {
    # Queue the audio baseline's training, decoding and scoring (stage 2).
    run_stage 2 || return 0
    add_system audio "${common[@]}" "${audio_sets[@]}" --asr_config "${confdir}/train_audio.yaml" --asr_tag audio \
        --stage 5 --stop_stage 8 --asr_args "${audio_init[*]} ${asr_args}"
}

if "${in_run}"; then
    # The brain decoders need the exported audio model.
    queue_audio
    run_systems
    if run_stage 3; then
        python3 -m espnet_brain.bin.export_hf --asr_train_config exp/asr_audio/config.yaml \
            --asr_model_file exp/asr_audio/valid.loss.ave.pth --output_dir "${pretrained}"
    fi
fi

# Longest first, so that the last jobs to start are short ones.
brain_modes=()
for mode_stage in "4 full" "6 frozen" "7 bfe_tuned" "5 scratch" "6 adapter" "7 bfe"; do
    read -r n mode <<<"${mode_stage}"
    if [[ " ${modes} " == *" ${mode} "* ]] && run_stage "${n}"; then
        brain_modes+=("${mode}")
    fi
done
if [ ${#brain_modes[@]} -gt 0 ]; then
    # One dump of the brain sets (dump/neural), its LM and shape statistics, for every mode.
    ./brain_asr.sh "${common[@]}" "${brain_sets[@]}" --mode "${brain_modes[0]%_tuned}" --confdir "${confdir}" \
        --dumpdir dump --asr_tag "brain_${brain_modes[0]}" --pretrained_model "${pretrained}" --stage 2 --stop_stage 5
fi
for mode in "${brain_modes[@]}"; do
    # Short experiment names (exp/asr_brain_<mode>) for this corpus's single feature set; the transfer mode sets
    # the pretrained transformer and CTC head. The BFE-only control has no pretrained model
    # (conf/train_brain_bfe.yaml: the BFE's frames go straight to a random CTC head).
    model_args=(--pretrained_model "${pretrained}")
    tuning=()
    mode_asr_args=${asr_args}
    case "${mode}" in
        bfe) model_args=() ;;
        bfe_tuned)
            # The control as a user tuning this baseline would train it: the rate with the best dev loss after
            # short runs, then as many epochs as the dev loss keeps falling (the trainer's early stopping). The
            # BFE-only model has no encoder, so each rate's encoder half (LR:ENCODER_LR) is unused.
            model_args=()
            tuning=(--lr_grid "$(for lr in ${bfe_lr_grid}; do printf '%s:%s ' "${lr}" "${lr}"; done)"
                --lr_grid_epochs "${bfe_lr_epochs}")
            mode_asr_args="--max_epoch ${bfe_max_epoch} --patience ${bfe_patience} ${asr_args}" ;;
    esac
    add_system "brain_${mode}" "${common[@]}" "${brain_sets[@]}" --mode "${mode%_tuned}" --confdir "${confdir}" \
        --dumpdir dump --asr_tag "brain_${mode}" "${model_args[@]}" "${tuning[@]}" --stage 5 --stop_stage 8 \
        --asr_args "${mode_asr_args}"
done
# The audio baseline, if not trained yet, goes after the brain decoders: it is the shortest.
"${in_run}" || queue_audio
run_systems

if run_stage 8; then
    # One row per system and decoder; the decoders' LM weights were chosen on each system's dev set.
    rows=()
    for decoder in ${decoders}; do
        sub=""
        [ "${decoder}" = greedy ] || sub=/${decoder}
        audio_rows=("audio ASR (same encoder, speech input), ${decoder}=exp/asr_audio/decode_audio_test${sub}/text")
        if "${whisper}" && [ "${decoder}" = greedy ]; then
            audio_rows=("Whisper zero-shot (its own decoder, speech input), greedy=exp/whisper_zero_shot/decode_audio_test/text"
                "${audio_rows[@]}")
        fi
        for row in "${audio_rows[@]}"; do
            if [ -f "${row#*=}" ]; then
                rows+=(--hyp "${row}" --ref data/audio_test/text)
            elif stage_selected 2; then
                die "stage 8: ${row#*=} is missing although stage 2 ran"
            else
                # e.g. --skip_stages 2: brain systems compared without the audio rows
                log "stage 8: no ${row#*=} (stage 2 not run): the table leaves out '${row%%=*}'"
            fi
        done
        for mode_name in "full:full fine-tune" "scratch:from scratch" "frozen:frozen transformer" \
            "adapter:adapters (LoRA) in the frozen transformer" "bfe:BFE only (no transformer)" \
            "bfe_tuned:BFE only, rate and epochs chosen on dev"; do
            [[ " ${modes} " == *" ${mode_name%%:*} "* ]] || continue
            hyp=exp/asr_brain_${mode_name%%:*}/decode_brain_test${sub}/text
            [ -f "${hyp}" ] || die "stage 8: ${hyp} is missing: train that system first (its stage), or leave it out of --modes"
            rows+=(--hyp "brain: ${mode_name#*:}, ${decoder}=${hyp}" --ref data/brain_test/text)
        done
    done
    title="mini_brain test set (${preset} preset)"
    ! "${whisper}" || title+=", Whisper ${pretrained}"
    python3 -m espnet_brain.bin.score --out exp/RESULTS.md --title "${title}" "${rows[@]}"
fi

if run_stage 9; then
    if [[ " ${modes} " == *" full "* ]]; then
        python3 -m espnet_brain.bin.latent_analysis --brain_exp exp/asr_brain_full --audio_exp exp/asr_audio \
            --brain_data dump/neural/brain_test --audio_data dump/raw/audio_test --out_dir exp/latent_analysis
    else
        log "stage 9 skipped: the t-SNE compares the full fine-tune, which --modes leaves out"
    fi
fi

if run_stage 10; then
    local/sweep.sh --confdir "${confdir}" --pretrained "${pretrained}" --ngpu "${ngpu}" --asr_args "${asr_args}"
fi

if run_stage 11; then
    # The live setting: causal BFE, chunked attention, and features z-scored online from the training statistics
    # (their own dump), compared with the offline decoders of stages 4-6.
    for mode in full scratch frozen; do
        ./brain_asr.sh "${common[@]}" "${brain_sets[@]}" --mode "${mode}" --causal true --zscore online \
            --confdir "${confdir}" --dumpdir dump_online --asr_tag "brain_${mode}_causal" \
            --pretrained_model "${pretrained}" --stage 2 --stop_stage 8 --asr_args "${asr_args}"
    done
    rows=()
    for decoder in ${decoders}; do
        sub=""
        [ "${decoder}" = greedy ] || sub=/${decoder}
        for mode_name in "full:full fine-tune" "scratch:from scratch" "frozen:frozen transformer"; do
            for variant in "offline:" "causal (streaming, online z-score):_causal"; do
                hyp=exp/asr_brain_${mode_name%%:*}${variant#*:}/decode_brain_test${sub}/text
                [ -f "${hyp}" ] || continue
                rows+=(--hyp "${mode_name#*:}, ${variant%%:*}, ${decoder}=${hyp}")
            done
        done
    done
    python3 -m espnet_brain.bin.score --out exp/RESULTS_causal.md --ref data/brain_test/text \
        --title "mini_brain test set (${preset} preset): offline vs causal brain decoders" "${rows[@]}"
    log "offline vs causal: exp/RESULTS_causal.md"
fi

log "done; see exp/RESULTS.md"
