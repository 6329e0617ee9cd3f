#!/usr/bin/env bash
# Data preparation for mini_brain: generate the synthetic corpus (if needed), then Kaldi-style
# data directories for the audio baseline (data/audio_*) and the brain decoders (data/brain_*).
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Generate the synthetic corpus (python -m espnet_brain.bin.simulate)"
define_stage 2 "Audio data directories data/audio_{train,dev,test}"
define_stage 3 "Brain data directories data/brain_{train,dev,test,holdout} from the Willett-format .mat files"

# begin options
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run.
corpus=downloads/mini_brain  # Where the corpus is (or will be) written.
preset=small            # Corpus size: tiny, small or bench.
seed=0                  # Corpus seed.
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"
. utils/parse_options.sh
check_stages

. ./path.sh

if run_stage 1; then
    manifest=${corpus}/MANIFEST.json
    if [ -f "${manifest}" ] && python3 - "${manifest}" "${preset}" "${seed}" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if (m.get("preset"), str(m.get("seed"))) == (sys.argv[2], sys.argv[3]) else 1)
PY
    then
        log "${corpus} already holds the ${preset} corpus with seed ${seed}"
    else
        [ ! -e "${corpus}" ] || die "${corpus} exists but is not the ${preset}/seed ${seed} corpus; remove it or pick --corpus"
        # Only the parts this recipe reads: the fMRI and iEEG parts belong to other recipes.
        python3 -m espnet_brain.bin.simulate --out "${corpus}" --preset "${preset}" --seed "${seed}" \
            --parts text,speech,intracortical
    fi
fi

if run_stage 2; then
    for split in train dev test; do
        python3 -m espnet_brain.bin.prepare_speech --src "${corpus}/speech/${split}" --dst "data/audio_${split}"
    done
fi

if run_stage 3; then
    # The last block of each training day is the validation set, as users of the real corpus do.
    python3 -m espnet_brain.bin.prepare_willett --corpus "${corpus}/brain2text24" --dst data --prefix brain_ \
        --dev_blocks last
fi
