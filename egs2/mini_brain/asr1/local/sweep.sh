#!/usr/bin/env bash
# BFE architecture sweep on mini_brain: every GRU brain feature extractor of a small grid in the three
# transfer modes (full fine-tuning, from scratch, frozen transformer), then SWEEP.md with per-mode best and
# median CER, how often full fine-tuning wins on the same BFE, and a one-sided Wilcoxon signed-rank test.
#
# Needs run.sh stages 1-3 (corpus, token list; with --pretrained in_run, the exported Wav2Vec2); the brain shape
# statistics are collected here if run.sh stage 4 has not done it. The runs are jobs of the recipe's job
# command (${cuda_cmd} JOB=1:N, cmd.sh), each brain_asr.sh stages 6-8 on one config. Interrupted sweeps
# resume: finished runs (those with a score) are not launched again. Run from egs2/mini_brain/asr1:
#
#     local/sweep.sh                                      # 2 x 2 x 2 BFEs x 3 modes = 24 runs
#     local/sweep.sh --num_layers "1 3 5" --hidden_size "256 512 1024" --fc_sizes "none 128 256 512 512,128"
#     local/sweep.sh --grid conf/sweep_schedule.yaml --modes "full adapter" --out_dir exp/schedule_sweep
#
# A grid file may also sweep the training schedule (encoder_lr, scheduler_conf.freeze_steps, curriculum_epochs, ...:
# espnet_brain.asr.sweep.grid).
set -euo pipefail

. utils/stage_utils.sh

# begin options
confdir=conf            # Base configs: <confdir>/train_brain_<mode>.yaml for each of --modes.
modes="full scratch frozen"  # Transfer modes (the first is the reference of the report's comparisons).
pretrained=""           # Pretrained Wav2Vec2 of every run (hub id or directory; empty: the base configs' own).
num_layers="1 2"        # GRU layers to sweep.
hidden_size="64 128"    # GRU hidden units (per direction) to sweep.
fc_sizes="none 64"      # FC stacks after the GRU: none, 64, 128,64 ...
grid=""                 # YAML/JSON grid file instead of the three lists above.
out_dir=exp/bfe_sweep   # Configs, job list, logs, SWEEP.md, sweep_cer.png, sweep_results.tsv.
run=true                # Train the runs (false: only write configs and report what is scored).
ngpu=0                  # GPUs per run.
nj=1                    # Runs at the same time.
asr_args=""             # Extra trainer arguments for every run, e.g. "--max_epoch 10".
# end options

help_message="Usage: $0 [options]
Sweep BFE architectures x transfer modes on mini_brain and compare the modes.
$(options_help "$0")"
. utils/parse_options.sh
require_choice run true false
require_int ngpu 0
require_int nj 1

. ./path.sh
. ./cmd.sh

sets=(--feats_type neural --train_set brain_train --valid_set brain_dev --test_sets brain_test)
base_args=()
for mode in ${modes}; do
    [ -f "${confdir}/train_brain_${mode}.yaml" ] || die "${confdir}/train_brain_${mode}.yaml not found"
    base_args+=(--base_config "${mode}=${confdir}/train_brain_${mode}.yaml")
done
[ "${#base_args[@]}" -gt 0 ] || die "--modes: give at least one transfer mode"
reference=${modes%% *}
base_first=${confdir}/train_brain_${reference}.yaml
[ -d data/brain_train ] || die "data/brain_train not found; run ./run.sh --stage 1 --stop_stage 3 first"

if [ "${run}" = true ] && [ ! -f exp/asr_stats_neural_brain_train/train/speech_shape ]; then
    log "collecting brain shape statistics (brain_asr.sh stages 2-5)"
    ./brain_asr.sh "${sets[@]}" --ngpu "${ngpu}" --asr_config "${base_first}" --stage 2 --stop_stage 5
fi

grid_args=()
if [ -n "${grid}" ]; then
    grid_args=(--grid "${grid}")
else
    # shellcheck disable=SC2206
    grid_args=(--num_layers ${num_layers} --hidden_size ${hidden_size} --fc_sizes ${fc_sizes})
fi

# Configs of every run and the job list of those without a score yet.
python3 -m espnet_brain.bin.bfe_sweep_configs \
    "${base_args[@]}" "${grid_args[@]}" ${pretrained:+--pretrained_model "${pretrained}"} --out_dir "${out_dir}" --expdir exp --test_set brain_test

n_jobs=$(wc -l <"${out_dir}/jobs.txt")
if [ "${run}" = true ] && [ "${n_jobs}" -gt 0 ]; then
    log "${n_jobs} runs to train, decode and score, ${nj} at a time (logs: ${out_dir}/log/run.<job>.log)"
    # A failed run is reported in SWEEP.md (and makes the report exit non-zero); the others go on.
    # shellcheck disable=SC2086
    threads=()
    [ "${nj}" -eq 1 ] || threads=(--num_threads 1)  # runs side by side share the cores: one thread each
    ${cuda_cmd} "${threads[@]}" --gpu "${ngpu}" --max_jobs_run "${nj}" JOB=1:"${n_jobs}" "${out_dir}/log/run.JOB.log" \
        local/sweep_job.sh "${out_dir}/jobs.txt" JOB "${sets[@]}" --ngpu "${ngpu}" \
        --asr_args "${asr_args}" || log "some runs failed; see SWEEP.md"
fi

python3 -m espnet_brain.bin.bfe_sweep_report --out_dir "${out_dir}" --expdir exp --test_set brain_test \
    --reference "${reference}" --title "mini_brain BFE sweep (greedy CTC)"

log "done; see ${out_dir}/SWEEP.md"
