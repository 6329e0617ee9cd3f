#!/usr/bin/env bash
# One run of the BFE sweep, a job of local/sweep.sh: line <job> of the job list ("<tag> <config>") trained,
# decoded and scored by brain_asr.sh stages 6-8. Further arguments go to brain_asr.sh.
#
#     local/sweep_job.sh exp/bfe_sweep/jobs.txt 3 --feats_type neural --train_set brain_train ...
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "Usage: $0 <job list> <job number> [brain_asr.sh options]" >&2
    exit 1
fi
jobs=$1
job=$2
shift 2
[[ "${job}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: job number must be a positive integer, got '${job}'" >&2; exit 1; }
[ -f "${jobs}" ] || { echo "$0: ${jobs} not found; write it with espnet_brain.bin.bfe_sweep_configs" >&2; exit 1; }
read -r tag config < <(sed -n "${job}p" "${jobs}") || true
[ -n "${tag:-}" ] && [ -n "${config:-}" ] || { echo "$0: ${jobs} has no line ${job} ('<tag> <config>')" >&2; exit 1; }
# This job already holds its resources: the stage script runs its steps here, not through the cluster again.
ESPNET_BRAIN_CMD_BACKEND=local exec ./brain_asr.sh --stage 6 --stop_stage 8 --asr_config "${config}" \
    --asr_tag "${tag}" "$@"
