"""speed23: INT8 latency on nets20's 16 networks (RESULTS_realnets.md, the speed23 section; issues 13 / 14).

nets20 measured the accuracy of the 16 networks of realnets/new_families2.py that int8rt was not tuned on; this
measures their speed. Per network, in its own subprocess (one big process at a time; a crash is a finding): the
exported ONNX model (nets20_sweep.py's export, ``--dir``) built four ways on the same calibration feeds (seed 5,
``--calib`` inputs): int8rt INT8 (``auto``), OpenVINO INT8 (NNCF's default preset, realnets/openvino_engines.py,
compiled per batch for the static input shape, LATENCY hint, OpenVINO's default precision hint as e2e_bench.py's
"OV int8": bf16 for its non-int8 layers on this CPU; ``--ov-f32`` gives f32), ONNX Runtime INT8 (quant_pre_process +
quantize_static, QDQ, per-channel, MinMax: wheelnets_bench.ort_int8) and int8rt FP32. Then at batch 1 and 8, one
thread each, the four run in turn (a, b, c, d, a, b, ...) on the same input; per engine the median wall and the
median process CPU time per run, and OpenVINO's and ONNX Runtime's over int8rt INT8's (> 1: int8rt is faster).
int8rt's INT8 engine is saved to ``--save`` (``<name>.i8rt``) for per-layer profiles; ``--reuse`` loads the saved
engine instead of building (kernels are chosen again at load) and OpenVINO's / ONNX Runtime's saved models likewise.
``--before DIR``: also DIR/<name>.i8rt, an engine saved by another build (main's importer, say), timed in the same
rounds as "int8rt int8 before": a before / after change measured alternated in one process.

Usage (repo root): PYTHONPATH=python python benchmarks/speed23_nets20_latency.py --dir /tmp/nets20/models \
    --save /tmp/speed23/engines --json /tmp/speed23/lat.jsonl [--only a,b] [--reuse] [--rounds 9]
       PYTHONPATH=python python benchmarks/speed23_nets20_latency.py --table /tmp/speed23/lat.jsonl [...]
       PYTHONPATH=python python benchmarks/speed23_nets20_latency.py --pair before1.jsonl,before2.jsonl after.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line, run_result_child  # noqa: E402
from nets20_sweep import NETS20  # noqa: E402

ENGINES = ("int8rt int8", "OV int8", "ORT int8", "int8rt fp32")


def _register_variants() -> None:
    """Adds to new_models.NETS the variants this section measures besides nets20's exports:
    ``ecaresnet26t_nz``, ecaresnet26t with timm's ``zero_init_last=False``. timm zero-initialises the last
    BatchNorm scale of every bottleneck, so with random weights each residual branch (conv3, ECA gate, Mul) is
    exactly 0, calibrates to a zero range and stays float32 in int8rt; a trained network has no such branch."""
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    M.NETS.setdefault("ecaresnet26t_nz", M._vision("ecaresnet26t_nz", "timm",
                                                   M._timm("ecaresnet26t", zero_init_last=False), 256))


def _timed(runners: dict, feed, rounds: int, budget_s: float) -> dict:
    """Median wall and process-CPU ms per run of each runner, alternated, after two warm-up runs each."""
    for run in runners.values():
        run(feed)
        run(feed)
    wall: dict = {k: [] for k in runners}
    cpu: dict = {k: [] for k in runners}
    start = time.perf_counter()
    for r in range(rounds):
        for k, run in runners.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run(feed)
            wall[k].append((time.perf_counter() - t0) * 1e3)
            cpu[k].append((time.process_time() - c0) * 1e3)
        if r >= 4 and time.perf_counter() - start > budget_s:
            break
    return {k: {"wall": statistics.median(wall[k]), "cpu": statistics.median(cpu[k]), "n": len(wall[k])}
            for k in runners}


def _ov_compile(model, feed: dict, precision: str | None):
    """OpenVINO CPU, one thread, LATENCY, every input reshaped to ``feed``'s static shape."""
    import openvino as ov

    m = model.clone()
    m.reshape({inp.get_any_name(): ov.PartialShape(list(feed[inp.get_any_name()].shape)) for inp in m.inputs})
    config = {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = ov.Core().compile_model(m, "CPU", config)
    req = compiled.create_infer_request()
    return lambda f: req.infer(f, share_inputs=True)


def one(name: str, args) -> dict:
    import onnxruntime as ort  # noqa: F401 - before int8rt, as the other sweeps do
    import openvino as ov

    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from realnets import new_models as M
    from realnets import openvino_engines as OV
    from newnets_bench import one_file
    from wheelnets_bench import ort_int8

    int8rt.set_num_threads(1)
    _register_variants()
    net = M.NETS[name]
    path = Path(args.dir) / f"{name}.onnx"
    if not path.exists():  # a variant (_register_variants): exported into --dir
        path.parent.mkdir(parents=True, exist_ok=True)
        M.export(net, path)
    save = Path(args.save)
    save.mkdir(parents=True, exist_ok=True)
    res: dict = {"name": name}
    calib = net.feeds(args.calib, 5)
    e_path, ov_path, ort_path = save / f"{name}.i8rt", save / f"{name}.ov.xml", save / f"{name}.ort.onnx"

    t0 = time.perf_counter()
    if args.reuse and e_path.exists():
        i8 = int8rt.Engine.load(e_path)
    else:
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
        i8 = int8rt.build_engine(str(path), config)
        i8.save(e_path)
    res["int8rt_build_s"] = time.perf_counter() - t0
    fp = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32"))

    t0 = time.perf_counter()
    if args.reuse and ov_path.exists():
        ov_model = ov.Core().read_model(str(ov_path))
    else:
        items = [{k: np.ascontiguousarray(v[i:i + 1]) for k, v in calib.items()} for i in range(args.calib)]
        ov_model, _ = OV.nncf_int8(str(path), items)
        ov.save_model(ov_model, str(ov_path))
    res["ov_build_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    qs = None
    try:
        if not (args.reuse and ort_path.exists()):
            q, _, _ = ort_int8(str(one_file(path)), calib, 8)
            ort_path.write_bytes(q)
        qs = M.ort_session(str(ort_path))
    except Exception as e:  # noqa: BLE001 - the finding; the row goes on without ONNX Runtime
        res["ort_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    res["ort_build_s"] = time.perf_counter() - t0

    ctx_i8, ctx_fp = i8.create_execution_context(), fp.create_execution_context()
    before = Path(args.before) / f"{name}.i8rt" if args.before else None
    ctx_before = int8rt.Engine.load(before).create_execution_context() if before and before.exists() else None
    res["latency"] = {}
    for b in (1, 8):
        feed = {k: np.ascontiguousarray(v) for k, v in net.feeds(b, 3).items()}
        runners = {"int8rt int8": ctx_i8.run}
        if ctx_before is not None:
            runners["int8rt int8 before"] = ctx_before.run
        runners["OV int8"] = _ov_compile(ov_model, feed, "f32" if args.ov_f32 else None)
        if qs is not None:
            runners["ORT int8"] = lambda f, s=qs: s.run(None, f)
        runners["int8rt fp32"] = ctx_fp.run
        res["latency"][f"b{b}"] = _timed(runners, feed, args.rounds, args.budget)
    return res


def table(paths: list) -> str:
    rows = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            rows[r["name"]] = r
    out = ["| network | batch | int8rt INT8 ms (cpu) | OV INT8 ms (cpu) | ORT INT8 ms (cpu) | int8rt FP32 ms (cpu) | "
           "OV / int8rt (wall, cpu) | ORT / int8rt (wall, cpu) |", "|---|---|---|---|---|---|---|---|"]
    for name in sorted(rows, key=lambda n: (NETS20.index(n.removesuffix("_nz")) if n.removesuffix("_nz") in NETS20
                                            else 99, n)):
        r = rows[name]
        if "error" in r:
            out.append(f"| {name} | - | fails: {r['error'][:80]} | | | | | |")
            continue
        for b, lat in r["latency"].items():
            base = lat["int8rt int8"]

            def cell(k):
                return f"{lat[k]['wall']:.1f} ({lat[k]['cpu']:.1f})" if k in lat else "-"

            def ratio(k):
                return (f"{lat[k]['wall'] / base['wall']:.2f}, {lat[k]['cpu'] / base['cpu']:.2f}" if k in lat
                        else "-")
            first = (f"{cell('int8rt int8 before')} -> {cell('int8rt int8')} (before / after {ratio('int8rt int8 before')})"
                     if "int8rt int8 before" in lat else cell("int8rt int8"))
            out.append(f"| {name} | {b[1:]} | {first} | {cell('OV int8')} | {cell('ORT int8')} | "
                       f"{cell('int8rt fp32')} | {ratio('OV int8')} | {ratio('ORT int8')} |")
    return "\n".join(out)


def _rows(paths: list) -> dict:
    rows = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            rows[r["name"]] = r
    return rows


def pair_table(before_paths: list, after_paths: list) -> str:
    """One row per (network, batch), process CPU ms: int8rt INT8 before -> after, the peers and int8rt FP32
    (from the after run; from the before run where the network has none), OV / int8rt and ORT / int8rt
    before -> after. A network in the before files only is one that neither change touches (the same engine
    code): its one run stands for both."""
    before, after = _rows(before_paths), _rows(after_paths)
    out = ["| network | batch | int8rt INT8 CPU ms: before -> after | OV INT8 | ORT INT8 | int8rt FP32 | "
           "OV / int8rt: before -> after | ORT / int8rt: before -> after |", "|---|---|---|---|---|---|---|---|"]
    names = sorted(set(before) | set(after), key=lambda n: (NETS20.index(n.removesuffix("_nz"))
                                                            if n.removesuffix("_nz") in NETS20 else 99, n))
    for name in names:
        a, b = before.get(name), after.get(name, before.get(name))
        if a is None or "error" in a or "error" in b:
            out.append(f"| {name} | - | {(b or a).get('error', 'no before run')[:80]} | | | | | |")
            continue
        for batch in a["latency"]:
            la, lb = a["latency"][batch], b["latency"][batch]
            ia, ib = la["int8rt int8"]["cpu"], lb["int8rt int8"]["cpu"]

            def peer(k):
                return f"{lb[k]['cpu']:.1f}" if k in lb else "-"

            def ratio(k):
                return f"{la[k]['cpu'] / ia:.2f} -> {lb[k]['cpu'] / ib:.2f}" if k in la and k in lb else "-"
            same = "" if name in after else " (unchanged)"
            out.append(f"| {name} | {batch[1:]} | {ia:.1f} -> {ib:.1f}{same} | {peer('OV int8')} | {peer('ORT int8')} | "
                       f"{peer('int8rt fp32')} | {ratio('OV int8')} | {ratio('ORT int8')} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/nets20/models")
    ap.add_argument("--save", default="/tmp/speed23/engines")
    ap.add_argument("--only", help="comma-separated: " + ", ".join(NETS20))
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per batch size before stopping early")
    ap.add_argument("--reuse", action="store_true", help="load the saved engines / models instead of building")
    ap.add_argument("--before", help="a folder of engines (<name>.i8rt) saved by another build, timed too")
    ap.add_argument("--ov-f32", action="store_true", help="OpenVINO INT8 with the f32 precision hint")
    ap.add_argument("--timeout", type=int, default=1500)
    ap.add_argument("--json")
    ap.add_argument("--table", nargs="*")
    ap.add_argument("--pair", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="comma-separated JSON-line files of the before and the after runs: pair_table")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return 0
    if args.pair:
        print(pair_table(args.pair[0].split(","), args.pair[1].split(",")))
        return 0
    if args.child:
        r = one(args.child, args)
        print("RESULT " + json.dumps(r, default=float), flush=True)
        return 0
    print(machine_line(), flush=True)
    for name in (args.only.split(",") if args.only else NETS20):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--dir", args.dir, "--save", args.save,
               "--calib", str(args.calib), "--rounds", str(args.rounds), "--budget", str(args.budget)] + (
                   ["--reuse"] if args.reuse else []) + (["--ov-f32"] if args.ov_f32 else []) + (
                   ["--before", args.before] if args.before else [])
        run_result_child(name, cmd, args.timeout, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
