# shellcheck shell=bash
# Parse --key value / --key=value options into shell variables the caller has already defined.
#
# Source it after defining the option variables with their defaults:
#
#     stage=1
#     use_lm=false
#     train_args=""
#     help_message="Usage: $0 [options]"
#     . utils/parse_options.sh
#
# Rules:
#   * "--some-key" and "--some_key" both set the variable some_key; it must already be defined,
#     otherwise the caller exits with status 2 and a message naming the option.
#   * A variable whose default is true/false only accepts true or false.
#   * The value is taken verbatim, so "--train_args '--max_epoch 3 --batch_size 4'" works.
#   * Parsing stops at the first argument that does not start with "--", or after "--"; the
#     remaining arguments are left in "$@" for the caller.
#   * --help / -h prints $help_message (or a usage line) to stdout, then the stage list if the
#     caller uses utils/stage_utils.sh, and exits 0.
#
# All internal names start with _po_ and are unset when done.

_po_fail() {
    echo "${0##*/}: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --help | -h)
            if [ -n "${help_message:-}" ]; then
                printf '%s\n' "${help_message}"
            else
                printf 'Usage: %s [options]\n' "$0"
            fi
            # The stage list comes from utils/stage_utils.sh when the caller defined stages.
            if declare -F stage_help >/dev/null; then
                stage_help
            fi
            exit 0
            ;;
        --)
            shift
            break
            ;;
        --*=*)
            _po_opt=${1%%=*}
            _po_value=${1#*=}
            shift
            ;;
        --*)
            _po_opt=$1
            if [ $# -lt 2 ]; then
                _po_fail "option ${_po_opt} needs a value"
            fi
            _po_value=$2
            shift 2
            ;;
        *)
            break
            ;;
    esac

    _po_name=${_po_opt#--}
    _po_name=${_po_name//-/_}
    if ! [[ ${_po_name} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        _po_fail "invalid option ${_po_opt} (see ${0##*/} --help)"
    fi
    # Only variables the caller defined are options; anything else is a typo.
    if [ -z "${!_po_name+set}" ]; then
        _po_fail "unknown option ${_po_opt} (see ${0##*/} --help)"
    fi
    case $(declare -p "${_po_name}" 2>/dev/null) in
        "declare -a"* | "declare -A"*)
            _po_fail "option ${_po_opt} names an array variable; it cannot be set from the command line"
            ;;
    esac
    # Booleans stay booleans, so "--use_lm flase" fails here instead of deep inside a stage.
    case ${!_po_name} in
        true | false)
            case ${_po_value} in
                true | false) ;;
                *) _po_fail "option ${_po_opt} expects true or false, got '${_po_value}'" ;;
            esac
            ;;
    esac
    printf -v "${_po_name}" '%s' "${_po_value}"
done

unset -v _po_opt _po_value _po_name
unset -f _po_fail
