"""A dispatch rule measured on whole networks: the same INT8 engine bytes run
by this tree (AMX wherever the AMX conv accepts), by this tree capped at
avx512bf16 (no AMX), and by another build of int8rt loaded beside it
(before_build.py) whose AMX conv declines the shapes a rule names, all
alternating in one process, 1 thread, process CPU medians; the outputs of
every engine are checked bit-identical (int8 kernels are exact, so a kernel
choice may change the time only).

RESULTS.md §171 used it with a build of this tree whose
AmxConvKernel::supports declined the C = 3 stems and the 1x1 convs with
C/g % 64 != 0 unless K/g >= 240 or (K/g >= 128 and C/g >= 72) (a temporary
edit, not in the branch: conv_amx.cc is amxconv's / amxgemm's file).

Usage: python benchmarks/before_build.py <rule build>/python/int8rt /tmp/rule
       PYTHONPATH=python python benchmarks/e2e_amx_rule_ab.py --rule /tmp/rule --models mobilenet_v2
       [--batches 1 8] [--rounds 9] [--min-time 0.5] --models-dir DIR
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_bench as B  # noqa: E402
import int8rt  # noqa: E402
from before_build import import_before  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402


def kernel_counts(engine) -> str:
    c = Counter(layer["detail"].split(" ")[0] for layer in engine.layers() if layer["precision"] == "int8")
    return ", ".join(f"{k} x{n}" for k, n in sorted(c.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rule", required=True, help="folder holding int8rt_before (before_build.py): the rule's build")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--calibrator", choices=sorted(B.CALIBRATORS), default="auto")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", type=Path, required=True)
    args = ap.parse_args()
    rule = import_before(args.rule)
    print(machine_line())
    print(f"int8rt (this tree) ISA {int8rt.get_max_isa()}; rule build from {args.rule}")
    rows = []
    for name in args.models:
        s = B.subject(name, args.size, args.models_dir)
        if s is None:
            continue
        int8rt.set_num_threads(2)
        B.build(s, args.models_dir, ["int8rt int8"], args.calibrator)
        data = s.engines["int8rt int8"].serialize()
        engines = {"amx": int8rt.Engine.deserialize(data), "rule": rule.Engine.deserialize(data)}
        int8rt.set_max_isa("avx512bf16")
        try:
            engines["avx512bf16"] = int8rt.Engine.deserialize(data)
        finally:
            int8rt.set_max_isa(None)
        for k, e in engines.items():
            print(f"{name} {k}: {kernel_counts(e)}")
        int8rt.set_num_threads(1)
        rule.set_num_threads(1)
        for batch in args.batches:
            feed = s.feed(batch)
            ctxs = {k: e.create_execution_context() for k, e in engines.items()}
            outs = {k: c.run(feed) for k, c in ctxs.items()}
            same = all(all(np.array_equal(outs["amx"][o], outs[k][o]) for o in outs["amx"]) for k in outs)
            med = time_alternating({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds,
                                   args.min_time, clock=time.process_time)
            line = (f"{name} b{batch} ({load_line()}): " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in med.items())
                    + f"; rule / amx {med['rule'] / med['amx']:.3f}, rule / avx512bf16 "
                    f"{med['rule'] / med['avx512bf16']:.3f}; outputs bit-identical: {same}")
            print(line, flush=True)
            rows.append((name, batch, med, same, load_line()))
    print("\n| network | batch | amx ms | rule ms | avx512bf16 ms | rule / amx | rule / avx512bf16 | same bits | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, batch, med, same, load in rows:
        print(f"| {name} | {batch} | {med['amx'] * 1e3:.3f} | {med['rule'] * 1e3:.3f} | {med['avx512bf16'] * 1e3:.3f} | "
              f"{med['rule'] / med['amx']:.3f} | {med['rule'] / med['avx512bf16']:.3f} | {same} | "
              f"{load.split(' ', 2)[2]} |")


if __name__ == "__main__":
    main()
