# The BFE chosen on dev (--bfe_grid) in a recipe's run.sh: the stage that chooses it and the training stages' use of
# the choice, shared by brain2text24, brain2text25 and ieeg_bids. Sourced by run.sh after its options are parsed
# (utils/stage_utils.sh first); the functions read the recipe's bfe_grid, bfe_grid_epochs, confdir, asr_args, causal
# and run_args (this run's options, quoted).

bfe_choice_dir() {
    # bfe_choice_dir FEAT_TAG: the choice's directory, one per feature set like the dumps (the causal BFE its own).
    local dir=exp/bfe_choice/$1
    [ "${causal}" = false ] || dir=${dir}_causal
    echo "${dir}"
}

run_bfe_choice() {
    # run_bfe_choice DIR BRAIN_ASR_ARGS...: the choosing stage (TEMPLATE/asr1/bfe_choice.sh), or a log line without
    # --bfe_grid.
    local dir=$1
    shift
    if [ -z "${bfe_grid}" ]; then
        log "no --bfe_grid: every mode trains the BFE of its config (${confdir}/train_brain_<mode>.yaml)"
        return 0
    fi
    ./bfe_choice.sh --bfe_grid "${bfe_grid}" --bfe_grid_epochs "${bfe_grid_epochs}" --confdir "${confdir}" \
        --outdir "${dir}" --asr_args "${asr_args}" --causal "${causal}" -- "$@"
}

set_mode_asr_args() {
    # set_mode_asr_args DIR CHOICE_STAGE: mode_asr_args, the trainer arguments of every mode: --asr_args, and with
    # --bfe_grid and a training stage (2-4) selected, the BFE chosen with that grid (bfe_choice.sh fails, naming it,
    # when there is none; then the command to make it).
    local dir=$1 choice_stage=$2 chosen
    mode_asr_args=${asr_args}
    [ -n "${bfe_grid}" ] && { stage_selected 2 || stage_selected 3 || stage_selected 4; } || return 0
    chosen=$(./bfe_choice.sh --chosen_args true --bfe_grid "${bfe_grid}" --outdir "${dir}") \
        || die "choose the BFE first: ./run.sh${run_args} --stage ${choice_stage} --stop_stage ${choice_stage}"
    mode_asr_args="${asr_args} ${chosen}"
    log "every mode trains the BFE chosen on dev (${dir}/choice.md): ${chosen}"
}
