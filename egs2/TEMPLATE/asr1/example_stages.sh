#!/usr/bin/env bash
# A skeleton for new stage scripts (run.sh, local/data.sh, brain_*.sh), runnable as it is:
#
#     ./example_stages.sh --help
#     ./example_stages.sh --stage 2 --stop_stage 3 --nj 2
#
# It shows every helper of utils/stage_utils.sh and how stages hand work to the job launcher of
# cmd.sh (${train_cmd}), so that each command's output, start/end time and exit code are logged
# under exp/.  Copy it, rename the stages, keep the structure.
set -euo pipefail

. utils/stage_utils.sh

define_stage 1 "Prepare the data directory"
define_stage 2 "Count words, one job per split"
define_stage 3 "Write RESULTS.md"

# Every option is a variable defined here; "--help" lists this block with the comments.
# begin options
# General
stage=1                 # First stage to run.
stop_stage=10000        # Last stage to run (past the last stage means to the end).
skip_stages=""          # Stages to skip, e.g. "2 3".
nj=2                    # Number of parallel jobs in stage 2.
# Data
upper=false             # Upper-case the text in stage 1 (true or false).
count_args=""           # Extra arguments for wc in stage 2, e.g. "-l" to count lines instead.
expdir=exp/example      # Where logs and results go.
# end options

help_message="Usage: $0 [options]
$(options_help "$0")"

. utils/parse_options.sh
if [ $# -ne 0 ]; then
    die "unexpected arguments: $* (see $0 --help)"
fi

. ./path.sh
. ./cmd.sh

check_stages
require_int nj 1
require_choice upper true false

datadir=data/example

if run_stage 1; then
    mkdir -p "${datadir}"
    text="the quick brown fox
jumps over
the lazy dog"
    if "${upper}"; then
        text=$(tr '[:lower:]' '[:upper:]' <<<"${text}")
    fi
    printf '%s\n' "${text}" >"${datadir}/text"
    log "Wrote ${datadir}/text ($(wc -l <"${datadir}/text") lines)"
fi

if run_stage 2; then
    mkdir -p "${datadir}/split${nj}"
    # Round-robin split: line i goes to part (i mod nj) + 1.
    awk -v nj="${nj}" -v dir="${datadir}/split${nj}" '{ print > (dir "/text." ((NR - 1) % nj) + 1) }' \
        "${datadir}/text"
    for ((i = 1; i <= nj; i++)); do
        touch "${datadir}/split${nj}/text.${i}"
    done
    # The launcher substitutes JOB, runs the jobs (here, or on Slurm with cmd_backend=slurm) and
    # fails naming the failed logs.  count_args is split into words on purpose.
    # shellcheck disable=SC2086
    ${train_cmd} JOB=1:"${nj}" "${expdir}/log/count.JOB.log" \
        wc -w ${count_args} "${datadir}/split${nj}/text.JOB" "|" tee "${expdir}/count.JOB.txt"
    log "Counted words in ${nj} parts; logs in ${expdir}/log/count.*.log"
fi

if run_stage 3; then
    total=0
    for ((i = 1; i <= nj; i++)); do
        n=$(awk '{ print $1; exit }' "${expdir}/count.${i}.txt")
        total=$((total + n))
    done
    printf '# Example results\n\n| words |\n|---|\n| %d |\n' "${total}" >"${expdir}/RESULTS.md"
    log "Wrote ${expdir}/RESULTS.md (words: ${total})"
fi

log "Successfully finished (stages ${stage}..${stop_stage})"
