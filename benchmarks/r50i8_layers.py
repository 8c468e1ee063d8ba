"""ResNet-50 INT8, 1 thread: int8rt against OpenVINO INT8 layer by layer and
whole-network, on the same saved engine / IR and input (issue 14, RESULTS.md §112).

Per layer: int8rt's profiler rows (`ExecutionContext.profile`) against
OpenVINO's own PERF_COUNT (`request.get_profiling_info()`), matched by the
ONNX node name both keep (OpenVINO appends "/WithoutBiases" to convs and
"/DequantizationMultiply" to the FC). OpenVINO's per-node times are wall
times (its cpu_time is the same clock) and running means since the model was
compiled (ov_run_times recovers each run's own), so on a shared machine each
node's time is inflated by the time the thread spent descheduled. To compare like
with like, both engines are timed on the wall clock, in alternating blocks of
8 runs (int8rt's, then OpenVINO's on a freshly compiled model), and each
layer's **minimum** over the runs is kept (load only adds; a
short layer runs undisturbed in some round); int8rt's thread-CPU minimum is
printed beside it as the check, and each engine's sum of minima beside its
whole-run CPU time. Layers are labelled by shape from the ONNX graph
(kernel, channels, output size, stride, a fused residual).

Whole network: the two engines alternated call by call
(`bench_util.alternating_samples`, process CPU time, medians), before and
after the profile; `--whole-only` runs only that, at batch 1 and `--batch`.
Any saved network works (`--dir`); the labels are ResNet-shaped.

Usage (the saved models: `--save DIR` builds them once with e2e_bench's own
subject / build, ResNet-50 with random weights, int8rt's INT8 entropy engine
and NNCF's default OpenVINO INT8):
    PYTHONPATH=python python benchmarks/r50i8_layers.py --save /tmp/r50i8/resnet50
    PYTHONPATH=python python benchmarks/r50i8_layers.py --dir /tmp/r50i8/resnet50 --batch 8 \\
        --rounds 40 --whole-rounds 15
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402

_OV_SUFFIXES = ("/WithoutBiases", "/DequantizationMultiply")


def save(d: Path, models_dir: Optional[Path] = None, calibrator: str = "entropy") -> None:
    """Builds ResNet-50's int8rt INT8 engine (calibrator as e2e_bench's
    --calibrator) and NNCF OpenVINO INT8 IR as e2e_bench does (the peers'
    cached models in `models_dir`, a fresh folder by default) and saves them,
    the FP32 ONNX, a batch-8 input and the input's name under `d`: the layout
    load_saved reads (also r50u8b_save.py's and r50gap_table.py's)."""
    import e2e_bench as B
    import openvino as ov
    d.mkdir(parents=True, exist_ok=True)
    models_dir = models_dir or Path(tempfile.mkdtemp())
    s = B.subject("resnet50", 224, models_dir)
    B.build(s, models_dir, ["int8rt int8", "OV int8"], calibrator)
    if s.errors:
        raise SystemExit(f"build failed: {s.errors}")
    (d / "engine.i8rt").write_bytes(s.engines["int8rt int8"].serialize())
    (d / "fp32.onnx").write_bytes(s.onnx_path.read_bytes())
    ov.save_model(s.ov_models["int8"], str(d / "ov_int8.xml"))
    np.save(d / "x8.npy", s.inputs(8))
    (d / "input_name").write_text(s.input_name)


def load_saved(d: Path, batch: int):
    """What save() left under `d`, at 1 thread: (the first `batch` images of
    the input, the input's name, an int8rt context of the engine, the
    OpenVINO model)."""
    import int8rt
    import openvino as ov
    x = np.ascontiguousarray(np.load(d / "x8.npy")[:batch])
    name = (d / "input_name").read_text()
    int8rt.set_num_threads(1)
    ctx = int8rt.Engine.deserialize((d / "engine.i8rt").read_bytes()).create_execution_context()
    return x, name, ctx, ov.Core().read_model(str(d / "ov_int8.xml"))


def labels(onnx_path: Path, batch: int) -> dict[str, str]:
    """ONNX node name -> a shape label: "3x3 64->64 @56", "1x1 64->256 @56 +res"
    (the conv whose output an Add takes first: int8rt fuses that Add into it),
    "1x1/2 256->512 @28 down", "stem 7x7/2", "maxpool 3x3/2"."""
    import onnx
    m = onnx.shape_inference.infer_shapes(onnx.load(str(onnx_path)))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in m.graph.value_info}
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    add_first = {n.input[0] for n in m.graph.node if n.op_type == "Add"}
    out = {}
    for n in m.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        if n.op_type == "Conv":
            w = inits[n.input[1]]
            s = a.get("strides", [1, 1])[0]
            hw = shapes.get(n.output[0], [0, 0, 0, 0])[2]
            k = f"{w[2]}x{w[3]}" + (f"/{s}" if s > 1 else "")
            tag = " stem" if w[1] == 3 else " down" if "/down" in n.name else " +res" if n.output[0] in add_first else ""
            out[n.name] = f"{k} {w[1]}->{w[0]} @{hw}{tag}"
        elif n.op_type == "MaxPool":
            out[n.name] = "maxpool 3x3/2"
        else:
            out[n.name] = n.op_type
    return out


def ov_key(name: str) -> str:
    while name.endswith(_OV_SUFFIXES):
        name = name[: name.rindex("/")]
    return name


def ov_run_times(compile_req, x: np.ndarray, runs: int, into: dict, types: dict) -> None:
    """Appends to into[node] each of `runs` OpenVINO runs' own time (ms),
    on a request of a model compiled afresh (openvino_engines.run_times:
    the plugin reports running means), nodes keyed by :func:`ov_key`."""
    times, info = O.run_times(compile_req(), x, runs)
    per_run: dict[str, np.ndarray] = {}
    for name, t in times.items():  # nodes sharing a key (ov_key) summed run by run
        key = ov_key(name)
        per_run[key] = per_run.get(key, 0.0) + np.asarray(t)
        types[key] = ":".join(info[name])
    for key, t in per_run.items():
        into[key].extend(t.tolist())


def profiles(ctx, input_name: str, compile_req, x: np.ndarray, rounds: int, per_compile: int = 8):
    """Alternating rounds of one profiled int8rt run (wall and thread CPU)
    and `per_compile` OpenVINO runs with PERF_COUNT: per layer, the list of ms."""
    ours_wall, ours_cpu, ov = defaultdict(list), defaultdict(list), defaultdict(list)
    ov_type: dict[str, str] = {}
    for _ in range(max(1, rounds // per_compile)):
        for _ in range(per_compile):
            for clock, into in (("wall", ours_wall), ("thread_cpu", ours_cpu)):
                for layer in ctx.profile({input_name: x}, 1, clock=clock):
                    into[layer["name"]].append(layer["ms"])
        ov_run_times(compile_req, x, per_compile, ov, ov_type)
    return ours_wall, ours_cpu, ov, ov_type


def group_of(name: str, label: str) -> str:
    """The row a layer is summed into: its shape label, or the engine's own
    input conversion (int8rt's Quantize; OpenVINO's FakeQuantize and its
    NCHW->NHWC Reorder before the stem)."""
    if name.startswith("input"):
        return "input quantize (+ OV reorder)"
    return label


def whole_runs(ctx, input_name: str, model, x8: np.ndarray, batch: int, rounds: int) -> None:
    """int8rt and OpenVINO alternated call by call at batch 1 and `batch`:
    process CPU medians (rounds of at least 0.3 s at batch 1, 1 s above)."""
    import int8rt
    for b in (1, batch):
        x = np.ascontiguousarray(x8[:b])
        ov_run = O.runner(O.compile_model(model, 1, None, x.shape))
        t = bench_util.alternating_samples({"int8rt": lambda: ctx.run({input_name: x}), "OV": lambda: ov_run(x)},
                                           rounds, min_time=0.3 * rounds if b == 1 else 1.0 * rounds,
                                           clock=time.process_time)
        mi, mo = np.median(t["int8rt"]) * 1e3, np.median(t["OV"]) * 1e3
        print(f"batch {b}: int8rt {mi:.2f} ms, OV INT8 {mo:.2f} ms, OV / int8rt {mo / mi:.3f} "
              f"({len(t['OV'])} calls each, load {os.getloadavg()[0]:.1f}, int8rt {Path(int8rt.__file__).parent})",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/r50i8/resnet50"))
    ap.add_argument("--save", type=Path, help="build and save the models here, then stop")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=30, help="profiled rounds (minima per layer)")
    ap.add_argument("--whole-rounds", type=int, default=11, help="alternating whole-run rounds (medians)")
    ap.add_argument("--whole-only", action="store_true", help="only whole runs, at batch 1 and at --batch")
    args = ap.parse_args()
    if args.save:
        save(args.save)
        return
    d = args.dir
    x, name, ctx, model = load_saved(d, args.batch)
    if args.whole_only:
        whole_runs(ctx, name, model, np.load(d / "x8.npy"), args.batch, args.whole_rounds)
        return

    def compile_req():
        return O.compile_model(model, 1, None, x.shape, perf_count=True).create_infer_request()

    plain = O.runner(O.compile_model(model, 1, None, x.shape))
    lab = labels(d / "fp32.onnx", args.batch)
    load0 = os.getloadavg()[0]

    whole = bench_util.alternating_samples({"int8rt": lambda: ctx.run({name: x}), "OV": lambda: plain(x)},
                                           args.whole_rounds, clock=time.process_time)
    w, c, o, ov_type = profiles(ctx, name, compile_req, x, args.rounds)
    whole2 = bench_util.alternating_samples({"int8rt": lambda: ctx.run({name: x}), "OV": lambda: plain(x)},
                                            args.whole_rounds, clock=time.process_time)
    load1 = os.getloadavg()[0]

    rows: dict[str, list] = {}
    for layer, t in w.items():
        g = group_of(layer, lab.get(layer, layer))
        r = rows.setdefault(g, [0, 0.0, 0.0, 0.0])
        r[0] += 1
        r[1] += min(t)
        r[2] += min(c[layer])
    unmatched = []
    for node, t in o.items():
        g = group_of(node, lab.get(node, ""))
        if g == "":
            g = node.split("_")[0] if node.startswith("input") else node
            unmatched.append(f"{node} [{ov_type[node]}] {min(t):.3f}")
        rows.setdefault(g, [0, 0.0, 0.0, 0.0])[3] += min(t)
    print(f"ResNet-50 INT8 batch {args.batch}, 1 thread; load {load0:.1f} -> {load1:.1f}; "
          f"{args.rounds} profiled rounds, minima per layer")
    print("| layer (shape) | n | int8rt wall ms | int8rt thread-CPU ms | OpenVINO ms | int8rt - OV ms | OV / int8rt |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for g, (n, a, b, v) in sorted(rows.items(), key=lambda kv: -(kv[1][1] - kv[1][3])):
        ratio = f"{v / a:.3f}" if a > 0 and v > 0 else "-"
        print(f"| {g} | {n} | {a:.3f} | {b:.3f} | {v:.3f} | {a - v:+.3f} | {ratio} |")
    ta, tb, tv = (sum(r[i] for r in rows.values()) for i in (1, 2, 3))
    print(f"| **sum of minima** | {sum(r[0] for r in rows.values())} | {ta:.2f} | {tb:.2f} | {tv:.2f} | "
          f"{ta - tv:+.2f} | {tv / ta:.3f} |")
    for k, s in (("before", whole), ("after", whole2)):
        mi, mo = np.median(s["int8rt"]) * 1e3, np.median(s["OV"]) * 1e3
        print(f"whole run {k} the profile (process CPU medians of {len(s['OV'])}): int8rt {mi:.2f} ms, "
              f"OV {mo:.2f} ms, OV / int8rt {mo / mi:.3f}")
    if unmatched:
        print("OpenVINO nodes with no int8rt layer:", "; ".join(unmatched))


if __name__ == "__main__":
    main()
