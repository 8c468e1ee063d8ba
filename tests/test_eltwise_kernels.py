"""Every element-wise int8 kernel against its op's reference kernel, with ``==``.

Each element-wise op is a family of the kernel registry; each non-reference
candidate of ``K.eltwise_s8_candidates(op)`` that runs here (its ISA enabled:
INT8RT_MAX_ISA runs test one tier), named ``<op>_<isa>``, must equal the
op's reference kernel (``impl=None``) exactly: int8 outputs value for value, float outputs
bit for bit (so -0.0 against +0.0 fails too). Sizes sweep the vector widths
(1..17, 63..65, primes, 16x16 transpose tiles +-1, channels 1..17 and around
64); inputs include all -128 / all 127, float specials (NaN, +-inf, -0.0,
huge values, exact .5 ties after scaling) and multipliers that make values
span the int8 range rather than saturate. The C++ suite
(tests/cpp/test_eltwise_kernels.cc) adds guard bytes around every output.
"""
from __future__ import annotations

import itertools
from typing import List

import numpy as np
import pytest

from int8rt._testing import kernels as K

F32 = np.float32


def runnable() -> List[str]:
    """The ISA tiers with an element-wise kernel (not the reference) that runs here."""
    isas: List[str] = []
    for op in K.eltwise_s8_ops():
        for _, isa, reason in K.eltwise_s8_candidates(op):
            if isa != "ref" and not reason and isa not in isas:
                isas.append(isa)
    return isas


ISAS = runnable()


def tiers_with(*ops: str) -> List[str]:
    """The tiers of ISAS that provide every one of `ops` (a provider may
    supply a subset: the avx2 tier has the pooling kernels only)."""
    return [isa for isa in ISAS
            if all(any(tier == isa for _, tier, _ in K.eltwise_s8_candidates(op)) for op in ops)]


pytestmark = pytest.mark.skipif(not ISAS, reason="no vector element-wise kernel runs here")


def kernel(op: str, isa: str) -> str:
    """The tier's kernel for `op`; skips if the tier provides none (a provider
    may supply a subset of the ops: the reference kernel then serves it)."""
    names = [name for name, tier, _ in K.eltwise_s8_candidates(op) if tier == isa]
    if not names:
        pytest.skip(f"{isa} provides no {op}")
    return names[0]


def same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, what
    a, b = (got.view(np.uint32), want.view(np.uint32)) if got.dtype == F32 else (got, want)
    bad = np.argwhere(a != b)
    assert bad.size == 0, (f"{what}: {len(bad)} mismatches; first at {tuple(bad[0])}: "
                           f"got {got[tuple(bad[0])]!r}, want {want[tuple(bad[0])]!r}")


