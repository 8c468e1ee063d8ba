"""The AVX-512 SGEMM tile's walk of a row-major A read in place by pointer
steps (SgemmTile::a_linear, x86/avx512/sgemm_x32.cc, RESULTS.md section 180)
against the same microkernel over packed A panels (an A given transposed is
packed, not read in place): the same values into the same FMAs in the same
k order, so the products must be equal bit for bit (``==``), over row counts
around the 12-row tile (shared-out row tiles of 1..12), column counts around
the 16 / 32 halves, K around the 192-step slice and its unroll by 4, with and
without accumulation into C; 1 and 2 threads.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K

KERNEL = "sgemm_12x32_avx512"
HAVE = any(name == KERNEL and not reason for name, _, reason in K.sgemm_candidates())


@pytest.mark.skipif(not HAVE, reason="no AVX-512F on this CPU or build")
@pytest.mark.parametrize("threads", [1, 2])
def test_linear_walk_equals_packed_panels(threads: int) -> None:
    old = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        rng = np.random.default_rng(180)
        for M, N, K_, acc in itertools.product([1, 5, 11, 12, 13, 25, 49, 193], [1, 15, 16, 17, 32, 33, 97],
                                               [1, 3, 4, 5, 191, 192, 193, 385], [False, True]):
            a = rng.uniform(-1, 1, (M, K_)).astype(np.float32)
            b = rng.uniform(-1, 1, (K_, N)).astype(np.float32)
            c = rng.uniform(-1, 1, (M, N)).astype(np.float32) if acc else None
            linear = K.sgemm(a, b, False, False, c, kernel=KERNEL)
            packed = K.sgemm(np.ascontiguousarray(a.T), b, True, False, c, kernel=KERNEL)
            bad = np.argwhere(linear != packed)
            assert bad.size == 0, (f"{KERNEL} M={M} N={N} K={K_} acc={acc}: {len(bad)} outputs differ; first "
                                   f"{tuple(bad[0])}: linear {linear[tuple(bad[0])]!r} vs packed {packed[tuple(bad[0])]!r}")
    finally:
        int8rt.set_num_threads(old)
