"""Shared parts of the job launchers ``run_local.py`` and ``run_slurm.py``.

Both launchers take the same command line::

    LAUNCHER [options] [JOB=1:N] LOG COMMAND [ARGS...]

``JOB=1:N`` (any upper-case-or-underscore name works, e.g. ``TASK=3:5``; ``JOB=4`` runs one job)
expands into jobs 1..N; every occurrence of the name in ``LOG`` and in the command is replaced by
the job number.  ``LOG`` receives the job's command line, start and end time, its output and its
exit code.  The arguments are joined into one shell command the way Kaldi's launchers do it: an
argument without white space is passed through as is (so ``"|"`` or ``">"`` act as shell
operators), an argument with white space is quoted; a command given as one single argument is
run as a shell script as is.  Each job runs in ``bash`` with ``set -o pipefail``.
"""

import os
import re
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

# How many lines of a failed job's log to show on the terminal.
TAIL_LINES = 20
# How many failed logs to name before summarising the rest.
MAX_NAMED_FAILURES = 10


class UsageError(Exception):
    """A mistake in the launcher's own command line."""


@dataclass
class LaunchOptions:
    """Resources requested for each job; the local launcher only uses some of them."""

    num_threads: Optional[int] = None
    mem: Optional[str] = None
    gpu: int = 0
    max_jobs_run: Optional[int] = None
    time: Optional[str] = None
    config: Optional[str] = None
    # Passed by espnet2.bin.launch (multi-node training) and by ESPnet-style "--name <job name>".
    num_nodes: int = 1
    name: Optional[str] = None


@dataclass
class JobSpec:
    """One job: its number, the log it writes and the shell command it runs."""

    job_id: Optional[int]
    log: str
    command: str


_INT_OPTIONS = {"num_threads": 1, "gpu": 0, "max_jobs_run": 1, "num_nodes": 1}
_STR_OPTIONS = ("mem", "time", "config", "name")
_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")


def usage(prog: str) -> str:
    return (
        f"Usage: {prog} [--num_threads N] [--mem M] [--gpu G] [--max_jobs_run K] [--time T] [--config FILE]\n"
        f"       {' ' * len(prog)} [--name NAME] [--num_nodes N] [JOB=1:N] LOG COMMAND [ARGS...]\n"
        "Runs COMMAND (once per job with JOB replaced by the job number) and writes each job's output to LOG.\n"
        "Exits non-zero if any job failed."
    )


def join_command(args: Sequence[str]) -> str:
    """Join arguments into one shell command (white-space arguments quoted, others verbatim).

    A command given as a single argument is taken as a shell script as is, so that
    ``LAUNCHER log 'a | b'`` works.
    """
    if len(args) == 1:
        return args[0]
    parts = []
    for arg in args:
        if arg == "" or re.search(r"\s", arg):
            parts.append(shlex.quote(arg))
        else:
            parts.append(arg)
    return " ".join(parts)


@dataclass
class Launch:
    """A parsed launcher command line.

    Attributes:
        opts: the resource options.
        jobs: the jobs in order, with the job variable substituted.
        log_template: the LOG argument as given (still containing ``job_var``, if any).
        job_var: the job variable name (``JOB``), or None for a single job given without a range.
    """

    opts: LaunchOptions
    jobs: List[JobSpec]
    log_template: str
    job_var: Optional[str]


def parse_command_line(argv: Sequence[str], prog: str) -> Launch:
    """Parse ``[options] [JOB=a:b] LOG COMMAND...`` into options and the list of jobs.

    Raises:
        UsageError: on an unknown option, a bad value, a missing log or command, or a job range
            whose log name lacks the job variable (all jobs would write the same log).
    """
    opts = LaunchOptions()
    args = list(argv)
    while args and (args[0].startswith("--") or args[0] == "-h"):
        arg = args.pop(0)
        if arg in ("--help", "-h"):
            print(usage(prog))
            sys.exit(0)
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
        else:
            key = arg[2:]
            if not args:
                raise UsageError(f"option {arg} needs a value")
            value = args.pop(0)
        key = key.replace("-", "_")
        if key in _INT_OPTIONS:
            if not re.fullmatch(r"\d+", value) or int(value) < _INT_OPTIONS[key]:
                raise UsageError(f"option --{key} expects an integer >= {_INT_OPTIONS[key]}, got '{value}'")
            setattr(opts, key, int(value))
        elif key in _STR_OPTIONS:
            setattr(opts, key, value)
        else:
            raise UsageError(f"unknown option {arg}\n{usage(prog)}")

    var, first, last = None, None, None
    if args:
        match = _RANGE.match(args[0])
        if match:
            args.pop(0)
            var = match.group(1)
            first = int(match.group(2))
            last = int(match.group(3)) if match.group(3) is not None else first
            if last < first:
                raise UsageError(f"empty job range {var}={first}:{last}")
    if len(args) < 2:
        raise UsageError(f"expected a log file and a command\n{usage(prog)}")
    log_template, command = args[0], join_command(args[1:])

    if var is None:
        return Launch(opts, [JobSpec(None, log_template, command)], log_template, None)
    if last > first and var not in log_template:
        raise UsageError(
            f"the log name {log_template} does not contain {var}, so the {last - first + 1} jobs would share it"
        )
    # Plain text replacement, as users of Kaldi-style launchers expect (foo.JOB.scp -> foo.3.scp).
    jobs = [JobSpec(i, log_template.replace(var, str(i)), command.replace(var, str(i))) for i in range(first, last + 1)]
    return Launch(opts, jobs, log_template, var)


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def command_comment(command: str) -> str:
    """The ``# Command:`` line(s) of a log; a multi-line script stays commented out."""
    return "# Command: " + command.replace("\n", "\n#          ")


def log_header(job: JobSpec, where: str) -> str:
    """First lines of a job log: the command line and when/where it started."""
    return f"{command_comment(job.command)}\n# Started: {now()} on {socket.gethostname()} ({where})\n"


def log_footer(code: int, elapsed: float) -> str:
    return f"# Finished: {now()}, exit code {code}, elapsed {elapsed:.1f} s\n"


def job_env(opts: LaunchOptions) -> Dict[str, str]:
    """The environment of a job: the caller's, with OMP_NUM_THREADS following --num_threads."""
    env = dict(os.environ)
    if opts.num_threads is not None:
        env["OMP_NUM_THREADS"] = str(opts.num_threads)
    return env


def tail(path: str, n: int = TAIL_LINES) -> List[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError as err:
        return [f"(cannot read {path}: {err})"]


def report_failures(prog: str, failures: List[Tuple[str, str]], num_jobs: int) -> None:
    """Name the failed jobs' logs and show the last lines of the first one, on stderr.

    Args:
        prog: launcher name used as message prefix.
        failures: (log file, reason) for each failed job, in job order.
        num_jobs: total number of jobs launched.
    """
    out = sys.stderr
    print(f"{prog}: {len(failures)} of {num_jobs} job(s) failed:", file=out)
    for path, reason in failures[:MAX_NAMED_FAILURES]:
        print(f"{prog}:   {path} ({reason})", file=out)
    if len(failures) > MAX_NAMED_FAILURES:
        print(f"{prog}:   ... and {len(failures) - MAX_NAMED_FAILURES} more", file=out)
    first = failures[0][0]
    print(f"{prog}: last lines of {first}:", file=out)
    for line in tail(first):
        print(f"    {line}", file=out)
