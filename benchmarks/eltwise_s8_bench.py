"""Throughput of the element-wise int8 kernels (kernels/eltwise_s8.h): each
op's vector kernels against its reference kernel, single thread.

Ops at ResNet-50-like sizes: quantize / dequantize (flat and with the
NCHW <-> NHWC layout change of the engine's boundaries), add, concat with
rescale, 3x3/2 max pool, 3x3 average pool, global average pool. Reports the
median time and GB/s (bytes read + bytes written, once each) and the
speed-up over the reference. Calls alternate between the kernels.

Usage: PYTHONPATH=python python3 benchmarks/eltwise_s8_bench.py [--min-time 0.3]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

import int8rt
from int8rt._testing import kernels as K


def cases(rng: np.random.Generator) -> List[Tuple[str, str, int, Callable[[str], object]]]:
    """(name, registry op, bytes moved, call(impl))."""
    f = rng.standard_normal((1, 64, 112, 112)).astype(np.float32)
    q = rng.integers(-128, 128, (1, 112, 112, 64), dtype=np.int8)
    flat_f, flat_q = f.reshape(-1), q.reshape(-1)
    a = rng.integers(-128, 128, (1, 56, 56, 256), dtype=np.int8)
    b = rng.integers(-128, 128, (1, 56, 56, 256), dtype=np.int8)
    parts = [rng.integers(-128, 128, (1, 28, 28, c), dtype=np.int8) for c in (128, 96, 32)]
    g = rng.integers(-128, 128, (1, 7, 7, 2048), dtype=np.int8)
    n = q.size
    pool_out = 56 * 56 * 64
    return [
        ("quantize 802816", "quantize_s8", 5 * n, lambda i: K.quantize(flat_f, 0.02, impl=i)),
        ("dequantize 802816", "dequantize_s8", 5 * n, lambda i: K.dequantize(flat_q, 0.02, impl=i)),
        ("quantize NCHW->NHWC 64x112x112", "quantize_s8", 5 * n, lambda i: K.quantize_nchw_to_nhwc(f, 0.02, impl=i)),
        ("dequantize NHWC->NCHW 64x112x112", "dequantize_s8", 5 * n, lambda i: K.dequantize_nhwc_to_nchw(q, 0.02, impl=i)),
        ("add 56x56x256", "add_s8", 3 * a.size, lambda i: K.add_s8(a, b, 0.02, 0.03, 0.04, True, impl=i)),
        ("concat+rescale 28x28x(128,96,32)", "concat_s8", 2 * sum(p.size for p in parts),
         lambda i: K.concat_s8(parts, [0.02, 0.03, 0.04], 0.03, impl=i)),
        ("maxpool 3x3/2 112x112x64", "maxpool_s8", n + pool_out,
         lambda i: K.maxpool_s8(q, (3, 3), (2, 2), (1, 1, 1, 1), impl=i)),
        ("avgpool 3x3/1 56x56x256", "avgpool_s8", 2 * a.size,
         lambda i: K.avgpool_s8(a, (3, 3), (1, 1), (1, 1, 1, 1), False, 0.02, 0.02, impl=i)),
        ("global avgpool 7x7x2048", "global_avgpool_s8", g.size + 2048, lambda i: K.global_avgpool_s8(g, 0.02, 0.01, impl=i)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per kernel and op")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(f"int8rt ISA cap: {int8rt.get_max_isa()}; 1 thread")
    print(f"{'op':36s} {'kernel':30s} {'median us':>10s} {'GB/s':>7s} {'x ref':>6s}")
    for name, op, nbytes, call in cases(np.random.default_rng(0)):
        impls = [k for k, _, reason in K.eltwise_s8_candidates(op) if not reason]
        ref = impls[-1]
        arg = {k: (None if k == ref else k) for k in impls}
        for k in impls:
            call(arg[k])
        times: Dict[str, List[float]] = {k: [] for k in impls}
        start = time.perf_counter()
        while time.perf_counter() - start < args.min_time * len(impls) or min(map(len, times.values())) < 5:
            for k in impls:
                t0 = time.perf_counter()
                call(arg[k])
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in impls:
            print(f"{name:36s} {k:30s} {1e6 * med[k]:10.1f} {nbytes / med[k] / 1e9:7.2f} "
                  f"{med[ref] / med[k]:6.1f}")
    int8rt.set_num_threads(0)


if __name__ == "__main__":
    main()
