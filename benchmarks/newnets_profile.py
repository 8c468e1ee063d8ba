"""Layer profile of a network of benchmarks/realnets/new_models.py in int8rt FP32:
each layer's median thread CPU time (ExecutionContext.profile, one thread), summed
per op type, over ``--repeats`` profiles of ``--runs`` runs, batch 1.
Thread CPU time, not wall time: on a shared, loaded machine it is the layer's own
work. Only ratios between builds or layers measured alike mean anything.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_profile.py gpt2 --ops Pow,Gemm \
    [--dir /tmp/newnets/models]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--ops", default="", help="comma-separated op types to list layer by layer")
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line())
    net, path = M.exported(args.name, args.dir)
    feeds = {k: np.ascontiguousarray(v[:1]) for k, v in net.feeds(1, 3).items()}
    ctx = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    wanted = set(filter(None, args.ops.split(",")))
    for rep in range(args.repeats):
        layers = ctx.profile(feeds, args.runs, clock="thread_cpu")
        per_op: dict[str, float] = collections.Counter()
        for layer in layers:
            per_op[layer["op"]] += layer["ms"]
        listed = ", ".join(f"{layer['name']} {layer['ms']:.4f}" for layer in layers if layer["op"] in wanted)
        top = ", ".join(f"{op} {ms:.3f}" for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[:5])
        print(f"repeat {rep}: all layers {sum(per_op.values()):.3f} ms; by op: {top}; {listed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
