#!/usr/bin/env bash
# mini_brain enc1: speech-to-fMRI encoding on the offline synthetic corpus (LeBel et al. 2023 format).
#
# The speech model (--speech_model) is, offline, the small WavLM committed under ../../mini_speech/asr1/models/wavlm
# (character CTC on ~2 hours of broad synthetic speech, no sentence of this corpus; see its model card): a WavLM
# that knows speech. --speech_model asr1 takes the Wav2Vec2 that ../asr1 trains on this corpus's own speech,
# random the RANDOMLY INITIALISED WavLM of stage 2 (conf/wavlm_mini.yaml), whose numbers test the pipeline only. Stage 4 also fits the ridge on a log-mel
# spectrogram, the field's low-level control. What the corpus has besides is ground truth: stage 3 fits the same ridge on the simulator's true stimulus features (the upper bound a
# feature space can reach) and scores the noiseless simulated signal (the oracle). Stage 4 runs the encoding
# recipe: ridge on frozen features, LoRA fine-tuning with the spatial-correlation loss, the fine-tuned head's own
# predictions and a ridge refit on fine-tuned features, all scored on wheretheressmoke against the noise ceiling
# of its repeats, whole cortex and per ROI, in exp/RESULTS.md.
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Synthetic corpus, data directories and dump (brain_enc.sh stages 1 and 3)"
define_stage 2 "A randomly initialised WavLM as this corpus's stand-in pretrained model"
define_stage 3 "Ground truth: ridge on the simulator's true features, and the noiseless signal"
define_stage 4 "Model check, frozen-feature ridge, log-mel and articulatory controls, variance partition, LoRA fine-tuning, refit, scoring -> exp/RESULTS.md (brain_enc.sh 2, 4-9)"
define_stage 5 "Cross-subject transfer to --transfer_subjects -> exp/transfer_<subject>/RESULTS.md (brain_enc.sh 11)"
define_stage 6 "Probes of frozen and tuned features for the simulator's acoustic and semantic features, per TR and per word -> exp/probes (brain_enc.sh 12)"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip.
ngpu=0                  # GPUs for training and inference.
preset=small            # Corpus size: tiny (tests), small (default), bench.
seed=0                  # Corpus seed.
subject=UTS01           # Simulated subject.
confdir=conf            # Configs: conf (default run) or conf/tiny (the test-suite variant).
enc_args=""             # Extra trainer arguments, e.g. "--max_epoch 2".
target_rois=auditory    # ROIs tuned on alone besides the whole cortex (BrainWavLM's claim 2; "" for none).
ridge_layers=""         # Frozen-feature ridge at these layers (empty: the config's layer), e.g. "1 2 3 4".
no_lora_arms="head full" # Arms tuned without LoRA, for the stability comparison (BrainWavLM's claim 1; "" for none).
word_probes=true        # Stage 6: word-level probes too (each word's phonemes and its simulated embedding).
transfer_subjects=UTS02 # Subjects whose ridge is refit on the features of the models tuned on --subject (claim 4).
speech_model=wavlm      # The speech model: wavlm (the committed ../../mini_speech/asr1/models/wavlm), asr1 (the
                        # Wav2Vec2 that ../asr1 --pretrained in_run trains on this corpus's speech and exports in its
                        # stage 3), random (stage 2's randomly initialised WavLM), auto (asr1 when ../asr1 has
                        # exported it, else random), whisper-tiny.en or whisper-base (the encoder of OpenAI's Whisper,
                        # from its installed package), or a local directory of a Hugging Face speech model (a Whisper
                        # or CTranslate2 Whisper directory included).
enc_config=""           # Training config (empty: ${confdir}/train_enc_lora.yaml, or for a Whisper
                        # ${confdir}/train_enc_lora_whisper.yaml, ..._whisper_base.yaml for whisper-base).
# end options

help_message="Usage: $0 [options]
mini_brain enc1: speech-to-fMRI encoding on a synthetic corpus with known ground truth.
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice word_probes true false

. ./path.sh
. ./db.sh

gt=${MINI_BRAIN}/lebel2023/derivative/ground_truth/${subject}
common=(--ngpu "${ngpu}" --enc_tag lora)
if "${word_probes}"; then
    # stage 4 writes the frozen model's window features that stage 6's word-level probes reuse
    [ ! -d "${MINI_BRAIN}/lebel2023/derivative" ] || [ -f "${MINI_BRAIN}/lebel2023/derivative/ground_truth/word_embeddings.txt" ] \
        || die "${MINI_BRAIN}/lebel2023 predates the simulator's word vectors: remove it and run stage 1 again, or pass --word_probes false"
    common+=(--probe_words "${MINI_BRAIN}/lebel2023/derivative/TextGrids"
        --probe_embeddings "${MINI_BRAIN}/lebel2023/derivative/ground_truth/word_embeddings.txt")
fi
# is_whisper MODEL
. utils/speech_model.sh

