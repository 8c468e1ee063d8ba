"""ResNet-50 INT8 at batch 8, 1 thread: where int8rt loses time to OpenVINO
INT8, in milliseconds, every layer group sorted by ms lost (RESULTS.md §213).

The per-layer measurement is r50i8_layers.py's (reused, not copied): int8rt's
profiler rows (wall clock, thread CPU beside them) against OpenVINO's own
PERF_COUNT on a freshly compiled model, alternated in blocks, each layer's
**minimum** over the rounds kept (load only adds), layers matched by the ONNX
node name both keep and labelled by shape. What this adds:

- every row that is not a conv is kept and named: int8rt's entry Quantize and
  exit rows, its pools / Gemm head / adds, OpenVINO's Reorders, FakeQuantize
  and the nodes it split off (grouped by their OpenVINO type when no int8rt
  layer has their name);
- a "run overhead" row per engine, the time of a call outside its layers:
  int8rt's run() thread CPU less the next profiled run's sum of layer thread
  CPU (median over the rounds); OpenVINO's infer wall time less that run's sum
  of node times (minimum over the runs: it has no CPU clock per node);
- the whole call, engines alternated call by call, process CPU medians;
- a per-layer table (`--layers`) for one label's rows, e.g. "3x3 64->64 @56".

Usage: `--save DIR` builds the engines once (e2e_bench's subject and build,
IInt8AutoCalibrator as §211's command, the peers' models from --models-dir);
then `PYTHONPATH=python python benchmarks/r50gap_table.py --dir DIR --rounds 24`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import r50i8_layers as L  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def group(name: str, lab: dict, ov_type: str = "") -> str:
    """A row's group: the shape label of a conv / pool (r50i8_layers.labels),
    the entry conversion, or for a node no label knows, its op / OV type."""
    g = L.group_of(name, lab.get(name, ""))
    if g:
        return g
    return f"OV {ov_type.split(':')[0]} (no int8rt layer)" if ov_type else f"int8rt {name}"


class _TimedContext:
    """An int8rt context whose thread-CPU profile() calls each follow a plain
    run() on the same clock: records run()'s ms less the profile's sum of
    layer ms (the profile call's own wrapping, its rows' medians and Python
    dicts, is not in it)."""

    def __init__(self, ctx, outside: list) -> None:
        self.ctx, self.outside = ctx, outside

    def profile(self, inputs, runs, clock):
        if clock != "thread_cpu":
            return self.ctx.profile(inputs, runs, clock=clock)
        t0 = time.thread_time()
        self.ctx.run(inputs)
        t = (time.thread_time() - t0) * 1e3
        rows = self.ctx.profile(inputs, runs, clock=clock)
        self.outside.append(t - sum(r["ms"] for r in rows))
        return rows


class _TimedRequest:
    """An OpenVINO infer request that records each infer's wall ms (for
    openvino_engines.run_times, which calls infer and get_profiling_info)."""

    def __init__(self, req, walls: list) -> None:
        self.req, self.walls = req, walls
        self.mine: list = []
        walls.append(self.mine)

    def infer(self, *a, **k):
        t0 = time.perf_counter()
        r = self.req.infer(*a, **k)
        self.mine.append((time.perf_counter() - t0) * 1e3)
        return r

    def get_profiling_info(self):
        return self.req.get_profiling_info()


def ov_outside(walls: list, ov: dict) -> list:
    """Per OpenVINO run, its wall ms less the sum of its nodes' own ms: the
    runs of each compile after the first (run_times' running means) in the
    order L.profiles appended them to every node's list."""
    runs = [t for w in walls for t in w[1:]]
    n = min(len(v) for v in ov.values())
    return [runs[j] - sum(v[j] for v in ov.values()) for j in range(min(n, len(runs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/r50gap/r50"))
    ap.add_argument("--save", action="store_true", help="build and save the models in --dir, then stop")
    ap.add_argument("--models-dir", type=Path, default=None, help="e2e_bench's --models-dir (peers' cached models)")
    ap.add_argument("--calibrator", default="auto")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=24, help="profiled rounds (minima per layer)")
    ap.add_argument("--whole-rounds", type=int, default=12, help="whole calls per engine, alternated")
    ap.add_argument("--layers", default=None, help="also print every layer of this label, one row each")
    args = ap.parse_args()
    if args.save:
        L.save(args.dir, args.models_dir, args.calibrator)
        return
    import int8rt
    d = args.dir
    x, name, ctx, model = L.load_saved(d, args.batch)
    plain = O.runner(O.compile_model(model, 1, None, x.shape))
    lab = L.labels(d / "fp32.onnx", args.batch)
    load0 = os.getloadavg()[0]

    walls: list = []

    def compile_req():
        return _TimedRequest(O.compile_model(model, 1, None, x.shape, perf_count=True).create_infer_request(), walls)

    def whole_calls(into: dict) -> None:  # engines alternated call by call, process CPU
        s = bench_util.alternating_samples({"int8rt": lambda: ctx.run({name: x}), "OV": lambda: plain(x)},
                                           max(1, args.whole_rounds // 2), clock=time.process_time)
        for k in into:
            into[k] += s[k]

    whole: dict[str, list] = {"int8rt": [], "OV": []}
    whole_calls(whole)  # before and after the profile
    outside: list = []
    w, c, o, ov_type = L.profiles(_TimedContext(ctx, outside), name, compile_req, x, args.rounds)
    whole_calls(whole)
    load1 = os.getloadavg()[0]

    rows: dict[str, list] = {}  # group -> [int8rt layers, OV nodes, int8rt ms, int8rt cpu ms, OV ms]
    for layer, t in w.items():
        r = rows.setdefault(group(layer, lab), [0, 0, 0.0, 0.0, 0.0])
        r[0] += 1
        r[2] += min(t)
        r[3] += min(c[layer])
    ov_names: dict[str, list] = {}
    for node, t in o.items():
        g = group(node, lab, "" if node in w else ov_type[node])
        r = rows.setdefault(g, [0, 0, 0.0, 0.0, 0.0])
        r[1] += 1
        r[4] += min(t)
        ov_names.setdefault(g, []).append(f"{node} [{ov_type[node]}] {min(t):.3f}")
    rows["run overhead (outside layers)"] = [0, 0, float(np.median(outside)), float("nan"),
                                            min(ov_outside(walls, o))]
    wi, wo = (np.median(whole[k]) * 1e3 for k in ("int8rt", "OV"))

    print(f"ResNet-50 INT8 batch {args.batch}, 1 thread; load {load0:.1f} -> {load1:.1f}; {args.rounds} profiled "
          f"rounds (minima per layer), {len(whole['OV'])} whole calls each; int8rt "
          f"{Path(int8rt.__file__).parent}")
    print("| layer group | int8rt layers | OV nodes | int8rt ms | int8rt thread-CPU ms | OpenVINO ms | "
          "ms lost (int8rt - OV) | OV / int8rt |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for g, (ni, no, a, b, v) in sorted(rows.items(), key=lambda kv: -(kv[1][2] - kv[1][4])):
        ratio = f"{v / a:.3f}" if a > 0 and v > 0 else "-"
        print(f"| {g} | {ni} | {no} | {a:.3f} | {b:.3f} | {v:.3f} | {a - v:+.3f} | {ratio} |")
    print(f"| **sum of the rows** | | | {sum(r[2] for r in rows.values()):.2f} | | "
          f"{sum(r[4] for r in rows.values()):.2f} | | |")
    print(f"whole call, process CPU medians: int8rt {wi:.2f} ms, OV {wo:.2f} ms, OV / int8rt {wo / wi:.3f}")
    for g, names in sorted(ov_names.items()):
        if g.startswith("OV ") or g.startswith("input"):
            print(f"  {g}: " + "; ".join(names))
    if args.layers:
        print(f"\n| {args.layers}: layer | int8rt ms | thread-CPU ms | OV ms | ms lost |\n|---|---:|---:|---:|---:|")
        for layer, t in w.items():
            if lab.get(layer) == args.layers:
                v = min(o[layer]) if layer in o else float("nan")
                print(f"| {layer} | {min(t):.3f} | {min(c[layer]):.3f} | {v:.3f} | {min(t) - v:+.3f} |")


if __name__ == "__main__":
    main()
