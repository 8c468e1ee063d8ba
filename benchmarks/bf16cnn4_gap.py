"""ResNet-50 BF16 gap table (RESULTS.md section 215): every layer of int8rt's
FP32 + bf16 engine (the channel-blocked region) beside OpenVINO bf16's own
per-node time for the same ONNX node, 1 thread, sorted by the milliseconds
int8rt loses, with what OpenVINO's runtime graph runs there (its node's exec
type, i.e. the kernel, and its output layout from get_runtime_model()).

The timing method is bf16r50b_layers.py's (r50i8_layers.profiles: the two
engines profiled in alternating blocks, each layer's minimum kept; OpenVINO's
per-node times are wall times, so int8rt's wall minimum is the like-for-like
column and its thread-CPU minimum the check); rows here are layers, not
shape groups. A layer int8rt runs fused (a chain of layers run image by
image) has one int8rt row holding the chain and OpenVINO rows of its own.

Usage: PYTHONPATH=python python benchmarks/bf16cnn4_gap.py --batch 8 --rounds 8
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import int8rt  # noqa: E402
from bf16r50b_layers import bf16_r50_setup  # noqa: E402
from r50i8_layers import labels, ov_key, profiles  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def ov_graph(compiled) -> dict[str, tuple[str, str]]:
    """OpenVINO runtime node name -> (exec type, output layout)."""
    out = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        r = op.get_rt_info()
        get = lambda k: str(r[k].astype(str)) if k in r else ""  # noqa: E731
        out[ov_key(op.get_friendly_name())] = (get("primitiveType"), get("outputLayouts"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=8, help="profiled runs per engine (minima per layer)")
    args = ap.parse_args()
    path, x, engine, ctx, model, compile_req = bf16_r50_setup(args.batch)
    graph = ov_graph(O.compile_model(model, 1, "bf16", x.shape))
    lab = labels(path, args.batch)
    load0 = os.getloadavg()[0]
    wall, cpu, ov, ov_type = profiles(ctx, "input", compile_req, x, args.rounds)
    load1 = os.getloadavg()[0]
    rows = {}  # ONNX node name -> [label, int8rt wall, int8rt CPU, OV ms, OV kernel / layout]
    for layer, t in wall.items():
        rows[layer] = [lab.get(layer, layer), min(t), min(cpu[layer]), 0.0, ""]
    for node, t in ov.items():
        r = rows.setdefault(node, [lab.get(node, "OV only"), 0.0, 0.0, 0.0, ""])
        r[3] += min(t)
        kernel, layout = graph.get(node, ("", ""))
        r[4] = f"{ov_type[node].split(':')[0]} {kernel or ov_type[node].split(':')[-1]} {layout}".strip()
    print(bench_util.machine_line())
    print(f"ResNet-50 BF16 batch {args.batch}, 1 thread; load {load0:.1f} -> {load1:.1f}; {args.rounds} profiled runs "
          f"per engine, minima per layer; int8rt {Path(int8rt.__file__).parent}")
    print("| layer | shape | int8rt wall ms | int8rt thread-CPU ms | OV bf16 ms | lost ms (wall - OV) | OV / int8rt "
          "| OpenVINO node: type, kernel, output layout |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name, (label, w, c, o, k) in sorted(rows.items(), key=lambda kv: kv[1][3] - kv[1][1]):
        ratio = f"{o / w:.2f}" if w > 0 and o > 0 else "-"
        print(f"| {name} | {label} | {w:.3f} | {c:.3f} | {o:.3f} | {w - o:+.3f} | {ratio} | {k} |")
    chain = [r for r in rows.values() if r[0].startswith("bf16_chain:")]
    inside = [r for r in rows.values() if r[1] == 0 and r[0] != "OV only" and r[3] > 0]
    if chain:
        print(f"chain: int8rt {sum(r[1] for r in chain):.2f} ms wall / {sum(r[2] for r in chain):.2f} ms thread CPU "
              f"against OpenVINO's {len(inside)} nodes of the chained layers {sum(r[3] for r in inside):.2f} ms")
    tot = [sum(r[i] for r in rows.values()) for i in (1, 2, 3)]
    print(f"| **sum** | | {tot[0]:.2f} | {tot[1]:.2f} | {tot[2]:.2f} | {tot[0] - tot[2]:+.2f} | {tot[2] / tot[0]:.3f} | |")


if __name__ == "__main__":
    main()
