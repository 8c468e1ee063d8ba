"""Where the AMX BF16 blocked conv's time goes, and which loop / epilogue
variant pays (RESULTS.md section 194): per shape of bf16conv_layers.py
(the conv alone in a 4-conv BF16 region, batch 8, 1 thread), environment
knobs alternated round by round in one process; per knob set the minimum
over a round's ExecutionContext.profile calls (thread CPU of the conv under
test), then the median over rounds and the ratio to the first set.

The knobs exist only in the experiment's build:
`git apply benchmarks/results/bf16cnn_knobs_experiment.patch` on the base
tree c0a67edc (its kernel and ops read BF16CNN_SKIP = 1 no epilogue,
2 no tile products, 3 neither; BF16CNN_PIPE = 0 the epilogue right after
its tiles instead of after the next pair's; BF16CNN_PF = 1 prefetch of the
output / residual lines; BF16CNN_IL = 1 the previous pair's epilogue
interleaved with the TDPBF16PS steps; BF16CNN_ORDER = 1 pixel groups outer;
BF16CNN_FAST = 1 the compile-time epilogue that this branch kept;
BF16CNN_NT = 1 streaming stores (an earlier state of the patch);
BF16CNN_TB / _RB / _WIDE the 1x1 partition's block chunk, run bytes and
batch-run weight threshold). Without the patch every set is the same code.

Usage: PYTHONPATH=<patched tree>/python python benchmarks/bf16cnn_knobs.py \
         "64->256 @56 +res|128->512" ";BF16CNN_SKIP=1;BF16CNN_FAST=1" [rounds]
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from bf16conv_layers import SHAPES, bf16_conv_engine  # noqa: E402


def knob_args() -> tuple:
    """argv's labels ("a|b"), knob set names (";K=v,K2=w") with their
    environment dicts, and rounds (default 5); the usage without them."""
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    names = sys.argv[2].split(";")
    configs = [dict(kv.split("=") for kv in c.split(",") if kv) for c in names]
    return sys.argv[1].split("|"), names, configs, int(sys.argv[3]) if len(sys.argv) > 3 else 5


def set_knobs(prefix: str, config: dict) -> None:
    """The environment holds exactly `config`'s knobs of `prefix`."""
    for k in [k for k in os.environ if k.startswith(prefix)]:
        os.environ.pop(k, None)
    os.environ.update(config)


def knob_table(shapes: list, prefix: str, compare: bool = False) -> None:
    """The table for argv's labels and knob sets over `shapes` (label, C, M,
    H, ...), the knobs being environment variables starting with `prefix`;
    with `compare`, a line for each set whose output differs from the
    first set's (bf16r50c_knobs.py)."""
    labels, names, configs, rounds = knob_args()
    int8rt.set_num_threads(1)
    for lab in labels:
        shp = next(s for s in shapes if lab in s[0])
        with contextlib.redirect_stdout(io.StringIO()):
            eng = bf16_conv_engine(*shp[1:])
        ctx = eng.create_execution_context()
        feed = {"x": np.random.default_rng(0).standard_normal((8, 16, shp[3], shp[3]), dtype=np.float32)}
        ref = ctx.run(feed)
        times: list[list[float]] = [[] for _ in configs]
        for _ in range(rounds):
            for i, c in enumerate(configs):
                set_knobs(prefix, c)
                if compare:
                    out = ctx.run(feed)
                    if not all(np.array_equal(out[k], ref[k]) for k in ref):
                        print(f"{shp[0]}: [{names[i]}] differs from the first set's output", flush=True)
                per = []
                t_end = time.perf_counter() + 0.25
                while time.perf_counter() < t_end or not per:
                    prof = ctx.profile(feed, runs=3, clock="thread_cpu")
                    per.append(sum(q["ms"] for q in prof if "under_test" in q["name"]))
                times[i].append(float(np.min(per)))
        base = np.median(times[0])
        print(f"{shp[0]:28s}", "  ".join(f"[{names[i] or 'default'}] {np.median(t):.3f} ({np.median(t) / base:.3f})"
                                         for i, t in enumerate(times)), f"load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    knob_table(SHAPES["r50"] + SHAPES["mb2"], "BF16CNN_")


if __name__ == "__main__":
    main()
