# shellcheck shell=bash
# Source from a recipe directory (egs2/<corpus>/<task>/): ". ./path.sh".
#
# Finds the repository root (three levels up from the recipe), activates its Python environment
# (tools/activate_python.sh, written by tools/install.sh), and exports what the stage scripts
# expect.  Without an environment, tools/install.sh is run once, unless ESPNET_BRAIN_AUTO_INSTALL=0,
# in which case the python3 already on PATH is used with a warning.
#
# It does not change the caller's shell options and works under "set -euo pipefail".

_path_sh_warn() {
    echo "path.sh: WARNING: $*" >&2
}

# The directory holding this file (the recipe, when path.sh is a symlink into TEMPLATE).
_path_sh_recipe=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MAIN_ROOT=$(cd "${_path_sh_recipe}/../../.." && pwd)
export MAIN_ROOT
if [ ! -d "${MAIN_ROOT}/egs2" ]; then
    _path_sh_warn "${MAIN_ROOT} does not look like the espnet_brain repository (no egs2/);" \
        "recipes must live at egs2/<corpus>/<task>/"
fi

_path_sh_activate() {
    # Activation scripts (venv, conda) are not always written for "set -u"; relax it while sourcing.
    local had_u=false
    case $- in *u*) had_u=true ;; esac
    set +u
    # shellcheck disable=SC1091
    . "${MAIN_ROOT}/tools/activate_python.sh"
    local rc=$?
    if "${had_u}"; then set -u; fi
    if [ "${rc}" -ne 0 ]; then
        echo "path.sh: ERROR: ${MAIN_ROOT}/tools/activate_python.sh failed (exit code ${rc})" >&2
    fi
    return "${rc}"
}

if [ -f "${MAIN_ROOT}/tools/activate_python.sh" ]; then
    _path_sh_activate || return 1
elif [ "${ESPNET_BRAIN_AUTO_INSTALL:-1}" != 0 ] && [ -f "${MAIN_ROOT}/tools/install.sh" ]; then
    echo "path.sh: no Python environment at ${MAIN_ROOT}/tools yet; running tools/install.sh" \
        "(set ESPNET_BRAIN_AUTO_INSTALL=0 to use the current python3 instead)" >&2
    if ! (cd "${MAIN_ROOT}/tools" && bash ./install.sh); then
        echo "path.sh: ERROR: ${MAIN_ROOT}/tools/install.sh failed; see its output above" >&2
        return 1
    fi
    if [ ! -f "${MAIN_ROOT}/tools/activate_python.sh" ]; then
        echo "path.sh: ERROR: tools/install.sh finished but wrote no tools/activate_python.sh" >&2
        return 1
    fi
    _path_sh_activate || return 1
else
    if ! command -v python3 >/dev/null; then
        echo "path.sh: ERROR: no ${MAIN_ROOT}/tools/activate_python.sh and no python3 on PATH" >&2
        return 1
    fi
    _path_sh_warn "no ${MAIN_ROOT}/tools/activate_python.sh; using $(command -v python3)" \
        "(run tools/install.sh to create the project's environment)"
    # A cheap check (no import) that saves a confusing ModuleNotFoundError in stage 1.
    if ! python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("espnet_brain") is None)' \
        2>/dev/null; then
        _path_sh_warn "espnet_brain is not importable from $(command -v python3);" \
            "install it with: pip install -e ${MAIN_ROOT}"
    fi
fi

# Print Python output as it happens, so logs and progress bars are current.
export PYTHONUNBUFFERED=1
export PYTHONIOENCODING=UTF-8
# Byte-wise sorting and comparison, as Kaldi-style data directories (sorted utt ids) require.
export LC_ALL=C
# One BLAS/OpenMP thread per process unless asked otherwise; the launchers run many processes at once.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Fast tokenizers warn and may deadlock when a data loader forks after they were used.
export TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}
# Plots are written to files; compute nodes have no display.
export MPLBACKEND=${MPLBACKEND:-Agg}
# The recipe's utils/ (launchers, parse_options.sh) first on PATH.
export PATH="${_path_sh_recipe}/utils:${PATH}"

unset -v _path_sh_recipe
unset -f _path_sh_warn _path_sh_activate
