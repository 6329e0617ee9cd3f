#!/usr/bin/env bash
# mini_speech asr1: the offline pretrained speech models of the mini_brain recipes.
#
# Two small models of the papers' classes, a Wav2Vec2 (brain-to-text, Fiedler et al.) and a WavLM
# (BrainWavLM encoding), are trained with character CTC on a broad synthetic speech corpus: about
# 2 hours of eSpeak NG speech, 84 voices, ~3,000 words, no sentence of the mini_brain corpora.
# Stage 5 exports them in Hugging Face format to models/<model>/ with a model card; the
# committed copies are what mini_brain asr1 and enc1 load by default.
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Broad synthetic speech corpus (python -m espnet_brain.bin.simulate_broad_speech)"
define_stage 2 "Data directories data/{train,dev,test}"
define_stage 3 "Character CTC training of each model in --models, from random weights"
define_stage 4 "Decoding and scoring on the held-out test speech"
define_stage 5 "Export each model to models/<model>/ (HF format) with its model card and training log"

# begin options
stage=1                 # First stage to run.
stop_stage=5            # Last stage to run.
ngpu=0                  # GPUs for training.
nj=2                    # Parallel jobs for dumping and decoding.
seed=0                  # Corpus and initialisation seed.
corpus=downloads/broad_speech  # Where the corpus is (or will be) written.
n_train=2700            # Training sentences (~2 h of speech at the defaults; 20000 for the larger preset, ~15 h).
n_heldout=150           # Dev and test sentences each.
vocab_size=3000         # Words from the top of the frequency list.
words=""                # A word list, most frequent first, one per line (default: wordfreq's English list).
models="wav2vec2 wavlm" # Which models to train (conf/<model>.yaml, conf/train_<model>.yaml; wav2vec2_deep: 8 layers).
asr_args=""             # Extra trainer arguments, e.g. "--max_epoch 2".
out=models              # Where stage 5 writes the exported models (the committed ones are here).
# end options

help_message="Usage: $0 [options]
mini_speech: pretrain small Wav2Vec2 and WavLM character-CTC models on broad synthetic speech.
$(options_help "$0")"
. utils/parse_options.sh
check_stages

. ./path.sh

sets=(--feats_type raw --train_set train --valid_set dev --test_sets test)

if run_stage 1; then
    if [ -f "${corpus}/MANIFEST.json" ]; then
        log "${corpus} exists; remove it to regenerate"
    else
        python3 -m espnet_brain.bin.simulate_broad_speech --out "${corpus}" --seed "${seed}" --n_train "${n_train}" \
            --n_dev "${n_heldout}" --n_test "${n_heldout}" --vocab_size "${vocab_size}" ${words:+--words "${words}"} --no-progress
    fi
fi

if run_stage 2; then
    for split in train dev test; do
        python3 -m espnet_brain.bin.prepare_speech --src "${corpus}/speech/${split}" --dst "data/${split}"
    done
fi

if run_stage 3; then
    for model in ${models}; do
        ./brain_asr.sh --ngpu "${ngpu}" --nj "${nj}" "${sets[@]}" --asr_config "conf/train_${model}.yaml" \
            --asr_tag "${model}" --stage 2 --stop_stage 3
        if [ ! -f "exp/init_${model}/config.json" ]; then
            # conf/<type>[_<variant>].yaml: the architecture is the name's first part (wav2vec2_deep is a wav2vec2)
            python3 -m espnet_brain.bin.make_hf_model --model_type "${model%%_*}" --config "conf/${model}.yaml" \
                --token_list data/token_list/char/tokens.txt --output_dir "exp/init_${model}" --seed "${seed}"
        fi
        ./brain_asr.sh --ngpu "${ngpu}" --nj "${nj}" "${sets[@]}" --asr_config "conf/train_${model}.yaml" \
            --asr_tag "${model}" --stage 5 --stop_stage 6 --asr_args "${asr_args}"
    done
fi

if run_stage 4; then
    for model in ${models}; do
        ./brain_asr.sh --ngpu "${ngpu}" --nj "${nj}" "${sets[@]}" --asr_config "conf/train_${model}.yaml" \
            --asr_tag "${model}" --decoders greedy --stage 7 --stop_stage 8
    done
fi

if run_stage 5; then
    for model in ${models}; do
        python3 -m espnet_brain.bin.export_hf --asr_train_config "exp/asr_${model}/config.yaml" \
            --asr_model_file "exp/asr_${model}/valid.loss.ave.pth" --output_dir "${out}/${model}"
        python3 -m espnet_brain.bin.write_model_card --model_dir "${out}/${model}" --exp_dir "exp/asr_${model}" \
            --corpus "${corpus}" --model_conf "conf/${model}.yaml" --train_conf "conf/train_${model}.yaml" \
            --test_text data/test/text --test_hyp "exp/asr_${model}/decode_test/text" \
            --command "cd egs2/mini_speech/asr1 && ./run.sh --seed ${seed} --n_train ${n_train} --models ${model}"
    done
    log "exported: $(for m in ${models}; do printf '%s ' "${out}/${m}"; done)"
fi

log "done"
