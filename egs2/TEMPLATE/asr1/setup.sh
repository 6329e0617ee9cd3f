#!/usr/bin/env bash
# Create a new recipe from this template: egs2/TEMPLATE/<task>/setup.sh egs2/<corpus>/<task>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "${here}/../utils/make_recipe.sh" --template "$(basename "${here}")" "$@"
