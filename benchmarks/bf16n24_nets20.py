"""BF16 on nets20's 16 architectures, networks int8rt was not tuned on (issue 13; RESULTS_realnets.md, the
bf16n24 section): int8rt's FP32 + bf16 engine (``BuilderConfig(precision="fp32", bf16=True)``) against OpenVINO
with INFERENCE_PRECISION_HINT=bf16 (compiled for the timed static shape) and int8rt FP32, 1 thread, the three
alternated in one process (bench_util.time_alternating), medians of the process CPU time per call.
Accuracy: each BF16 engine's output against int8rt FP32's on 8 evaluation inputs (new_models feeds, seed 1):
relative L2 and centred cosine (int8rt FP32 is the import-checked reference of the nets20 sweep).
Per network: the int8rt BF16 engine's layers per precision, and per op type how many stay FP32.
``--profile``: per layer kind, int8rt BF16 (thread CPU) beside OpenVINO bf16's PERF_COUNT (wall), as
bf16_ov_layers.py does, for one network and batch.

The ONNX files are realnets/new_families2.py's exports (nets20_sweep.py; exported there on first use).

Usage: PYTHONPATH=python python benchmarks/bf16n24_nets20.py --nets rexnet_100 [...] --dir /tmp/bf16n24/models \
           [--batches 1 8] [--rounds 5] [--min-time 0.2] [--op-sums]
       (the strided_copy A/B: the same command with PYTHONPATH=<a tree built without the change>, alternated)
       PYTHONPATH=python python benchmarks/bf16n24_nets20.py --profile rexnet_100 --batch 1 --dir ...
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections import Counter

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import e2e_feeds as F  # noqa: E402
from amxbf16_nets import kernels_of  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from nets20_sweep import NETS20  # noqa: E402
from realnets import new_families2  # noqa: E402,F401 - adds the nets17 architectures to new_models.NETS
from realnets import new_models as M  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def build(path, bf16: bool):
    with contextlib.redirect_stdout(io.StringIO()):
        return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=bf16))


def precisions(engine) -> str:
    return ", ".join(f"{p} {n}" for p, n in sorted(Counter(la["precision"] for la in engine.layers()).items()))


def fp32_ops(engine) -> str:
    """Op types of the layers the bf16 engine keeps in FP32, counted."""
    c = Counter(la["op"].removeprefix("int8rt.") for la in engine.layers() if la["precision"] == "fp32")
    return ", ".join(f"{k} x{n}" for k, n in c.most_common())


def rel_l2(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30))


def ccos(y: np.ndarray, ref: np.ndarray) -> float:
    """Cosine of the two outputs, each centred on its own mean."""
    a, b = (y - y.mean()).ravel().astype(np.float64), (ref - ref.mean()).ravel().astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))


def op_sums(engine, feed, runs: int = 5) -> str:
    """The engine's per-layer thread CPU (ExecutionContext.profile), summed per (op, precision): its 8 largest."""
    c: Counter = Counter()
    for la in engine.create_execution_context().profile(feed, runs, clock="thread_cpu"):
        c[f"{la['op'].removeprefix('int8rt.')} {la['precision']}"] += la["ms"]
    return ", ".join(f"{k} {v:.2f}" for k, v in c.most_common(8)) + f" (sum {sum(c.values()):.2f} ms)"


