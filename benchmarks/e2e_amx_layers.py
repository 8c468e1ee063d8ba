"""int8rt INT8 on an AMX CPU, layer by layer: the same engine bytes loaded
under each ISA cap (default: no cap = AMX, and avx512bf16 = the best tier
without AMX), whole runs and per-layer profiles alternating in one process,
1 thread, medians. Says which networks AMX speeds up or slows down, and
which layers: per layer the kernel each cap chose (the profile's detail) and
the two times; the layers are then summed per kernel pair.

Kernels are chosen when an engine is loaded (Engine.deserialize under
int8rt.set_max_isa), except the GEMM of a product of two activations
(QMatMul / QAttention: engine/ops/int8/int8_products.cc), chosen at its first
run under the cap then in force: each tier's engine is therefore run once
right after its load, with the cap still set, so every kernel of it belongs
to that tier (unlike e2e_bench.py --tiers, which loads only).

Networks, calibration (IInt8AutoCalibrator by default) and timed feeds are
e2e_bench.py's (e2e_subjects.subject, e2e_bench.build); whole runs are timed
by the process CPU time (1 thread: the run's own cost on a loaded machine),
layers by the calling thread's CPU clock (ExecutionContext.profile
clock="thread_cpu").

Usage: PYTHONPATH=python python benchmarks/e2e_amx_layers.py --models resnet50 bert_base
       [--tiers amx avx512bf16] [--batches 1 8] [--rounds 7] [--profile-rounds 5]
       [--models-dir /tmp/e2eamx/models] [--show 12] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_bench as B  # noqa: E402  (sets the thread-library environment first)
import int8rt  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def tier_engines(engine: "int8rt.Engine", tiers: List[str], feed: dict) -> Dict[str, "int8rt.ExecutionContext"]:
    """tier -> an execution context of `engine`'s bytes loaded and run once
    under that cap ("amx" = no cap beyond the CPU's)."""
    data = engine.serialize()
    out = {}
    for tier in tiers:
        int8rt.set_max_isa(tier)
        try:
            ctx = int8rt.Engine.deserialize(data).create_execution_context()
            ctx.run(feed)  # products' GEMMs choose now, under the cap
        finally:
            int8rt.set_max_isa(None)
        out[tier] = ctx
    return out


def kernel_of(layer: dict) -> str:
    """The kernel name in a layer's detail ('<shape> on <kernel>' or '<kernel> ...')."""
    d = layer["detail"]
    return d.rsplit(" on ", 1)[-1] if " on " in d else (d.split(" ")[0] if d else layer["op"])


def compare(s: "B.Subject", tiers: List[str], batch: int, rounds: int, profile_rounds: int,
            min_time: float, show: int) -> dict:
    int8rt.set_num_threads(1)
    feed = s.feed(batch)
    ctxs = tier_engines(s.engines["int8rt int8"], tiers, feed)
    whole = time_alternating({t: (lambda c=c: c.run(feed)) for t, c in ctxs.items()}, rounds, min_time,
                             clock=time.process_time)
    profiles: Dict[str, list] = {t: [] for t in tiers}
    for _ in range(profile_rounds):
        for t, c in ctxs.items():
            profiles[t].append(c.profile(feed, 2, clock="thread_cpu"))
    merged = {t: P.merge_profiles(p) for t, p in profiles.items()}
    a, b = tiers[0], tiers[1]
    print(f"\n{s.name}  batch {batch}  1 thread ({load_line()}): whole run, process CPU medians of {rounds}+ "
          "alternating rounds: " + ", ".join(f"{t} {whole[t] * 1e3:.3f} ms" for t in tiers)
          + f"; {a} / {b} = {whole[a] / whole[b]:.3f}")
    rows = []
    for la, lb in zip(merged[a], merged[b]):
        assert la["name"] == lb["name"], (la["name"], lb["name"])
        rows.append({"name": la["name"], "op": la["op"], "kind": P.kind_int8rt(la), "detail_a": la["detail"],
                     "kernel_a": kernel_of(la), "kernel_b": kernel_of(lb), "ms_a": la["ms"], "ms_b": lb["ms"]})
    pairs: Dict[tuple, dict] = defaultdict(lambda: {"n": 0, "ms_a": 0.0, "ms_b": 0.0})
    for r in rows:
        p = pairs[(r["kernel_a"], r["kernel_b"])] if r["kernel_a"] != r["kernel_b"] else pairs[("same kernel", "")]
        p["n"] += 1
        p["ms_a"] += r["ms_a"]
        p["ms_b"] += r["ms_b"]
    sum_a, sum_b = sum(r["ms_a"] for r in rows), sum(r["ms_b"] for r in rows)
    print(f"  layer sums (thread CPU, median over {profile_rounds} rounds): {a} {sum_a:.3f} ms, {b} {sum_b:.3f} ms")
    print(f"  | kernel under {a} | kernel under {b} | layers | {a} ms | {b} ms | {a} / {b} |")
    print("  |---|---|---|---|---|---|")
    for (ka, kb), p in sorted(pairs.items(), key=lambda kv: -kv[1]["ms_a"]):
        print(f"  | {ka} | {kb} | {p['n']} | {p['ms_a']:.3f} | {p['ms_b']:.3f} | {p['ms_a'] / max(p['ms_b'], 1e-9):.2f} |")
    changed = [r for r in rows if r["kernel_a"] != r["kernel_b"]]
    slower = sorted((r for r in changed if r["ms_a"] > r["ms_b"]), key=lambda r: r["ms_b"] - r["ms_a"])
    faster = sorted((r for r in changed if r["ms_a"] <= r["ms_b"]), key=lambda r: r["ms_a"] - r["ms_b"])
    for title, sel in ((f"slower under {a}", slower), (f"faster under {a}", faster)):
        lost = sum(r["ms_a"] - r["ms_b"] for r in sel)
        print(f"  {len(sel)} layers {title} (sum of differences {lost:+.3f} ms); the {min(show, len(sel))} largest:")
        for r in sel[:show]:
            print(f"    {r['name']}: {r['ms_a']:.4f} vs {r['ms_b']:.4f} ms ({r['ms_a'] / max(r['ms_b'], 1e-9):.2f}x)"
                  f"  [{r['detail_a']}] vs {r['kernel_b']}")
    return {"network": s.name, "batch": batch, "load": load_line(), "whole_s": whole, "layers": rows,
            "tiers": tiers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", required=True, help=f"from {', '.join(B.MODELS)}")
    ap.add_argument("--tiers", nargs=2, default=["amx", "avx512bf16"], help="two ISA caps to compare")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7, help="minimum alternating rounds of whole runs")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each tier runs at least (whole runs)")
    ap.add_argument("--profile-rounds", type=int, default=5, help="alternating profile rounds (2 runs each)")
    ap.add_argument("--calibrator", choices=sorted(B.CALIBRATORS), default="auto")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--show", type=int, default=12, help="layers listed per direction")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print(machine_line())
    print(f"int8rt {int8rt.__version__}, CPU's ISA {int8rt.get_max_isa()}; tiers {args.tiers[0]} vs {args.tiers[1]}, "
          f"calibrator {B.CALIBRATOR_NAMES[args.calibrator]}")
    args.models_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in args.models:
        s = B.subject(name, args.size, args.models_dir)
        if s is None:
            continue
        int8rt.set_num_threads(2)
        B.build(s, args.models_dir, ["int8rt int8"], args.calibrator)
        if "int8rt int8" not in s.engines:
            print(f"{name}: int8rt int8 failed: {s.errors.get('int8rt int8')}")
            continue
        for batch in args.batches:
            out.append(compare(s, args.tiers, batch, args.rounds, args.profile_rounds, args.min_time, args.show))
            if args.json:
                args.json.write_text(json.dumps({"argv": sys.argv, "machine": machine_line(), "results": out},
                                                indent=1))
    print("\n| network | batch | " + " | ".join(f"{t} ms" for t in args.tiers) + f" | {args.tiers[0]} / {args.tiers[1]} | load |")
    print("|---|---|---|---|---|---|")
    for r in out:
        w = r["whole_s"]
        t0, t1 = r["tiers"]
        print(f"| {r['network']} | {r['batch']} | {w[t0] * 1e3:.3f} | {w[t1] * 1e3:.3f} | {w[t0] / w[t1]:.3f} | "
              f"{r['load']} |")
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
