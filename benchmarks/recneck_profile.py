"""PP-OCR rec (PP-OCRv4 recogniser, SVTR neck) INT8 engines built as
e2e_bench.py builds them with each calibrator (IInt8EntropyCalibrator2 and
IInt8AutoCalibrator on the same feeds), profiled layer by layer: thread CPU
time per layer (1 thread), the engines' profiled runs alternated round by
round, medians over rounds. Prints, per batch, each engine's total and its
time by kernel (the profile's detail), the kernels whose time differs most
between the engines, the per-channel table layers one by one, and each
engine's Quantize / Dequantize layers with the builder's reason for each
(the int8 plan's conversions), so a before / after pair of runs shows what a
change brought into int8 and what the calibrators' engines differ in
(RESULTS.md section 124).

    PYTHONPATH=python python benchmarks/recneck_profile.py --models-dir /tmp/e2eall/models --batches 1 8
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import e2e_bench as B  # first: sets the thread environment and sys.path
from bench_util import load_line, machine_line


def kernel_of(layer: dict) -> str:
    """The layer's kind as the profile names it: precision and kernel (a convert's scale dropped)."""
    if layer["precision"] == "convert":
        return f"convert:{layer['op']}"
    return f"{layer['precision']}:{layer['detail'].split(' ')[0]}"


def conversions(engine) -> list[str]:
    """The Quantize / Dequantize layers left in the engine, with the builder's reason for each."""
    plan = engine.int8_plan()
    if plan is None:
        return []
    return [f"{c.op} {c.tensor}: {c.reason}" for c in plan.converts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", type=Path, default=None, help="as e2e_bench.py's (the ONNX file is reused)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds (each: `--runs` profiled runs per engine)")
    ap.add_argument("--runs", type=int, default=5, help="profiled runs per engine and round (their median per layer)")
    ap.add_argument("--calibrators", nargs="+", default=["entropy", "auto"], choices=sorted(B.CALIBRATORS))
    args = ap.parse_args()
    B.set_threads(1)
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.models_dir or Path(tmpdir)
        s = B.subject("ppocr_rec", 224, tmp)
        engines = {c: B.int8rt.build_engine(s.onnx_path, B.int8rt.BuilderConfig(
            precision="int8", calibrator=B.CALIBRATORS[c](s.calib_feeds))) for c in args.calibrators}
        for c, e in engines.items():
            conv = conversions(e)
            print(f"{c}: {len(conv)} Quantize / Dequantize layers")
            for line in conv:
                print(f"    {line}")
        ctxs = {c: e.create_execution_context() for c, e in engines.items()}
        for batch in args.batches:
            x = s.feed(batch)
            per_layer = {c: defaultdict(list) for c in engines}  # (name, kind) -> per-round ms
            meta = {}
            for _ in range(args.rounds):
                for c, e in engines.items():
                    for layer in ctxs[c].profile(x, args.runs, clock="thread_cpu"):
                        key = (layer["name"], kernel_of(layer))
                        per_layer[c][key].append(layer["ms"])
                        meta[key] = layer
            print(f"\nbatch {batch}, 1 thread, thread CPU time, medians of {args.rounds} rounds x {args.runs} runs "
                  f"({load_line()})")
            by_kind = {}
            for c in engines:
                med = {k: statistics.median(v) for k, v in per_layer[c].items()}
                kinds = defaultdict(float)
                counts = defaultdict(int)
                for (name, kind), ms in med.items():
                    kinds[kind] += ms
                    counts[kind] += 1
                by_kind[c] = (kinds, counts)
                print(f"  {c}: layer sum {sum(med.values()):.3f} ms over {len(med)} layers")
            every = sorted(set().union(*(k for k, _ in by_kind.values())),
                           key=lambda k: -max(by_kind[c][0].get(k, 0.0) for c in engines))
            print("  by kernel: " + " | ".join(engines) + "  (ms, count)")
            for kind in every:
                cells = [f"{by_kind[c][0].get(kind, 0.0):7.3f} x{by_kind[c][1].get(kind, 0):<3d}" for c in engines]
                print(f"    {kind:48s} " + "  ".join(cells))
            for c in engines:
                rows = [(k, statistics.median(v)) for k, v in per_layer[c].items() if "lookup_channels" in k[1]]
                for (name, kind), ms in sorted(rows, key=lambda r: -r[1]):
                    print(f"  {c} per-channel table {ms:.4f} ms  {name}  [{meta[(name, kind)]['detail']}]")


if __name__ == "__main__":
    main()
