"""cait27: do attention networks without talking heads lower as before (RESULTS.md §281)? Builds the int8rt INT8
engine of each network named (nets20's exports in ``--dir``: ViT-style, BERT-style and windowed attention) on the
same calibration inputs (seed 5, ``--calib``), with whichever int8rt tree PYTHONPATH names, and writes per network
its layers (op, name, kernel description) and the output bytes' SHA-256 on fixed inputs (seed 3) to ``--json``.
``--compare A B`` prints whether two such files agree network by network (run it once with main's tree, once with
this branch's).

Usage (repo root): PYTHONPATH=<tree> python benchmarks/cait27_layers_unchanged.py --json out.json \
    [--dir /tmp/nets20/models] [--nets crossvit_9,modernbert,swinv2] [--calib 4]
       python benchmarks/cait27_layers_unchanged.py --compare base.json branch.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def build(args) -> dict:
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    from bench_util import machine_line

    print(machine_line(), flush=True)
    int8rt.set_num_threads(1)
    out = {}
    for name in args.nets.split(","):
        net = M.NETS[name]
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(net.feeds(args.calib, 5), algorithm="auto", batch_size=args.calib)
        engine = int8rt.build_engine(f"{args.dir}/{name}.onnx", config)
        layers = [f"{layer['op']} {layer['name']} [{layer['detail']}]" for layer in engine.layers()]
        res = engine.create_execution_context().run({k: np.ascontiguousarray(v) for k, v in net.feeds(2, 3).items()})
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(res[k]).tobytes() for k in sorted(res))).hexdigest()
        attn = sum(1 for layer in engine.layers() if layer["op"] == "int8rt.QAttention")
        out[name] = {"layers": layers, "output_sha256": digest}
        print(f"{name}: {len(layers)} layers, {attn} QAttention, output sha256 {digest[:16]}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/nets20/models")
    ap.add_argument("--nets", default="crossvit_9,modernbert,swinv2")
    ap.add_argument("--calib", type=int, default=4)
    ap.add_argument("--json")
    ap.add_argument("--compare", nargs=2)
    args = ap.parse_args()
    if args.compare:
        a, b = (json.load(open(p)) for p in args.compare)
        same = True
        for name in a:
            layers = a[name]["layers"] == b.get(name, {}).get("layers")
            outputs = a[name]["output_sha256"] == b.get(name, {}).get("output_sha256")
            same = same and layers and outputs
            print(f"{name}: layers {'same' if layers else 'DIFFER'} ({len(a[name]['layers'])}), "
                  f"output bytes {'same' if outputs else 'DIFFER'}")
        return 0 if same else 1
    res = build(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
