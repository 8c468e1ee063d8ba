"""Part (c) of calib_bench.py: calibration memory against the number of
batches. Each case runs in a fresh child process (this file run with
``--child``), twice: once for the peak RSS (VmHWM) and the RSS before the
first batch, once for the tracemalloc peak (tracemalloc's own bookkeeping
would inflate the RSS reading).

Cases: int8rt.calib.Collector and ONNX Runtime's HistogramCollector on 8
tensors x 1 MiB per batch; on a small conv net (4x3x64x64 batches)
int8rt.build_engine with IInt8EntropyCalibrator2 and ONNX Runtime's
EntropyCalibrater / MinMaxCalibrater (create_calibrator + collect_data).

Usage: PYTHONPATH=python python3 benchmarks/calib_bench.py --parts c
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from bench_util import load_line, peak_rss_mib, rss_mib  # noqa: E402
from int8rt.calib import Collector  # noqa: E402

MEM_TENSORS = 8
MEM_TENSOR_VALUES = 1 << 18  # 1 MiB of float32 each
MEM_MODEL_BATCH = (4, 3, 64, 64)


def small_convnet(path: Path) -> None:
    """conv3x3(3->32)+relu, conv3x3(32->32)+relu, conv3x3 s2(32->32)+relu,
    global average pool, flatten, gemm(32->10); seeded weights, dynamic batch."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)

    def w(name: str, shape: tuple) -> onnx.TensorProto:
        fan_in = int(np.prod(shape[1:]))
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name)
    inits = [w("w1", (32, 3, 3, 3)), w("w2", (32, 32, 3, 3)), w("w3", (32, 32, 3, 3)),
             w("fc", (10, 32)), numpy_helper.from_array(np.zeros(10, np.float32), "fcb")]
    nodes = [helper.make_node("Conv", ["input", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("GlobalAveragePool", ["r3"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], transB=1)]
    _, c, h, wd = MEM_MODEL_BATCH
    graph = helper.make_graph(
        nodes, "small_convnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, h, wd])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def memory_child(case: str, batches: int, workdir: str, traced: bool) -> dict:
    """Runs one memory case in this (fresh) process; returns peak RSS and the
    RSS before the batches, or (traced) the tracemalloc peak."""
    rng = np.random.default_rng(1)
    model = Path(workdir) / "small_convnet.onnx"

    def tensors() -> dict:
        return {f"t{i}": rng.standard_normal(MEM_TENSOR_VALUES, dtype=np.float32)
                for i in range(MEM_TENSORS)}

    def images() -> np.ndarray:
        return rng.standard_normal(MEM_MODEL_BATCH, dtype=np.float32)

    run: Callable[[], None]
    if case == "int8rt Collector (8 tensors)":
        col = Collector("entropy")

        def run() -> None:
            for _ in range(batches):
                col.observe(tensors())
            col.scales()
    elif case == "onnxruntime HistogramCollector (8 tensors)":
        from onnxruntime.quantization.calibrate import HistogramCollector
        hc = HistogramCollector("entropy", True, 128, 128, 99.999, "same")

        def run() -> None:
            for _ in range(batches):
                hc.collect_value(tensors())
            hc.compute_collection_result()
    elif case == "int8rt build_engine IInt8EntropyCalibrator2":
        class Cal(int8rt.IInt8EntropyCalibrator2):
            def __init__(self) -> None:
                super().__init__()
                self.left = batches

            def get_batch_size(self) -> int:
                return MEM_MODEL_BATCH[0]

            def get_batch(self, names: list) -> Optional[list]:
                if self.left == 0:
                    return None
                self.left -= 1
                return [images()]

        def run() -> None:
            int8rt.build_engine(str(model), int8rt.BuilderConfig(precision="int8",
                                                                 calibrator=Cal()))
    elif case.startswith("onnxruntime ") and case.endswith("Calibrater"):
        from onnxruntime.quantization.calibrate import (CalibrationDataReader,
                                                        CalibrationMethod, create_calibrator)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.left = batches

            def get_next(self) -> Optional[dict]:
                if self.left == 0:
                    return None
                self.left -= 1
                return {"input": images()}
        method = CalibrationMethod.Entropy if "Entropy" in case else CalibrationMethod.MinMax
        cal = create_calibrator(str(model), augmented_model_path=str(Path(workdir) / f"aug_{os.getpid()}.onnx"),
                                calibrate_method=method)

        def run() -> None:
            cal.collect_data(Reader())
            cal.compute_data()
    else:
        raise SystemExit(f"unknown memory case {case!r}")

    base_rss = rss_mib()
    if traced:  # a separate run: tracemalloc's own bookkeeping would inflate the RSS reading
        tracemalloc.start()
    with contextlib.redirect_stdout(io.StringIO()):  # ORT's collect() prints
        run()
    if traced:
        return {"traced_peak": tracemalloc.get_traced_memory()[1] / 2**20}
    return {"base_rss": base_rss, "peak_rss": peak_rss_mib()}


MEM_CASES = ["int8rt Collector (8 tensors)", "onnxruntime HistogramCollector (8 tensors)",
             "int8rt build_engine IInt8EntropyCalibrator2",
             "onnxruntime EntropyCalibrater", "onnxruntime MinMaxCalibrater"]


def part_memory(batch_counts: list) -> None:
    per_batch_model = 4 * int(np.prod(MEM_MODEL_BATCH))
    print(f"\n(c) memory vs number of batches, each case in a fresh process; {load_line()}")
    print(f"  Collector cases: {MEM_TENSORS} tensors x {MEM_TENSOR_VALUES * 4 >> 20} MiB per batch. "
          f"Model cases: small conv net, batches {MEM_MODEL_BATCH} "
          f"({per_batch_model / 2**20:.2f} MiB input; conv activations 2 MiB each)")
    print(f"  {'case':46s} {'batches':>7s} {'RSS before':>10s} {'peak RSS':>9s} "
          f"{'growth':>8s} {'tracemalloc peak':>16s}  (MiB)")
    with tempfile.TemporaryDirectory() as tmp:
        small_convnet(Path(tmp) / "small_convnet.onnx")
        for case in MEM_CASES:
            readings = []
            for n in batch_counts:
                r: dict = {}
                for mode in ("rss", "traced"):
                    out = subprocess.run([sys.executable, __file__, "--child", case, str(n), tmp,
                                          mode], capture_output=True, text=True)
                    if out.returncode != 0:
                        print(f"  {case:46s} {n:7d} FAILED: {out.stderr.strip().splitlines()[-1:]}")
                        break
                    r.update(json.loads(out.stdout.strip().splitlines()[-1]))
                if len(r) != 3:
                    continue
                growth = r["peak_rss"] - r["base_rss"]
                readings.append((n, growth))
                print(f"  {case:46s} {n:7d} {r['base_rss']:10.1f} {r['peak_rss']:9.1f} "
                      f"{growth:8.1f} {r['traced_peak']:16.1f}")
            if len(readings) >= 2:
                (n0, g0), (n1, g1) = readings[0], readings[-1]
                print(f"  {'':46s} -> {(g1 - g0) / (n1 - n0):.3f} MiB of peak RSS per extra batch")


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "--child":
    print(json.dumps(memory_child(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                                  sys.argv[5] == "traced")))
