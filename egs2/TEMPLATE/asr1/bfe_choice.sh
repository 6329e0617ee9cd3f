#!/usr/bin/env bash
# The brain feature extractor's (BFE) window and projection chosen on the dev set (brain2text24, brain2text25 and
# ieeg_bids: run.sh --bfe_grid).
#
# The reference BFE reads 640 ms windows (kernel_size 32 of 20 ms bins) with no projection, 32 x C values per GRU
# step: a shape set on 8.8k training sentences. A corpus of a few hundred sentences needs another, chosen on its own
# dev set. This script writes one config per point of --bfe_grid over the BFE-only control's config
# (<confdir>/train_brain_bfe.yaml: the same BFE and CTC head with no transformer, cheap to train), trains each for
# --bfe_grid_epochs (brain_asr.sh --mode bfe, its stages 5-6; the dumps and the token list of its stages 2-3 first),
# and picks the point with the lowest best dev CTC loss (espnet_brain.bin.choose_bfe). With --causal true the short
# runs train the control's BFE causal, as the streaming modes will. It writes, under --outdir:
#
#   choice.md, choice.json  every point, its best dev loss and epoch, the chosen one marked
#   frontend_args           the chosen point as one line of trainer arguments, e.g.
#                           --frontend_conf kernel_size=8 --frontend_conf window_projection=256
#   grid.yaml               a copy of the grid it was chosen from
#   conf/, asr_<setting>/   each point's config and experiment
#
# A run that fails (or whose dev loss is never finite) is reported and never chosen; if none is usable the script
# fails. Run again, it resumes: a point trained with the same settings is not trained again.
#
# With --chosen_args true it trains nothing: it prints the choice made with --bfe_grid in --outdir (its
# frontend_args, only when its grid.yaml is the same grid) for a recipe's training stages to append to the trainer
# arguments, or fails naming the grid and the directory when there is none.
#
# Usage: ./bfe_choice.sh --bfe_grid conf/bfe_small_corpus.yaml [options] -- <brain_asr.sh options of the recipe>
#        ./bfe_choice.sh --chosen_args true --bfe_grid conf/bfe_small_corpus.yaml --outdir exp/bfe_choice/<features>
set -euo pipefail

. utils/stage_utils.sh

# begin options
bfe_grid=               # Grid YAML of frontend_conf keys, e.g. {kernel_size: [4, 8], window_projection: [null, 256]}.
bfe_grid_epochs=10      # Epochs of each point's short run.
confdir=conf            # Directory of train_brain_bfe.yaml (the BFE-only control), as brain_asr.sh's --confdir.
outdir=exp/bfe_choice   # Where the configs, the runs and the choice go (brain_asr.sh's --expdir of the runs).
asr_args=""             # Extra trainer arguments of every short run (the recipe's --asr_args).
causal=false            # The recipe's --causal: with true, the short runs train the causal BFE (one-sided smoothing,
                        # a unidirectional GRU, windows that end at the current bin) that the streaming modes train.
chosen_args=false       # Train nothing: print the trainer arguments chosen with --bfe_grid in --outdir (or fail).
# end options

help_message="Usage: $0 --bfe_grid GRID [options] -- <brain_asr.sh options>
Choose the BFE's window and projection on the dev set from short runs of the BFE-only control.
$(options_help "$0")"
. utils/parse_options.sh
[ -n "${bfe_grid}" ] || die "--bfe_grid is required: a grid YAML of frontend_conf keys (e.g. conf/bfe_small_corpus.yaml)"
[ -f "${bfe_grid}" ] || die "--bfe_grid ${bfe_grid} does not exist"
require_choice chosen_args true false
if [ "${chosen_args}" = true ]; then
    # The choice of this grid (a choice keeps a copy of the grid it was made with), as one line of trainer arguments.
    no_choice="--bfe_grid ${bfe_grid}: no BFE chosen with this grid in ${outdir}"
    [ -s "${outdir}/frontend_args" ] || die "${no_choice} (no choice there)"
    cmp -s "${outdir}/grid.yaml" "${bfe_grid}" \
        || die "${no_choice} (the choice there was made with another grid: ${outdir}/grid.yaml)"
    cat "${outdir}/frontend_args"
    exit 0
fi
require_int bfe_grid_epochs 1
require_choice causal true false
base_config=${confdir}/train_brain_bfe.yaml
[ -f "${base_config}" ] || die "${base_config} does not exist (--confdir ${confdir}): the BFE-only control's config"

. ./path.sh

# The dumps and the token list, as the transfer modes' runs write them (greedy: no language model is needed here).
# --causal false: the control has one config (train_brain_bfe.yaml); with --causal true its BFE is made causal below.
./brain_asr.sh "$@" --mode bfe --causal false --decoders greedy --stage 2 --stop_stage 3
run_args="${asr_args} --max_epoch ${bfe_grid_epochs} --keep_nbest_models 1"
[ "${causal}" = false ] || run_args+=" --frontend_conf causal=true --frontend_conf bidirectional=false"

mkdir -p "${outdir}"
plan=$(python3 -m espnet_brain.bin.choose_bfe --plan --grid "${bfe_grid}" --base_config "${base_config}" \
    --out_dir "${outdir}") || die "could not write the configs of ${bfe_grid} (see above)"
mapfile -t points <<<"${plan}"
log "${#points[@]} settings of ${bfe_grid}, ${bfe_grid_epochs} epochs each (${outdir})"
for point in "${points[@]}"; do
    IFS=$'\t' read -r setting config run_dir <<<"${point}"
    # A point is trained again only when its config or its trainer arguments (length, causal, the user's) changed.
    settings="config=$(md5sum <"${config}" | cut -c1-16) asr_args=${run_args}"
    done_file=${run_dir}/bfe_choice.done
    if [ -f "${done_file}" ]; then
        if [ "$(cat "${done_file}")" = "${settings}" ]; then
            log "${setting}: already trained (${run_dir})"
            continue
        fi
        log "${setting}: trained with other settings ($(cat "${done_file}")); training it again from the start"
        rm -rf "${run_dir}"
    fi
    log "${setting}: ${bfe_grid_epochs} epochs (log: ${run_dir}/train.log)"
    if ./brain_asr.sh "$@" --mode bfe --causal false --expdir "${outdir}" --asr_config "${config}" \
        --asr_tag "${setting}" --asr_args "${run_args}" --stage 5 --stop_stage 6 </dev/null; then
        echo "${settings}" >"${done_file}"
    else
        log "${setting}: the run failed (see above and ${run_dir}/train.log); it is reported and not chosen"
    fi
done

chosen=$(python3 -m espnet_brain.bin.choose_bfe --out_dir "${outdir}") \
    || die "no setting of ${bfe_grid} trained to a finite dev loss (see above, ${outdir}/choice.md and the runs' train.log)"
# The grid the choice was made with: the recipe's training stages train it only with the same grid.
cp "${bfe_grid}" "${outdir}/grid.yaml"
log "chosen on the dev set: ${chosen} (${outdir}/choice.md)"