if [ "${speech_model}" = auto ]; then
    speech_model=random
    [ ! -f ../asr1/exp/audio_wav2vec2_hf/config.json ] || speech_model=asr1
    log "--speech_model auto: ${speech_model}$([ "${speech_model}" = asr1 ] || echo " (run ../asr1/run.sh --stop_stage 3 for a model that knows the corpus's speech)")"
fi
case "${speech_model}" in
    wavlm)
        speech_model=../../mini_speech/asr1/models/wavlm
        [ -f "${speech_model}/config.json" ] || die "--speech_model wavlm: ${speech_model} is missing from this checkout"
        model_note="Speech model: the small WavLM of ../../mini_speech (character CTC on broad synthetic speech)" ;;
    random)
        model_note="The pretrained WavLM of this recipe is RANDOMLY INITIALISED (no real WavLM offline): the numbers test the pipeline, not WavLM" ;;
    asr1)
        speech_model=../asr1/exp/audio_wav2vec2_hf
        [ -f "${speech_model}/config.json" ] \
            || die "--speech_model asr1: ${speech_model} does not exist; run ../asr1/run.sh --stop_stage 3 first"
        model_note="Speech model: the Wav2Vec2 of ../asr1 (trained there on this corpus's synthetic speech)" ;;
    whisper-tiny.en|whisper-base)
        model_note="Speech model: the encoder of OpenAI's Whisper ${speech_model#whisper-} (its installed package, converted to transformers)" ;;
    *)
        [ -f "${speech_model}/config.json" ] || die "--speech_model ${speech_model}: no config.json there"
        model_note="Speech model: ${speech_model}" ;;
esac
[ "${speech_model}" = random ] || common+=(--pretrained_model "${speech_model}")
if [ -z "${enc_config}" ]; then
    enc_config=${confdir}/train_enc_lora.yaml
    if is_whisper "${speech_model}"; then
        enc_config=${confdir}/train_enc_lora_whisper.yaml
        [ "${speech_model}" != whisper-base ] || [ ! -f "${confdir}/train_enc_lora_whisper_base.yaml" ] \
            || enc_config=${confdir}/train_enc_lora_whisper_base.yaml
    fi
    log "--speech_model ${speech_model}: ${enc_config}"
fi
[ -f "${enc_config}" ] || die "--enc_config ${enc_config} does not exist"
common+=(--enc_config "${enc_config}")

if run_stage 1; then
    # The stand-in pretrained model does not exist yet: its check (brain_enc.sh stage 2) comes in stage 4.
    ./brain_enc.sh "${common[@]}" --stage 1 --stop_stage 3 --skip_stages 2 \
        --local_data_opts "$(printf '%q ' --corpus "${MINI_BRAIN}" --preset "${preset}" --seed "${seed}" --subject "${subject}")"
fi

if run_stage 2; then
    python3 -m espnet_brain.bin.make_ssl_model --model_type wavlm --config "${confdir}/wavlm_mini.yaml" \
        --output_dir exp/wavlm_random --seed "${seed}"
fi

check_truth() {
    # The ground truth must come from the simulator this code describes (stage 1 regenerates an older corpus).
    python3 -c 'import sys
from espnet_brain.simulate.fmri import check_ground_truth
try:
    check_ground_truth(sys.argv[1])
except ValueError as e:
    sys.exit(f"ERROR: {e}")' "${gt}"
}

if run_stage 3; then
    check_truth
    # The true features are on the stimulus grid of every story (N - 5 rows), like extracted features.
    python3 -m espnet_brain.bin.ridge_encoding --train_feats "${gt}/features" \
        --train_responses dump/train/stories/response.scp --train_responses dump/dev/stories/response.scp \
        --test_feats "${gt}/features" --output_dir exp/ridge_true_features
fi

if run_stage 4; then
    ./brain_enc.sh "${common[@]}" --stage 2 --stop_stage 9 --skip_stages 3 --enc_args "${enc_args}" \
        --target_rois "${target_rois}" --no_lora_arms "${no_lora_arms}" --ridge_layers "${ridge_layers}" \
        --results_title "mini_brain enc1: wheretheressmoke, ${subject} (${preset} preset, seed ${seed})" \
        --results_notes "${model_note};The last two rows use the simulator's ground truth: ridge on the true features (upper bound of a feature space) and the noiseless signal (oracle)" \
        --extra_systems "ridge, simulator's true features (upper bound)=exp/ridge_true_features/pred.scp;noiseless simulated signal (oracle)=${gt}/signal"
fi

if run_stage 5; then
    ./brain_enc.sh "${common[@]}" --stage 11 --stop_stage 11 --target_rois "${target_rois}" \
        --no_lora_arms "${no_lora_arms}" --ridge_layers "${ridge_layers}" \
        --transfer_subjects "${transfer_subjects}" \
        --local_data_opts "$(printf '%q ' --corpus "${MINI_BRAIN}" --preset "${preset}" --seed "${seed}")" \
        --results_title "mini_brain enc1: wheretheressmoke (${preset} preset, seed ${seed}), models tuned on ${subject}"
fi

if run_stage 6; then
    check_truth
    # The simulator's true features: column blocks spectral (band envelopes), articulatory, word rate, semantic (the
    # word embedding); model.json "blocks" gives each block's [start, stop).
    read -r spectral semantic < <(python3 -c 'import json, sys
b = json.load(open(sys.argv[1]))["blocks"]
print("%d-%d %d-%d" % (b["spectral"][0], b["spectral"][1] - 1, b["semantic"][0], b["semantic"][1] - 1))' "${gt}/model.json")
    ./brain_enc.sh "${common[@]}" --stage 12 --stop_stage 12 --target_rois "${target_rois}" \
        --no_lora_arms "${no_lora_arms}" --ridge_layers "${ridge_layers}" \
        --probe_targets "acoustic=${gt}/features:${spectral} semantic=${gt}/features:${semantic}"
fi

log "done; see exp/RESULTS.md$([ -z "${transfer_subjects}" ] || echo " and exp/transfer_*/RESULTS.md")"
