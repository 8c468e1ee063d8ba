"""RESULTS.md section 282: AveragePool in the BF16 channel-blocked region (int8rt.AveragePoolBf16x16c).
Per network and batch, a base tree's python/ (main's, copied aside before the change) and this tree's are run
alternately in subprocesses (--pairs times); each builds the BF16 engine (``BuilderConfig(precision="fp32",
bf16=True)``, 1 thread) and profiles it (ExecutionContext.profile, thread CPU, --runs runs): the touched
layers' ms per op (the average pools, FP32 or blocked, and the layout conversions ToBf16x16c / FromBf16x16c)
and the sum over all layers. Medians over the pairs per tree. With --same-layers, networks without an
AveragePool are built by both trees and their layer lists (op, precision, detail) compared. With --bits, each
tree's BF16 engine runs the --nets on 3 evaluation inputs and the outputs' SHA-1 are compared.

Usage: python benchmarks/pool27_avgpool.py --base /tmp/pool27/base/python --dir /tmp/pool27/models \
           --nets ecaresnet26t nfnet_l0 [--batches 1 8] [--runs 10] [--pairs 3]
       python benchmarks/pool27_avgpool.py --base /tmp/pool27/base/python --same-layers \
           /tmp/pool27/models/resnet50.onnx /tmp/pool27/models/mobilenet_v2.onnx /tmp/pool27/models/ppocr_det.onnx
       python benchmarks/pool27_avgpool.py --base /tmp/pool27/base/python --bits --nets ecaresnet26t nfnet_l0
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
TOUCHED = ("AveragePool", "int8rt.AveragePoolBf16x16c", "int8rt.ToBf16x16c", "int8rt.FromBf16x16c")


def _build(path: str):
    import contextlib
    import io

    import int8rt
    with contextlib.redirect_stdout(io.StringIO()):
        return int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))


def child_profile(name: str, folder: str, batch: int, runs: int) -> None:
    """One tree (this process's PYTHONPATH): one JSON line of the profile's per-op sums."""
    import numpy as np

    import int8rt
    sys.path.insert(0, HERE)
    from realnets import new_families2  # noqa: F401 - adds the nets17 architectures to new_models.NETS
    from realnets import new_models as M
    int8rt.set_num_threads(1)
    net, path = M.exported(name, folder)
    engine = _build(str(path))
    feed = {k: np.ascontiguousarray(v[:batch]) for k, v in net.feeds(8, 1).items()}
    sums: dict = {}
    total = 0.0
    for la in engine.create_execution_context().profile(feed, runs, clock="thread_cpu"):
        total += la["ms"]
        if la["op"] in TOUCHED:
            sums[la["op"]] = sums.get(la["op"], 0.0) + la["ms"]
    counts = {op: sum(la["op"] == op for la in engine.layers()) for op in TOUCHED}
    print(json.dumps({"sums": sums, "total": total, "counts": counts}))


def child_bits(name: str, folder: str) -> None:
    """One tree: the SHA-1 of the BF16 engine's outputs on 3 evaluation inputs."""
    import hashlib

    import numpy as np
    sys.path.insert(0, HERE)
    from realnets import new_families2  # noqa: F401
    from realnets import new_models as M
    net, path = M.exported(name, folder)
    feed = {k: np.ascontiguousarray(v[:3]) for k, v in net.feeds(8, 1).items()}
    out = _build(str(path)).run(feed)
    print(json.dumps({k: hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in sorted(out.items())}))


def child_layers(path: str) -> None:
    print(json.dumps([[la["op"], la["precision"], la["detail"]] for la in _build(path).layers()]))


def _child(tree: str, args: list) -> str:
    env = dict(os.environ, PYTHONPATH=tree)
    return subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env, capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="the base tree's python/ directory")
    ap.add_argument("--dir", default="/tmp/pool27/models")
    ap.add_argument("--nets", nargs="+", default=["ecaresnet26t", "nfnet_l0"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--same-layers", nargs="+", default=None, help="ONNX files: compare the two trees' layers")
    ap.add_argument("--bits", action="store_true", help="compare the two trees' output bits on --nets")
    ap.add_argument("--child-bits", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-profile", nargs=3, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-layers", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_profile:
        child_profile(a.child_profile[0], a.dir, int(a.child_profile[1]), int(a.child_profile[2]))
        return
    if a.child_layers:
        child_layers(a.child_layers)
        return
    if a.child_bits:
        child_bits(a.child_bits, a.dir)
        return
    print("command:", " ".join(sys.argv))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg(), flush=True)
    trees = {"base": a.base, "pool27": os.path.join(os.path.dirname(HERE), "python")}
    if a.same_layers:
        for path in a.same_layers:
            got = {label: _child(tree, ["--child-layers", path]) for label, tree in trees.items()}
            n = len(json.loads(got["base"]))
            print(f"{os.path.basename(path)}: {n} layers; the two trees' layer lists (op, precision, detail) "
                  f"{'identical' if got['base'] == got['pool27'] else 'DIFFER'}", flush=True)
        return
    if a.bits:
        for name in a.nets:
            got = {label: _child(tree, ["--dir", a.dir, "--child-bits", name]) for label, tree in trees.items()}
            print(f"{name}: outputs on 3 inputs, SHA-1 base {got['base']}, pool27 {got['pool27']}: "
                  f"{'identical bits' if got['base'] == got['pool27'] else 'different bits'}", flush=True)
        return
    for name in a.nets:
        for batch in a.batches:
            res: dict = {label: [] for label in trees}
            for p in range(a.pairs):
                for label, tree in trees.items():
                    r = json.loads(_child(tree, ["--dir", a.dir, "--child-profile", name, str(batch), str(a.runs)]))
                    res[label].append(r)
                    print(f"{name} b{batch} pair {p + 1} {label}: touched "
                          f"{ {k: round(v, 3) for k, v in r['sums'].items()} } sum {sum(r['sums'].values()):.3f} ms, "
                          f"all layers {r['total']:.2f} ms; load {os.getloadavg()[0]:.2f}", flush=True)
            med = {label: (statistics.median(sum(r["sums"].values()) for r in rs),
                           statistics.median(r["total"] for r in rs)) for label, rs in res.items()}
            print(f"| {name} | {batch} | {res['base'][0]['counts']} -> {res['pool27'][0]['counts']} | "
                  f"{med['base'][0]:.3f} -> {med['pool27'][0]:.3f} | {med['base'][1]:.2f} -> {med['pool27'][1]:.2f} |",
                  flush=True)
    print("columns: network | batch | touched layers' counts base -> pool27 | their thread CPU ms, medians | "
          "all layers' thread CPU ms (profile sum), medians")


if __name__ == "__main__":
    main()
