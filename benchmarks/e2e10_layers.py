"""One real network's INT8 engine against OpenVINO INT8, block by block and
whole, 1 thread (issue 14, RESULTS.md §158): where int8rt's closest row loses
time, and whether a change moves it.

--save DIR builds the network as e2e_bench.py does (its subject, its
calibration feeds, int8rt's engine with --calibrator, NNCF's OpenVINO IR
from --models-dir's cache) and keeps engine.i8rt, ov_int8.xml and the feeds
at batch 1 and --batch. The other runs read DIR, so every build under test
loads the same engine bytes.

Per layer: int8rt's profiler (thread CPU, one run per call) alternated with
OpenVINO's PERF_COUNT on a model compiled afresh every --per-compile runs
(the plugin reports running means; openvino_engines.run_times recovers each
run's own wall time), minima over the rounds (load only adds). Layers are
matched by the ONNX node name both keep (r50i8_layers.ov_key strips
OpenVINO's suffixes) and summed into rows by the first --depth components
of the name ("/features/features.2": one inverted-residual block, whose
expand / depthwise / project int8rt may run as one fused layer); --fold
merges "layer.N" into "layer.*" (an encoder's 12 layers into one row per
role). Names with no counterpart keep their own row; --show lists single
layers and nodes by name.

Whole runs: this tree's engine, --before's build (before_build.py) on the
same bytes and OpenVINO, alternated call by call, process CPU medians, at
batch 1 and --batch; the two int8rt builds' outputs compared byte for byte.

    PYTHONPATH=python python benchmarks/e2e10_layers.py --save /tmp/e2e10/lite0 --network efficientnet_lite0 \\
        --models-dir /tmp/e2e10/models
    PYTHONPATH=python python benchmarks/e2e10_layers.py --dir /tmp/e2e10/lite0 --rounds 24
    PYTHONPATH=python python benchmarks/e2e10_layers.py --dir /tmp/e2e10/lite0 --whole-only --before /tmp/before
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import e2e_feeds as F  # noqa: E402
from r50i8_layers import ov_key  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def save(d: Path, network: str, batch: int, models_dir: Path, calibrator: str) -> None:
    """The network's int8rt INT8 engine, NNCF IR and feeds (batch 1 and `batch`) under `d`."""
    import e2e_bench as B
    import openvino as ov
    d.mkdir(parents=True, exist_ok=True)
    tmp = models_dir or Path(tempfile.mkdtemp())
    s = B.subject(network, 224, tmp)
    B.build(s, tmp, ["int8rt int8", "OV int8"], calibrator)
    (d / "engine.i8rt").write_bytes(s.engines["int8rt int8"].serialize())
    ov.save_model(s.ov_models["int8"], str(d / "ov_int8.xml"), compress_to_fp16=False)
    for b in (1, batch):
        np.savez(d / f"feed{b}.npz", **s.feed(b))


def load_feed(d: Path, batch: int) -> dict:
    with np.load(d / f"feed{batch}.npz") as z:
        return {k: np.ascontiguousarray(z[k]) for k in z.files}


def group(name: str, depth: int, fold: bool) -> str:
    """The row a layer or node is summed into (module docstring)."""
    if fold:
        name = re.sub(r"layer\.\d+", "layer.*", name)
    parts = name.split("/")
    return "/".join(parts[: depth + 1]) if name.startswith("/") else "/".join(parts[:depth])


