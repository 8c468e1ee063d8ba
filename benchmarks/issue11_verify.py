"""Issue 11's verification list in one table: for each network of
benchmarks/realnets/issue11_rows.py (PP-OCR det with its native dynamic
input, a pretrained MiniLM BERT encoder, a ViT, a ConvNeXt, a segmentation
net with Resize, Silero VAD with Conv1d and LSTM), the ONNX file imported
unchanged and:

- FP32: int8rt's FP32 engine against ONNX Runtime FP32 on the evaluation
  batches, max |int8rt - ORT| / max |ORT| (the issue asks <= 1e-4);
- INT8: int8rt (make_calibrator's default, ``auto``; accuracy_check off so
  that it sees every calibration batch as ORT does) against ONNX Runtime's
  quantize_static after quant_pre_process (QDQ, per-channel weights, MinMax;
  wheelnets_bench.ort_int8), calibrated on the same batches, each scored
  against ORT FP32 by the row's metric (higher is better);
- latency of the two INT8 engines at batch 1 and 8: process CPU time per
  run (the machine is shared), the two alternated in this process, medians
  (bench_util.time_alternating), 1 thread each.

A row may bind inputs to constants for both INT8 builds (Row.bound, with its
reason: Silero VAD's sample rate); FP32 always runs the file as it is.
``--unbound`` feeds those inputs instead, and ``--no-profile`` drops the
row's optimization profile (Row.profile): the INT8 build then takes its
shapes from the calibration batches.

A stage that raises is reported in the row ("error: ...") and the sweep goes
on. ``--json`` appends one line per row; ``--table FILE`` prints the table
of the rows stored there.

    PYTHONPATH=python python benchmarks/issue11_verify.py [--only ppocr_det,...] [--json out.jsonl]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line, time_alternating  # noqa: E402
from realnets.issue11_rows import ROWS, Row  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402

NOTABLE_OPS = ("Resize", "ConvTranspose", "LSTM", "GRU", "If", "Shape", "Gather", "Where", "Softmax",
               "LayerNormalization")


def _nodes(graph):
    """Every node of ``graph`` and of its subgraphs (If / Loop / Scan bodies)."""
    for n in graph.node:
        yield n
        for a in n.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _nodes(g)


def _graph_notes(path: str) -> dict:
    """Symbolic input dims, notable ops, Conv ranks: what the row exercises."""
    import onnx

    g = onnx.load(path).graph
    nodes = list(_nodes(g))
    ranks = {t.name: len(t.dims) for t in g.initializer}
    ranks.update({n.output[0]: len(n.attribute[0].t.dims) for n in nodes
                  if n.op_type == "Constant" and n.attribute[0].name == "value"})
    convs = sorted({ranks[n.input[1]] - 2 for n in nodes if n.op_type in ("Conv", "ConvTranspose")
                    and n.input[1] in ranks})
    return {"inputs": {i.name: [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?")
                               for d in i.type.tensor_type.shape.dim] for i in g.input
                       if i.name not in ranks},
            "ops": sorted({n.op_type for n in nodes} & set(NOTABLE_OPS)), "conv_spatial_dims": convs}


def verify(row: Row, rounds: int, min_time: float, dir_: str) -> dict:
    import onnx

    import int8rt
    import int8rt.onnx
    from int8rt.data_calibrator import make_calibrator
    from wheelnets_bench import ort_int8

    int8rt.set_num_threads(1)
    res: dict = {"name": row.name, "source": row.source, **_graph_notes(row.path)}
    ref_sess = ort_session(row.path)
    refs = [ref_sess.run([row.output], f)[0] for f in row.evaluation]
    stage = "fp32"
    try:
        fp32 = int8rt.build_engine(row.path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        outs = [fp32.run(f)[row.output] for f in row.evaluation]
        res["fp32_max_rel"] = max(float(np.max(np.abs(o - r))) for o, r in zip(outs, refs)) / max(
            float(np.max(np.abs(r))) for r in refs)
        stage = "int8rt int8"
        free = lambda f: {k: v for k, v in f.items() if k not in row.bound}  # noqa: E731
        model = int8rt.onnx.import_model(row.path, input_values=row.bound) if row.bound else row.path
        if row.profile:
            res["int8rt_profile"] = {k: [list(v) for v in p] for k, p in row.profile.items()}
        if row.bound:
            res["int8rt_bound"] = (f"{', '.join(row.bound)} bound at import for both INT8 builds (ORT's on "
                                   f"int8rt.onnx.specialize's graph): {row.why}")
        t0 = time.process_time()
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(
            calibrator=make_calibrator([free(f) for f in row.calib]), accuracy_check=False,
            input_shapes=row.profile or None))
        res["int8rt_build_cpu_s"] = time.process_time() - t0
        layers = engine.layers()
        res["int8rt_int8_layers"] = f"{sum(1 for lay in layers if lay.get('precision') == 'int8')}/{len(layers)}"
        ours = engine.create_execution_context()
        res["int8rt"] = row.metric([ours.run(free(f))[row.output] for f in row.evaluation], refs, row.evaluation)
        stage = "ort int8"
        source = row.path
        if row.bound:  # the same If-free graph int8rt's INT8 build imports (vad_bench.py does the same)
            source = os.path.join(dir_, f"{row.name}_bound.onnx")
            onnx.save(int8rt.onnx.specialize(row.path, input_values=row.bound), source)
        t0 = time.process_time()
        theirs = ort_session(ort_int8(source, [free(f) for f in row.calib], 0)[0])
        res["ort_build_cpu_s"] = time.process_time() - t0
        res["ort"] = row.metric([theirs.run([row.output], free(f))[0] for f in row.evaluation], refs, row.evaluation)
        stage = "latency"
        res["cpu_ms"] = {}
        for b, feed in row.latency.items():
            t = time_alternating({"int8rt": lambda f=free(feed): ours.run(f), "ort": lambda f=free(feed): theirs.run(None, f)},
                                 rounds, min_time, warmup=2, clock=time.process_time)
            res["cpu_ms"][f"b{b}"] = {k: v * 1e3 for k, v in t.items()}
    except Exception as e:  # noqa: BLE001 - the finding goes in the table
        res["error"] = f"{stage}: {type(e).__name__}: {str(e)[:300]}"
        res["trace"] = traceback.format_exc()[-1200:]
    return res


def table(results: list[dict]) -> str:
    lines = ["| network | inputs (symbolic dims) / ops of note | FP32 max rel err vs ORT | INT8 metric | int8rt | "
             "ORT quantize_static | b1 CPU ms int8rt / ORT (ratio) | b8 CPU ms int8rt / ORT (ratio) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        dims = "; ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r.get("inputs", {}).items())
        ops = ", ".join(r.get("ops", [])) + (f", Conv{'/'.join(f'{d}-D' for d in r['conv_spatial_dims'])}"
                                              if r.get("conv_spatial_dims") else "")
        fp32 = f"{r['fp32_max_rel']:.1e}" if "fp32_max_rel" in r else "-"
        mine, peer = r.get("int8rt", {}), r.get("ort", {})
        metric = ", ".join(mine) or "-"
        fig = lambda m: " / ".join(f"{v:.4f}" for v in m.values()) or "-"  # noqa: E731
        lat = []
        for b in ("b1", "b8"):
            t = r.get("cpu_ms", {}).get(b)
            lat.append(f"{t['int8rt']:.2f} / {t['ort']:.2f} ({t['ort'] / t['int8rt']:.2f}x)" if t else "-")
        err = f" **{r['error']}**" if "error" in r else ""
        lines.append(f"| {r['name']}{err} | {dims}; {ops} | {fp32} | {metric} | {fig(mine)} | {fig(peer)} | "
                     f"{lat[0]} | {lat[1]} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated: " + ", ".join(ROWS))
    ap.add_argument("--dir", default="/tmp/issue11_verify", help="exported models are kept here")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=3.0, help="CPU seconds each engine runs at least per batch size")
    ap.add_argument("--json", help="append one JSON line per row here")
    ap.add_argument("--table", help="print the table of the rows in this JSON-lines file and exit")
    ap.add_argument("--unbound", action="store_true", help="feed the inputs a row binds (Row.bound)")
    ap.add_argument("--no-profile", action="store_true", help="build without the row's profile (Row.profile)")
    args = ap.parse_args()
    if args.table:
        with open(args.table) as f:
            print(table([json.loads(line) for line in f if line.strip()]))
        return 0
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line(), flush=True)
    results = []
    for name in (args.only.split(",") if args.only else ROWS):
        t0 = time.perf_counter()
        try:
            row = ROWS[name](args.dir)
            row = dataclasses.replace(row, bound={} if args.unbound else row.bound,
                                      profile={} if args.no_profile else row.profile)
            r = verify(row, args.rounds, args.min_time, args.dir)
            r.update(unbound=args.unbound, no_profile=args.no_profile)
        except Exception as e:  # noqa: BLE001 - a row that cannot be made is a finding too
            r = {"name": name, "error": f"making the row: {type(e).__name__}: {str(e)[:300]}"}
        r["wall_s"], r["load"] = round(time.perf_counter() - t0, 1), os.getloadavg()[0]
        print(json.dumps(r, default=float), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(r, default=float) + "\n")
        results.append(r)
    print(machine_line())
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
