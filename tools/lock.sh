#!/usr/bin/env bash
# Regenerates tools/requirements.lock, the pinned environment tools/install.sh installs by default,
# from setup.py's ranges (install_requires + the [test] and [whisper] extras) with uv's resolver.
#
# Usage: tools/lock.sh [--upgrade-package NAME]...   (extra arguments go to `uv pip compile`)
#
# The lock is universal (markers per Python version and platform, Python >= 3.10); CI installs and
# tests it with CPython 3.11 on x86_64 Linux. After regenerating, run tools/install.sh --force and
# tools/test.sh: the test suite fails when the environment differs from the lock.
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(cd "${tools_dir}/.." && pwd)
uv_version=0.13.9
uv_venv=$(mktemp -d)
trap 'rm -rf "${uv_venv}"' EXIT

python3 -m venv "${uv_venv}"
"${uv_venv}/bin/python" -m pip install --disable-pip-version-check -q "uv==${uv_version}"

cd "${root_dir}"
{
    echo "# Pinned environment of espnet_brain, installed by tools/install.sh (default mode)."
    echo "# Generated from setup.py by tools/lock.sh (uv ${uv_version}):"
    echo "#   uv pip compile setup.py --extra test --extra whisper --universal --python-version 3.10 $*"
    echo "# Do not edit by hand; change setup.py and rerun tools/lock.sh."
    # uv keeps the pins of an existing output file unless told to move them (--upgrade-package, --upgrade).
    [ -f "${tools_dir}/requirements.lock" ] && cp "${tools_dir}/requirements.lock" "${uv_venv}/previous.lock"
    "${uv_venv}/bin/uv" pip compile setup.py --extra test --extra whisper --universal --python-version 3.10 \
        --no-header --quiet --output-file "${uv_venv}/previous.lock" "$@"
    grep -v '^#' "${uv_venv}/previous.lock" | sed '/./,$!d'
} >"${tools_dir}/requirements.lock.tmp"
mv "${tools_dir}/requirements.lock.tmp" "${tools_dir}/requirements.lock"
echo "wrote ${tools_dir}/requirements.lock ($(grep -c '==' "${tools_dir}/requirements.lock") pins)"
