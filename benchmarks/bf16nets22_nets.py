"""BF16 end to end on the CNNs never compared with OpenVINO bf16 off AMX
(issue 13 §4, RESULTS.md section 255): int8rt's FP32 + bf16 engine
(``BuilderConfig(precision="fp32", bf16=True)``, channel-blocked regions as
built by default) against OpenVINO with INFERENCE_PRECISION_HINT=bf16
compiled for the timed static shape, on e2e_bench.py's networks
(e2e_subjects.subject: EfficientNet-B0 / Lite0, MobileNetV3-Large at
224 x 224, PP-OCRv4 det at 3x320x320 and rec at 3x48x320, ResNet-50 /
MobileNetV2 as a check). 1 thread; the two alternated in one process
(bench_util.time_alternating), medians of the process CPU time per call,
PASSES passes of ROUNDS rounds each, OV / int8rt per pass. Accuracy: each
output's relative L2 error against int8rt FP32's on the timed batch. The
int8rt engine's layer count per precision and its BF16 convs' kernels are
printed per network, so a layer left in FP32 shows.

Usage: PYTHONPATH=python python benchmarks/bf16nets22_nets.py \
           [--nets efficientnet_b0 efficientnet_lite0 mobilenet_v3 ppocr_det ppocr_rec] \
           [--batches 1 8] [--passes 2] [--rounds 7] [--min-time 0.3] [--models-dir /tmp/bf16nets22/models]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import e2e_feeds as F  # noqa: E402
from amxbf16_nets import kernels_of  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from e2e_subjects import subject  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402

NETS = ["efficientnet_b0", "efficientnet_lite0", "mobilenet_v3", "ppocr_det", "ppocr_rec"]


def build(path: Path, bf16: bool):
    with contextlib.redirect_stdout(io.StringIO()):
        return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=bf16))


def precisions(engine) -> str:
    return ", ".join(f"{p} {n}" for p, n in sorted(Counter(la["precision"] for la in engine.layers()).items()))


def rel_l2(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=NETS)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--models-dir", default=None)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}; {O.versions()}; {load_line()}")
    tmp = Path(args.models_dir or tempfile.mkdtemp())
    tmp.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.nets:
        s = subject(name, 224, tmp)
        if s is None:
            continue
        engine, fp32 = build(s.onnx_path, True), build(s.onnx_path, False)
        print(f"\n{name}: int8rt bf16 layers {precisions(engine)}; BF16 conv kernels: {kernels_of(engine)}")
        ov_model = O.load(s.onnx_path)
        for batch in args.batches:
            feed = s.feed(batch)
            ours = F.int8rt_runner(engine)
            compiled = O.compile_model(F.ov_static(ov_model, feed), 1, "bf16")
            ov = F.ov_runner(compiled)
            want = F.int8rt_runner(fp32)(feed)
            errs = (rel_l2(ours(feed), want), rel_l2(ov(feed), want))
            if batch == args.batches[0]:
                print(f"{name}: OV bf16 {O.describe(compiled)}")
            for p in range(args.passes):
                med = time_alternating({"int8rt bf16": lambda: ours(feed), "OV bf16": lambda: ov(feed)},
                                       args.rounds, args.min_time, clock=time.process_time)
                a, b = med["int8rt bf16"], med["OV bf16"]
                row = (f"| {name} | {batch} | {p + 1} | {a * 1e3:.2f} | {b * 1e3:.2f} | {b / a:.3f} | "
                       f"{errs[0]:.2e} / {errs[1]:.2e} | {load_line()} |")
                rows.append(row)
                print(row, flush=True)
    print("\ncolumns: network | batch | pass | int8rt bf16 CPU ms | OV bf16 CPU ms | OV / int8rt | "
          "rel. L2 vs int8rt FP32 (int8rt / OV) | load after")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
