"""Times int8rt's KL threshold search on one 2048-bin histogram, and ONNX
Runtime's own entropy search on the same histogram, in one process.

int8rt: ``entropy`` (TensorRT EntropyCalibration2, the fast prefix-sum
search) and ``entropy_legacy`` (the MXNet-style smoothed search, the same
algorithm family as ONNX Runtime's), each with 1 and with 2 threads.

ONNX Runtime: ``HistogramCollector.get_entropy_threshold`` from
onnxruntime.quantization.calibrate (read from the installed source: it takes
a signed histogram centred on zero). It gets the same histogram mirrored into
the symmetric 4095-bin form it expects (bins -2047..2047 of the same width,
the |x| counts on both sides) with num_quantized_bins=255, so its candidates
are the same 1921 thresholds (bins 127..2047 from the centre) as int8rt's
128..2048 over 128 magnitude levels.

Runs alternate (int8rt, ONNX Runtime, int8rt, ...); each side reports the
median of its runs, and the ratio of medians. Usage:
    PYTHONPATH=python python3 benchmarks/kl_bench.py [--rounds 5] [--samples 1000000]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import int8rt
from bench_util import machine_line  # benchmarks/ is on sys.path when run as a script
from int8rt import _core

NUM_BINS = 2048


def make_histogram(samples: int, seed: int) -> tuple[np.ndarray, float, float]:
    """A 2048-bin |x| histogram of Gaussian data (int8rt's binning rule)."""
    x = np.abs(np.random.default_rng(seed).standard_normal(samples).astype(np.float32))
    max_abs = np.float32(x.max())
    width = np.float32(max_abs / np.float32(NUM_BINS))
    idx = np.minimum(NUM_BINS - 1, (x * (np.float32(1) / width)).astype(np.int64))
    return np.bincount(idx, minlength=NUM_BINS).astype(np.uint64), float(width), float(max_abs)


def time_call(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls of fn()."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ort_search(counts: np.ndarray, width: float, max_abs: float):
    """ONNX Runtime's entropy search on the mirrored histogram, or None if not installed."""
    try:
        from onnxruntime.quantization.calibrate import HistogramCollector
    except ImportError:
        return None
    signed = np.concatenate([counts[:0:-1], counts[:1], counts[1:]]).astype(np.int64)
    n = len(signed)  # 4095, zero bin at index 2047
    edges = ((np.arange(n + 1, dtype=np.float64) - (n // 2) - 0.5) * width).astype(np.float32)
    collector = HistogramCollector(method="entropy", symmetric=True, num_bins=n,
                                   num_quantized_bins=255, percentile=99.999, scenario="same")
    histogram = (signed, edges, np.float32(-max_abs), np.float32(max_abs))
    return lambda: collector.get_entropy_threshold(histogram, 255)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--repeats", type=int, default=20, help="int8rt calls per round")
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()

    print(machine_line())  # other jobs share the machine: the load average says how much
    counts, width, max_abs = make_histogram(args.samples, seed=0)
    ort = ort_search(counts, width, max_abs)
    saved = int8rt.get_num_threads()
    configs = [(m, t) for m in ("entropy", "entropy_legacy") for t in (1, 2)]
    results: dict[str, list[float]] = {f"int8rt {m} {t}T": [] for m, t in configs}
    results["onnxruntime get_entropy_threshold"] = []
    for _ in range(args.rounds):
        for method, threads in configs:
            int8rt.set_num_threads(threads)
            results[f"int8rt {method} {threads}T"].append(time_call(
                lambda: _core._amax_from_counts(counts, width, max_abs, method), args.repeats))
        if ort is not None:
            results["onnxruntime get_entropy_threshold"].append(time_call(ort, 1))
    int8rt.set_num_threads(saved)

    print(f"2048-bin |x| histogram of {args.samples} Gaussian samples; "
          f"{args.rounds} alternating rounds (int8rt: median of {args.repeats} calls per round)")
    medians = {k: statistics.median(v) for k, v in results.items() if v}
    for name, sec in medians.items():
        print(f"  {name:38s} {sec * 1e3:10.3f} ms")
    if ort is None:
        print("  onnxruntime not installed: pip install onnxruntime")
        return
    ort_ms = medians["onnxruntime get_entropy_threshold"]
    for name, sec in medians.items():
        if name.startswith("int8rt"):
            print(f"  onnxruntime / {name:28s} {ort_ms / sec:10.1f}x")
    print(f"  thresholds: int8rt entropy {_core._amax_from_counts(counts, width, max_abs, 'entropy'):.6f}"
          f", entropy_legacy {_core._amax_from_counts(counts, width, max_abs, 'entropy_legacy'):.6f}"
          f", onnxruntime {float(ort()[1]):.6f}")


if __name__ == "__main__":
    main()
