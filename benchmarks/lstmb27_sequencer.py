"""Sequencer2D-S in BF16 before / after the BF16 LSTM (issue 13; RESULTS.md section 278): int8rt's FP32 + bf16
engine (``BuilderConfig(precision="fp32", bf16=True)``) built from two int8rt trees, the base (a copy of main's
python/ taken before the change) and this tree, each in a worker process of its own, against OpenVINO bf16
(INFERENCE_PRECISION_HINT=bf16, compiled for the timed static shape; in this tree's worker), 1 thread. The driver
alternates the three (base, new, OV, base, new, OV, ...) for --rounds rounds; each timing is the worker's process
CPU time per call over at least --min-time (the other workers wait on a pipe meanwhile); medians and ratios.
Accuracy: each BF16 engine's output against its own tree's int8rt FP32 engine (the import-checked reference of
bf16n24_nets20.py) on 8 evaluation inputs (new_models feeds, seed 1): relative L2 and centred cosine, OV bf16's
beside. Per tree, the BF16 engine's per-op thread CPU (ExecutionContext.profile) at each batch: the LSTMs' share.

Usage: PYTHONPATH=python python benchmarks/lstmb27_sequencer.py --base /tmp/lstmb27/base/python \\
           --dir /tmp/lstmb27/models [--batches 1 8] [--rounds 7] [--min-time 0.3]
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
NET = "sequencer2d_s"


def worker(role: str, folder: str) -> None:
    """Serves the driver's JSON commands on stdin / stdout with this process's int8rt (PYTHONPATH)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, HERE)
    import numpy as np

    import int8rt
    import e2e_feeds as F
    from bf16n24_nets20 import build, ccos, op_sums, rel_l2
    from realnets import new_families2  # noqa: F401 - adds the nets17 architectures to new_models.NETS
    from realnets import new_models as M
    from realnets import openvino_engines as O

    int8rt.set_num_threads(1)
    net, path = M.exported(NET, folder)
    bf, fp = build(path, True), build(path, False)
    ours, ref = F.int8rt_runner(bf), F.int8rt_runner(fp)
    ev = net.feeds(8, 1)
    ov_model = O.load(path) if role == "new" else None
    ov_by_batch: dict = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # library chatter away from the protocol
    print(json.dumps({"ready": os.path.dirname(int8rt.__file__),
                      "lstm": [la["detail"] for la in bf.layers() if la["op"] == "LSTM"][:1]}), file=out, flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        reply: dict = {}
        if cmd["cmd"] == "errors":
            want = ref(ev)
            reply = {"bf16": [rel_l2(ours(ev), want), ccos(ours(ev), want)]}
            if ov_model is not None:
                ov = F.ov_runner(O.compile_model(F.ov_static(ov_model, ev), 1, "bf16"))
                reply["ov"] = [rel_l2(ov(ev), want), ccos(ov(ev), want)]
        elif cmd["cmd"] == "time":
            feed = {k: np.ascontiguousarray(v[:cmd["batch"]]) for k, v in ev.items()}
            if cmd["impl"] == "ov":
                if cmd["batch"] not in ov_by_batch:
                    ov_by_batch[cmd["batch"]] = F.ov_runner(O.compile_model(F.ov_static(ov_model, feed), 1, "bf16"))
                fn = ov_by_batch[cmd["batch"]]
            else:
                fn = ours
            fn(feed)  # warm
            n, t0 = 0, time.process_time()
            while True:
                fn(feed)
                n += 1
                if time.process_time() - t0 >= cmd["min_time"]:
                    break
            reply = {"s": (time.process_time() - t0) / n}
        elif cmd["cmd"] == "profile":
            feed = {k: np.ascontiguousarray(v[:cmd["batch"]]) for k, v in ev.items()}
            reply = {"ops": op_sums(bf, feed)}
        print(json.dumps(reply), file=out, flush=True)


class Worker:
    def __init__(self, role: str, pythonpath: str, folder: str) -> None:
        env = {**os.environ, "PYTHONPATH": pythonpath}
        self.p = subprocess.Popen([sys.executable, __file__, "--worker", role, "--dir", folder], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.hello = self.read()

    def read(self) -> dict:
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("worker exited")
        return json.loads(line)

    def ask(self, **cmd) -> dict:
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="the base tree's python/ folder (PYTHONPATH of the 'base' worker)")
    ap.add_argument("--dir", default="/tmp/lstmb27/models")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.dir)
        return
    sys.path.insert(0, HERE)
    from bench_util import load_line, machine_line
    print(f"{' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(machine_line(), flush=True)
    here = os.path.join(os.path.dirname(HERE), "python")
    workers = {"base": Worker("base", args.base, args.dir), "new": Worker("new", here, args.dir)}
    for role, w in workers.items():
        print(f"{role}: int8rt {w.hello['ready']}; first LSTM layer: {w.hello['lstm']}", flush=True)
    errs = {role: w.ask(cmd="errors") for role, w in workers.items()}
    for role, e in errs.items():
        print(f"{role}: 8 inputs vs its int8rt FP32: int8rt bf16 rel L2 {e['bf16'][0]:.2e} ccos {e['bf16'][1]:.6f}"
              + (f"; OV bf16 rel L2 {e['ov'][0]:.2e} ccos {e['ov'][1]:.6f}" if "ov" in e else ""), flush=True)
    rows = []
    impls = [("base", "bf16"), ("new", "bf16"), ("new", "ov")]
    for batch in args.batches:
        samples: dict = {k: [] for k in impls}
        for role, impl in impls:  # warm-up round (OV compiles its static shape here)
            workers[role].ask(cmd="time", impl=impl, batch=batch, min_time=0.0)
        for r in range(args.rounds):
            for role, impl in impls:
                samples[(role, impl)].append(workers[role].ask(cmd="time", impl=impl, batch=batch,
                                                               min_time=args.min_time)["s"])
            print(f"  b{batch} round {r}: " + ", ".join(f"{k[0]} {k[1]} {v[-1] * 1e3:.2f}" for k, v in samples.items())
                  + f" ms; {load_line()}", flush=True)
        med = {k: statistics.median(v) for k, v in samples.items()}
        base, new, ov = med[("base", "bf16")], med[("new", "bf16")], med[("new", "ov")]
        row = (f"| {NET} | {batch} | {base * 1e3:.2f} | {new * 1e3:.2f} | {ov * 1e3:.2f} | {base / new:.3f} | "
               f"{ov / base:.3f} | {ov / new:.3f} | {load_line()} |")
        rows.append(row)
        print(row, flush=True)
        for role, w in workers.items():
            print(f"  {role} bf16 b{batch} per op, thread CPU ms: {w.ask(cmd='profile', batch=batch)['ops']}", flush=True)
    print("\ncolumns: network | batch | base int8rt bf16 CPU ms | new int8rt bf16 CPU ms | OV bf16 CPU ms | "
          "base / new | OV / base | OV / new | load after")
    print("\n".join(rows))
    e = errs
    print(f"rel. L2 vs int8rt FP32 (8 inputs): base bf16 {e['base']['bf16'][0]:.1e}, new bf16 {e['new']['bf16'][0]:.1e}, "
          f"OV bf16 {e['new']['ov'][0]:.1e}; centred cosine {e['base']['bf16'][1]:.5f} / {e['new']['bf16'][1]:.5f} / "
          f"{e['new']['ov'][1]:.5f}")
    for w in workers.values():
        w.close()


if __name__ == "__main__":
    main()
