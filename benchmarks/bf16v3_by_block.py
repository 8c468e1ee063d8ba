"""int8rt BF16 against OpenVINO bf16 block by block (RESULTS.md section
262): bf16nets22_layers.py's two profilers alternated (int8rt's thread-CPU
``ExecutionContext.profile``, OpenVINO's PERF_COUNT wall times, ROUNDS
rounds of RUNS runs, medians per layer), each layer's time given to the
network block its name holds (``/features/features.N/``; else ``input`` for
int8rt's entry conversion and ``head`` for the rest), so a block where
int8rt loses shows whatever the two runtimes call its layers. int8rt's
image chain counts in the block of its first layer: the blocks it spans
(to the first block int8rt runs outside the chain) are summed in one row,
``chain``. With --detail, each named block's layers on both sides. 1 thread.

Usage: PYTHONPATH=python python benchmarks/bf16v3_by_block.py [--net mobilenet_v3] [--batch 8]
           [--rounds 5] [--runs 3] [--detail 5 14] [--models-dir /tmp/bf16v3/models]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import e2e_feeds as F  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_subjects import subject  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402

BLOCK = re.compile(r"/features/features\.(\d+)[/.]")


def block_of(name: str) -> int:
    """The block number of a layer's name; -1 for the input, 10**6 for the head."""
    m = BLOCK.search(name)
    if m:
        return int(m.group(1))
    return -1 if name.startswith("input::") or name == "x" else 10 ** 6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mobilenet_v3")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--detail", nargs="*", type=int, default=[])
    ap.add_argument("--models-dir", default="/tmp/bf16v3/models")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    s = subject(args.net, 224, Path(args.models_dir))
    feed = s.feed(args.batch)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    ov_model = F.ov_static(O.load(s.onnx_path), feed)
    x = feed[s.input_name]
    ours_all, ov_all = [], []
    for _ in range(args.rounds):
        ours_all.append(ctx.profile(feed, args.runs, clock="thread_cpu"))
        ov_all.append(O.profile(lambda: O.compile_model(ov_model, 1, "bf16", perf_count=True), x, args.runs))
    ours, ov = P.merge_profiles(ours_all), P.merge_profiles(ov_all)
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread: int8rt FP32+bf16 (thread CPU) against OpenVINO bf16 "
          f"(PERF_COUNT, wall), {args.rounds} alternating rounds of {args.runs} runs, medians; {load_line()}")
    mine: dict = defaultdict(lambda: [0.0, []])
    theirs: dict = defaultdict(float)
    chain_end = None  # the first block after the chain's that int8rt runs outside it
    after_chain = False
    for la in ours:
        b = block_of(la["name"])
        mine[b][0] += la["ms"]
        mine[b][1].append(la["op"].replace("int8rt.", ""))
        if after_chain and chain_end is None:
            chain_end = b
        after_chain = after_chain or la["op"] == "int8rt.Bf16ImageChain"
    for la in ov:
        theirs[block_of(la["name"])] += la["ms"]
    print("| block | int8rt ms | OV ms | int8rt - OV | int8rt layers |")
    print("|---|---:|---:|---:|---|")
    for b in sorted(set(mine) | set(theirs)):
        label = {-1: "input", 10 ** 6: "head"}.get(b, f"features.{b}")
        ops = ", ".join(sorted(set(mine[b][1])))[:80]
        print(f"| {label} | {mine[b][0]:.3f} | {theirs[b]:.3f} | {mine[b][0] - theirs[b]:+.3f} | {ops} |")
    if chain_end is not None:
        span = [b for b in set(mine) | set(theirs) if 0 <= b <= chain_end]
        a, o = sum(mine[b][0] for b in span), sum(theirs[b] for b in span)
        print(f"| chain (features.0-{chain_end}) | {a:.3f} | {o:.3f} | {a - o:+.3f} | the image chain's blocks |")
    a, o = sum(v[0] for v in mine.values()), sum(theirs.values())
    print(f"| **all** | {a:.3f} | {o:.3f} | {a - o:+.3f} | |")
    for b in args.detail:
        print(f"\nfeatures.{b}, int8rt:")
        for la in ours:
            if block_of(la["name"]) == b:
                print(f"  {la['ms']:7.3f}  {la['op']}  {la['name']}  {la.get('detail', '')[:70]}")
        print(f"features.{b}, OpenVINO:")
        for la in ov:
            if block_of(la["name"]) == b:
                print(f"  {la['ms']:7.3f}  {la['type']}  {la['name']}  {la['exec']}")


if __name__ == "__main__":
    main()