def profiles(ctx, model, feed: dict, rounds: int, per_compile: int):
    """Per int8rt layer the thread-CPU ms of each round, its kernel; per
    OpenVINO node (ov_key) each run's ms and its type."""
    ours, detail, ov, ov_type = defaultdict(list), {}, defaultdict(list), {}
    static = F.ov_static(model, feed)
    for _ in range(max(1, rounds // per_compile)):
        for _ in range(per_compile):
            for layer in ctx.profile(feed, 1, clock="thread_cpu"):
                ours[layer["name"]].append(layer["ms"])
                detail[layer["name"]] = f"{layer['op']} {layer['detail']}"
        times, info = O.run_times(O.compile_model(static, 1, None, perf_count=True).create_infer_request(),
                                  feed, per_compile)
        per_run: dict[str, np.ndarray] = {}
        for name, t in times.items():  # nodes sharing a key summed run by run
            key = ov_key(name)
            per_run[key] = per_run.get(key, 0.0) + np.asarray(t)
            ov_type[key] = ":".join(info[name])
        for key, t in per_run.items():
            ov[key].extend(t.tolist())
    return ours, detail, ov, ov_type


def layer_table(ctx, model, feed: dict, args: argparse.Namespace) -> None:
    load0 = os.getloadavg()[0]
    ours, detail, ov, ov_type = profiles(ctx, model, feed, args.rounds, args.per_compile)
    rows: dict[str, list] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    for name, t in ours.items():
        r = rows[group(name, args.depth, args.fold)]
        r[0] += 1
        r[1] += min(t)
    for name, t in ov.items():
        r = rows[group(name, args.depth, args.fold)]
        r[2] += 1
        r[3] += min(t)
    batch = len(next(iter(feed.values())))
    print(f"batch {batch}, 1 thread; load {load0:.1f} -> {os.getloadavg()[0]:.1f}; {args.rounds} profiled rounds, "
          "minima per layer; int8rt thread CPU, OpenVINO PERF_COUNT (wall)")
    print("| row | int8rt layers | int8rt ms | OV nodes | OV ms | int8rt - OV ms | OV / int8rt |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for g, (n, a, m, v) in sorted(rows.items(), key=lambda kv: -(kv[1][1] - kv[1][3])):
        ratio = f"{v / a:.3f}" if a > 0 and v > 0 else "-"
        print(f"| {g} | {n} | {a:.3f} | {m} | {v:.3f} | {a - v:+.3f} | {ratio} |")
    ta, tv = sum(r[1] for r in rows.values()), sum(r[3] for r in rows.values())
    print(f"| **sum of minima** | {sum(r[0] for r in rows.values())} | {ta:.2f} | {sum(r[2] for r in rows.values())} "
          f"| {tv:.2f} | {ta - tv:+.2f} | {tv / ta:.3f} |")
    print("int8rt's layers, slowest first:")
    for name, t in sorted(ours.items(), key=lambda kv: -min(kv[1]))[: args.top]:
        print(f"  {min(t):7.3f} ms  {name}  [{detail[name]}]")
    print("OpenVINO's nodes, slowest first:")
    for name, t in sorted(ov.items(), key=lambda kv: -min(kv[1]))[: args.top]:
        print(f"  {min(t):7.3f} ms  {name}  [{ov_type[name]}]")
    for pattern in args.show:
        print(f"layers and nodes whose names hold {pattern!r}:")
        for engine, times, kind in (("int8rt", ours, detail), ("OV", ov, ov_type)):
            for name, t in times.items():
                if pattern in name:
                    print(f"  {engine:6s} {min(t):7.3f} ms  {name}  [{kind[name]}]")


def whole_runs(engines: dict, model, d: Path, batch: int, rounds: int) -> None:
    """The int8rt builds and OpenVINO alternated call by call at batch 1 and
    `batch`: process CPU medians; the builds' outputs compared byte for byte."""
    for b in (1, batch):
        feed = load_feed(d, b)
        ctxs = {k: e.create_execution_context() for k, e in engines.items()}
        outs = {k: c.run(feed) for k, c in ctxs.items()}
        first = next(iter(outs.values()))
        same = all(np.array_equal(o[n], first[n]) for o in outs.values() for n in first)
        ov_run = F.ov_runner(O.compile_model(F.ov_static(model, feed), 1, None))
        impls = {k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}
        impls["OV int8"] = lambda: ov_run(feed)
        t = bench_util.alternating_samples(impls, rounds, min_time=(0.3 if b == 1 else 1.0) * rounds,
                                           clock=time.process_time)
        med = {k: float(np.median(v)) * 1e3 for k, v in t.items()}
        ours = med["int8rt"]
        cells = ", ".join(f"{k} {m:.3f} ms ({m / ours:.3f})" for k, m in med.items())
        print(f"batch {b}: {cells}; ratios ÷ this tree; outputs of the int8rt builds identical: {same}; "
              f"{len(t['OV int8'])} calls each, load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True, help="the saved network (--save writes it)")
    ap.add_argument("--save", action="store_true", help="build and save the network under --dir, then stop")
    ap.add_argument("--network", default="efficientnet_lite0", help="e2e_bench.py's network name (--save)")
    ap.add_argument("--models-dir", type=Path, default=None, help="e2e_bench.py's cache of peers' models (--save)")
    ap.add_argument("--calibrator", default="auto", choices=["auto", "entropy"], help="int8rt's calibrator (--save)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=24, help="profiled rounds (minima per layer)")
    ap.add_argument("--per-compile", type=int, default=8, help="OpenVINO runs per fresh compile")
    ap.add_argument("--depth", type=int, default=2, help="name components that make a row")
    ap.add_argument("--fold", action="store_true", help="merge layer.N into layer.* (encoders)")
    ap.add_argument("--top", type=int, default=12, help="slowest layers listed per engine")
    ap.add_argument("--show", nargs="+", default=[], metavar="PATTERN",
                    help="also list every layer and node whose name holds PATTERN (e.g. features.10/)")
    ap.add_argument("--whole-only", action="store_true", help="only the whole runs")
    ap.add_argument("--whole-rounds", type=int, default=11)
    ap.add_argument("--before", default=None, help="before_build.py's folder: the base build, timed beside")
    args = ap.parse_args()
    if args.save:
        save(args.dir, args.network, args.batch, args.models_dir, args.calibrator)
        return
    import int8rt
    import openvino as ov
    int8rt.set_num_threads(1)
    data = (args.dir / "engine.i8rt").read_bytes()
    engines = {"int8rt": int8rt.Engine.deserialize(data)}
    if args.before:
        from before_build import import_before
        base = import_before(args.before)
        base.set_num_threads(1)
        engines["base"] = base.Engine.deserialize(data)
    model = ov.Core().read_model(str(args.dir / "ov_int8.xml"))
    print(bench_util.machine_line(), f"int8rt {Path(int8rt.__file__).parent}", f"base {args.before}")
    if not args.whole_only:
        layer_table(engines["int8rt"].create_execution_context(), model, load_feed(args.dir, args.batch), args)
    whole_runs(engines, model, args.dir, args.batch, args.whole_rounds)


if __name__ == "__main__":
    main()
