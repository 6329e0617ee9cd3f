#!/usr/bin/env bash
# Stage script for one transfer mode of a brain decoder: a GRU brain feature extractor (BFE) in front of a
# pretrained speech transformer and its character CTC head (conf/train_brain_<mode>.yaml), trained, decoded
# and scored through brain_asr.sh; a last stage puts the modes decoded so far side by side.
#
#   full     fine-tune the pretrained transformer, CTC head initialised from the pretrained model
#   scratch  the same architecture, randomly initialised
#   frozen   the pretrained transformer and CTC head kept fixed
#
# The BFE's input size and day count are read from the dumped data, so switching --feature_set (or the
# corpus) needs no config edit.  Recipes call it from egs2/<corpus>/asr1, e.g.
#   ./brain_transfer.sh --mode scratch --feature_set all --stop_stage 5
#   ./brain_transfer.sh --stage 6 --results_title "test set, greedy CTC"
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Feature dumping (brain_asr.sh stage 2)"
define_stage 2 "Token list and pretrained model check (brain_asr.sh stages 3-4)"
define_stage 3 "Shape statistics, CTC feasibility and training (brain_asr.sh stages 5-6)"
define_stage 4 "Decoding (brain_asr.sh stage 7)"
define_stage 5 "Scoring (brain_asr.sh stage 8)"
define_stage 6 "Results table of the transfer modes decoded so far (first test set)"

# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
skip_stages=""          # Stages to skip, e.g. "2".
ngpu=0                  # GPUs for training.
nj=4                    # Threads for dumping.
expdir=exp              # Where experiments and the results table go.
# Data
feature_set=tx1_spikepow_6v  # Neural features to dump (python -m espnet_brain.bin.dump_neural --help).
zscore=block            # Normalisation when dumping: block (per recording block, each test block with its own
                        # statistics), train (per day, statistics of the training set only) or none.
tag=                    # Name of the features in dump and experiment names (default: --feature_set, plus
                        # _zscore<mode> unless --zscore is block).
dumpdir=                # Dumped features (default: dump/<tag>, one directory per feature definition).
train_set=train         # Training set (a directory under data/, with days listing its recording days).
valid_set=dev           # Validation set.
test_sets="test"        # Sets to decode and score, space separated.
# Model
mode=full               # Transfer mode: full, scratch or frozen (config <confdir>/train_brain_<mode>.yaml).
pretrained_model=facebook/wav2vec2-base-960h  # Hub id or local directory of a Wav2Vec2ForCTC checkpoint.
confdir=conf            # Directory of the train_brain_<mode>.yaml configs (e.g. conf/tiny).
freeze_epochs=          # Epochs the pretrained transformer is held in mode full, as scheduler freeze_steps (empty: the config's).
warmup_epochs=          # Epochs of its linear warm-up afterwards, as scheduler warmup_steps (empty: the config's).
asr_args=""             # Extra trainer arguments, e.g. "--max_epoch 3".
# Decoding and results
decoding=greedy         # greedy or beam.
results_title=          # Title of the results table (default: "<test set> (<tag>), <decoding> CTC, no LM").
# end options

help_message="Usage: $0 [options]
One transfer mode of a BFE + pretrained speech transformer brain decoder, through brain_asr.sh; the results
table exp/RESULTS_<tag>.md of the modes full, scratch and frozen.  Experiments: exp/asr_brain_<mode>_<tag>.
$(options_help "$0")"
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value; see --help)"
check_stages
require_choice mode full scratch frozen
require_choice decoding greedy beam
require_choice zscore block train none
require_int ngpu 0
require_int nj 1
for name in freeze_epochs warmup_epochs; do
    [ -z "${!name}" ] || require_int "${name}" 0
done
[ -n "${test_sets// /}" ] || die "--test_sets is empty"

. ./path.sh

if [ -z "${tag}" ]; then
    # Another normalisation is another input: it must not reuse the dump or the model of the default one.
    tag=${feature_set}
    [ "${zscore}" = block ] || tag=${tag}_zscore${zscore}
fi
[ -n "${dumpdir}" ] || dumpdir=dump/${tag}
asr_config=${confdir}/train_brain_${mode}.yaml
[ -f "${asr_config}" ] || die "--mode ${mode}: ${asr_config} does not exist (--confdir ${confdir})"

