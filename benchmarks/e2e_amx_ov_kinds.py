"""int8rt INT8 against OpenVINO INT8 (NNCF) per layer class, 1 thread: where
the time still goes on a CPU where both run AMX. The two profilers alternate
(int8rt's ExecutionContext.profile on the calling thread's CPU clock,
OpenVINO's PERF_COUNT compiled afresh per round: openvino_engines.profile);
per layer the minimum over rounds (OpenVINO's counters are wall time: on a
loaded machine only the minimum approaches a node's own cost), summed per
class.

Classes refine realnets/profile_kinds.py's kinds for convolutions by the
ONNX Conv node each layer comes from (weights [K, C/g, R, S], group g):
stem (C/g <= 4), depthwise (C/g = 1), 1x1 or RxS dense, each split by
whether C/g is a multiple of 64 (where int8rt's AMX conv reads a 1x1's
input in place: conv_amx.cc) — the shape classes of RESULTS.md §171's rule.
int8rt layers carry the ONNX node's name; OpenVINO node names extend it
(".../Conv/WithoutBiases"), matched by the longest ONNX name they start with.

Networks, calibration (auto) and the NNCF models are e2e_bench.py's
(--models-dir: reuses its cached OpenVINO IR, keyed by the ONNX file's hash);
encoders (two inputs) are profiled on their feed dict.

Usage: PYTHONPATH=python python benchmarks/e2e_amx_ov_kinds.py --models resnet50 mobilenet_v2
       [--batches 1 8] [--rounds 8] --models-dir DIR
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_bench as B  # noqa: E402
import e2e_feeds as F  # noqa: E402
import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_amx_rule_projection import conv_shapes  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def conv_classes(onnx_path: Path) -> Dict[str, str]:
    """ONNX Conv node name -> its shape class."""
    out = {}
    for name, (kg, cg, rs, g) in conv_shapes(onnx_path).items():
        if cg == 1 and g > 1:
            out[name] = "conv depthwise"
        elif cg <= 4:
            out[name] = "conv stem (C/g <= 4)"
        else:
            out[name] = (f"conv {'1x1' if rs == 1 else 'RxS'}, C/g % 64 {'==' if cg % 64 == 0 else '!='} 0"
                         + (" (grouped)" if g > 1 else ""))
    return out


def class_of(name: str, fallback: str, classes: Dict[str, str]) -> str:
    if name in classes:
        return classes[name]
    best = max((k for k in classes if name.startswith(k + "/")), key=len, default=None)
    return classes[best] if best is not None else fallback


def compare(s: "B.Subject", batch: int, rounds: int) -> None:
    int8rt.set_num_threads(1)
    feed = s.feed(batch)
    ctx = s.engines["int8rt int8"].create_execution_context()
    model = F.ov_static(s.ov_models["int8"], feed)
    x = feed if s.feed_fn is not None else feed[s.input_name]

    def compile_fn():
        return O.compile_model(model, 1, None, perf_count=True)
    ours_all, ov_all = [], []
    for _ in range(rounds):
        ours_all.append(ctx.profile(feed, 2, clock="thread_cpu"))
        ov_all.append(O.profile(compile_fn, x, 2))
    ours, ov = P.merge_profiles(ours_all, np.min), P.merge_profiles(ov_all, np.min)
    classes = conv_classes(s.onnx_path)
    acc: Dict[str, List[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for layer in ours:
        k = class_of(layer["name"], P.kind_int8rt(layer), classes) if P.kind_int8rt(layer) in (
            "conv", "depthwise conv") else P.kind_int8rt(layer)
        acc[k][0] += layer["ms"]
        acc[k][1] += 1
    for node in ov:
        kind = P.kind_openvino(node)
        k = class_of(node["name"], kind, classes) if kind in ("conv", "depthwise conv") else kind
        acc[k][2] += node["ms"]
        acc[k][3] += 1
    print(f"\n{s.name}  batch {batch}  1 thread ({load_line()}): per layer the minimum over {rounds} alternating "
          "rounds of 2 runs (int8rt thread CPU, OpenVINO PERF_COUNT wall), summed per class")
    print("| class | int8rt ms (layers) | OpenVINO ms (nodes) | int8rt - OV ms | int8rt / OV |")
    print("|---|---:|---:|---:|---:|")
    for k, (a, na, o, no) in sorted(acc.items(), key=lambda kv: -(kv[1][0] - kv[1][2])):
        print(f"| {k} | {a:.3f} ({na}) | {o:.3f} ({no}) | {a - o:+.3f} | {a / o:.2f} |" if o > 0 else
              f"| {k} | {a:.3f} ({na}) | 0 ({no}) | {a:+.3f} | - |")
    ta, to = sum(v[0] for v in acc.values()), sum(v[2] for v in acc.values())
    print(f"| **sum** | {ta:.3f} | {to:.3f} | {ta - to:+.3f} | {ta / to:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--calibrator", choices=sorted(B.CALIBRATORS), default="auto")
    ap.add_argument("--models-dir", type=Path, required=True)
    args = ap.parse_args()
    print(machine_line())
    print(f"int8rt {int8rt.__version__} (ISA {int8rt.get_max_isa()}), {O.versions()}")
    for name in args.models:
        s: Optional[B.Subject] = B.subject(name, args.size, args.models_dir)
        if s is None:
            continue
        int8rt.set_num_threads(2)
        B.build(s, args.models_dir, ["int8rt int8", "OV int8"], args.calibrator)
        if "int8rt int8" not in s.engines or "int8" not in s.ov_models:
            print(f"{name}: skipped: {s.errors}")
            continue
        for batch in args.batches:
            compare(s, batch, args.rounds)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
