"""cait27: does talking-heads attention in int8 (RESULTS.md §281: CaiT's head mixes, softmax and Transposes fused
into int8rt.QAttention, were float32) cost INT8 accuracy? The cait_xxs24 engines speed23_nets20_latency.py saved
before (main's code, ``--before``) and after (this branch, ``--after``), each run on 32 held-out inputs (seed 1)
against int8rt FP32: centred cosine and top-1 agreement on the inputs whose FP32 top-1 is not the most common
(newnets_bench's metrics), as benchmarks/speed23_accuracy_check.py does.

Usage (repo root): PYTHONPATH=python python benchmarks/cait27_accuracy_check.py \
    [--before /tmp/cait27/base_eng] [--after /tmp/cait27/after_eng] [--models /tmp/cait27/models]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="/tmp/cait27/base_eng")
    ap.add_argument("--after", default="/tmp/cait27/after_eng")
    ap.add_argument("--models", default="/tmp/cait27/models")
    ap.add_argument("--name", default="cait_xxs24")
    args = ap.parse_args()
    import int8rt
    from newnets_bench import centred_cosine, top1_varying
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    int8rt.set_num_threads(1)
    print(machine_line())
    net = M.NETS[args.name]
    feeds = net.feeds(32, 1)

    def run_all(ctx) -> np.ndarray:
        return np.concatenate([ctx.run({k: v[i:i + 8] for k, v in feeds.items()})["out"] for i in range(0, 32, 8)])
    ref = run_all(int8rt.build_engine(f"{args.models}/{args.name}.onnx", int8rt.BuilderConfig(precision="fp32"))
                  .create_execution_context())
    for tag, d in (("before", args.before), ("after", args.after)):
        engine = int8rt.Engine.load(f"{d}/{args.name}.i8rt")
        attn = [layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QAttention"]
        talking = sum(1 for a in attn if a.startswith("int8 talking-heads"))
        out = run_all(engine.create_execution_context())
        line = f"{args.name:12s} {tag:6s} ccos {centred_cosine(out, ref):.4f}"
        if net.kind == "class":
            top, n = top1_varying(out, ref)
            line += f"  top-1 (varying) {top:.2f} ({n})"
        print(f"{line}  QAttention layers {len(attn)} (talking heads {talking})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
