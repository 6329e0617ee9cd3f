# shellcheck shell=bash
# shellcheck disable=SC2034
# Which job launcher the stage scripts use.  Source it from the recipe directory after path.sh.
#
#   local  run on this machine: utils/run_local.py (at most --max_jobs_run jobs at once)
#   slurm  submit with sbatch and wait: utils/run_slurm.py, resources mapped by conf/slurm.conf
#
# Stage scripts call e.g.
#   ${train_cmd} JOB=1:4 exp/log/dump.JOB.log python3 -m ... --part JOB
#   ${cuda_cmd} --gpu 1 exp/train/train.log python3 -m ...
# and add --num_threads/--mem/--gpu/--max_jobs_run as needed.
# Choose the backend here, or per run with ESPNET_BRAIN_CMD_BACKEND=slurm.
cmd_backend=${ESPNET_BRAIN_CMD_BACKEND:-local}

case ${cmd_backend} in
    local)
        # Training and decoding both run here; GPUs are used by the programs themselves.
        train_cmd="run_local.py"
        cuda_cmd="run_local.py"
        decode_cmd="run_local.py"
        ;;
    slurm)
        # Edit conf/slurm.conf for your cluster's partitions and GPU syntax.
        train_cmd="run_slurm.py --config conf/slurm.conf"
        cuda_cmd="run_slurm.py --config conf/slurm.conf"
        decode_cmd="run_slurm.py --config conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}'; expected local or slurm" >&2
        return 1
        ;;
esac
export train_cmd cuda_cmd decode_cmd
