"""Which BF16 order the Python tests' bit contracts hold for.

The tests that compare BF16 engines bit for bit (the channel-blocked region
against the NCHW BF16 engine, a tier against the reference, an engine loaded
under a cap against the one built without) assert VDPBF16PS's order: the
reference kernels' and the AVX512-BF16 kernels' (kernels/abi/gemm_bf16.h,
nchw16c_bf16.h). The AMX-BF16 kernels sum in TDPBF16PS's order, other bits
within the stated bound, tested against that order and the bound in C++
(tests/cpp/test_gemm_bf16_amx.cc, test_nchw16c_bf16_amx.cc). So on a CPU with
AMX-BF16 these tests run under the avx512bf16 cap (the autouse fixture
``vdpbf16ps_order``, imported by each such module), and a test that lifts a
cap of its own puts this one back with :func:`uncap`; elsewhere both are
no-ops (no cap).

Why the cap stays where AMX-BF16 runs natively (RESULTS.md section 172, the
first AMX machine: these modules run uncapped there fail 14 tests, every one a
bit comparison across summation orders, none a bound): the blocked region and
the NCHW engine, or a capped and an uncapped engine, then sum the same exact
products in TDPBF16PS's and VDPBF16PS's orders (1-2 ulp apart in 0.5-42% of
outputs), and where two NaNs meet in a sum the order decides which one's sign
survives (x86 adds return their first NaN operand: -NaN against +NaN in a
Relu network of test_nan_clamps.py). The AMX tier's own contract is tested
natively instead: tests/test_bf16_kernels.py (== TDPBF16PS's order, within
the reference's bound), tests/test_bf16_layers.py (bounds against FP32 and
float64, the tile epilogue's bits within the tier) and the C++ tests above.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import pytest

import int8rt

# The cap under which BF16 engines sum in the reference's order: None where no AMX-BF16 kernel can run.
CAP: Optional[str] = "avx512bf16" if int8rt.kernels.cpu_features()["amx_bf16"] else None


def uncap() -> None:
    """Lifts a test's own cap back to :data:`CAP` (``set_max_isa(None)`` where there is no AMX-BF16)."""
    int8rt.set_max_isa(CAP)


@contextlib.contextmanager
def reference_kernels() -> Iterator[None]:
    """Engines loaded inside run on the reference kernels (the ``ref`` cap); the module's cap is put back after."""
    int8rt.set_max_isa("ref")
    try:
        yield
    finally:
        uncap()


@pytest.fixture(autouse=True)
def vdpbf16ps_order() -> Iterator[None]:
    uncap()
    yield
    int8rt.set_max_isa(None)