def s8(rng: np.random.Generator, shape, mode: str = "random") -> np.ndarray:
    if mode == "min":
        return np.full(shape, -128, np.int8)
    if mode == "max":
        return np.full(shape, 127, np.int8)
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def specials(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Floats that hit every branch of quantize: ties, clamps, NaN, inf, -0."""
    x = (rng.standard_normal(n) * 60 * scale).astype(F32)
    ties = (rng.integers(-140, 140, size=n) + 0.5).astype(F32) * F32(scale)
    pick = rng.integers(0, 4, size=n)
    x = np.where(pick == 1, ties, x).astype(F32)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 127.5 * scale,
                        -128.5 * scale, 126.5 * scale, 0.5 * scale, -0.5 * scale], F32)
    x[: min(n, special.size)] = special[: min(n, special.size)]
    return x


SIZES = list(range(1, 18)) + [31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4099, 70001]


@pytest.mark.parametrize("isa", tiers_with("quantize_s8", "dequantize_s8"))
@pytest.mark.parametrize("n", SIZES)
def test_quantize_dequantize_flat(isa: str, n: int) -> None:
    qk, dk = kernel("quantize_s8", isa), kernel("dequantize_s8", isa)
    rng = np.random.default_rng(n)
    for scale in (0.05, 1.0, 0.0123):
        x = specials(rng, n, scale)
        same(K.quantize(x, scale, impl=qk), K.quantize(x, scale), f"{qk} n={n}")
    for mode in ("random", "min", "max"):
        q = s8(rng, n, mode)
        for scale in (0.05, 3.0e-3, 1.0):
            same(K.dequantize(q, scale, impl=dk), K.dequantize(q, scale), f"{dk} n={n} {mode}")


ZERO_POINTS = [128, -128, 37, -5]


@pytest.mark.parametrize("isa", tiers_with("quantize_s8"))
@pytest.mark.parametrize("n", [1, 7, 15, 16, 17, 33, 63, 64, 65, 129, 4099])
def test_quantize_zero_point_flat(isa: str, n: int) -> None:
    # The asymmetric grids' quantize: + z before the clamp (ties and saturation at both ends move with z).
    qk = kernel("quantize_s8", isa)
    rng = np.random.default_rng(n + 7)
    for z in ZERO_POINTS:
        for scale in (0.05, 1.0, 0.0123):
            x = specials(rng, n, scale)
            same(K.quantize(x, scale, zero_point=z, impl=qk), K.quantize(x, scale, zero_point=z), f"{qk} n={n} z={z}")


TRANSPOSE_SHAPES = [(1, 1, 1, 1), (1, 3, 7, 9), (2, 3, 32, 32), (1, 16, 4, 4), (1, 17, 5, 3),
                    (1, 15, 1, 17), (3, 64, 7, 7), (1, 33, 16, 16), (1, 1, 1, 257),
                    (2, 5, 23, 11), (1, 130, 3, 5), (1, 2, 5, 7), (2, 4, 3, 11), (1, 4, 16, 16), (1, 3, 1, 5),
                    (2, 3, 37, 41), (1, 3, 112, 112)]  # RGB: the three-channel interleave, tails and many chunks


@pytest.mark.parametrize("isa", tiers_with("quantize_s8", "dequantize_s8"))
@pytest.mark.parametrize("shape", TRANSPOSE_SHAPES)
def test_transposing_quantize_dequantize(isa: str, shape) -> None:
    qk, dk = kernel("quantize_s8", isa), kernel("dequantize_s8", isa)
    n, c, h, w = shape
    rng = np.random.default_rng(n * 1000 + c * 31 + h * 7 + w)
    x = specials(rng, n * c * h * w, 0.02).reshape(shape)
    got = K.quantize_nchw_to_nhwc(x, 0.02, impl=qk)
    want = K.quantize_nchw_to_nhwc(x, 0.02)
    same(got, want, f"{qk} quantize_nchw_to_nhwc {shape}")
    # The reference itself is quantize() at transposed positions.
    same(want, K.quantize(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 0.02), "ref layout")
    for z in ZERO_POINTS:
        same(K.quantize_nchw_to_nhwc(x, 0.02, zero_point=z, impl=qk), K.quantize_nchw_to_nhwc(x, 0.02, zero_point=z),
             f"{qk} quantize_nchw_to_nhwc {shape} z={z}")
    for mode in ("random", "min", "max"):
        q = s8(rng, (n, h, w, c), mode)
        got = K.dequantize_nhwc_to_nchw(q, 0.037, impl=dk)
        want = K.dequantize_nhwc_to_nchw(q, 0.037)
        same(got, want, f"{dk} dequantize_nhwc_to_nchw {shape} {mode}")
        same(want, K.dequantize(np.ascontiguousarray(q.transpose(0, 3, 1, 2)), 0.037), "ref layout")


ADD_SCALES = [(0.02, 0.03, 0.05), (0.1, 0.1, 0.1), (0.5, 0.01, 0.3), (0.01, 0.01, 0.0101)]
# (z_a, z_b, z_y): symmetric, and the asymmetric tensors of ONNX Runtime's QDQ models.
ADD_ZERO_POINTS = [(0, 0, 0), (-9, 17, -128), (127, -128, 5)]


@pytest.mark.parametrize("isa", tiers_with("add_s8"))
@pytest.mark.parametrize("n", SIZES)
def test_add(isa: str, n: int) -> None:
    impl = kernel("add_s8", isa)
    rng = np.random.default_rng(7 * n)
    for (sa, sb, sy), relu, (ma, mb), zeros in itertools.product(
            ADD_SCALES, (False, True), (("random", "random"), ("min", "min"), ("max", "max"),
                                        ("min", "max")), ADD_ZERO_POINTS):
        a, b = s8(rng, n, ma), s8(rng, n, mb)
        z = dict(zip(("z_a", "z_b", "z_y"), zeros))
        same(K.add_s8(a, b, sa, sb, sy, relu, **z, impl=impl), K.add_s8(a, b, sa, sb, sy, relu, **z),
             f"{impl} add n={n} scales={sa, sb, sy} relu={relu} {ma}/{mb} zero points={zeros}")


@pytest.mark.parametrize("isa", tiers_with("concat_s8"))
@pytest.mark.parametrize("channels", [(1,), (3, 5), (16, 16), (17, 1, 64), (64, 65), (8, 24, 40)])
@pytest.mark.parametrize("pixels", [1, 7, 300])
def test_concat(isa: str, channels, pixels: int) -> None:
    impl = kernel("concat_s8", isa)
    rng = np.random.default_rng(sum(channels) * 13 + pixels)
    xs = [s8(rng, (pixels, c)) for c in channels]
    xs[0][0] = -128
    xs[-1][-1] = 127
    for scales, s_out in (([0.1] * len(channels), 0.1),
                          ([0.05 * (i + 1) for i in range(len(channels))], 0.07),
                          ([0.3] * len(channels), 0.01)):
        same(K.concat_s8(xs, scales, s_out, impl=impl), K.concat_s8(xs, scales, s_out),
             f"{impl} concat {channels} pixels={pixels} scales={scales}")


POOLS = [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)),
         ((3, 3), (1, 1), (1, 1, 1, 1)), ((2, 3), (1, 2), (1, 0, 0, 2)), ((1, 1), (1, 1), (0, 0, 0, 0)),
         ((5, 5), (3, 3), (2, 2, 2, 2)), ((7, 7), (1, 1), (0, 0, 0, 0))]


@pytest.mark.parametrize("isa", tiers_with("maxpool_s8", "avgpool_s8"))
@pytest.mark.parametrize("window,stride,pads", POOLS)
@pytest.mark.parametrize("c", [1, 3, 16, 17, 63, 64, 65, 130])
def test_pools(isa: str, window, stride, pads, c: int) -> None:
    mk, ak = kernel("maxpool_s8", isa), kernel("avgpool_s8", isa)
    rng = np.random.default_rng(c * 97 + window[0] * 5 + stride[1])
    for mode in ("random", "min", "max"):
        x = s8(rng, (2, 9, 8, c), mode)
        what = f"c={c} window={window} stride={stride} pads={pads} {mode}"
        same(K.maxpool_s8(x, window, stride, pads, impl=mk), K.maxpool_s8(x, window, stride, pads),
             f"{mk} " + what)
        for cip, (s_in, s_out) in itertools.product((False, True), ((0.1, 0.1), (0.05, 0.013), (0.2, 0.9))):
            same(K.avgpool_s8(x, window, stride, pads, cip, s_in, s_out, impl=ak),
                 K.avgpool_s8(x, window, stride, pads, cip, s_in, s_out),
                 f"{ak} cip={cip} s={s_in, s_out} " + what)
        for cip, (z_in, z_out) in itertools.product((False, True), ((-128, -128), (-128, 0), (0, -128), (7, 3))):
            same(K.avgpool_s8(x, window, stride, pads, cip, 0.05, 0.013, impl=ak, z_in=z_in, z_out=z_out),
                 K.avgpool_s8(x, window, stride, pads, cip, 0.05, 0.013, z_in=z_in, z_out=z_out),
                 f"{ak} cip={cip} z={z_in, z_out} " + what)


@pytest.mark.parametrize("isa", tiers_with("global_avgpool_s8"))
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 7, 7, 3), (1, 7, 7, 2048), (3, 5, 3, 65),
                                   (1, 64, 64, 17), (2, 1, 300, 130)])
def test_global_avgpool(isa: str, shape) -> None:
    impl = kernel("global_avgpool_s8", isa)
    rng = np.random.default_rng(sum(shape))
    for mode in ("random", "min", "max"):
        x = s8(rng, shape, mode)
        for s_in, s_out in ((0.1, 0.1), (0.05, 0.003), (0.3, 0.11)):
            same(K.global_avgpool_s8(x, s_in, s_out, impl=impl), K.global_avgpool_s8(x, s_in, s_out),
                 f"{impl} global avg {shape} {mode} s={s_in, s_out}")


def test_errors_match_reference() -> None:
    from int8rt import InvalidArgumentError
    for isa in tiers_with("quantize_s8") + [None]:
        with pytest.raises(InvalidArgumentError, match="scale"):
            K.quantize(np.zeros(3, F32), 0.0, impl=isa and kernel("quantize_s8", isa))
    for isa in tiers_with("global_avgpool_s8") + [None]:
        with pytest.raises(InvalidArgumentError, match="scales"):
            K.global_avgpool_s8(np.zeros((1, 2, 2, 3), np.int8), -1.0, 1.0,
                                impl=isa and kernel("global_avgpool_s8", isa))
    for isa in tiers_with("avgpool_s8") + [None]:
        with pytest.raises(InvalidArgumentError, match="avgpool_s8: zero points"):
            K.avgpool_s8(np.zeros((1, 2, 2, 3), np.int8), (2, 2), z_in=-129,
                         impl=isa and kernel("avgpool_s8", isa))
    with pytest.raises(InvalidArgumentError, match="quantize_s8: unknown kernel 'nope'"):
        K.quantize(np.zeros(3, F32), 1.0, impl="nope")
    # A kernel of another op is unknown to this one: one registry, one list per op.
    with pytest.raises(InvalidArgumentError, match="unknown kernel 'add_s8_ref'"):
        K.quantize(np.zeros(3, F32), 1.0, impl="add_s8_ref")


def test_choice_follows_the_cap() -> None:
    import int8rt
    fast = kernel("quantize_s8", ISAS[0])
    assert K.choose_eltwise_s8("quantize_s8") == fast
    int8rt.set_max_isa("ref")
    try:
        for op in K.eltwise_s8_ops():
            assert K.choose_eltwise_s8(op) == f"{op}_ref"
        from int8rt import NotSupportedError
        with pytest.raises(NotSupportedError, match="above cap"):
            K.quantize(np.zeros(3, F32), 1.0, impl=fast)
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("isa", tiers_with("avgpool_s8"))
@pytest.mark.parametrize("window", [(16, 16), (17, 16), (17, 17)])
def test_avgpool_large_windows(isa: str, window) -> None:
    """Windows of 256 positions (the widest summed in int16: all -128 gives
    -32768) and more (summed in int32), with extreme inputs."""
    impl = kernel("avgpool_s8", isa)
    rng = np.random.default_rng(window[0] * 100 + window[1])
    for mode, c in itertools.product(("random", "min", "max"), (5, 64, 70)):
        x = s8(rng, (1, 18, 17, c), mode)
        for s_in, s_out in ((0.1, 0.1), (0.2, 0.0009)):
            same(K.avgpool_s8(x, window, (1, 1), (0, 0, 0, 0), False, s_in, s_out, impl=impl),
                 K.avgpool_s8(x, window, (1, 1), (0, 0, 0, 0), False, s_in, s_out),
                 f"{impl} avg window={window} c={c} {mode} s={s_in, s_out}")
        same(K.avgpool_s8(x, window, (1, 1), (0, 0, 0, 0), False, 0.1, 0.1, impl=impl, z_in=-128, z_out=-128),
             K.avgpool_s8(x, window, (1, 1), (0, 0, 0, 0), False, 0.1, 0.1, z_in=-128, z_out=-128),
             f"{impl} avg window={window} c={c} {mode} zero points -128")


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 127, 128, 129, 256, 1000, 4099])
def test_lookup_every_candidate_equals_the_reference(n: int) -> None:
    """lookup_s8 (int8rt.QLut's table: BERT's GELU between its FFN GEMMs):
    every candidate that runs here (both avx512 kernels: the VBMI one where
    the CPU has it) against the reference, byte for byte; every int8 value
    through random tables and the identity (a wrong +128 offset, a wrong
    half of the table), lengths around the 64-value step."""
    rng = np.random.default_rng(n + 7)
    x = s8(rng, n)
    x[:min(n, 256)] = (np.arange(min(n, 256)) - 128).astype(np.int8)
    rng.shuffle(x)
    identity = (np.arange(256) - 128).astype(np.int8)
    names = [name for name, isa, reason in K.eltwise_s8_candidates("lookup_s8") if isa != "ref" and not reason]
    assert names
    for table in (s8(rng, 256), s8(rng, 256), identity):
        want = K.lookup(x, table)
        assert np.array_equal(want, table[x.astype(np.int64) + 128])  # the reference is the formula
        for name in names:
            same(K.lookup(x, table, impl=name), want, f"{name} n={n}")
    assert K.lookup(x.reshape(1, n), identity).shape == (1, n)
