"""Calibration: int8rt against ONNX Runtime's own calibration code
(onnxruntime.quantization.calibrate / quantize_static), same data, one
process, implementations alternating, medians and ratios.

(a) KL threshold search on one 2048-bin |x| histogram: int8rt's
    EntropyCalibration2 search (1 and 2 threads) vs ONNX Runtime's
    HistogramCollector.get_entropy_threshold on the same histogram mirrored
    into the signed form it takes (see kl_bench.py, whose helpers this uses).
(b) Histogram collection of 1M float32 values per batch: int8rt
    Histogram.collect (1 and 2 threads) vs HistogramCollector.collect_value
    (the entropy path) and collect_absolute_value (the percentile path).
(c) Memory against the number of batches, each case in a fresh child
    process (calib_memory.py; peak RSS = VmHWM, and in a second run the tracemalloc peak):
    int8rt.calib.Collector on 8 tensors x 1 MiB per batch, ONNX Runtime's
    HistogramCollector fed the same way, and on a small conv net
    (4x3x64x64 batches) int8rt.build_engine with IInt8EntropyCalibrator2 vs
    ONNX Runtime's EntropyCalibrater and MinMaxCalibrater (collect_data).
    Read from onnxruntime/quantization/calibrate.py: HistogramCalibrater.
    collect_data appends every batch's outputs of the augmented model (every
    float tensor) to self.intermediate_outputs and only histograms them
    after the reader is exhausted; MinMaxCalibrater keeps each batch's
    ReduceMin/ReduceMax outputs (small) plus the model's own outputs.
(d) End-to-end calibration of the bundled digits CNN on its 256 calibration
    images (8 batches of 32): int8rt.build_engine (IInt8EntropyCalibrator2,
    IInt8MinMaxCalibrator) vs quantize_static (QDQ, CalibrationMethod.Entropy
    and MinMax, ONNX Runtime's defaults otherwise); held-out top-1 of each.

Usage: PYTHONPATH=python python3 benchmarks/calib_bench.py
       [--parts a b c d] [--rounds 7] [--mem-batches 10 100]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import (alternating_samples, load_line, machine_line,  # noqa: E402
                        time_alternating)
from int8rt.calib import Histogram  # noqa: E402
from calib_memory import part_memory  # noqa: E402
from kl_bench import make_histogram, ort_search  # noqa: E402

DATA = HERE.parent / "python" / "int8rt" / "data"


def row(name: str, ms: float, extra: str = "", best: Optional[float] = None) -> None:
    fastest = f"(min {best:9.3f})" if best is not None else ""
    print(f"  {name:50s} {ms:10.3f} ms {fastest:15s} {extra}")


def medians(samples: Dict[str, list]) -> Dict[str, float]:
    return {k: float(np.median(v)) for k, v in samples.items()}


# ---------------------------------------------------------------- (a) KL search

def part_kl(rounds: int) -> None:
    """int8rt vs two forms of ONNX Runtime's search: kl_bench's mirror of the
    same |x| histogram (4095 signed bins, 255 levels: the same 1921
    candidates as int8rt), and ORT's own signed 2048-bin histogram of the
    same values with its default num_quantized_bins=128 (~960 candidates)."""
    from onnxruntime.quantization.calibrate import HistogramCollector
    counts, width, max_abs = make_histogram(1_000_000, seed=0)
    hist = Histogram.from_counts(counts, width, max_abs)
    mirrored = ort_search(counts, width, max_abs)
    x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)
    native = HistogramCollector("entropy", True, 2048, 128, 99.999, "same")
    native.collect_value({"t": x})
    native_hist = native.get_histogram_dict()["t"]

    def ours(threads: int) -> Callable[[], float]:
        def run() -> float:
            int8rt.set_num_threads(threads)
            return hist.compute_amax("entropy")
        return run

    mirror_name = "ORT get_entropy_threshold, mirrored (1921 cand.)"
    native_name = "ORT get_entropy_threshold, own 2048 bins/128"
    impls: Dict[str, Callable[[], object]] = {
        "int8rt entropy 1T": ours(1), "int8rt entropy 2T": ours(2), mirror_name: mirrored,
        native_name: lambda: native.get_entropy_threshold(native_hist, 128)}
    print(f"\n(a) KL threshold search, 2048-bin |x| histogram of 1M Gaussian values; "
          f"{rounds} alternating rounds, int8rt called 20 times per round; {load_line()}")
    samples = alternating_samples(impls, rounds, repeats={"int8rt entropy 1T": 20,
                                                          "int8rt entropy 2T": 20})
    med = medians(samples)
    for name, sec in med.items():
        extra = ""
        if name.startswith("int8rt"):
            extra = (f"ORT mirrored / int8rt = {med[mirror_name] / sec:7.1f}x, "
                     f"ORT own / int8rt = {med[native_name] / sec:7.1f}x")
        row(name, sec * 1e3, extra, min(samples[name]) * 1e3)
    int8rt.set_num_threads(2)
    print(f"  thresholds: int8rt {hist.compute_amax('entropy'):.6f}, ORT mirrored "
          f"{float(mirrored()[1]):.6f}, ORT own {float(impls[native_name]()[1]):.6f} "
          f"(different level counts: 128 vs 255 vs 128 over a signed range)")


# ------------------------------------------------------------ (b) collection

def part_collect(rounds: int, n: int) -> None:
    from onnxruntime.quantization.calibrate import HistogramCollector
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    hists = {t: Histogram(2048) for t in (1, 2)}
    ort_entropy = HistogramCollector("entropy", True, 2048, 128, 99.999, "same")
    ort_pct = HistogramCollector("percentile", True, 2048, 128, 99.999, "same")

    def ours(threads: int) -> Callable[[], None]:
        def run() -> None:
            int8rt.set_num_threads(threads)
            hists[threads].collect(x)
        return run

    impls = {"int8rt Histogram.collect 1T": ours(1),
             "int8rt Histogram.collect 2T": ours(2),
             "onnxruntime collect_value (entropy path)": lambda: ort_entropy.collect_value({"t": x}),
             "onnxruntime collect_absolute_value (percentile)":
                 lambda: ort_pct.collect_absolute_value({"t": x})}
    print(f"\n(b) histogram collection of {n} float32 values per batch, 2048 bins; "
          f"{rounds} alternating rounds; {load_line()}")
    samples = alternating_samples(impls, rounds)
    med = medians(samples)
    for name, sec in med.items():
        extra = ""
        if name.startswith("int8rt"):
            threads = int(name[-2])
            extra = (f"{sec * 1e3 * threads:7.3f} core-ms; ORT entropy / int8rt = "
                     f"{med['onnxruntime collect_value (entropy path)'] / sec:6.1f}x, "
                     f"ORT percentile / int8rt = "
                     f"{med['onnxruntime collect_absolute_value (percentile)'] / sec:6.1f}x")
        row(name, sec * 1e3, extra, min(samples[name]) * 1e3)
    int8rt.set_num_threads(2)


# ------------------------------------------------------------ (d) end to end

def part_e2e(rounds: int) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          quantize_static)
    import onnxruntime as ort
    import logging
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's pre-processing advice
    ort.set_default_logger_severity(3)  # its unused-initializer warnings
    data = np.load(DATA / "digits.npz")
    calib, test_x, test_y = data["calib"], data["test_x"], data["test_y"]
    model = DATA / "digits_cnn.onnx"
    batches = [calib[i:i + 32] for i in range(0, len(calib), 32)]
    built: Dict[str, object] = {}

    def int8rt_build(base: type, label: str) -> Callable[[], None]:
        class Cal(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                super().__init__()
                self.it = iter(batches)

            def get_batch_size(self) -> int:
                return 32

            def get_batch(self, names: list) -> Optional[list]:
                b = next(self.it, None)
                return None if b is None else [b]

        def run() -> None:
            built[label] = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8",
                                                                          calibrator=Cal()))
        return run

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self) -> Optional[dict]:
            b = next(self.it, None)
            return None if b is None else {"input": b}

    tmp = tempfile.TemporaryDirectory()

    def ort_build(method: "CalibrationMethod", label: str) -> Callable[[], None]:
        out = Path(tmp.name) / f"{label.split()[-1]}.onnx"

        def run() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(str(model), str(out), Reader(), quant_format=QuantFormat.QDQ,
                                calibrate_method=method)
            built[label] = out
        return run

    impls = {"int8rt build_engine IInt8EntropyCalibrator2": int8rt_build(
                 int8rt.IInt8EntropyCalibrator2, "int8rt build_engine IInt8EntropyCalibrator2"),
             "int8rt build_engine IInt8MinMaxCalibrator": int8rt_build(
                 int8rt.IInt8MinMaxCalibrator, "int8rt build_engine IInt8MinMaxCalibrator"),
             "onnxruntime quantize_static Entropy": ort_build(
                 CalibrationMethod.Entropy, "onnxruntime quantize_static Entropy"),
             "onnxruntime quantize_static MinMax": ort_build(
                 CalibrationMethod.MinMax, "onnxruntime quantize_static MinMax")}
    print(f"\n(d) end-to-end calibration + build of digits_cnn.onnx on {len(calib)} images "
          f"(8 batches of 32), {rounds} alternating rounds, all cores; {load_line()}")
    med = time_alternating(impls, rounds)
    ref = med["int8rt build_engine IInt8EntropyCalibrator2"]
    for name, sec in med.items():
        if name.startswith("int8rt"):
            top1 = built[name].create_execution_context().run({"input": test_x})["logits"]
        else:
            sess = ort.InferenceSession(str(built[name]), providers=["CPUExecutionProvider"])
            top1 = sess.run(None, {"input": test_x})[0]
        acc = float(np.mean(np.argmax(top1, axis=1) == test_y) * 100)
        row(name, sec * 1e3, f"top-1 {acc:5.2f}%   time / int8rt entropy2 = {sec / ref:5.2f}x")
    tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", nargs="+", default=["a", "b", "c", "d"], choices="abcd")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds (a, d)")
    ap.add_argument("--collect-rounds", type=int, default=41, help="alternating rounds (b)")
    ap.add_argument("--n", type=int, default=1 << 20, help="values per collected batch (b)")
    ap.add_argument("--mem-batches", type=int, nargs="+", default=[10, 100])
    args = ap.parse_args()
    import onnxruntime
    print(machine_line())
    print(f"int8rt {int8rt.__version__} (ISA {int8rt.get_max_isa()}), "
          f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}")
    saved = int8rt.get_num_threads()
    if "a" in args.parts:
        part_kl(args.rounds)
    if "b" in args.parts:
        part_collect(args.collect_rounds, args.n)
    int8rt.set_num_threads(saved)
    if "c" in args.parts:
        part_memory(args.mem_batches)
    if "d" in args.parts:
        part_e2e(args.rounds)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
