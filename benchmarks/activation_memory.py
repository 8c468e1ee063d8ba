"""Activation memory of an int8rt INT8 engine: how much the process's resident
set grows over the first run of a fresh execution context at a batch size
(the buffers that run allocates; later runs reuse them). Since the executor
shares buffers between tensors whose lifetimes do not overlap
(csrc/engine/memory_plan.h), this is about the few largest live tensors,
not the sum of every tensor, which decides whether a batch-8 run stays in
the last-level cache.

Networks and calibration as in e2e_bench.py (its --models names).

Linux with glibc only (/proc/self/statm, malloc_trim).

Usage: cd /tmp && PYTHONPATH=/path/to/int8rt/python python3 /path/to/int8rt/benchmarks/activation_memory.py
       [--models mobilenet_v2 resnet50 ...] [--batch 8]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402


def resident_mib() -> float:
    """The process's resident set size in MiB (/proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def first_run_growth(engine: int8rt.Engine, x: np.ndarray) -> float:
    """MiB the resident set grows by over a fresh context's first run on x.
    Free heap memory (the build's calibration runs left plenty) is handed
    back to the system first (glibc's malloc_trim), or the run would reuse
    pages that are already resident and appear to cost nothing."""
    ctx = engine.create_execution_context()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = resident_mib()
    ctx.run({engine.input_names[0]: x})
    return resident_mib() - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2", "efficientnet_lite0", "resnet50", "ppocr_det"])
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in args.models:
            s = B.subject(name, 224, tmp)
            if s is None:
                continue
            B.build(s, tmp, ["int8rt int8"])
            e = s.engines.get("int8rt int8")
            if e is None:
                print(f"{name}: int8rt int8 failed: {s.errors.get('int8rt int8')}")
                continue
            x = s.inputs(args.batch)
            print(f"{name}: first batch-{args.batch} run grows the resident set by "
                  f"{first_run_growth(e, x):.1f} MiB (input {x.nbytes / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
