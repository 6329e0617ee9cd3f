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
# Model
pretrained_model=facebook/wav2vec2-base-960h  # Hub id or local directory of a Wav2Vec2ForCTC checkpoint.
confdir=conf            # Training configs: conf (the reference setting) or conf/tiny (the test-suite variant).
decoding=greedy         # greedy or beam.
asr_args=""             # Extra trainer arguments for every mode, e.g. "--max_epoch 3".
submit_mode=full        # The system whose holdout decoding is submitted: full, scratch or frozen.
# end options

help_message="Usage: $0 [options]
Brain-to-text '25: GRU brain feature extractor + pretrained Wav2Vec2 in three transfer modes, and the
competition submission.
$(options_help "$0")"
. utils/parse_options.sh
check_stages
require_choice submit_mode full scratch frozen

. ./path.sh
. ./db.sh
[ -n "${corpus}" ] || corpus=${BRAIN2TEXT25}

# One dump directory and experiment name per feature set: switching --feature_set never reuses features or
# a model of another input size.
dumpdir=dump/${feature_set}
common=(--ngpu "${ngpu}" --nj "${nj}" --decoding "${decoding}" --feats_type neural --feature_set "${feature_set}"
    --dumpdir "${dumpdir}" --train_set train --valid_set dev --pretrained_model "${pretrained_model}")

tag_of() { echo "brain_${1}_${feature_set}"; }

# Dump, tokens, pretrained check, statistics, training, decoding and scoring of one transfer mode.
train_mode() {
    local mode=$1 tag dim n_days init
    tag=$(tag_of "${mode}")
    ./brain_asr.sh "${common[@]}" --test_sets test --asr_config "${confdir}/train_brain_${mode}.yaml" \
        --asr_tag "${tag}" --stage 2 --stop_stage 4
    # The BFE's input size and day count come from the data, so --feature_set needs no config edit.
    dim=$(head -n 1 "${dumpdir}/neural/train/feats_shape" | cut -d ' ' -f 2 | cut -d , -f 2)
    n_days=$(wc -l <data/train/days)
    init="--encoder_conf model_name_or_path=${pretrained_model}"
    # Full fine-tuning and the frozen mode start from the pretrained character head; scratch does not.
    [ "${mode}" = scratch ] || init="${init} --ctc_init ${pretrained_model}"
    log "${mode}: ${dim} features per bin, ${n_days} days, pretrained model ${pretrained_model}"
    ./brain_asr.sh "${common[@]}" --test_sets test --asr_config "${confdir}/train_brain_${mode}.yaml" \
        --asr_tag "${tag}" --stage 5 --stop_stage 8 \
        --asr_args "--frontend_conf input_size=${dim} --frontend_conf n_days=${n_days} ${init} ${asr_args}"
}

if run_stage 1; then
    local/data.sh --corpus "${corpus}"
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
    python3 -m espnet_brain.bin.score --out "exp/RESULTS_${feature_set}.md" --ref data/test/text "${hyps[@]}" \
        --title "Brain-to-text '25 test set (data_val, ${feature_set}), ${decoding} CTC, no LM"
fi

if run_stage 6; then
    [ -d data/holdout ] || die "data/holdout does not exist: the corpus has no data_test.hdf5 files (stage 1)"
    tag=$(tag_of "${submit_mode}")
    ./brain_asr.sh "${common[@]}" --test_sets holdout --asr_config "${confdir}/train_brain_${submit_mode}.yaml" \
        --asr_tag "${tag}" --stage 2 --stop_stage 2
    ./brain_asr.sh "${common[@]}" --test_sets holdout --asr_config "${confdir}/train_brain_${submit_mode}.yaml" \
        --asr_tag "${tag}" --stage 7 --stop_stage 7
    python3 -m espnet_brain.bin.write_submission --format brain2text25 --data_dir data/holdout \
        --hyp "exp/asr_${tag}/decode_holdout/text" --out "exp/asr_${tag}/submission_brain2text25.csv"
fi

log "done"
