#!/usr/bin/env bash
# One system of run.sh (the audio baseline or a brain decoder), a job of its job list: line <job> holds the
# brain_asr.sh arguments, shell-quoted, that train, decode and score it.
#
#     local/system_job.sh exp/systems/jobs.txt 2
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "Usage: $0 <job list> <job number>" >&2
    exit 1
fi
jobs=$1
job=$2
[[ "${job}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: job number must be a positive integer, got '${job}'" >&2; exit 1; }
[ -f "${jobs}" ] || { echo "$0: ${jobs} not found; run.sh writes it" >&2; exit 1; }
line=$(sed -n "${job}p" "${jobs}")
[ -n "${line}" ] || { echo "$0: ${jobs} has no line ${job}" >&2; exit 1; }
# The list is written by run.sh with printf %q, so eval restores the arguments exactly.
eval "args=(${line})"
# This job already holds its resources: the stage script runs its steps here, not through the cluster again.
ESPNET_BRAIN_CMD_BACKEND=local exec ./brain_asr.sh "${args[@]}"
