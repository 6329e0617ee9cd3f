#!/usr/bin/env python3
"""Run jobs on this machine, at most --max_jobs_run at a time (the role of Kaldi's run.pl).

Usage::

    run_local.py [--num_threads N] [--mem M] [--gpu G] [--max_jobs_run K] [JOB=1:N] LOG COMMAND [ARGS...]

Examples::

    run_local.py exp/log/prepare.log python3 -m espnet_brain.bin.prepare --out data/train
    run_local.py --max_jobs_run 2 JOB=1:4 exp/log/dump.JOB.log \\
        python3 -m espnet_brain.bin.dump --keys data/split4/JOB/keys --out dump/JOB

Every job's log starts with its command line and start time and ends with its exit code.  The
launcher is silent when all jobs succeed; otherwise it names the failed logs, prints the last lines
of the first one and exits 1.  --num_threads sets OMP_NUM_THREADS for the jobs; --mem, --gpu,
--time, --name and --config are accepted so that one command line works with run_slurm.py too, and
are otherwise ignored on this machine.  SIGINT/SIGTERM stop the running jobs and start no new ones.

utils/run.pl links here: espnet2.bin.launch recognises Kaldi-style launchers by that name.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from _launcher import (  # noqa: E402
    JobSpec,
    LaunchOptions,
    UsageError,
    job_env,
    log_footer,
    log_header,
    parse_command_line,
    report_failures,
)

PROG = "run_local.py"


class LocalRunner:
    """Runs jobs in bash subprocesses, each in its own process group so it can be stopped whole."""

    def __init__(self, opts: LaunchOptions):
        self.env = job_env(opts)
        self.lock = threading.Lock()
        self.running = set()
        self.stopped_by: Optional[int] = None

    def run(self, job: JobSpec) -> Optional[str]:
        """Run one job; returns None on success, else why it failed."""
        with self.lock:
            if self.stopped_by is not None:
                return "not started: interrupted"
        where = PROG if job.job_id is None else f"{PROG}, job {job.job_id}"
        try:
            log_dir = os.path.dirname(job.log)
            if log_dir:
                os.makedirs(log_dir, exist_ok=True)
            f = open(job.log, "w", encoding="utf-8")
        except OSError as err:
            return f"cannot write the log: {err}"
        with f:
            f.write(log_header(job, where))
            f.flush()
            start = time.monotonic()
            proc = subprocess.Popen(
                ["bash", "-c", "set -o pipefail\n" + job.command],
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
            with self.lock:
                self.running.add(proc)
            code = proc.wait()
            with self.lock:
                self.running.discard(proc)
            # A negative code is a signal; report it the way a shell would (128 + signal).
            f.write(log_footer(code if code >= 0 else 128 - code, time.monotonic() - start))
        if code == 0:
            return None
        return f"exit code {code}" if code > 0 else f"killed by signal {-code}"

    def stop(self, signum: int, _frame=None) -> None:
        with self.lock:
            self.stopped_by = signum
            for proc in self.running:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


def main(argv: List[str]) -> int:
    try:
        launch = parse_command_line(argv, PROG)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    opts, jobs = launch.opts, launch.jobs
    if opts.num_nodes > 1:
        print(
            f"{PROG}: --num_nodes {opts.num_nodes}: this launcher runs on one machine; use run_slurm.py",
            file=sys.stderr,
        )
        return 2
    runner = LocalRunner(opts)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, runner.stop)

    workers = min(opts.max_jobs_run or len(jobs), len(jobs))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = list(pool.map(runner.run, jobs))

    failures: List[Tuple[str, str]] = [(job.log, why) for job, why in zip(jobs, reasons) if why is not None]
    if runner.stopped_by is not None:
        print(f"{PROG}: interrupted by signal {runner.stopped_by}; jobs were stopped", file=sys.stderr)
        return 128 + runner.stopped_by
    if failures:
        report_failures(PROG, failures, len(jobs))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
