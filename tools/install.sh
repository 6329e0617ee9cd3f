#!/usr/bin/env bash
# One-command installer: creates tools/venv, installs ESPnet, PyTorch and the plugin (editable),
# and writes tools/activate_python.sh for recipes' path.sh to source.
#
# Usage: tools/install.sh [--python PYTHON] [--venv DIR] [--force] [--latest]
#
# By default every package comes at the version pinned in tools/requirements.lock (regenerated from
# setup.py by tools/lock.sh), so a fresh machine gets the environment CI tested, whatever was
# released since. --latest resolves setup.py's ranges afresh instead (for maintainers updating the
# lock); both end with the same import check.
#
# Idempotent: a stamp records a hash of setup.py, the lock, this script and the mode; when none
# changed and the environment still imports, a second run only checks and exits.
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(cd "${tools_dir}/.." && pwd)
python=${PYTHON:-python3}
venv_dir=${tools_dir}/venv
force=false
latest=false
lock_file=${tools_dir}/requirements.lock

usage() {
    cat <<EOF
Usage: $0 [--python PYTHON] [--venv DIR] [--force] [--latest]
  --python PYTHON  interpreter used to create the environment (>= 3.10; default: python3)
  --venv DIR       where to create it (default: tools/venv)
  --force          reinstall even if the stamp says the environment is up to date
  --latest         resolve setup.py's version ranges afresh instead of installing tools/requirements.lock
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --python) python=$2; shift 2 ;;
        --venv) venv_dir=$2; shift 2 ;;
        --force) force=true; shift ;;
        --latest) latest=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "$0: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

log() { echo "[install $(date +%H:%M:%S)] $*"; }

stamp_file=${venv_dir}/.espnet_brain_stamp
stamp=$( (cat "${root_dir}/setup.py" "${tools_dir}/install.sh" "${lock_file}"; echo "latest=${latest}") | sha256sum | cut -d' ' -f1)

write_activate() {
    # Recipes source this from path.sh; it must not depend on the caller's directory.
    cat >"${tools_dir}/activate_python.sh" <<EOF
# Written by tools/install.sh; sourced by egs2/*/*/path.sh.
# shellcheck disable=SC1091
. "${venv_dir}/bin/activate"
EOF
}

if ! ${force} && [ -f "${stamp_file}" ] && [ "$(cat "${stamp_file}")" = "${stamp}" ]; then
    log "environment ${venv_dir} is up to date; checking that it imports"
    if "${venv_dir}/bin/python" -c "import espnet2, torch, transformers, peft, espnet_brain" 2>/dev/null; then
        [ -f "${tools_dir}/activate_python.sh" ] || write_activate
        log "nothing to install (use --force to reinstall)"
        exit 0
    fi
    log "the stamp is current but the environment does not import; reinstalling"
fi

"${python}" - <<'EOF' || { echo "$0: Python >= 3.10 is required (got $(${python} --version 2>&1))" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
EOF

if [ ! -x "${venv_dir}/bin/python" ]; then
    log "creating virtual environment ${venv_dir} with $(${python} --version 2>&1)"
    "${python}" -m venv "${venv_dir}"
fi
pip=("${venv_dir}/bin/python" -m pip)

# ESPnet 202511 pins setuptools<74, and pip >= 24.1 refuses its dependency ci_sdr's legacy metadata.
log "installing pip 24.0, setuptools<74 and wheel"
"${pip[@]}" install --disable-pip-version-check -q "pip==24.0" "setuptools<74" wheel

if ${latest}; then
    # torch first, pinned below 2.13 (see setup.py): pip would otherwise download 2.15, 2.14 and 2.13
    # before finding that none of them fits ESPnet's setuptools pin.
    log "resolving the newest versions setup.py allows (--latest), PyTorch first"
    "${pip[@]}" install --disable-pip-version-check -q "torch>=2.1,<2.13" "torchaudio>=2.1,!=2.11.1"
    "${pip[@]}" install --disable-pip-version-check -q -e "${root_dir}[test,whisper]"
else
    [ -f "${lock_file}" ] || { echo "$0: ${lock_file} is missing; regenerate it with tools/lock.sh" >&2; exit 1; }
    # The lock is complete (every dependency of every package, with markers per Python and platform),
    # so no resolution is needed: --no-deps installs exactly its pins, then the plugin itself.
    log "installing the pinned environment from ${lock_file} ($(grep -c '==' "${lock_file}") pins)"
    "${pip[@]}" install --disable-pip-version-check -q --no-deps -r "${lock_file}"
    log "installing espnet_brain (editable)"
    "${pip[@]}" install --disable-pip-version-check -q --no-deps --no-build-isolation -e "${root_dir}"
    log "checking that the pinned packages' requirements are all met"
    "${pip[@]}" check --disable-pip-version-check
fi

log "checking the installation"
"${venv_dir}/bin/python" - <<'EOF'
import espnet, torch, torchaudio, transformers, peft, mne, mne_bids, himalaya, espnet_brain
import espnet2.tasks.asr  # loads libtorchaudio, which fails when torch and torchaudio do not match
from torchaudio.models.decoder import ctc_decoder  # noqa: F401  (the lexicon decoder: flashlight-text + KenLM)
from flashlight.lib.text.decoder.kenlm import KenLM  # noqa: F401

print(f"  espnet {espnet.__version__}, torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
      f"transformers {transformers.__version__}, peft {peft.__version__}, mne {mne.__version__}, "
      f"espnet_brain {espnet_brain.__version__}")
EOF

write_activate
echo "${stamp}" >"${stamp_file}"
log "done: activate with '. tools/activate_python.sh'"
