#!/usr/bin/env bash
# The project's test command: installs the environment when needed, checks formatting and lint,
# then runs the test suite. Extra arguments go to pytest (e.g. tools/test.sh -k brain_gru).
set -euo pipefail

root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root_dir}"

bash tools/install.sh
# shellcheck disable=SC1091
. tools/activate_python.sh

echo "[test] black, isort, flake8 (line length 120)"
python -m black --check --quiet espnet_brain tests tools egs2
python -m isort --check-only --quiet espnet_brain tests tools egs2
python -m flake8 espnet_brain tests tools egs2

echo "[test] pytest"
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
python -m pytest "$@"
