"""zero27: does holding tensors calibrated to exactly 0 at a nominal int8 scale (lower_int8_zero_range.h; before:
their layers kept in float32) change INT8 accuracy? The engines speed23_nets20_latency.py saved before (main's
code) and after (this branch), each run on 32 held-out inputs (seed 1) against int8rt FP32: centred cosine and
top-1 agreement on the inputs whose FP32 top-1 is not the most common (newnets_bench's metrics), as
speed23_accuracy_check.py does; plus how many layers each engine runs in float32 and the zero-range warnings.

Usage (repo root): PYTHONPATH=python python benchmarks/zero27_zero_range_accuracy.py \
    --dir /tmp/zero27/models --before /tmp/zero27/eng_before --after /tmp/zero27/eng_after [--nets a,b]
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
    ap.add_argument("--dir", default="/tmp/zero27/models")
    ap.add_argument("--before", default="/tmp/zero27/eng_before")
    ap.add_argument("--after", default="/tmp/zero27/eng_after")
    ap.add_argument("--nets", default="ecaresnet26t,nfnet_l0")
    args = ap.parse_args()
    import int8rt
    import speed23_nets20_latency as S
    from speed23_accuracy_check import accuracy_words, fp32_outputs, held_out_outputs
    from realnets import new_models as M

    S._register_variants()
    int8rt.set_num_threads(1)
    print(" ".join(["PYTHONPATH=" + os.environ.get("PYTHONPATH", ""), "python"] + sys.argv))
    print(machine_line())
    for name in args.nets.split(","):
        net = M.NETS[name]
        feeds = net.feeds(32, 1)
        ref = fp32_outputs(f"{args.dir}/{name}.onnx", feeds)
        for tag, d in (("before", args.before), ("after", args.after)):
            engine = int8rt.Engine.load(f"{d}/{name}.i8rt")
            out = held_out_outputs(engine.create_execution_context(), feeds)
            floats = [la for la in engine.layers() if la["precision"] == "fp32"]
            convs = [la for la in floats if la["op"] == "Conv"]
            zero = [line for line in engine.report() if "calibrated to exactly 0" in line]
            spread = f"  max|diff| / max|ref| {float(np.abs(out - ref).max() / np.abs(ref).max()):.4f}"
            line = f"{name:14s} {tag:6s} {accuracy_words(out, ref, net.kind, spread)}"
            line += f"  float32 layers {len(floats)} (convs {len(convs)}), zero-range warnings {len(zero)}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
