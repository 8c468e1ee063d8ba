"""RESULTS.md section 236: where MTCNN ONet's INT8 engine spends the 6-9 %
more CPU time that acc60's lower-bounded PReLU grid costs on the AVX2 tier.

The two engines of benchmarks/przp12_speed.py (one minmax calibration cache on
draw 1's crops: asymmetric_activations on, the PReLU outputs bounded, and
off, all symmetric) are profiled per layer alternately (bounded, symmetric,
bounded, ...), ``ctx.profile(clock="thread_cpu")`` at one thread, each
layer's minimum over ``--rounds`` profiles of ``--runs`` runs; printed per
layer side by side with each one's kernel detail, then the totals. With
``--time``, also the whole engines' alternated medians (alternated_runs).
With ``--codes``, first each max pool's output (the convs' inputs) on the
evaluation crops as each engine's grid holds it: the float32 values from
ONNX Runtime, quantized with the plan's scale and zero point, their code
range and the share below -24 (the shifted tile's reach on ONet's conv2).

Usage: PYTHONPATH=python python benchmarks/avx2det16_onet_layers.py \
           --wheel /tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl [--net onet] [--batch 1] \
           [--rounds 20 --runs 5] [--time 300] [--codes]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alternated_runs  # noqa: E402
import przp12_speed  # noqa: E402


def layer_minima(ctx: object, feed: dict, rounds: int, runs: int, other: object) -> tuple[list, list]:
    """Per-layer minimum ms over ``rounds`` profiles of ``ctx`` and ``other``, alternated."""
    a, b = [], []
    for _ in range(rounds):
        a.append(ctx.profile(feed, runs, clock="thread_cpu"))
        b.append(other.profile(feed, runs, clock="thread_cpu"))

    def minima(profiles: list) -> list:
        return [dict(rows[0], ms=min(r["ms"] for r in rows)) for rows in zip(*profiles)]
    return minima(a), minima(b)


def print_codes(wheel: str, net: str, engines: dict, x: np.ndarray) -> None:
    """Each MaxPool output's code range under each engine's plan (see the module docstring)."""
    import calib15_mtcnn as M
    import onnx
    import onnxruntime as ort

    m = onnx.load_model_from_string(M.mtcnn_model(wheel, net))
    names = [n.output[0] for n in m.graph.node if n.op_type == "MaxPool"]
    for name in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for name, v in zip(names, sess.run(names, {"x": x.astype(np.float32)})):
        for label, engine in engines.items():
            t = {p.tensor: p for p in engine.int8_plan().tensors}[name]
            q = np.clip(np.rint(v / np.float32(t.scale)) + t.zero_point, -128, 127)
            print(f"  {name} {label}: zero point {t.zero_point}, codes {q.min():.0f} .. {q.max():.0f}, "
                  f"{100 * (q < -24).mean():.1f} % below -24")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--net", default="onet")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--time", type=int, default=0, help="alternated whole-engine runs (0: none)")
    ap.add_argument("--codes", action="store_true", help="print the max pools' code ranges first")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}; 1 thread; thread CPU, per layer the minimum of "
          f"{args.rounds} x {args.runs}-run profiles, alternated")
    bounded, symmetric, xe = przp12_speed.engines(args.wheel, args.net)
    feed = {"x": np.ascontiguousarray(xe[:args.batch])}
    if args.codes:
        print_codes(args.wheel, args.net, {"bounded": bounded, "symmetric": symmetric}, xe)
    pa, pb = layer_minima(bounded.create_execution_context(), feed, args.rounds, args.runs,
                          symmetric.create_execution_context())
    print(f"{args.net} batch {args.batch}: | layer | bounded ms | symmetric ms | bounded - symmetric | bounded kernel "
          f"| symmetric kernel |")
    for a, b in zip(pa, pb):
        da, db = a.get("detail", ""), b.get("detail", "")
        print(f"| {a['name'][:40]} | {a['ms']:.4f} | {b['ms']:.4f} | {a['ms'] - b['ms']:+.4f} | {da} | "
              f"{db if db != da else '(same)'} |")
    ta, tb = sum(r["ms"] for r in pa), sum(r["ms"] for r in pb)
    print(f"| sum of layers | {ta:.4f} | {tb:.4f} | {ta - tb:+.4f} | bounded / symmetric {ta / tb:.3f} | |")
    if args.time:
        alternated_runs.print_pair(f"{args.net} batch {args.batch}", (bounded, symmetric), ("bounded", "symmetric"),
                                   feed, args.time)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
