#!/usr/bin/env bash
# The project's test command: installs the environment when needed, checks formatting and lint, then runs the
# test suite.
#
# Usage: tools/test.sh [--all] [--durations] [PYTEST ARGS...]
#   (default)    the default tier: every test but the ones marked slow; it still runs one end-to-end run of the
#                decoding recipe (egs2/mini_brain/asr1, every stage, one brain system) and one of the encoding
#                recipe (egs2/mini_brain/enc1, every stage, one LoRA arm) on the tiny configs
#   --all        every test, the slow end-to-end recipe runs included; run it when a change touches a recipe
#                or a stage script (egs2/)
#   --durations  print the 20 slowest tests at the end
#   --serial     one pytest process (default: two pytest-xdist workers on one thread each, on a machine with two
#                or more cores; each test file stays on one worker, so a recipe run shared by its tests runs once)
# Other arguments go to pytest (e.g. tools/test.sh -k brain_gru; -n N chooses the workers).
set -euo pipefail

root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root_dir}"

tier=(-m "not slow")
extra=()
workers=$(($(nproc) >= 2 ? 2 : 0))
while [ $# -gt 0 ]; do
    case "$1" in
        --all) tier=(); shift ;;
        --durations) extra+=(--durations=20 --durations-min=0); shift ;;
        --serial) workers=0; shift ;;
        *) break ;;
    esac
done
# A marker expression or a worker count given by the caller replaces the tier's / the default.
for arg in "$@"; do
    [ "${arg}" != -m ] || tier=()
    case "${arg}" in -n | -n[0-9]* | --numprocesses*) workers=0 ;; esac
done
if [ "${workers}" -gt 0 ]; then
    # Measured on 2 cores: the default tier in 3 min 5 s with two workers, 6 min 36 s in one process.
    extra+=(-n "${workers}" --dist loadfile)
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi

bash tools/install.sh
# shellcheck disable=SC1091
. tools/activate_python.sh

echo "[test] black, isort, flake8 (line length 120)"
python -m black --check --quiet espnet_brain tests tools egs2
python -m isort --check-only --quiet espnet_brain tests tools egs2
python -m flake8 espnet_brain tests tools egs2

echo "[test] pytest ${tier[*]:-(all tests)}"
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
python -m pytest "${tier[@]}" "${extra[@]}" "$@"
