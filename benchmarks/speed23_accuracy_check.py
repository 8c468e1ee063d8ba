"""speed23: does the ECA fold (RESULTS.md §269: the gate Mul now int8rt.QChannelMul, was float32) cost INT8 accuracy?
The engines speed23_nets20_latency.py saved before (main's code) and after (this branch) for the networks whose
import it changes, each run on 32 held-out inputs (seed 1) against int8rt FP32: centred cosine and top-1 agreement
on the inputs whose FP32 top-1 is not the most common (newnets_bench's metrics).

Usage (repo root): PYTHONPATH=python python benchmarks/speed23_accuracy_check.py \
    [--before /tmp/speed23/eng_before] [--after /tmp/speed23/eng_after]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402

NETS = (("ecaresnet26t_nz", "/tmp/speed23/models"), ("ecaresnet26t", "/tmp/nets20/models"),
        ("mobilevitv2", "/tmp/nets20/models"), ("swinv2", "/tmp/nets20/models"))


def held_out_outputs(ctx, feeds: dict) -> np.ndarray:
    """An engine context's "out" on the 32 held-out inputs `feeds` (net.feeds(32, 1)), in batches of 8."""
    return np.concatenate([ctx.run({k: v[i:i + 8] for k, v in feeds.items()})["out"] for i in range(0, 32, 8)])


def fp32_outputs(onnx_path: str, feeds: dict) -> np.ndarray:
    """The reference: int8rt FP32's "out" on the held-out inputs."""
    import int8rt

    engine = int8rt.build_engine(onnx_path, int8rt.BuilderConfig(precision="fp32"))
    return held_out_outputs(engine.create_execution_context(), feeds)


def accuracy_words(out: np.ndarray, ref: np.ndarray, kind: str, after_ccos: str = "") -> str:
    """Centred cosine against the reference (then `after_ccos`), and top-1 agreement on the inputs whose
    FP32 top-1 differ where the output is class scores."""
    from newnets_bench import centred_cosine, top1_varying

    words = f"ccos {centred_cosine(out, ref):.4f}{after_ccos}"
    if kind == "class":
        top, n = top1_varying(out, ref)
        words += f"  top-1 (varying) {top:.2f} ({n})"
    return words


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="/tmp/speed23/eng_before")
    ap.add_argument("--after", default="/tmp/speed23/eng_after")
    args = ap.parse_args()
    import int8rt
    import speed23_nets20_latency as S
    from realnets import new_models as M

    S._register_variants()
    int8rt.set_num_threads(1)
    print(machine_line())
    for name, folder in NETS:
        net = M.NETS[name]
        feeds = net.feeds(32, 1)
        ref = fp32_outputs(f"{folder}/{name}.onnx", feeds)
        for tag, d in (("before", args.before), ("after", args.after)):
            out = held_out_outputs(int8rt.Engine.load(f"{d}/{name}.i8rt").create_execution_context(), feeds)
            print(f"{name:16s} {tag:6s} {accuracy_words(out, ref, net.kind)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
