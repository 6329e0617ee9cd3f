# shellcheck shell=bash
# Helpers for stage scripts (run.sh, local/data.sh, brain_*.sh). Source it, do not run it:
#
#     . utils/stage_utils.sh
#     define_stage 1 "Data preparation"
#     define_stage 2 "Training"
#     stage=1                 # First stage to run.
#     stop_stage=10000        # Last stage to run (values past the last stage mean "to the end").
#     help_message="Usage: $0 [options]"$'\n'"$(options_help "$0")"
#     . utils/parse_options.sh
#     check_stages
#     if run_stage 1; then ...; fi
#
# Functions:
#   log MESSAGE...             timestamped message on stderr, tagged with the calling script and line
#   die MESSAGE...             log "ERROR: MESSAGE" and exit 1
#   define_stage N DESCRIPTION register stage N (stages must end up numbered 1..M without gaps)
#   stage_help                 print the stage list (parse_options.sh calls it for --help)
#   options_help [FILE]        print the options declared in FILE (default $0) between the lines
#                              "# begin options" and "# end options": --name, comment, default
#   check_stages               validate $stage, $stop_stage and, if set, $skip_stages; a stop_stage
#                              past the last stage becomes the last stage (ESPnet's 10000 idiom)
#   run_stage N                true if stage N is selected (and logs its start), false otherwise
#   require_int NAME [MIN]     die unless $NAME is an integer (>= MIN when given)
#   require_choice NAME C...   die unless $NAME is one of the choices C...
#
# All of them work under "set -euo pipefail" and define no global besides the _SU_* state.

_SU_DESC=()
_SU_LAST=0
_SU_CHECKED=false

_SU_SELF=${BASH_SOURCE[0]}

_su_emit() {
    # _su_emit MESSAGE: one timestamped line on stderr, tagged with the first caller outside this
    # file (so an error found by check_stages points at the stage script, not at stage_utils.sh).
    local i src=$0 line=0
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[i]}" != "${_SU_SELF}" ]; then
            src=${BASH_SOURCE[i]}
            line=${BASH_LINENO[i - 1]}
            break
        fi
    done
    printf '%s %s:%s: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${src##*/}" "${line}" "$1" >&2
}

log() {
    _su_emit "$*"
}

die() {
    _su_emit "ERROR: $*"
    exit 1
}

_su_is_int() {
    [[ $1 =~ ^-?[0-9]+$ ]]
}

define_stage() {
    if [ $# -ne 2 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
        die "usage: define_stage N DESCRIPTION (N >= 1), got: $*"
    fi
    _SU_DESC[$1]=$2
}

_su_count_stages() {
    # Sets _SU_LAST to the last stage number; stages must be 1..M without gaps.
    local n=${#_SU_DESC[@]} i
    for ((i = 1; i <= n; i++)); do
        if [ -z "${_SU_DESC[i]+set}" ]; then
            die "stage ${i} is not defined but the script defines ${n} stages; number them 1..${n}"
        fi
    done
    _SU_LAST=${n}
}

stage_help() {
    local n=${#_SU_DESC[@]} i
    [ "${n}" -gt 0 ] || return 0
    echo "Stages:"
    for i in "${!_SU_DESC[@]}"; do
        printf '  %2d  %s\n' "${i}" "${_SU_DESC[i]}"
    done
}

options_help() {
    local file=${1:-$0} line name rest value comment inside=false
    [ -r "${file}" ] || die "options_help: cannot read ${file}"
    echo "Options:"
    while IFS= read -r line || [ -n "${line}" ]; do
        case ${line} in
            "# begin options"*) inside=true; continue ;;
            "# end options"*) break ;;
        esac
        "${inside}" || continue
        if [[ ${line} =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            name=${BASH_REMATCH[1]}
            rest=${BASH_REMATCH[2]}
            comment=""
            if [[ ${rest} =~ [[:space:]]#[[:space:]]?(.*)$ ]]; then
                comment=${BASH_REMATCH[1]}
            fi
            # The value when help_message is built (before parsing): defaults computed at run time
            # (e.g. nj=$(nproc)) show as they are.
            value=${!name-}
            printf '  --%-22s %s (default: "%s")\n' "${name}" "${comment}" "${value}"
        elif [[ ${line} =~ ^[[:space:]]*#[[:space:]]?(.*)$ ]]; then
            # A comment line inside the block is a section title.
            printf '\n  %s\n' "${BASH_REMATCH[1]}"
        fi
    done <"${file}"
    printf '  --%-22s %s\n' "help" "Print this message and exit."
}

require_int() {
    local name=$1 min=${2:-}
    local value=${!name-}
    _su_is_int "${value}" || die "--${name} must be an integer, got '${value}'"
    if [ -n "${min}" ] && [ "${value}" -lt "${min}" ]; then
        die "--${name} must be >= ${min}, got ${value}"
    fi
}

require_choice() {
    local name=$1 choice
    shift
    local value=${!name-}
    for choice in "$@"; do
        [ "${value}" = "${choice}" ] && return 0
    done
    die "--${name} must be one of: $*; got '${value}'"
}

check_stages() {
    _su_count_stages
    local last=${_SU_LAST} s skip=()
    [ "${last}" -gt 0 ] || die "check_stages: no stage defined; call define_stage first"
    _su_is_int "${stage:-}" || die "--stage must be an integer, got '${stage:-}'"
    _su_is_int "${stop_stage:-}" || die "--stop_stage must be an integer, got '${stop_stage:-}'"
    if [ "${stage}" -lt 1 ] || [ "${stage}" -gt "${last}" ]; then
        die "stage ${stage} does not exist; stages are 1..${last}"
    fi
    if [ "${stop_stage}" -lt "${stage}" ]; then
        die "--stop_stage ${stop_stage} is before --stage ${stage}; nothing would run"
    fi
    # ESPnet recipes default to stop_stage=10000 meaning "to the end"; keep that idiom working.
    if [ "${stop_stage}" -gt "${last}" ]; then
        stop_stage=${last}
    fi
    read -r -a skip <<<"${skip_stages:-}"
    for s in "${skip[@]}"; do
        if ! [[ ${s} =~ ^[0-9]+$ ]] || [ "${s}" -lt 1 ] || [ "${s}" -gt "${last}" ]; then
            die "--skip_stages: stage ${s} does not exist; stages are 1..${last}"
        fi
    done
    _SU_CHECKED=true
}

stage_selected() {
    # stage_selected N: whether this call runs stage N (in --stage..--stop_stage and not in --skip_stages), quietly.
    local n=$1 s skip=()
    [ "${n}" -ge "${stage}" ] && [ "${n}" -le "${stop_stage}" ] || return 1
    read -r -a skip <<<"${skip_stages:-}"
    for s in "${skip[@]}"; do
        [ "${s}" -ne "${n}" ] || return 1
    done
}

run_stage() {
    local n=${1:-}
    if ! [[ ${n} =~ ^[1-9][0-9]*$ ]] || [ -z "${_SU_DESC[n]+set}" ]; then
        die "run_stage ${n}: stage ${n} is not defined (define_stage ${n} \"...\")"
    fi
    "${_SU_CHECKED}" || check_stages
    if [ "${n}" -lt "${stage}" ] || [ "${n}" -gt "${stop_stage}" ]; then
        return 1
    fi
    if ! stage_selected "${n}"; then  # in range, so skipped
        _su_emit "Stage ${n}: ${_SU_DESC[n]} (skipped: --skip_stages)"
        return 1
    fi
    _su_emit "Stage ${n}/${_SU_LAST}: ${_SU_DESC[n]}"
}
