#!/usr/bin/env python3
"""Run jobs on a Slurm cluster with sbatch and wait for them (the role of Kaldi's slurm.pl).

Usage (the same as run_local.py, plus --config)::

    run_slurm.py [--config conf/slurm.conf] [--num_threads N] [--mem M] [--gpu G] [--max_jobs_run K] [--time T]
                 [--name NAME] [--num_nodes N] [JOB=1:N] LOG COMMAND [ARGS...]

A job range is submitted as one array job (``--array=1-N%K`` with K from --max_jobs_run), a single
job as a plain batch job.  For each job a small bash script is written under ``<log dir>/q/``; it
writes the job's log (command line, start time, output, exit code) exactly like run_local.py and
leaves the exit code in ``q/<name>.<id>.status``.  The launcher polls ``squeue`` until the job has
left the queue, then reads the exit codes: it exits 0 if all jobs succeeded, otherwise names the
failed logs, prints the last lines of the first one and exits 1.  A job that left the queue without
an exit code (killed for time or memory, cancelled) counts as failed; Slurm's own output for it is
in ``q/<name>.<id>.out``.  SIGINT/SIGTERM cancel the submitted job with scancel.

Resources are mapped to sbatch options by the config file (see conf/slurm.conf)::

    sbatch_flags = --export=ALL                # every job
    cpu_flags =                                # jobs with --gpu 0 (e.g. -p cpu)
    gpu_flags = -p gpu --gres=gpu:{gpu}        # jobs with --gpu G > 0
    num_threads_flags = --cpus-per-task={num_threads}
    mem_flags = --mem={mem}
    time_flags = --time={time}
    num_nodes_flags = --nodes={num_nodes} --ntasks-per-node=1   # --num_nodes N > 1
    poll_interval = 10                         # seconds between squeue calls
    grace_period = 60                          # seconds to wait for exit codes on a slow shared disk

A flag is only added when its option is given; ``{name}`` is replaced by the option's value.
--name sets the Slurm job name (default: the log name).

utils/slurm.pl links here: espnet2.bin.launch recognises the Slurm launcher by that name and then
starts multi-node training (--num_nodes N) with srun inside the job.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from _launcher import (  # noqa: E402
    JobSpec,
    LaunchOptions,
    UsageError,
    command_comment,
    parse_command_line,
    report_failures,
)

PROG = "run_slurm.py"

DEFAULT_CONFIG: Dict[str, str] = {
    "sbatch_flags": "--export=ALL",
    "cpu_flags": "",
    "gpu_flags": "--gres=gpu:{gpu}",
    "num_threads_flags": "--cpus-per-task={num_threads}",
    "mem_flags": "--mem={mem}",
    "time_flags": "--time={time}",
    "num_nodes_flags": "--nodes={num_nodes} --ntasks-per-node=1",
    "poll_interval": "10",
    "grace_period": "60",
}


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def read_config(path: Optional[str]) -> Dict[str, str]:
    """Read ``key = value`` lines over the defaults; ``#`` starts a comment line.

    Raises:
        UsageError: if the file cannot be read, a line has no ``=``, a key is unknown or a number is not one.
    """
    config = dict(DEFAULT_CONFIG)
    if path is None:
        return config
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise UsageError(f"cannot read the Slurm config --config {path}: {err}")
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise UsageError(f"{path}:{number}: expected 'key = value', got '{line}'")
        key, value = (part.strip() for part in line.split("=", 1))
        if key not in DEFAULT_CONFIG:
            raise UsageError(f"{path}:{number}: unknown key '{key}'; known keys: {', '.join(DEFAULT_CONFIG)}")
        config[key] = value
    for key in ("poll_interval", "grace_period"):
        try:
            if float(config[key]) < 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"{path}: {key} must be a number of seconds >= 0, got '{config[key]}'")
    return config


def _fill(template: str, name: str, value: object) -> List[str]:
    return shlex.split(template.replace("{" + name + "}", str(value)))


def resource_flags(opts: LaunchOptions, config: Dict[str, str]) -> List[str]:
    """sbatch options for the requested resources (--gpu, --num_threads, --mem, --time)."""
    flags = shlex.split(config["sbatch_flags"])
    if opts.gpu > 0:
        flags += _fill(config["gpu_flags"], "gpu", opts.gpu)
    else:
        flags += shlex.split(config["cpu_flags"])
    if opts.num_threads is not None:
        flags += _fill(config["num_threads_flags"], "num_threads", opts.num_threads)
    if opts.mem is not None:
        flags += _fill(config["mem_flags"], "mem", opts.mem)
    if opts.time is not None:
        flags += _fill(config["time_flags"], "time", opts.time)
    if opts.num_nodes > 1:
        flags += _fill(config["num_nodes_flags"], "num_nodes", opts.num_nodes)
    return flags


def job_script(job: JobSpec, status: str, opts: LaunchOptions) -> str:
    """The bash script one Slurm task runs: log header, the command, log footer, status file."""
    q = shlex.quote
    where = f"{PROG}, job {job.job_id}" if job.job_id is not None else PROG
    threads = f"export OMP_NUM_THREADS={opts.num_threads}\n" if opts.num_threads is not None else ""
    return f"""#!/usr/bin/env bash
