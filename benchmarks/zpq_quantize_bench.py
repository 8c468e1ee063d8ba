"""zpq: the quantize_s8 kernels with a zero point, alone (one process, one thread).

Times every quantize_s8 candidate that runs here (``K.eltwise_s8_candidates``: the AVX-512 and AVX2 tiers and
the reference, portable code with the formula of the engine's former zero-point loop), flat and NCHW -> NHWC,
on a PP-OCRv4 rec exit's tensor (a group of images of the float depthwise conv's output), at zero point 0 and
at a lower-bounded grid's zero point (-114, rec's exits). Candidates alternate inside each round; a figure is
the median over rounds of one call's thread-CPU time (median of --calls). Prints one row per case and the
ratios to the reference.
Usage: PYTHONPATH=python python benchmarks/zpq_quantize_bench.py [--rounds R] [--calls N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import int8rt
from int8rt._testing import kernels as K


def one_call_ms(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--calls", type=int, default=21)
    args = ap.parse_args()
    int8rt.set_num_threads(1)  # thread CPU of the calling thread is the whole call
    names = [name for name, _, reason in K.eltwise_s8_candidates("quantize_s8") if not reason]
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 240, 6, 80)) * 0.1).astype(np.float32)  # 2 images of a 240-channel exit
    scale = 0.001175
    cases = [(f"{op} z={z}", op, z) for op in ("flat", "nchw_to_nhwc") for z in (0, -114)]
    runs = {(c, n): [] for c, _, _ in cases for n in names}
    for _ in range(args.rounds):
        for case, op, z in cases:
            for n in names:
                impl = None if n.endswith("_ref") else n
                if op == "flat":
                    fn = lambda: K.quantize(x.reshape(-1), scale, zero_point=z, impl=impl)  # noqa: E731
                else:
                    fn = lambda: K.quantize_nchw_to_nhwc(x, scale, zero_point=z, impl=impl)  # noqa: E731
                runs[(case, n)].append(one_call_ms(fn, args.calls))
    print(f"x {x.shape} float32, {x.size / 1e6:.2f} M elements; thread-CPU ms per call, median of "
          f"{args.rounds} rounds x {args.calls} calls")
    print("case | " + " | ".join(names) + " | " + " | ".join(f"{n} / ref" for n in names if not n.endswith("_ref")))
    ref = next(n for n in names if n.endswith("_ref"))
    for case, _, _ in cases:
        med = {n: statistics.median(runs[(case, n)]) for n in names}
        print(f"{case} | " + " | ".join(f"{med[n]:.3f}" for n in names) + " | " +
              " | ".join(f"{med[n] / med[ref]:.3f}" for n in names if n != ref))


if __name__ == "__main__":
    main()
