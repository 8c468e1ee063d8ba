"""ResNet-50 FP32 layer by layer, grouped by stage and kind of conv: int8rt's
channel-blocked engine (BuilderConfig(channel_blocked=True)), its NCHW engine
(channel_blocked=False) and ONNX Runtime FP32's node profile, one thread each
(RESULTS.md section 138, issue 14 §3). The per-layer figures are
fp32_ort_layer_gap.py's: int8rt's thread-CPU profile, the minimum over 3 x 5
runs; ORT's kernel times, the minimum over 15 runs, matched to the ONNX Conv
node behind each. Groups: output plane (56 / 28 / 14 / 7) x bottleneck conv
(1x1 reduce, 3x3, 1x1 expand + residual, 1x1 projection), "s2" for the
strided ones; other layers by name. Inputs: seeded Gaussian images.

Usage: cd /tmp && PYTHONPATH=<repo>/python python3 <repo>/benchmarks/f32r50_layer_groups.py MODEL.onnx [--batch 1]
(layer names as torch exports the e2e_bench.py ResNet-50: features.N/body/body.K, features.N/down/down.0)
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from fp32_ort_layer_gap import int8rt_layers, onnx_node_of, ort_nodes  # noqa: E402

STAGES = ((6, 56), (10, 28), (16, 14), (19, 7))  # last block index of each stage, its output plane
FIRST = (7, 11, 17)  # the blocks whose 3x3 and projection are strided
KINDS = {"0": "1x1 reduce", "3": "3x3", "6": "1x1 expand+res"}


def group(name: str) -> str:
    m = re.search(r"features\.(\d+)/(body|down)/\w+\.(\d)", name)
    if not m:
        return name
    block = int(m.group(1))
    plane = next(p for last, p in STAGES if block <= last)
    kind = KINDS[m.group(3)] if m.group(2) == "body" else "1x1 projection"
    strided = block in FIRST and kind in ("3x3", "1x1 projection")
    return f"{plane:2d} {kind}{' s2' if strided else ''}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    graph = onnx.load(args.model, load_external_data=False).graph
    feeds = {graph.input[0].name: np.random.default_rng(0).standard_normal((args.batch, 3, 224, 224),
                                                                              dtype=np.float32)}
    blocked, _ = int8rt_layers(args.model, feeds, True)
    nchw, _ = int8rt_layers(args.model, feeds, False)
    raw = ort_nodes(args.model, feeds)
    ort = collections.Counter()
    for name, ms in raw.items():
        ort[onnx_node_of(graph, name)] += ms
    sums = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for name, ms in blocked.items():
        s = sums[group(name)]
        s[0] += ms
        s[1] += nchw.get(name, 0.0)
        s[2] += ort.get(name, 0.0)
    print(f"{os.path.basename(args.model)} b{args.batch}: layer sums blocked {sum(blocked.values()):.2f} ms, "
          f"NCHW {sum(nchw.values()):.2f} ms, ORT {sum(raw.values()):.2f} ms; load {os.getloadavg()[0]:.1f}")
    print("| group | blocked ms | NCHW ms | ORT ms | blocked / ORT | NCHW / ORT |\n|---|---:|---:|---:|---:|---:|")
    for key in sorted(sums):
        b, n, o = sums[key]
        ratio = (lambda v: f"{v / o:.2f}" if o else "-")
        print(f"| {key} | {b:.3f} | {n:.3f} | {o:.3f} | {ratio(b)} | {ratio(n)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
