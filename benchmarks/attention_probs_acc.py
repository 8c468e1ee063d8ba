"""Attention's softmax probabilities on the unsigned grid (int8rt.QAttention's
probs_zero_point, attnzp) against the symmetric grid they had before, on one
network of benchmarks/realnets/new_models.py: the same engine both ways.

Each method's engine is built once (BuilderConfig defaults, so
asymmetric_activations on: the probabilities of every fused attention on the
unsigned grid, scale threshold / 255, zero point -128); its "symmetric"
twin is that lowered network with each QAttention's probs_scale set back to
the calibrated symmetric scale (threshold / 127) and no zero point, every
other byte equal: the engine int8rt built before this change. (The symmetric
scale is found among the engine's calibrated scales as the one whose
unsigned grid, quant::lower_bounded_grid(s, 0), is the layer's probs_scale.)
Metrics as newnets_methods.py prints them (newnets_bench.metrics: centred
cosine, top-1 on the varying inputs) against ONNX Runtime FP32; ``--ort``
also ONNX Runtime INT8 reduce_range (newnets_methods.py's ort_rr) on the same
data. ``--speed``: latency of the two engines, 1 thread, batch 1 and 8,
alternated in this process, the median of per-round ratios.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_probs_acc.py levit_128 \
    --methods minmax,auto [--calib-seed 5] [--eval-seeds 1,3] [--ort] [--speed] [--layers] [--dir DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def symmetric_twin(engine: Any) -> tuple[Any, int]:
    """The engine with every QAttention's probabilities back on the
    symmetric grid (module docstring); returns it and how many layers changed."""
    import int8rt
    from int8rt import _core

    lowered = engine._native.network()
    state = list(lowered.__getstate__())
    sym_of = {}
    for s in engine.scales().values():
        g = _core.lower_bounded_grid(s, 0.0)
        if g is not None:
            sym_of.setdefault(np.float32(g[0]).tobytes(), s)
    nodes, changed = [], 0
    for name, op, ins, outs, attrs in state[2]:
        if op == "int8rt.QAttention" and attrs.get("probs_zero_point"):
            attrs = dict(attrs)
            key = np.float32(attrs["probs_scale"]).tobytes()
            if key not in sym_of:
                raise RuntimeError(f"{name}: no calibrated scale gives probs_scale {attrs['probs_scale']}")
            attrs["probs_scale"] = float(sym_of[key])
            del attrs["probs_zero_point"]
            changed += 1
        nodes.append((name, op, ins, outs, attrs))
    state[2] = nodes
    net = _core.Network.__new__(_core.Network)
    net.__setstate__(tuple(state))
    return int8rt.Engine(_core.Engine.create(net, dict(engine.metadata))), changed


def latency(runs: dict[str, Callable[[], Any]], rounds: int, min_time: float) -> dict[str, float]:
    """Median ms per call of each run and the median per-round ratio of the
    second to the first, the runs alternated within each round."""
    names = list(runs)
    for f in runs.values():
        f()
    reps = 1
    t0 = time.perf_counter()
    runs[names[0]]()
    one = time.perf_counter() - t0
    reps = max(1, int(min_time / max(one, 1e-6)))
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            t0 = time.process_time()
            for _ in range(reps):
                runs[n]()
            times[n].append((time.process_time() - t0) / reps * 1e3)
    out = {n: statistics.median(v) for n, v in times.items()}
    out["ratio"] = statistics.median(b / a for a, b in zip(times[names[0]], times[names[1]]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--methods", default="minmax,auto")
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=2, help="calibration set (newnets_bench uses 2)")
    ap.add_argument("--eval-seeds", default="1", help="evaluation sets (newnets_bench uses 1)")
    ap.add_argument("--ort", action="store_true", help="also ONNX Runtime INT8 reduce_range on the same data")
    ap.add_argument("--speed", action="store_true", help="also latency, 1 thread, b1 and b8, alternated")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per engine per round")
    ap.add_argument("--layers", action="store_true", help="also int8rt compare of both engines (16 inputs)")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line())
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.calib, args.calib_seed)
    sets = {int(s): net.feeds(args.eval, int(s)) for s in args.eval_seeds.split(",")}
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}

    def show(label: str, run: Callable[[dict], np.ndarray]) -> None:
        for s, e in sets.items():
            m = B.metrics(net, B.run_all(run, e, 4), refs[s])
            print(f"{args.name} {label} calibration seed {args.calib_seed} evaluation seed {s}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)

    if args.ort:
        from wheelnets_bench import ort_int8
        q, build_s, _ = ort_int8(str(path), calib, 8, reduce_range=True, symmetric_activations=False)
        qs = M.ort_session(q)
        show(f"ONNX Runtime INT8 reduce_range (build {build_s:.0f} s)", lambda f: qs.run(None, f)[0])
    for algo in args.methods.split(","):
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8)
        t0 = time.perf_counter()
        after = int8rt.build_engine(str(path), config)
        build_s = time.perf_counter() - t0
        before, changed = symmetric_twin(after)
        engines = {"symmetric probabilities": before, "unsigned probabilities": after}
        ctxs = {k: e.create_execution_context() for k, e in engines.items()}
        for label, ctx in ctxs.items():
            show(f"{algo} (build {build_s:.0f} s, {changed} QAttention) {label}", lambda f: ctx.run(f)["out"])
        if args.layers:
            from int8rt.accuracy.compare import compare, format_comparison
            first = next(iter(sets.values()))
            for label, e in engines.items():
                print(f"--- {algo} {label}: int8rt compare, 16 inputs")
                print(format_comparison(compare(str(path), e, {k: v[:16] for k, v in first.items()}, batch_size=8)))
        if args.speed:
            first = next(iter(sets.values()))
            for batch in (1, 8):
                feed = {k: np.ascontiguousarray(v[:batch]) for k, v in first.items()}
                r = latency({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds, args.min_time)
                print(f"{args.name} {algo} batch {batch}, 1 thread, {args.rounds} rounds: "
                      + ", ".join(f"{k} {v:.2f} ms" for k, v in r.items() if k != "ratio")
                      + f", unsigned / symmetric {r['ratio']:.3f}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
