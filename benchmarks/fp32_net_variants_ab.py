"""int8rt FP32 variants of one engine and ONNX Runtime FP32, alternated in one
process at one thread: medians of thread CPU ms per run and the median of the
per-round ratios to ORT ("paired"), with each variant's max |diff| to the
first's output.

A variant is NAME:SETTING,...; SETTING is SPLIT=n (int8rt._testing.
set_batch_split(n): 0 turns the batch split off, 1 is the default) or ENV=VAL
(an environment variable set before the variant's runs; ENV= unsets it), for
comparing settings that a build reads at run time. Used for RESULTS.md
section 75 (the batch split at one thread).

usage: cd /tmp && PYTHONPATH=<repo>/python python3 <repo>/benchmarks/fp32_net_variants_ab.py
       MODEL.onnx BATCH ROUNDS off:SPLIT=0 on:SPLIT=1
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from int8rt import _testing  # noqa: E402
from fp32_onnx_ab import seeded_feeds  # noqa: E402
from fp32_peer_bench import ort_session  # noqa: E402


def apply(setting: str) -> None:
    """Applies one variant's comma-separated settings."""
    for kv in filter(None, setting.split(",")):
        key, value = kv.split("=", 1)
        if key == "SPLIT":
            _testing.set_batch_split(int(value))
        elif value == "":
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def main() -> int:
    model, batch, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    int8rt.set_num_threads(1)
    feeds = seeded_feeds(model, batch)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    impls: Dict[str, Tuple[str, Callable[[], np.ndarray]]] = {}
    for spec in sys.argv[4:]:
        name, setting = spec.split(":", 1)
        ctx = engine.create_execution_context()
        impls[name] = (setting, (lambda c: lambda: list(c.run(feeds).values())[0])(ctx))
    sess = ort_session(Path(model))
    impls["ORT"] = ("", lambda: sess.run(None, feeds)[0])
    outs = {}
    for name, (setting, run) in impls.items():
        apply(setting)
        outs[name] = run()
    times: Dict[str, List[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for name, (setting, run) in impls.items():
            apply(setting)
            t0 = time.thread_time()
            run()
            times[name].append((time.thread_time() - t0) * 1e3)
    ort = np.array(times["ORT"])
    first = outs[next(iter(impls))]
    line = f"{os.path.basename(model)} b{batch} load {os.getloadavg()[0]:.1f}:"
    for name in impls:
        paired = float(np.median(np.array(times[name]) / ort))
        diff = float(np.max(np.abs(outs[name] - first)))
        line += f" | {name} {np.median(times[name]):.2f} ms (paired/ORT {paired:.3f}) maxdiff {diff:.1e}"
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
