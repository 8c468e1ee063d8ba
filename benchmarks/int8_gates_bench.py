"""What int8_gates changes on squeeze-and-excitation networks: layers by
precision, output agreement with int8rt FP32 and CPU time, int8_gates off
against on (the default since 2026-12-03), in one process.

Network: one of e2e_bench.py's (default efficientnet_b0; mobilenet_v3 has
hardswish gates), entropy calibration on e2e_bench's 4 x 8 Gaussian batches.
Agreement: over 32 held-out Gaussian images (seed 5), the mean per image of
the centred cosine (each output row minus its mean) with int8rt FP32, the
relative L2 error and top-1 agreement. Time: process CPU time per run (1
thread, so other jobs' share of the core does not count), medians of 9 runs
alternating between the two engines, batch 1 and 8.

Usage: cd /tmp && PYTHONPATH=<tree>/python python3 <tree>/benchmarks/int8_gates_bench.py [network]
"""
from __future__ import annotations

import statistics
import sys
import time
import warnings
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402


def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the cosine of the rows minus their means."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "efficientnet_b0"
    warnings.simplefilter("ignore")
    int8rt.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        s = B.subject(name, 224, Path(d))
        fp32 = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="fp32"))
        eng = {}
        for g in (False, True):
            eng[g] = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(
                precision="int8", calibrator=B.Calibrator(s.calib), int8_gates=g))
            kinds: dict = {}
            for layer in eng[g].layers():
                kinds[layer.get("precision", "?")] = kinds.get(layer.get("precision", "?"), 0) + 1
            print(f"{name} int8_gates={g}: layers by precision {kinds}")
    xe = np.random.default_rng(5).standard_normal((32, 3, 224, 224), dtype=np.float32)

    def outputs(e: object) -> np.ndarray:
        return np.concatenate([e.run({s.input_name: xe[i:i + 8]})[e.output_names[0]] for i in range(0, 32, 8)])

    ref = outputs(fp32)
    for g, e in eng.items():
        y = outputs(e)
        print(f"{name} int8_gates={g}: centred cosine vs int8rt FP32 (mean over 32 held-out images) "
              f"{centred_cosine(y, ref):.4f}, rel L2 {np.linalg.norm(y - ref) / np.linalg.norm(ref):.3f}, "
              f"top-1 agreement {np.mean(y.argmax(1) == ref.argmax(1)):.3f}")
    for b in (1, 8):
        x = s.inputs(b)
        ctx = {g: e.create_execution_context() for g, e in eng.items()}
        samples: dict = {g: [] for g in eng}
        for g in eng:
            ctx[g].run({s.input_name: x})
        for _ in range(9):
            for g in eng:
                c0 = time.process_time()
                ctx[g].run({s.input_name: x})
                samples[g].append(time.process_time() - c0)
        print(f"{name} batch {b}: CPU ms per run, int8_gates False {statistics.median(samples[False]) * 1e3:.2f}, "
              f"True {statistics.median(samples[True]) * 1e3:.2f}")


if __name__ == "__main__":
    main()
