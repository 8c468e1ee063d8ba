"""The LayerNorm layers of an int8rt engine, this tree's build against another
(before_build.py), in one process, alternated: thread CPU ms per run summed
by the layer's form (its profile detail: "int8 in, fp32 add + layernorm,
float and int8 out" for BERT's encoder LayerNorms), medians (RESULTS.md
section 109, issue 14). Feeds are random token ids (LayerNorm's cost does not
depend on the values); the engine is bert_ov_ab.py's.

    PYTHONPATH=python python benchmarks/layernorm_profile.py /tmp/bertsm/models/bert-base128.i8rt --before /tmp/before
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from before_build import import_before  # noqa: E402
from transformer_bench import token_batches  # noqa: E402


def layernorm_ms(ctx, feed, runs: int) -> collections.Counter:
    """ms per run of the LayerNorm layers, by their detail, and 'total'."""
    ms: collections.Counter = collections.Counter()
    for layer in ctx.profile(feed, runs, clock="thread_cpu"):
        if layer["op"] == "LayerNormalization":
            ms[layer["detail"]] += layer["ms"]
            ms["total"] += layer["ms"]
    return ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine")
    ap.add_argument("--before", required=True, help="folder holding int8rt_before (before_build.py)")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    libs = {"this": int8rt, "before": import_before(args.before)}
    for b in map(int, args.batches.split(",")):
        feed = token_batches(1, b, args.seq, 30522, seed=3)[0]
        ctxs = {}
        for name, lib in libs.items():
            lib.set_num_threads(1)
            ctxs[name] = lib.Engine.load(args.engine).create_execution_context()
            ctxs[name].run(feed)
        samples: dict = {name: collections.defaultdict(list) for name in libs}
        for _ in range(args.rounds):
            for name, ctx in ctxs.items():
                for form, v in layernorm_ms(ctx, feed, 3).items():
                    samples[name][form].append(v)
        print(f"b{b}, {args.rounds} alternated rounds, load average {os.getloadavg()[0]:.1f}")
        for form in samples["this"]:
            this, before = (statistics.median(samples[n][form]) for n in ("this", "before"))
            print(f"  {form}: this {this:.3f} ms, before {before:.3f} ms, this / before {this / before:.3f}")


if __name__ == "__main__":
    main()
