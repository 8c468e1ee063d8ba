"""Runs of one ExecutionContext fed inputs of a few shapes in turn (a text
detector's image sizes): the shape plan cache keeping every size's plan
(capacity 8, the default) against keeping only the last one (capacity 1,
what the executor did before: each change of size inferred every layer's
shapes again). Issue 11 §1 / issue 14 §4; RESULTS.md section 97.

One process, the two settings alternated round by round on two contexts of
one engine; per run the calling thread's CPU time (time.thread_time: at one
thread a run's own work, whatever else the machine does), medians over
rounds, and the ratio. With the allocation counter of the tests preloaded
(LD_PRELOAD=.../liballoc_counter.so, built from tests/native/alloc_counter.c
with `cc -O2 -shared -fPIC -o liballoc_counter.so tests/native/alloc_counter.c -ldl`),
also the C++ heap allocations per run.

    PYTHONPATH=python python3 benchmarks/shape_plan_bench.py det_int8.i8rt det_fp32.i8rt \\
        --shapes 1x3x640x480,1x3x480x640,1x3x320x320 --rounds 9
    # engines of PP-OCRv4 det (rapidocr-onnxruntime's model) made with --make DIR
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import os
import statistics
import time
from typing import Dict, List, Optional

import numpy as np

import int8rt

DET_MODEL = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"


def make_engines(out_dir: str) -> List[str]:
    """PP-OCRv4 det from the rapidocr-onnxruntime wheel, FP32 and INT8 (2 calibration images of 2 sizes)."""
    import importlib.util
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    model = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), DET_MODEL)
    rng = np.random.default_rng(0)
    calib = [{"x": rng.random((1, 3, h, w), dtype=np.float32)} for h, w in ((320, 320), (256, 384))]
    paths = []
    for label, config in (("fp32", int8rt.BuilderConfig(precision="fp32")),
                          ("int8", int8rt.BuilderConfig(calibrator=calib))):
        with contextlib.redirect_stdout(io.StringIO()):
            engine = int8rt.build_engine(model, config)
        path = os.path.join(out_dir, f"det_{label}.i8rt")
        engine.save(path)
        paths.append(path)
    return paths


def counter() -> Optional[ctypes.CDLL]:
    """The preloaded allocation counter, or None."""
    try:
        lib = ctypes.CDLL(None)
        lib.alloc_counter_stop.restype = ctypes.c_long
        lib.alloc_counter_start  # noqa: B018 - raises AttributeError when not preloaded
        return lib
    except AttributeError:
        return None


def bench(path: str, shapes: List[tuple], rounds: int, count: Optional[ctypes.CDLL]) -> Dict[int, Dict[str, float]]:
    engine = int8rt.Engine.load(path)
    name = engine.input_names[0]
    rng = np.random.default_rng(1)
    feeds = [{name: rng.random(s, dtype=np.float32)} for s in shapes]
    contexts = {}
    for capacity in (1, 8):
        ctx = engine.create_execution_context()
        ctx.shape_plan_capacity = capacity
        outs = [{k: np.empty_like(v) for k, v in ctx.run(f).items()} for f in feeds]
        for f, o in zip(feeds, outs):  # warm-up: every size twice
            ctx.run(f, o)
            ctx.run(f, o)
        contexts[capacity] = (ctx, outs)
    cpu: Dict[int, List[float]] = {1: [], 8: []}
    allocs: Dict[int, List[int]] = {1: [], 8: []}
    for r in range(rounds):
        for capacity in ((1, 8) if r % 2 == 0 else (8, 1)):
            ctx, outs = contexts[capacity]
            for f, o in zip(feeds, outs):
                if count:
                    count.alloc_counter_start()
                t0 = time.thread_time()
                ctx.run(f, o)
                cpu[capacity].append(time.thread_time() - t0)
                if count:
                    allocs[capacity].append(count.alloc_counter_stop())
    result = {}
    for capacity in (1, 8):
        # per round: the sum over the sizes, so each round is one pass over all of them
        per_round = [sum(cpu[capacity][i:i + len(feeds)]) for i in range(0, len(cpu[capacity]), len(feeds))]
        result[capacity] = {"ms per run": 1e3 * statistics.median(per_round) / len(feeds),
                            "allocations per run": statistics.median(allocs[capacity]) if count else float("nan")}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engines", nargs="*")
    ap.add_argument("--make", metavar="DIR", help="build PP-OCRv4 det FP32 / INT8 engines into DIR first")
    ap.add_argument("--shapes", default="1x3x640x480,1x3x480x640,1x3x320x320")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    int8rt.set_num_threads(args.threads)
    engines = list(args.engines) + (make_engines(args.make) if args.make else [])
    shapes = [tuple(int(d) for d in s.split("x")) for s in args.shapes.split(",")]
    count = counter()
    print(f"shapes {args.shapes} in turn, {args.threads} thread(s), {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for path in engines:
        r = bench(path, shapes, args.rounds, count)
        ratio = r[1]["ms per run"] / r[8]["ms per run"]
        print(f"{os.path.basename(path)}: last shape only {r[1]['ms per run']:.2f} ms CPU, "
              f"{r[1]['allocations per run']:.0f} allocations per run; 8 plans {r[8]['ms per run']:.2f} ms CPU, "
              f"{r[8]['allocations per run']:.0f} allocations per run; ratio {ratio:.3f}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
