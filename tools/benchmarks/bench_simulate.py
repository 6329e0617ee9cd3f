#!/usr/bin/env python3
"""Benchmark the synthetic corpus generator and print a markdown table.

Each part is generated alone into a fresh directory (``make_corpus(..., parts=[part])``), so its time
includes the eSpeak NG renderings it needs (in a full run the parts share them), then the whole corpus is
generated once per repetition. Wall-clock medians of ``--repeats`` runs, with the size on disk::

    python tools/benchmarks/bench_simulate.py                  # tiny, 3 repetitions
    python tools/benchmarks/bench_simulate.py --preset small --repeats 1
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from espnet_brain.simulate import PART_DIRS, PARTS, make_corpus


def _size_mb(path: str) -> float:
    total = 0
    for dirpath, _, names in os.walk(path):
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
    return total / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]

    times = {p: [] for p in parts + ["all"]}
    sizes = {}
    work = tempfile.mkdtemp(prefix="bench_simulate_")
    try:
        # warm-up: imports (MNE, h5py, scipy.io) and the eSpeak NG library copy are not timed
        make_corpus(os.path.join(work, "warmup"), args.preset, args.seed, parts="text")
        for rep in range(args.repeats):
            for part in parts:
                out = os.path.join(work, f"{part}-{rep}")
                start = time.perf_counter()
                make_corpus(out, args.preset, args.seed, parts=[part])
                times[part].append(time.perf_counter() - start)
                sizes[part] = _size_mb(os.path.join(out, PART_DIRS[part]))
                shutil.rmtree(out)
            out = os.path.join(work, f"all-{rep}")
            start = time.perf_counter()
            make_corpus(out, args.preset, args.seed, parts=parts)
            times["all"].append(time.perf_counter() - start)
            sizes["all"] = _size_mb(out)
            shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Corpus generation, preset `{args.preset}`, seed {args.seed}, median of {args.repeats} run(s), "
          f"{os.cpu_count()} CPU(s)\n")  # fmt: skip
    print("| part | time (s) | min-max (s) | size (MB) |")
    print("|---|---:|---:|---:|")
    for part in parts + ["all"]:
        t = times[part]
        label = "all parts (renderings shared)" if part == "all" else part
        print(f"| {label} | {statistics.median(t):.2f} | {min(t):.2f}-{max(t):.2f} | {sizes[part]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
