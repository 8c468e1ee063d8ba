"""Swin-Tiny's shifted-window attention as one int8rt.QAttention (two masks,
the second over the [B, nW, heads] view; probabilities on the unsigned
grid) against the chain main ran it as: QMatMul writing int8 scores ->
Dequantize -> Add(bias) -> Reshape -> Add(window mask) -> Reshape ->
Softmax -> Quantize (symmetric) -> QMatMul (attention_window_bench.py's
twin, checked there against main's build). CPU time per call, 1 thread,
the two engines alternated in this process, the median of the per-round
ratios (fused / chain). int8 q, k, v (seeded), int8 output, K given
untransposed as timm's exports hold it.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_window_speed.py [--rounds 11]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from attention_probs_acc import latency  # noqa: E402
from bench_util import machine_line  # noqa: E402

F32 = np.float32
# name: (images B, windows nW, heads, tokens N, d)
SHAPES = {
    "swin_tiny stage 1 (b1)": (1, 64, 3, 49, 32),
    "swin_tiny stage 2 (b1)": (1, 16, 6, 49, 32),
    "swin_tiny stage 3 (b1)": (1, 4, 12, 49, 32),
    "swin_tiny stage 1 (b8)": (8, 64, 3, 49, 32),
}
SCALES = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "out_scale": 0.045}


def engine(shape: tuple[int, ...], fused: bool):
    import int8rt
    from int8rt import _core

    b, nw, h, n, d = shape
    net = _core.Network()
    q, k, v = (net.add_input(x, [b * nw, h, n, d], "int8") for x in "qkv")
    bias = net.add_constant("bias", (np.random.default_rng(1).standard_normal((1, h, n, n)) * 2).astype(F32))
    mask = net.add_constant("mask", np.where(np.random.default_rng(2).random((1, nw, 1, n, n)) < 0.3, -100.0,
                                             0.0).astype(F32))
    if fused:
        attrs = dict(SCALES, k_transposed=1, probs_scale=1 / 255, probs_zero_point=-128, mask2_view=[-1, nw, h])
        y = net.add_node("int8rt.QAttention", "attention", [q, k, v, bias, mask], attrs, ["y"])[0]
    else:
        s_scores = 0.15
        s8 = net.add_node("int8rt.QMatMul", "scores", [q, k], {"a_scale": SCALES["q_scale"], "logical": 1,
                                                               "b_scale": SCALES["k_scale"], "b_transposed": 1,
                                                               "out_scale": s_scores}, ["s8"])[0]
        s = net.add_node("int8rt.Dequantize", "dq", [s8], {"scale": s_scores, "logical": 1}, ["s"])[0]
        s = net.add_node("Add", "add_bias", [s, bias], {}, ["s1"])[0]
        view = net.add_constant("view", np.array([-1, nw, h, n, n], np.int64))
        back = net.add_constant("back", np.array([-1, h, n, n], np.int64))
        s = net.add_node("Reshape", "view", [s, view], {}, ["s2"])[0]
        s = net.add_node("Add", "add_mask", [s, mask], {}, ["s3"])[0]
        s = net.add_node("Reshape", "unview", [s, back], {}, ["s4"])[0]
        p = net.add_node("Softmax", "softmax", [s], {"axis": -1}, ["p"])[0]
        pq = net.add_node("int8rt.Quantize", "quantize", [p], {"scale": 1 / 127, "logical": 1}, ["pq"])[0]
        y = net.add_node("int8rt.QMatMul", "context", [pq, v], {"a_scale": 1 / 127, "b_scale": SCALES["v_scale"],
                                                                "out_scale": SCALES["out_scale"], "logical": 1},
                         ["y"])[0]
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per engine per round")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line())
    for label, shape in SHAPES.items():
        b, nw, h, n, d = shape
        rng = np.random.default_rng(sum(shape))
        feed = {x: rng.integers(-128, 128, (b * nw, h, n, d), dtype=np.int8) for x in "qkv"}
        ctxs = {name: engine(shape, fused).create_execution_context() for name, fused in (("chain", False),
                                                                                           ("fused", True))}
        r = latency({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds, args.min_time)
        print(f"{label} {shape}: chain {r['chain']:.3f} ms, fused {r['fused']:.3f} ms, fused / chain "
              f"{r['ratio']:.3f}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
