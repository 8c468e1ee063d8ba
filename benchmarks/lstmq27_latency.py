"""lstmq27: sequencer2d_s INT8 latency, main's tree against this branch's, each beside OpenVINO INT8 (RESULTS.md §277).

Two trees alternate (before, after, before, after, ...; ``--rounds`` each), each in its own child process with
its own PYTHONPATH (``--before-py``: a copy of main's python/ tree and its built extension; ``--after-py``: this
branch's), each loading its own int8rt INT8 engine of nets20's sequencer2d_s (``--before-engine``: built by main's
code; ``--after-engine``: by this branch's, from the same calibration cache) and OpenVINO's NNCF INT8 model
(speed23_nets20_latency.py's ``.ov.xml``, compiled for the static batch, one thread, LATENCY hint as there).
In each child, int8rt and OpenVINO run in turn on the same input (2 warm-up runs each, then ``--runs`` rounds);
per engine the median process CPU time and wall time per run, one thread (int8rt.set_num_threads(1)). The parent
prints each child's figures, then per batch the median over the children of each tree: int8rt before / after,
OpenVINO (from both trees' children) and OV ÷ int8rt (> 1: int8rt is faster).

Usage (repo root): python benchmarks/lstmq27_latency.py --before-py /tmp/lstmq27/before_py --after-py python \
    --before-engine /tmp/lstmq27/engines/seq_main_tree.i8rt --after-engine /tmp/lstmq27/engines/seq_after.i8rt \
    --ov /tmp/lstmq27/engines/sequencer2d_s.ov.xml [--rounds 3] [--runs 7] [--batches 1,8]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(engine: str, ov_xml: str, batch: int, runs: int) -> dict:
    sys.path.insert(0, HERE)
    import numpy as np
    import openvino as ov

    import int8rt
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    int8rt.set_num_threads(1)
    feed = {k: np.ascontiguousarray(v) for k, v in M.NETS["sequencer2d_s"].feeds(batch, 3).items()}
    ctx = int8rt.Engine.load(engine).create_execution_context()
    model = ov.Core().read_model(ov_xml)
    model.reshape({i.get_any_name(): ov.PartialShape(list(feed[i.get_any_name()].shape)) for i in model.inputs})
    req = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"}) \
        .create_infer_request()
    runners = {"int8rt": ctx.run, "OV": lambda f: req.infer(f, share_inputs=True)}
    for run in runners.values():
        run(feed)
        run(feed)
    cpu: dict = {k: [] for k in runners}
    wall: dict = {k: [] for k in runners}
    for _ in range(runs):
        for k, run in runners.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run(feed)
            wall[k].append((time.perf_counter() - t0) * 1e3)
            cpu[k].append((time.process_time() - c0) * 1e3)
    return {k: {"cpu": statistics.median(cpu[k]), "wall": statistics.median(wall[k])} for k in runners}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-py", default="/tmp/lstmq27/before_py")
    ap.add_argument("--after-py", default="python")
    ap.add_argument("--before-engine", default="/tmp/lstmq27/engines/seq_main_tree.i8rt")
    ap.add_argument("--after-engine", default="/tmp/lstmq27/engines/seq_after.i8rt")
    ap.add_argument("--ov", default="/tmp/lstmq27/engines/sequencer2d_s.ov.xml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "BATCH", "RUNS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child[0], args.ov, int(args.child[1]), int(args.child[2]))))
        return 0
    sys.path.insert(0, HERE)
    from bench_util import machine_line

    print(machine_line(), flush=True)
    trees = {"before": (args.before_py, args.before_engine), "after": (args.after_py, args.after_engine)}
    for batch in (int(b) for b in args.batches.split(",")):
        got: dict = {t: [] for t in trees}
        for r in range(args.rounds):
            for tree, (py, engine) in trees.items():
                env = dict(os.environ, PYTHONPATH=os.path.abspath(py))
                cmd = [sys.executable, os.path.abspath(__file__), "--ov", args.ov, "--child", engine, str(batch),
                       str(args.runs)]
                p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
                line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
                if not line:
                    print(f"b{batch} round {r} {tree}: failed\n{p.stderr[-2000:]}", flush=True)
                    return 1
                res = json.loads(line[-1][7:])
                got[tree].append(res)
                print(f"b{batch} round {r} {tree:6s}: int8rt {res['int8rt']['cpu']:7.1f} ms cpu "
                      f"({res['int8rt']['wall']:7.1f} wall)  OV {res['OV']['cpu']:7.1f} ms cpu "
                      f"({res['OV']['wall']:7.1f} wall)  OV / int8rt {res['OV']['cpu'] / res['int8rt']['cpu']:.2f}  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        med = {t: statistics.median(x["int8rt"]["cpu"] for x in got[t]) for t in trees}
        ov_med = statistics.median(x["OV"]["cpu"] for t in trees for x in got[t])
        ratios = {t: statistics.median(x["OV"]["cpu"] / x["int8rt"]["cpu"] for x in got[t]) for t in trees}
        print(f"b{batch} medians (process CPU ms per run): int8rt before {med['before']:.1f} -> after "
              f"{med['after']:.1f} (x{med['before'] / med['after']:.2f}); OV INT8 {ov_med:.1f}; "
              f"OV / int8rt before {ratios['before']:.2f} -> after {ratios['after']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
