"""int8rt INT8 vs OpenVINO INT8 (NNCF default preset), 1 thread, alternating
in one process: median wall time and median process CPU time per run, and
their ratios (OpenVINO's time over int8rt's: > 1, int8rt faster).

On a shared 2-core machine at load 10-20 the wall times of both engines swing
several-fold, while their CPU times (which leave out time spent descheduled)
stay close to a quiet machine's wall times, so there the CPU-time ratio is the
figure to read. Networks and engines are built as benchmarks/e2e_bench.py
builds them (its subject() and build()).

Usage (from /tmp):
    PYTHONPATH=<tree>/python python <tree>/benchmarks/cpu_time_vs_openvino.py \\
        efficientnet_lite0,mobilenet_v2,mobilenet_v3 7
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench as B  # noqa: E402

IMPLS = ("int8rt int8", "OV int8")


def timed(impls: Dict[str, Callable[[np.ndarray], object]], x: np.ndarray, rounds: int,
          runs: int) -> Dict[str, Dict[str, float]]:
    """Per implementation, the median over `rounds` alternating rounds of
    `runs` runs each: {"wall": ms, "cpu": ms} per run."""
    wall: Dict[str, List[float]] = {k: [] for k in impls}
    cpu: Dict[str, List[float]] = {k: [] for k in impls}
    for f in impls.values():
        f(x)  # warm: plans, buffers
    for _ in range(rounds):
        for k, f in impls.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(runs):
                f(x)
            wall[k].append((time.perf_counter() - w0) / runs * 1e3)
            cpu[k].append((time.process_time() - c0) / runs * 1e3)
    return {k: {"wall": float(np.median(wall[k])), "cpu": float(np.median(cpu[k]))} for k in impls}


def compare(name: str, rounds: int, tmp: Path) -> None:
    """Prints one line per batch (1 and 8) for network `name`."""
    s = B.subject(name, 224, tmp)
    if s is None:
        print(f"{name}: not available")
        return
    B.build(s, tmp, list(IMPLS))
    for batch in (1, 8):
        B.set_threads(1)
        run = B.runners(s, 1, batch)
        missing = [k for k in IMPLS if k not in run]
        if missing:
            print(f"{name} b{batch}: {', '.join(missing)} missing: {s.errors}")
            return
        m = timed({k: run[k] for k in IMPLS}, s.inputs(batch), rounds, max(2, int(0.25 / (0.0025 * batch))))
        ours, ov = m["int8rt int8"], m["OV int8"]
        print(f"{name} b{batch}: int8rt wall {ours['wall']:.3f} cpu {ours['cpu']:.3f} ms | OV wall {ov['wall']:.3f} "
              f"cpu {ov['cpu']:.3f} ms | OV/int8rt wall {ov['wall'] / ours['wall']:.3f} "
              f"cpu {ov['cpu'] / ours['cpu']:.3f} | load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else ["efficientnet_lite0", "mobilenet_v2", "mobilenet_v3"]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    tmp = Path(tempfile.mkdtemp())
    for name in names:
        compare(name, rounds, tmp)


if __name__ == "__main__":
    main()
