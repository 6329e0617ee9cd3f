#!/usr/bin/env bash
# Competition submission of a Brain-to-text recipe (brain2text24, brain2text25: their stage 6).
#
# Dumps the unlabelled holdout set (data/holdout, written by the recipe's stage 1) and decodes it with a trained
# system (brain_asr.sh stages 2 and 7: no pretrained-model check, no training, no scoring), then writes the
# hypotheses of --submit_decoder in the competition's format (espnet_brain.bin.write_submission) to
# <exp>/submission_<format>.<txt|csv>, <exp> being brain_asr.sh's experiment of --submit_mode.
#
# Usage: ./brain_submit.sh --format brain2text24 [options] -- <brain_asr.sh options of the recipe>
# The brain_asr.sh options after "--" must include the --feature_set, --zscore, --causal and --decoders given here.
set -euo pipefail

. utils/stage_utils.sh

# begin options
format=                 # Submission format: brain2text24 (a text file, one sentence a line) or brain2text25 (id,text CSV).
holdout_source="holdout files"  # What the corpus lacks when data/holdout is missing (for the error message).
submit_mode=full        # The system whose holdout decoding is submitted: full, scratch or frozen.
submit_decoder=greedy   # The decoder whose holdout hypotheses are submitted (one of --decoders).
decoders=greedy         # The decoders brain_asr.sh runs (its --decoders).
feature_set=            # brain_asr.sh's --feature_set (names the experiment).
zscore=block            # brain_asr.sh's --zscore (names the experiment unless block).
causal=false            # brain_asr.sh's --causal (the streaming variant's experiment).
# end options

help_message="Usage: $0 [options] -- <brain_asr.sh options>
Decode the competition holdout set with a trained system and write the submission file.
$(options_help "$0")"
. utils/parse_options.sh
require_choice format brain2text24 brain2text25
require_choice submit_mode full scratch frozen
[ -n "${feature_set}" ] || die "--feature_set is required"

. ./path.sh

[ -d data/holdout ] || die "data/holdout does not exist: the corpus has no ${holdout_source} (stage 1)"
# Dump the holdout set and decode it with the trained system (no pretrained check, no training, no scoring).
./brain_asr.sh "$@" --mode "${submit_mode}" --test_sets holdout --stage 2 --stop_stage 7 --skip_stages "3 4 5 6"
tag=${feature_set}
[ "${zscore}" = block ] || tag=${tag}_zscore${zscore}  # brain_asr.sh's --mode naming
variant=${submit_mode}
[ "${causal}" = false ] || variant=${submit_mode}_causal
exp=exp/asr_brain_${variant}_${tag}
hyp=${exp}/decode_holdout/text
[ "${submit_decoder}" = greedy ] || hyp=${exp}/decode_holdout/${submit_decoder}/text
[ -f "${hyp}" ] || die "${hyp} not found: --submit_decoder must be one of --decoders (${decoders})"
case ${format} in
    brain2text24) out=${exp}/submission_brain2text24.txt ;;
    brain2text25) out=${exp}/submission_brain2text25.csv ;;
esac
python3 -m espnet_brain.bin.write_submission --format "${format}" --data_dir data/holdout --hyp "${hyp}" --out "${out}"