exp_name() { echo "brain_${1}_${tag}"; }

brain_asr() {
    # brain_asr.sh with this mode's config and experiment name; "$@" selects its stages.
    ./brain_asr.sh --ngpu "${ngpu}" --nj "${nj}" --expdir "${expdir}" --dumpdir "${dumpdir}" --feats_type neural \
        --feature_set "${feature_set}" --zscore "${zscore}" --train_set "${train_set}" --valid_set "${valid_set}" \
        --test_sets "${test_sets}" --pretrained_model "${pretrained_model}" --decoding "${decoding}" \
        --asr_config "${asr_config}" --asr_tag "$(exp_name "${mode}")" "$@"
}

if run_stage 1; then
    brain_asr --stage 2 --stop_stage 2
fi

if run_stage 2; then
    brain_asr --stage 3 --stop_stage 4
fi

if run_stage 3; then
    shapes=${dumpdir}/neural/${train_set}/feats_shape
    [ -s "${shapes}" ] || die "${shapes} missing or empty; run stage 1"
    n_train=$(wc -l <"${shapes}")
    # brain_asr.sh sets the BFE's input size and day count from the dumped data.
    train_args="--encoder_conf model_name_or_path=${pretrained_model}"
    # Full fine-tuning and the frozen mode start from the pretrained character head; scratch does not.
    [ "${mode}" = scratch ] || train_args="${train_args} --ctc_init ${pretrained_model}"
    schedule=""
    # Only full fine-tuning holds and warms up its transformer: scratch has nothing pretrained to protect and
    # trains it from the first update (Fiedler et al.), frozen does not train it at all.
    if [ -n "${freeze_epochs}${warmup_epochs}" ] && [ "${mode}" = full ]; then
        # Epochs become updates from the data size, since datasets differ widely in size.
        batch_size=$(python3 -c '
import sys, yaml
conf = yaml.safe_load(open(sys.argv[1])) or {}
size = conf.get("batch_size")
if not isinstance(size, int) or size < 1:
    sys.exit(f"{sys.argv[1]}: --freeze_epochs/--warmup_epochs need a positive integer batch_size, got {size!r}")
print(size)' "${asr_config}")
        per_epoch=$(((n_train + batch_size - 1) / batch_size))
        schedule=" (${per_epoch} updates/epoch)"
        [ -z "${freeze_epochs}" ] || train_args="${train_args} --scheduler_conf freeze_steps=$((freeze_epochs * per_epoch))"
        [ -z "${warmup_epochs}" ] || train_args="${train_args} --scheduler_conf warmup_steps=$((warmup_epochs * per_epoch))"
    fi
    log "${mode}: ${n_train} training utterances${schedule}, pretrained model ${pretrained_model}"
    brain_asr --stage 5 --stop_stage 6 --asr_args "${train_args} ${asr_args}"
fi

if run_stage 4; then
    brain_asr --stage 7 --stop_stage 7
fi

if run_stage 5; then
    brain_asr --stage 8 --stop_stage 8
fi

if run_stage 6; then
    read -r test_set _ <<<"${test_sets}"
    [ -n "${results_title}" ] || results_title="${test_set} (${tag}), ${decoding} CTC, no LM"
    hyps=()
    for mode_name in "full:full fine-tune" "scratch:from scratch" "frozen:frozen transformer"; do
        hyp=${expdir}/asr_$(exp_name "${mode_name%%:*}")/decode_${test_set}/text
        if [ -f "${hyp}" ]; then
            hyps+=(--hyp "${mode_name#*:}=${hyp}")
        else
            log "no ${hyp}: mode ${mode_name%%:*} left out of the table"
        fi
    done
    [ ${#hyps[@]} -gt 0 ] || die "no decoded ${test_set} set under ${expdir}/; train and decode a mode first (stages 1-4)"
    python3 -m espnet_brain.bin.score --out "${expdir}/RESULTS_${tag}.md" --ref "data/${test_set}/text" \
        "${hyps[@]}" --title "${results_title}"
    log "results in ${expdir}/RESULTS_${tag}.md"
fi

log "done"
