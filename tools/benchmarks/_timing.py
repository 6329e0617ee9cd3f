"""Timing shared by the benchmarks: wall (and CPU) time of a block with the device synchronised, and the
statistics their tables print (median, 99th percentile, min-max spread).

The benchmarks run as scripts (``python tools/benchmarks/bench_<name>.py``), so they import this module by its
file name (their folder is first on ``sys.path``).
"""

import statistics
import time
from typing import Sequence, Union

import numpy as np
import torch


def sync(device: Union[str, torch.device]) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously; nothing to wait for on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Wall and thread CPU seconds of a ``with`` block, the device synchronised when it starts and when it ends.

    Example::

        with Stopwatch(device) as watch:
            model(x)
        watch.seconds, watch.cpu_seconds
    """

    def __init__(self, device: Union[str, torch.device] = "cpu"):
        self.device = torch.device(device)
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        sync(self.device)
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc) -> None:
        sync(self.device)
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.thread_time() - self._cpu


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def p99(xs: Sequence[float]) -> float:
    """The 99th percentile (numpy's linear interpolation)."""
    return float(np.percentile(np.asarray(xs, dtype=float), 99))


def num(x: float) -> str:
    """Three significant digits, whole numbers from 100 up."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def spread(xs: Sequence[float]) -> str:
    """``min-max`` of repeated measurements; ``-`` for a single one."""
    return f"{num(min(xs))}-{num(max(xs))}" if len(xs) > 1 else "-"
