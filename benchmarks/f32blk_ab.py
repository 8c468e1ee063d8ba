"""FP32 engines with and without channel-blocked (NCHW16c) regions against
ONNX Runtime FP32 (RESULTS.md section 129, issue 14 §3): one process, 1 thread,
the three alternated round by round, thread-CPU medians; then both int8rt
engines' per-layer profiles (ExecutionContext.profile, clock="thread_cpu"),
alternated, summed by kind of layer, medians over rounds. Prints the blocked
engine's largest output difference from the NCHW engine and from ORT,
relative to the output's largest magnitude.

Usage: cd /tmp && PYTHONPATH=<repo>/python python3 <repo>/benchmarks/f32blk_ab.py MODEL.onnx
       [--batch 1] [--rounds 15] [--profile-rounds 3] [--base PYTHONPATH-of-another-build]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import onnx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from fp32_onnx_ab import alternate, seeded_feeds  # noqa: E402
from fp32_peer_bench import ort_session  # noqa: E402


def conv_kinds(model: str) -> dict:
    """ONNX Conv name -> kind: depthwise, SE (a 1x1 output plane), stem (a
    3-channel input), else 1x1 / dense."""
    m = onnx.shape_inference.infer_shapes(onnx.load(model))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    kinds = {}
    for n in m.graph.node:
        if n.op_type != "Conv":
            continue
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w, y = inits.get(n.input[1], [0, 0, 0, 0]), shapes.get(n.output[0], [])
        if group > 1:
            kinds[n.name] = f"depthwise conv {w[2]}x{w[3]}"
        elif len(y) == 4 and y[2] * y[3] == 1:
            kinds[n.name] = "SE conv (1x1 plane)"
        elif len(w) == 4 and w[1] == 3:
            kinds[n.name] = "stem conv"
        else:
            kinds[n.name] = "pointwise conv" if w[2:] == [1, 1] else "dense conv"
    return kinds


KINDS: dict = {}


def kind(row: dict) -> str:
    """A profile row's kind of layer."""
    op = row["op"]
    if op == "Conv":
        return KINDS.get(row["name"], "conv (unnamed)")
    if op in ("GlobalAveragePool", "int8rt.GlobalAveragePool16c"):
        return "GlobalAveragePool"
    if op in ("Mul", "int8rt.ChannelScale16c"):
        return "SE Mul"
    if op in ("int8rt.ToNCHW16c", "int8rt.FromNCHW16c"):
        return "layout conversions"
    return "other"


def profile_kinds(ctx, feeds: dict) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    for r in ctx.profile(feeds, runs=5, clock="thread_cpu"):
        c[kind(r)] += r["ms"]
    return c


def rel(a: np.ndarray, r: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-30))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--profile-rounds", type=int, default=3)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    feeds = seeded_feeds(args.model, args.batch)
    KINDS.update(conv_kinds(args.model))
    nchw = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32", channel_blocked=False))
    blk = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32", channel_blocked=True))
    c0, c1 = nchw.create_execution_context(), blk.create_execution_context()
    sess = ort_session(Path(args.model))
    y0, y1, yo = list(c0.run(feeds).values()), list(c1.run(feeds).values()), sess.run(None, feeds)
    convs = sum(r["op"] == "Conv" and "layout=nchw16c" in r["detail"] for r in blk.layers())
    print(f"{os.path.basename(args.model)} b{args.batch}: {convs} convs on NCHW16c tensors; blocked vs NCHW "
          f"{max(rel(a, b) for a, b in zip(y1, y0)):.2e}, blocked vs ORT {max(rel(a, b) for a, b in zip(y1, yo)):.2e}, "
          f"NCHW vs ORT {max(rel(a, b) for a, b in zip(y0, yo)):.2e} (max |diff| / max |ref|)")
    m = alternate({"nchw": lambda: c0.run(feeds), "blocked": lambda: c1.run(feeds),
                   "ORT": lambda: sess.run(None, feeds)}, args.rounds)
    tn, tb, to = m["nchw"][1], m["blocked"][1], m["ORT"][1]
    print(f"  whole run, thread ms: NCHW {tn:.2f}  blocked {tb:.2f}  ORT {to:.2f}; NCHW/ORT {tn / to:.3f}  "
          f"blocked/ORT {tb / to:.3f}  blocked/NCHW {tb / tn:.3f}; load {os.getloadavg()[0]:.1f}")
    sums = {"nchw": collections.defaultdict(list), "blocked": collections.defaultdict(list)}
    for i in range(args.profile_rounds):
        order = [("nchw", c0), ("blocked", c1)] if i % 2 == 0 else [("blocked", c1), ("nchw", c0)]
        for name, ctx in order:
            k = profile_kinds(ctx, feeds)
            for key in set(k) | {"all layers"}:
                sums[name][key].append(k[key] if key != "all layers" else sum(k.values()))
    keys = sorted(set(sums["nchw"]) | set(sums["blocked"]), key=lambda s: (s == "all layers", s))
    print("  | kind | NCHW ms | blocked ms | ratio |\n  |---|---:|---:|---:|")
    for key in keys:
        a = float(np.median(sums["nchw"].get(key, [0.0])))
        b = float(np.median(sums["blocked"].get(key, [0.0])))
        print(f"  | {key} | {a:.3f} | {b:.3f} | {b / a if a else float('nan'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