def sweep(args) -> None:
    rows = []
    for name in args.nets:
        net, path = M.exported(name, args.dir)
        t0 = time.process_time()
        try:
            bf, fp = build(path, True), build(path, False)
        except Exception as e:  # noqa: BLE001 - a network that does not build is the finding
            print(f"\n{name}: int8rt build fails: {type(e).__name__}: {str(e)[:200]}", flush=True)
            continue
        print(f"\n{name}: build CPU s {time.process_time() - t0:.1f}; int8rt bf16 layers {precisions(bf)}; "
              f"FP32 ops: {fp32_ops(bf)}; BF16 conv/gemm kernels: {kernels_of(bf)}", flush=True)
        ov_model = O.load(path)
        ev = net.feeds(8, 1)
        ours, ref = F.int8rt_runner(bf), F.int8rt_runner(fp)
        ov_full = F.ov_runner(O.compile_model(F.ov_static(ov_model, ev), 1, "bf16"))
        want = ref(ev)
        errs = [(rel_l2(ours(ev), want), ccos(ours(ev), want)), (rel_l2(ov_full(ev), want), ccos(ov_full(ev), want))]
        print(f"{name}: 8 inputs vs int8rt FP32: int8rt bf16 rel L2 {errs[0][0]:.2e} ccos {errs[0][1]:.6f}; "
              f"OV bf16 rel L2 {errs[1][0]:.2e} ccos {errs[1][1]:.6f}", flush=True)
        for batch in args.batches:
            feed = {k: np.ascontiguousarray(v[:batch]) for k, v in ev.items()}
            ov = F.ov_runner(O.compile_model(F.ov_static(ov_model, feed), 1, "bf16"))
            med = time_alternating({"bf16": lambda: ours(feed), "ov": lambda: ov(feed), "fp32": lambda: ref(feed)},
                                   args.rounds, args.min_time, clock=time.process_time)
            a, b, c = med["bf16"], med["ov"], med["fp32"]
            row = (f"| {name} | {batch} | {a * 1e3:.2f} | {b * 1e3:.2f} | {c * 1e3:.2f} | {b / a:.3f} | {c / a:.3f} | "
                   f"{errs[0][0]:.1e} / {errs[1][0]:.1e} | {errs[0][1]:.5f} / {errs[1][1]:.5f} | {load_line()} |")
            rows.append(row)
            print(row, flush=True)
            if args.op_sums:
                print(f"{name} batch {batch}: int8rt bf16 per op, thread CPU ms: {op_sums(bf, feed)}", flush=True)
    print("\ncolumns: network | batch | int8rt bf16 CPU ms | OV bf16 CPU ms | int8rt FP32 CPU ms | OV / int8rt bf16 | "
          "int8rt FP32 / bf16 | rel. L2 vs int8rt FP32 (int8rt bf16 / OV bf16) | centred cosine (same) | load after")
    print("\n".join(rows))


def profile(args) -> None:
    net, path = M.exported(args.profile, args.dir)
    feed = {k: np.ascontiguousarray(v[:args.batch]) for k, v in net.feeds(8, 1).items()}
    ctx = build(path, True).create_execution_context()
    ov_model = F.ov_static(O.load(path), feed)

    def compile_fn():  # afresh per round: OpenVINO's PERF_COUNT are running means (openvino_engines.run_times)
        return O.compile_model(ov_model, 1, "bf16", perf_count=True)
    ours_all, ov_all = [], []
    x = feed if len(feed) > 1 else next(iter(feed.values()))
    for _ in range(args.rounds):
        ours_all.append(ctx.profile(feed, 3, clock="thread_cpu"))
        ov_all.append(O.profile(compile_fn, x, 3))
    print(f"{args.profile} batch {args.batch}, 1 thread: int8rt FP32+bf16 (thread CPU) against OpenVINO bf16 "
          f"(PERF_COUNT, wall), {args.rounds} alternating rounds of 3 runs; {load_line()}")
    ours, ov = P.merge_profiles(ours_all), P.merge_profiles(ov_all)
    print("\n".join(P.compare_table(ours, ov)))
    print("  int8rt slowest layers:")
    print("\n".join(P.slowest_int8rt(ours, 12, 6)))
    print("  OpenVINO slowest nodes:")
    print("\n".join(P.slowest_openvino(ov, 12, 6)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=NETS20)
    ap.add_argument("--dir", default="/tmp/bf16n24/models")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--profile", default=None, help="one network: per layer kind against OpenVINO instead")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--op-sums", action="store_true", help="also the BF16 engine's profile summed per op type")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}; {O.versions()}; {load_line()}", flush=True)
    (profile if args.profile else sweep)(args)


if __name__ == "__main__":
    main()
