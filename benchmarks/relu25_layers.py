"""RESULTS.md section 276: a Relu / Clip after a BF16 blocked Add / channel scale fused into it
(engine/bf16_blocked_moves.h bf16_fuse_activations). For the int8rt tree on PYTHONPATH:
  --dump OUT.json   each network's BF16 engine layers (op, precision, detail), to compare two trees' builds
                    (the base = main's python/ copied aside, and this tree's: identical except where the rule applies);
  --profile         per op kind, thread CPU ms (ExecutionContext.profile, medians of --runs profiled runs) of
                    each network's BF16 engine at --batch, and the count of layers per kind.
Run it with the base tree's python/ and this tree's, alternated.

Usage: PYTHONPATH=python python benchmarks/relu25_layers.py --dir /tmp/nets20/models --nets ecaresnet26t rexnet_100 \
           [--dump /tmp/relu25/layers_new.json] [--profile --batch 8 --runs 5]
       (--nets also takes .onnx paths, e.g. /tmp/det24/models/resnet50.onnx: layers only)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from realnets import new_families2  # noqa: E402,F401 - adds the nets17 architectures
from realnets import new_models as M  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--nets", nargs="+", required=True)
    ap.add_argument("--dump")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    print("command:", " ".join(sys.argv), "| int8rt", os.path.dirname(int8rt.__file__))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    dump = {}
    for name in a.nets:  # a nets20 name, or an .onnx path (built only: --dump)
        net, path = (None, name) if name.endswith(".onnx") else M.exported(name, a.dir)
        with contextlib.redirect_stdout(io.StringIO()):
            eng = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
        layers = eng.layers()
        dump[name] = [[la["op"], la["precision"], la["detail"]] for la in layers]
        kinds = defaultdict(int)
        for la in layers:
            kinds[la["op"].removeprefix("int8rt.")] += 1
        print(f"{name}: {len(layers)} layers;", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if not a.profile or net is None:
            continue
        feed = {k: np.ascontiguousarray(v[:a.batch]) for k, v in net.feeds(8, 1).items()}
        ms = defaultdict(list)
        ctx = eng.create_execution_context()
        for _ in range(a.runs):
            per = defaultdict(float)
            for la in ctx.profile(feed, 1, clock="thread_cpu"):
                per[la["op"].removeprefix("int8rt.")] += la["ms"]
            for k, v in per.items():
                ms[k].append(v)
        total = sum(float(np.median(v)) for v in ms.values())
        print(f"  batch {a.batch}: {total:.2f} ms in all (sum of per-kind medians of {a.runs}, thread CPU)")
        for k, v in sorted(ms.items(), key=lambda kv: -np.median(kv[1])):
            print(f"    {k:32s} {kinds[k]:4d} layers {np.median(v):8.3f} ms")
    if a.dump:
        with open(a.dump, "w") as f:
            json.dump(dump, f)


if __name__ == "__main__":
    main()
