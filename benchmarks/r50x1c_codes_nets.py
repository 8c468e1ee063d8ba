"""Whole networks, two int8rt trees in turn (RESULTS.md section 212): the
activation-coding rule of engine/ops/int8/u8_codes.h (int8 codes where every
conv end of a tensor runs on AMX) against a base tree's rule, timed and
checked for accuracy on the same saved engines.

`--save DIR` builds each network's INT8 engine once with the auto calibrator
(e2e_bench.build, what `e2e_bench.py --calibrator auto` times) and saves it with
the batch-8 evaluation feed (e2e_bench's seeded Gaussian images) and ONNX
Runtime FP32's outputs on it. Kernels and codes are chosen at load, so both
trees run the same engine bytes.

The parent then runs `--pairs` pairs of child processes (this script's
--child form), one per tree (this one's python/ and --against), the order
swapped every pair; each child loads every engine, counts the layers holding
u8 codes, and times per batch (`--batches`) `--rounds` runs of the process CPU
after one warm-up (the median). Printed per network and batch: the medians
over the pairs of each tree's medians and this / base (< 1: this tree
faster); per network whether both trees' outputs are the same bytes and the
INT8 output against FP32 at batch 8 (centred cosine, int8rt.accuracy.metrics;
top-1 agreement over the 8 images).

Usage:
    PYTHONPATH=python python benchmarks/r50x1c_codes_nets.py --save /tmp/r50x1c/nets --models-dir /tmp/e2eamx/models
    PYTHONPATH=python python benchmarks/r50x1c_codes_nets.py --dir /tmp/r50x1c/nets --against /tmp/base/python \\
        --pairs 4 --rounds 7 --batches 1 8
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
NETS = ("resnet50", "mobilenet_v2", "efficientnet_b0")


def save(d: Path, models_dir: Path, nets: list[str]) -> None:
    sys.path.insert(0, str(HERE.parent))
    import onnxruntime as ort

    import e2e_bench as B
    for net in nets:
        s = B.subject(net, 224, models_dir)
        B.build(s, models_dir, ["int8rt int8"], "auto")
        if s.errors:
            raise SystemExit(f"{net}: build failed: {s.errors}")
        out = d / net
        out.mkdir(parents=True, exist_ok=True)
        (out / "engine.i8rt").write_bytes(s.engines["int8rt int8"].serialize())
        x = s.inputs(8)
        np.save(out / "x8.npy", x)
        (out / "input_name").write_text(s.input_name)
        sess = ort.InferenceSession(str(s.onnx_path), providers=["CPUExecutionProvider"])
        np.save(out / "fp32_y8.npy", sess.run(None, {s.input_name: x})[0])


def child(d: Path, nets: list[str], batches: list[int], rounds: int) -> dict:
    import int8rt
    from int8rt.accuracy import metrics as M
    int8rt.set_num_threads(1)
    res: dict = {}
    for net in nets:
        nd = d / net
        engine = int8rt.Engine.load(nd / "engine.i8rt")
        name = (nd / "input_name").read_text().strip()
        x8 = np.load(nd / "x8.npy")
        ctx = engine.create_execution_context()
        u8 = sum("u8 codes" in layer["detail"] for layer in engine.layers())
        y8 = np.asarray(list(ctx.run({name: x8}).values())[0])
        ref = np.load(nd / "fp32_y8.npy")
        r = {"u8_layers": u8, "digest": hashlib.sha256(y8.tobytes()).hexdigest()[:16],
             "cos": float(M.centred_cosine(ref, y8)),
             "top1": float(np.mean(ref.reshape(8, -1).argmax(1) == y8.reshape(8, -1).argmax(1)))}
        for b in batches:
            feed = {name: np.ascontiguousarray(x8[:b])}
            ctx.run(feed)
            ts = []
            for _ in range(rounds):
                t0 = time.process_time()
                ctx.run(feed)
                ts.append(1e3 * (time.process_time() - t0))
            r[f"b{b}"] = float(np.median(ts))
        res[net] = r
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eamx/models"))
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--against", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--nets", nargs="+", default=list(NETS))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.save:
        save(args.save, args.models_dir, args.nets)
        return
    if args.child:
        print(json.dumps(child(args.dir, args.nets, args.batches, args.rounds)))
        return
    trees = {"this": str(HERE.parent.parent / "python"), "base": str(args.against)}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    load0 = os.getloadavg()[0]
    for i in range(args.pairs):
        for k in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            cmd = [sys.executable, str(HERE), "--child", "--dir", str(args.dir), "--rounds", str(args.rounds),
                   "--nets", *args.nets, "--batches", *map(str, args.batches)]
            env = dict(os.environ, PYTHONPATH=trees[k])
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            runs[k].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.pairs} pairs of {args.rounds} runs (process CPU ms, medians); load {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print("| network | batch | base ms | this ms | this / base | u8-coded layers base / this |")
    print("|---|---:|---:|---:|---:|---:|")
    for net in args.nets:
        for b in args.batches:
            x, y = (float(np.median([r[net][f"b{b}"] for r in runs[k]])) for k in ("base", "this"))
            print(f"| {net} | {b} | {x:.2f} | {y:.2f} | {y / x:.3f} | "
                  f"{runs['base'][0][net]['u8_layers']} / {runs['this'][0][net]['u8_layers']} |")
    for net in args.nets:
        a, b = runs["base"][0][net], runs["this"][0][net]
        print(f"{net}: outputs the same bytes in both trees: {a['digest'] == b['digest']}; INT8 vs FP32 at b8: "
              f"centred cosine base {a['cos']:.5f} / this {b['cos']:.5f}, top-1 agreement {a['top1']:.3f} / "
              f"{b['top1']:.3f}")


if __name__ == "__main__":
    main()
