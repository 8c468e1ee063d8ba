"""Squeeze-and-excitation gates and the output Sigmoid read from int8
(csrc/engine/lower_int8_gates.cc, RESULTS.md section 132): what changes on
the real networks (MobileNetV3, EfficientNet-B0, PP-OCRv4 det; e2e_bench's
subjects), before against after.

``save`` (run once with each tree) builds each network's INT8 engine (the
README's ``IInt8AutoCalibrator``, or TensorRT's entropy calibrator, on
e2e_bench's calibration feeds), writes it to ``DIR/<net>.<tag>.i8rt`` and its
output on the batch-8 evaluation feed to ``DIR/<net>.<tag>.npy``, and prints
the Quantize / Dequantize the build inserted (tensor, reason), the layers
that are not int8 by op, and the output's error against ONNX Runtime FP32
(relative L2, centred cosine). ``compare`` says whether two tags' outputs
are the same bytes. ``time`` loads both tags' engine files into this
process (the engine file holds the lowered graph: the base engine keeps its
Dequantize + float gate layers) and times them alternating with OpenVINO
INT8 (NNCF defaults, e2e_bench's cached model), 1 thread, CPU time, medians.
``profile`` sums both engines' per-layer thread CPU time by the ops the
change touches (Dequantize, the float gates and output Sigmoid,
QChannelMul, QLutFloat) and over all layers.

    PYTHONPATH=build/base_src/python python benchmarks/sei8_se_gates.py save --tag base --dir /tmp/sei8
    PYTHONPATH=python python benchmarks/sei8_se_gates.py save --tag new --dir /tmp/sei8
    PYTHONPATH=python python benchmarks/sei8_se_gates.py compare --tags base new --dir /tmp/sei8
    PYTHONPATH=python python benchmarks/sei8_se_gates.py time --tags base new --dir /tmp/sei8 --batches 1 8
    PYTHONPATH=python python benchmarks/sei8_se_gates.py profile --tags base new --dir /tmp/sei8 --rounds 5
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_bench as B  # noqa: E402
import int8rt  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from int8rt.accuracy import metrics as M  # noqa: E402
from realnets import engines as E  # noqa: E402

NETS = ["mobilenet_v3", "efficientnet_b0", "ppocr_det"]
EVAL_BATCH = 8


def subject(name: str, models: Path) -> B.Subject:
    s = B.subject(name, 224, models)
    if s is None:
        raise SystemExit(f"{name}: not available here")
    return s


def save(args: argparse.Namespace) -> None:
    models = args.dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name in args.nets:
        s = subject(name, models)
        cal = B.CALIBRATORS[args.calibrator](s.calib_feeds)
        t0 = time.process_time()
        engine = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(precision="int8", calibrator=cal))
        build_s = time.process_time() - t0
        engine.save(str(args.dir / f"{name}.{args.tag}.i8rt"))
        x = s.feed(EVAL_BATCH)
        y = engine.run(x)[engine.output_names[0]]
        np.save(args.dir / f"{name}.{args.tag}.npy", y)
        ref = E.ort_session(s.onnx_path.read_bytes(), 1).run(None, x)[0]
        plan = engine.int8_plan()
        converts = [(c.op.split(".")[-1], c.tensor, c.reason) for c in plan.converts]
        not_int8 = Counter(layer["op"] for layer in engine.layers() if not layer["op"].startswith("int8rt."))
        print(f"\n{name} [{args.tag}, {args.calibrator}] build {build_s:.1f} s CPU; layers {len(engine.layers())}; "
              f"Quantize {sum(c[0] == 'Quantize' for c in converts)}, "
              f"Dequantize {sum(c[0] == 'Dequantize' for c in converts)}")
        for op, tensor, reason in converts:
            print(f"  {op:10s} {tensor}: {reason}")
        print(f"  layers not int8: {dict(not_int8) or 'none'}")
        print(f"  vs ORT FP32 on the batch-{EVAL_BATCH} evaluation feed: relative L2 {M.relative_l2(ref, y):.6f}, "
              f"centred cosine {M.centred_cosine(ref, y):.6f}")


def compare(args: argparse.Namespace) -> None:
    a, b = args.tags
    for name in args.nets:
        ya, yb = (np.load(args.dir / f"{name}.{t}.npy") for t in (a, b))
        same = ya.shape == yb.shape and ya.tobytes() == yb.tobytes()
        diff = float(np.abs(ya.astype(np.float64) - yb).max()) if ya.shape == yb.shape else float("nan")
        print(f"{name}: {a} vs {b} outputs {'the same bytes' if same else f'differ (max |diff| {diff:.3g})'}")


def ov_int8(s: B.Subject, models: Path) -> None:
    """OpenVINO INT8 of s (e2e_bench's build; its cached model when
    /tmp/e2eall/models has one for these ONNX bytes)."""
    import hashlib
    key = hashlib.sha1(s.onnx_path.read_bytes()).hexdigest()[:12]
    for ext in ("xml", "bin"):
        cached = Path("/tmp/e2eall/models") / f"{s.name}.{key}.ov_int8.{ext}"
        if cached.exists() and not (models / cached.name).exists():
            shutil.copy(cached, models / cached.name)
    B.build(s, models, impls=["OV int8"])


def time_engines(args: argparse.Namespace) -> None:
    print(machine_line())
    models = args.dir / "models"
    int8rt.set_num_threads(1)
    for name in args.nets:
        s = subject(name, models)
        ov_int8(s, models)
        for batch in args.batches:
            run = B.runners(s, 1, batch)  # OV INT8 and ORT FP32 (engines: none added to s)
            x = s.feed(batch)
            impls = {"OV int8": (lambda f=run["OV int8"]: f(x))} if "OV int8" in run else {}
            for tag in args.tags:
                ctx = int8rt.Engine.load(str(args.dir / f"{name}.{tag}.i8rt")).create_execution_context()
                impls[f"int8rt {tag}"] = lambda c=ctx: c.run(x)
            med = time_alternating(impls, args.rounds, args.min_time, clock=time.process_time)
            base = med[f"int8rt {args.tags[0]}"]
            print(f"\n{name} batch {batch} 1 thread, median CPU ms ({load_line()})")
            for impl, sec in med.items():
                line = f"  {impl:14s} {sec * 1e3:9.3f}  {sec / base:5.3f}x {args.tags[0]}"
                if impl != "OV int8" and "OV int8" in med:
                    line += f"  OV int8 / this {med['OV int8'] / sec:5.3f}"
                print(line)


#: The layers the change touches: the base engine's Dequantize and float
#: gate / output Sigmoid layers, and both engines' QChannelMul / QLutFloat.
TOUCHED = ("int8rt.Dequantize", "HardSigmoid", "Sigmoid", "int8rt.QChannelMul", "int8rt.QLutFloat")


def profile_engines(args: argparse.Namespace) -> None:
    """Per-layer thread CPU time of both engines (Engine.profile, 1 thread),
    the two profiled in turn `rounds` times: medians of the sums by op."""
    int8rt.set_num_threads(1)
    models = args.dir / "models"
    for name in args.nets:
        s = subject(name, models)
        engines = {tag: int8rt.Engine.load(str(args.dir / f"{name}.{tag}.i8rt")).create_execution_context()
                   for tag in args.tags}
        for batch in args.batches:
            x = s.feed(batch)
            sums: dict = {tag: {} for tag in args.tags}
            for _ in range(args.rounds):
                for tag, e in engines.items():
                    rows = e.profile(x, runs=5, clock="thread_cpu")
                    by_op = Counter()
                    for r in rows:
                        by_op[r["op"] if r["op"] in TOUCHED else "other"] += r["ms"]
                    by_op["all layers"] = sum(r["ms"] for r in rows)
                    for op, ms in by_op.items():
                        sums[tag].setdefault(op, []).append(ms)
            print(f"\n{name} batch {batch}: per-layer thread CPU ms, medians of {args.rounds} profiles of 5 runs "
                  f"({load_line()})")
            ops = sorted({op for t in sums.values() for op in t})
            for op in ops:
                cells = "  ".join(f"{tag} {np.median(sums[tag][op]) if op in sums[tag] else 0.0:8.3f}"
                                  for tag in args.tags)
                print(f"  {op:20s} {cells}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["save", "compare", "time", "profile"])
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--tag", default="new")
    p.add_argument("--tags", nargs=2, default=["base", "new"])
    p.add_argument("--nets", nargs="+", default=NETS)
    p.add_argument("--calibrator", choices=sorted(B.CALIBRATORS), default="auto")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--min-time", type=float, default=0.5)
    args = p.parse_args()
    print(f"{' '.join(sys.argv)}  ({load_line()})")
    {"save": save, "compare": compare, "time": time_engines, "profile": profile_engines}[args.what](args)


if __name__ == "__main__":
    main()