# Written by {PROG}; the job's output goes to its log, not to the Slurm .out file.
cd {q(os.getcwd())} || exit 1
log={q(job.log)}
status={q(status)}
mkdir -p "$(dirname "$log")"
{{
    printf '%s\\n' {q(command_comment(job.command))}
    echo "# Started: $(date '+%Y-%m-%d %H:%M:%S') on $(hostname) ({where}, slurm job ${{SLURM_JOB_ID:-?}})"
}} >"$log"
start=$(date +%s)
{threads}bash -c {q("set -o pipefail" + chr(10) + job.command)} >>"$log" 2>&1 </dev/null
code=$?
echo "# Finished: $(date '+%Y-%m-%d %H:%M:%S'), exit code $code, elapsed $(($(date +%s) - start)) s" >>"$log"
echo "$code" >"$status.tmp" && mv "$status.tmp" "$status"
exit "$code"
"""


def job_files(jobs: List[JobSpec], template: str, job_var: Optional[str]) -> Tuple[str, str]:
    """Directory and name stem of the helper files: ``<log dir>/q/<stem>.<job id>.{sh,out,status}``.

    ``exp/log/dump.JOB.log`` gives ``exp/log/q`` and ``dump``.
    """
    qdir = os.path.join(os.path.commonpath([os.path.dirname(os.path.abspath(j.log)) for j in jobs]), "q")
    stem = os.path.basename(template)
    if stem.endswith(".log"):
        stem = stem[: -len(".log")]
    if job_var is not None:
        stem = re.sub(r"\.{2,}", ".", stem.replace(job_var, "")).strip("._-")
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem) or "job"
    return qdir, stem


def squeue_state(job_id: str) -> Optional[bool]:
    """True while the job is queued or running, False once Slurm no longer lists it, None if unknown."""
    try:
        res = subprocess.run(
            ["squeue", "--noheader", "--format=%i", f"--jobs={job_id}"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        # Slurm answers an error for a job id it has already forgotten.
        return False if "invalid job id" in res.stderr.lower() else None
    return bool(res.stdout.strip())


def read_status(path: str) -> Optional[int]:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def main(argv: List[str]) -> int:
    try:
        launch = parse_command_line(argv, PROG)
        config = read_config(launch.opts.config)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    opts, jobs, template = launch.opts, launch.jobs, launch.log_template
    is_array = launch.job_var is not None
    qdir, stem = job_files(jobs, template, launch.job_var)
    os.makedirs(qdir, exist_ok=True)
    for job in jobs:
        os.makedirs(os.path.dirname(os.path.abspath(job.log)), exist_ok=True)

    statuses: Dict[int, str] = {}
    for index, job in enumerate(jobs):
        name = f"{stem}.{job.job_id}" if is_array else stem
        statuses[index] = os.path.join(qdir, name + ".status")
        # A log left by an earlier run would pass for this run's if the job never starts.
        for stale in (statuses[index], os.path.join(qdir, name + ".out"), job.log):
            if os.path.exists(stale):
                os.remove(stale)
        with open(os.path.join(qdir, name + ".sh"), "w", encoding="utf-8") as f:
            f.write(job_script(job, statuses[index], opts))

    cmd = ["sbatch", "--parsable", f"--job-name={opts.name or stem}"] + resource_flags(opts, config)
    if is_array:
        first, last = jobs[0].job_id, jobs[-1].job_id
        limit = f"%{opts.max_jobs_run}" if opts.max_jobs_run is not None else ""
        driver = os.path.join(qdir, f"{stem}.array.sh")
        prefix = os.path.join(qdir, f"{stem}.")
        with open(driver, "w", encoding="utf-8") as f:
            f.write(f'#!/usr/bin/env bash\nexec bash {shlex.quote(prefix)}"${{SLURM_ARRAY_TASK_ID}}".sh\n')
        cmd += [f"--array={first}-{last}{limit}", f"--output={os.path.join(qdir, stem)}.%a.out", driver]
    else:
        cmd += [f"--output={os.path.join(qdir, stem)}.out", os.path.join(qdir, stem + ".sh")]

    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as err:
        print(f"{PROG}: cannot run sbatch: {err}", file=sys.stderr)
        return 1
    slurm_id = res.stdout.strip().split(";")[0]
    if res.returncode != 0 or not re.fullmatch(r"\d+", slurm_id):
        print(f"{PROG}: sbatch failed (exit code {res.returncode}): {shlex.join(cmd)}", file=sys.stderr)
        print(res.stderr.rstrip() or res.stdout.rstrip(), file=sys.stderr)
        return 1
    print(f"{PROG}: submitted {len(jobs)} job(s) as Slurm job {slurm_id}; logs: {template}", file=sys.stderr)

    def _interrupt(signum, _frame):
        raise Interrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        codes = wait_for(slurm_id, statuses, float(config["poll_interval"]), float(config["grace_period"]))
    except Interrupted as err:
        subprocess.run(["scancel", slurm_id], capture_output=True)
        print(f"{PROG}: interrupted by signal {err.signum}; cancelled Slurm job {slurm_id}", file=sys.stderr)
        return 128 + err.signum

    failures: List[Tuple[str, str]] = []
    for index, job in enumerate(jobs):
        code = codes.get(index)
        if code is None:
            # Killed before or while running (time or memory limit, scancel): Slurm says why in the .out file.
            out = statuses[index][: -len(".status")] + ".out"
            if os.path.exists(job.log):
                failures.append((job.log, f"no exit code: killed by Slurm? see {out}"))
            else:
                failures.append((out, f"the job never started; no log {job.log}"))
        elif code != 0:
            failures.append((job.log, f"exit code {code}"))
    if failures:
        report_failures(PROG, failures, len(jobs))
        return 1
    return 0


def wait_for(slurm_id: str, statuses: Dict[int, str], poll: float, grace: float) -> Dict[int, Optional[int]]:
    """Poll status files and squeue until every job reported or the job left the queue ``grace`` s ago."""
    codes: Dict[int, Optional[int]] = {}
    gone_since: Optional[float] = None
    warned = False
    while True:
        for index, path in statuses.items():
            if codes.get(index) is None:
                codes[index] = read_status(path)
        if all(code is not None for code in codes.values()):
            return codes
        state = squeue_state(slurm_id)
        if state is None and not warned:
            print(f"{PROG}: squeue does not answer for job {slurm_id}; still waiting", file=sys.stderr)
            warned = True
        if state is False:
            gone_since = gone_since if gone_since is not None else time.monotonic()
            # Exit codes written on another node can take a while to show up on a shared disk.
            if time.monotonic() - gone_since > grace:
                return codes
        else:
            gone_since = None
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
