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
    from speed23_accuracy_check import accuracy_words, fp32_outputs, held_out_outputs
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    int8rt.set_num_threads(1)
    print(machine_line())
    net = M.NETS[args.name]
    feeds = net.feeds(32, 1)
    ref = fp32_outputs(f"{args.models}/{args.name}.onnx", feeds)
    for tag, d in (("before", args.before), ("after", args.after)):
        engine = int8rt.Engine.load(f"{d}/{args.name}.i8rt")
        attn = [layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QAttention"]
        talking = sum(1 for a in attn if a.startswith("int8 talking-heads"))
        out = held_out_outputs(engine.create_execution_context(), feeds)
        print(f"{args.name:12s} {tag:6s} {accuracy_words(out, ref, net.kind)}  QAttention layers {len(attn)} "
              f"(talking heads {talking})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
