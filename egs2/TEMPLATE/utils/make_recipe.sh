#!/usr/bin/env bash
# Create (or refresh) a recipe directory egs2/<corpus>/<task>/ from egs2/TEMPLATE/<task>/.
#
# Usage: make_recipe.sh [--template asr1|enc1] egs2/<corpus>/<task>
#
# The recipe gets symlinks to the template's shared files (path.sh, db.sh, utils/, the stage
# script brain_*.sh), its own copies of the files users edit (cmd.sh, conf/slurm.conf), an empty
# local/ for the corpus-specific data preparation, and a run.sh calling the stage script.  Existing
# regular files are never overwritten, so running it again only refreshes the links.
set -euo pipefail

help_message="Usage: $0 [--template asr1|enc1] egs2/<corpus>/<task>
Create or refresh a recipe directory from egs2/TEMPLATE/<template> (default: the task name)."
template=""

. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 1 ]; then
    printf '%s\n' "${help_message}" >&2
    exit 2
fi
target=$1

# TEMPLATE is the parent of this script's directory (resolving a recipe's utils symlink).
template_root=$(cd -P "$(dirname "$0")/.." && pwd)
egs2_root=$(dirname "${template_root}")
[ -n "${template}" ] || template=$(basename "${target}")
if [ ! -d "${template_root}/${template}" ]; then
    known=""
    for dir in "${template_root}"/*/; do
        dir=$(basename "${dir}")
        [ "${dir}" = utils ] || known="${known} ${dir}"
    done
    echo "${0##*/}: no template ${template_root}/${template}; use --template with one of:${known}" >&2
    exit 1
fi

# path.sh finds the repository three levels up, so the recipe must sit at egs2/<corpus>/<task>.
egs_dir=$(dirname "$(dirname "${target}")")
if [ ! -d "${egs_dir}" ] || [ "$(cd -P "${egs_dir}" && pwd)" != "${egs2_root}" ]; then
    echo "${0##*/}: ${target} must be a directory <corpus>/<task> inside ${egs2_root}" >&2
    exit 1
fi
if [ "$(cd -P "$(dirname "${target}")" 2>/dev/null && pwd)" = "${template_root}" ]; then
    echo "${0##*/}: ${target} is inside TEMPLATE; recipes go to egs2/<corpus>/<task>" >&2
    exit 1
fi
mkdir -p "${target}"

link_to=../../TEMPLATE/${template}
for src in "${template_root}/${template}"/*; do
    name=$(basename "${src}")
    case ${name} in
        # Copied below (users edit them), or only meaningful inside TEMPLATE.
        cmd.sh | conf | setup.sh | example_stages.sh | README.md) continue ;;
    esac
    if [ -e "${target}/${name}" ] && [ ! -L "${target}/${name}" ]; then
        echo "${0##*/}: keeping ${target}/${name} (a regular file, not a link)" >&2
        continue
    fi
    ln -sfn "${link_to}/${name}" "${target}/${name}"
done

[ -e "${target}/cmd.sh" ] || cp -L "${template_root}/${template}/cmd.sh" "${target}/cmd.sh"
mkdir -p "${target}/conf" "${target}/local"
[ -e "${target}/conf/slurm.conf" ] || cp -L "${template_root}/${template}/conf/slurm.conf" "${target}/conf/slurm.conf"

stage_script=brain_${template%1}.sh
if [ ! -e "${target}/run.sh" ]; then
    cat >"${target}/run.sh" <<RUN
#!/usr/bin/env bash
# $(basename "$(dirname "${target}")") ${template}: prepare data (local/data.sh), train, decode, score.
# Options given here are the recipe's defaults; anything on the command line overrides them.
set -euo pipefail

./${stage_script} "\$@"
RUN
    chmod +x "${target}/run.sh"
fi
if [ ! -e "${template_root}/${template}/${stage_script}" ]; then
    echo "${0##*/}: warning: ${template_root}/${template}/${stage_script} does not exist yet; run.sh calls it" >&2
fi
echo "${0##*/}: recipe ready in ${target}; write local/data.sh, conf/*.yaml and the options in run.sh" >&2
