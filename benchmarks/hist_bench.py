"""Histogram collect speed: int8rt.calib.Histogram vs ONNX Runtime's
HistogramCollector, in one process, alternating, medians and ratio; plus
int8rt's memory across many batches (streaming: RSS must not grow).

Usage: PYTHONPATH=python python3 benchmarks/hist_bench.py [--n 1048576] [--runs 31]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import numpy as np

import int8rt
from bench_util import machine_line  # benchmarks/ is on sys.path when run as a script
from int8rt.calib import Histogram


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--runs", type=int, default=31)
    ap.add_argument("--bins", type=int, default=2048)
    args = ap.parse_args()
    print(machine_line())  # other jobs share the machine: the load average says how much
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n).astype(np.float32)
    x16 = x.astype(np.float16)
    xt = rng.standard_normal((1024, args.n // 1024)).astype(np.float32).T  # strided view

    try:
        from onnxruntime.quantization.calibrate import HistogramCollector
    except ImportError:
        HistogramCollector = None

    before = int8rt.get_num_threads()
    print(f"collect of {args.n} values, {args.bins} bins, median of {args.runs} runs (ms)")
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        cases = {"float32": x, "float16": x16, "float32 transposed": xt}
        for label, data in cases.items():
            h = Histogram(args.bins)
            h.collect(data)
            ours = [time_once(lambda: h.collect(data)) for _ in range(args.runs)]
            print(f"  int8rt {label:<19} threads={threads}: {statistics.median(ours):8.3f}")
    int8rt.set_num_threads(before)

    if HistogramCollector is not None:
        import onnxruntime
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            for method, attr in (("entropy", "collect_value"),
                                 ("percentile", "collect_absolute_value")):
                ort = HistogramCollector(method, True, args.bins, 128, 99.99, "same")
                h = Histogram(args.bins)
                ort_fn = getattr(ort, attr)
                ort_fn({"t": x})
                h.collect(x)
                ours, theirs = [], []
                with contextlib.redirect_stdout(io.StringIO()):
                    for _ in range(args.runs):  # alternating, same data, same process
                        theirs.append(time_once(lambda: ort_fn({"t": x})))
                        ours.append(time_once(lambda: h.collect(x)))
                a, b = statistics.median(ours), statistics.median(theirs)
                print(f"  onnxruntime {onnxruntime.__version__} HistogramCollector.{attr}: "
                      f"ORT {b:.3f} ms, int8rt {a:.3f} ms (threads={threads}), "
                      f"ORT/int8rt = {b / a:.1f}x")
        int8rt.set_num_threads(before)
    else:
        print("  onnxruntime not installed: no comparison")

    h = Histogram(args.bins)
    batch = np.empty(args.n, np.float32)
    h.collect(x)
    start = rss_mib()
    for i in range(200):
        rng.standard_normal(out=batch, dtype=np.float32)
        batch *= 1 + i / 50  # growing range: extend appends bins
        h.collect(batch)
    end = rss_mib()
    print(f"RSS over 200 batches of {args.n} values: {start:.1f} -> {end:.1f} MiB "
          f"(num_bins {h.num_bins}, total_count {h.total_count})")


if __name__ == "__main__":
    main()
