"""ONNX Runtime's own per-op profile of a network of realnets/new_models.py:
one thread, ``SessionOptions.enable_profiling``, the kernel time of each node
summed per op type and averaged over the runs (wall time: on a loaded machine
read the shares, not the values). ONNX Runtime's fused ops (FastGelu,
SkipLayerNormalization, FusedMatMul, ...) show what its graph optimizer made.

Usage: python benchmarks/ort_op_profile.py gpt2 8 [--dir /tmp/xfmr/models] [--runs 12]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("batch", type=int)
    ap.add_argument("--dir", default="/tmp/xfmr/models")
    ap.add_argument("--runs", type=int, default=12)
    args = ap.parse_args()
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort_profile")
    sess = ort.InferenceSession(os.path.join(args.dir, f"{args.name}.onnx"), so, providers=["CPUExecutionProvider"])
    feed = M.NETS[args.name].feeds(args.batch, 3)
    for _ in range(args.runs):
        sess.run(None, feed)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    per_op: dict[str, float] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / args.runs / 1000.0
    total = sum(per_op.values())
    top = ", ".join(f"{op} {ms:.2f} ({ms / total:.0%})" for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[:8])
    print(f"{args.name} b{args.batch} ONNX Runtime FP32, ms per run by op: {top}; all {total:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
