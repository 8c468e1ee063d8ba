"""Reference int8 kernels (int8rt._testing.kernels) against the independent NumPy
formulas in np_kernels.py: int8 results and float epilogue outputs compared
with ==; FP32 kernels within a stated rounding bound. Shapes sweep channels
1..17 and primes, 1x1..7x7, strides, asymmetric pads, dilation, groups,
depthwise, batch 1 and 3; output scales are derived from the accumulator range
so outputs span int8 instead of saturating."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import np_kernels as npk
from int8rt import InvalidArgumentError
from int8rt._testing import kernels as K

F32 = np.float32
U = 2.0 ** -24  # float32 unit roundoff


def rand_s8(rng: np.random.Generator, shape, mode: str = "random") -> np.ndarray:
    if mode == "min":
        return np.full(shape, -128, np.int8)
    if mode == "max":
        return np.full(shape, 127, np.int8)
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def spanning_epilogue(rng, acc: np.ndarray):
    """Per-channel scale/bias mapping each channel's accumulator range onto
    roughly [-140, 140] (a few values saturate, most land inside)."""
    k = acc.shape[-1]
    amax = np.abs(acc.reshape(-1, k)).max(axis=0).astype(np.float64) + 1.0
    scale = (rng.uniform(0.9, 1.1, k) * 127.0 / amax).astype(F32)
    bias = rng.uniform(-12, 12, k).astype(F32)
    return scale, bias


# (C, H, W, K, R, S, stride, pads(t,l,b,r), dilation, groups)
CONV_CASES = (
    [(c, 6, 5, (c * 5) % 17 + 1, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1) for c in range(1, 18)]
    + [(c, 7, 7, 5, k, k, (s, s), (k // 2, k // 2, k // 2, k // 2), (1, 1), 1)
       for c, k, s in itertools.product((3, 16), (1, 3, 5, 7), (1, 2))]
    + [
        (5, 9, 8, 7, 3, 3, (2, 1), (0, 2, 1, 0), (1, 1), 1),    # asymmetric pads, strides
        (6, 9, 9, 4, 3, 2, (1, 2), (2, 0, 0, 1), (2, 2), 1),    # dilation 2, non-square
        (12, 6, 6, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 3),   # groups
        (8, 7, 6, 16, 3, 3, (2, 2), (1, 0, 1, 2), (1, 1), 8),   # depthwise multiplier 2
        (31, 5, 5, 37, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),  # primes, 1x1
        (64, 4, 4, 13, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),  # long reduction
    ]
    + [(c, 8, 7, c, 3, 3, (s, s), (1, 1, 1, 1), (1, 1), c)
       for c, s in ((1, 1), (3, 2), (8, 1), (16, 2), (17, 1))]  # depthwise
)


def case_id(case) -> str:
    c, h, w, k, r, s, st, p, d, g = case
    return f"C{c}H{h}W{w}K{k}_{r}x{s}_s{st[0]}{st[1]}_p{''.join(map(str, p))}_d{d[0]}_g{g}"


@pytest.mark.parametrize("case", CONV_CASES, ids=case_id)
def test_conv2d_s8_matches_numpy(case) -> None:
    c, h, w, k, r, s, stride, pads, dil, groups = case
    rng = np.random.default_rng(hash(case_id(case)) % 2**32)
    for batch, mode in ((1, "random"), (3, "random")):
        x = rand_s8(rng, (batch, h, w, c), mode)
        wt = rand_s8(rng, (k, c // groups, r, s))
        acc = npk.conv2d_acc(x, wt, stride, pads, dil, groups)
        scale, bias = spanning_epilogue(rng, acc)
        for lo, hi in ((-128, 127), (0, 127), (-50.5, 77.25)):
            want = npk.epilogue(acc, scale, bias, lo, hi)
            got = K.conv2d_s8(x, wt, scale, bias, lo, hi, stride, pads, dil, groups,
                              kernel="conv_s8_ref")
            assert_equal_s8(got, want, f"conv_s8_ref {case_id(case)} batch={batch} [{lo},{hi}]")
        # Dispatch's choice (the ref kernel until faster ones are compiled in) agrees too.
        got = K.conv2d_s8(x, wt, scale, bias, stride=stride, pads=pads, dilation=dil,
                          groups=groups)
        assert_equal_s8(got, npk.epilogue(acc, scale, bias, -128, 127), "dispatch")
        # float output: the same float32 operations, so bit-equal.
        got_f = K.conv2d_s8(x, wt, scale, bias, stride=stride, pads=pads, dilation=dil,
                            groups=groups, out_dtype="float32", kernel="conv_s8_ref")
        want_f = npk.epilogue(acc, scale, bias, -np.inf, np.inf, out_dtype="float32")
        assert got_f.dtype == np.float32 and np.array_equal(got_f, want_f), case_id(case)


def assert_equal_s8(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape and got.dtype == np.int8, (what, got.shape, want.shape)
    bad = np.argwhere(got != want)
    if len(bad):
        i = tuple(bad[0])
        pytest.fail(f"{what}: {len(bad)} mismatches, first at {i}: got {got[i]} want {want[i]}")


@pytest.mark.parametrize("mode", ["min", "max"])
def test_conv2d_s8_extreme_inputs(mode: str) -> None:
    rng = np.random.default_rng(7)
    x = rand_s8(rng, (2, 6, 6, 32), mode)
    for wmode in ("min", "max", "random"):
        wt = rand_s8(rng, (9, 32, 3, 3), wmode)
        acc = npk.conv2d_acc(x, wt, (1, 1), (1, 2, 0, 1), (1, 1), 1)
        assert np.abs(acc).max() <= 128 * 128 * 32 * 9
        scale, bias = spanning_epilogue(rng, acc)
        got = K.conv2d_s8(x, wt, scale, bias, pads=(1, 2, 0, 1), kernel="conv_s8_ref")
        assert_equal_s8(got, npk.epilogue(acc, scale, bias, -128, 127), f"x={mode} w={wmode}")


def test_conv2d_s8_residual_and_relu6() -> None:
    rng = np.random.default_rng(11)
    x, wt = rand_s8(rng, (3, 5, 6, 7)), rand_s8(rng, (10, 7, 3, 3))
    acc = npk.conv2d_acc(x, wt, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale, bias = spanning_epilogue(rng, acc)
    res = rand_s8(rng, acc.shape)
    rq = K.make_epilogue(0.05, np.full(10, 0.01, F32), None, 0.1, activation="relu6")
    hi = rq["hi"]
    assert hi == F32(6.0) / F32(0.1) and 59 < hi < 61
    want = npk.epilogue(acc, scale, bias, 0, hi, res, 0.37)
    got = K.conv2d_s8(x, wt, scale, bias, 0, hi, pads=(1, 1, 1, 1), residual=res,
                      residual_scale=0.37, kernel="conv_s8_ref")
    assert_equal_s8(got, want, "residual")


def test_round_half_to_even() -> None:
    # acc = b (a is [[1]]), scale 0.5: every odd acc lands exactly on a half.
    b = np.arange(-9, 10, dtype=np.int8).reshape(-1, 1)
    got = K.gemm_s8(np.ones((1, 1), np.int8), b, np.full(len(b), 0.5, F32), kernel="gemm_s8_ref")
    # -4.5 -> -4, -3.5 -> -4, -2.5 -> -2, -1.5 -> -2, -0.5 -> 0, 0.5 -> 0, 1.5 -> 2, ...
    assert got[0].tolist() == [-4, -4, -4, -3, -2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2, 3, 4, 4, 4]


GEMM_SIZES = ([(m, n, k) for m, k in itertools.product((1, 3), range(1, 18)) for n in (k % 7 + 1,)]
              + [(7, 17, 31), (5, 33, 64), (2, 13, 129), (4, 64, 256)])


@pytest.mark.parametrize("m,n,k", GEMM_SIZES)
def test_gemm_s8_matches_numpy(m: int, n: int, k: int) -> None:
    rng = np.random.default_rng(1000 * m + 10 * n + k)
    a, b = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    acc = a.astype(np.int64) @ b.astype(np.int64).T
    scale, bias = spanning_epilogue(rng, acc)
    res = rand_s8(rng, (m, n))
    assert_equal_s8(K.gemm_s8(a, b, scale, bias, kernel="gemm_s8_ref"),
                    npk.epilogue(acc, scale, bias, -128, 127), f"gemm {m}x{n}x{k}")
    assert_equal_s8(K.gemm_s8(a, b, scale, None, 0, 127, residual=res, residual_scale=0.5),
                    npk.epilogue(acc, scale, None, 0, 127, res, 0.5), f"gemm res {m}x{n}x{k}")
    got_f = K.gemm_s8(a, b, scale, bias, out_dtype="float32")
    assert np.array_equal(got_f, npk.epilogue(acc, scale, bias, -np.inf, np.inf,
                                              out_dtype="float32"))


def test_make_epilogue_formulas() -> None:
    rng = np.random.default_rng(3)
    s_in, s_out = F32(0.0173), F32(0.0419)
    s_w = rng.uniform(1e-4, 1e-2, 9).astype(F32)
    bias = rng.uniform(-2, 2, 9).astype(F32)
    rq = K.make_epilogue(s_in, s_w, bias, s_out)
    assert np.array_equal(rq["scale"], (s_in * s_w) / s_out)  # multiply, then divide
    assert np.array_equal(rq["bias"], bias / s_out)
    assert (rq["lo"], rq["hi"]) == (-128.0, 127.0)
    assert (K.make_epilogue(s_in, s_w, bias, s_out, activation="relu")["lo"]) == 0.0
    relu6 = K.make_epilogue(s_in, s_w, None, F32(0.01), activation="relu6")
    assert (relu6["lo"], relu6["hi"]) == (0.0, 127.0)  # 6/0.01 = 600 clipped to 127
    assert np.array_equal(relu6["bias"], np.zeros(9, F32))
    clip = K.make_epilogue(s_in, s_w, None, s_out, activation="clip", clip_min=-1.0, clip_max=2.5)
    assert (clip["lo"], clip["hi"]) == (F32(-1.0) / s_out, F32(2.5) / s_out)
    f = K.make_epilogue(s_in, s_w, bias, 0.0, out_dtype="float32", activation="relu")
    assert np.array_equal(f["scale"], s_in * s_w) and np.array_equal(f["bias"], bias)
    assert (f["lo"], f["hi"]) == (0.0, np.inf)
    with pytest.raises(InvalidArgumentError, match="weight scale of channel 2"):
        K.make_epilogue(s_in, np.array([1, 1, 0, 1], F32), None, s_out)
    with pytest.raises(InvalidArgumentError, match="outside the int8 range"):
        K.make_epilogue(s_in, s_w, None, s_out, activation="clip", clip_min=100.0, clip_max=200.0)


def test_quantize_dequantize() -> None:
    rng = np.random.default_rng(5)
    scale = F32(0.0371)
    x = np.concatenate([rng.normal(0, 3, 5000).astype(F32),
                        (np.arange(-130, 130) + F32(0.5)) * F32(0.5),  # exact halves at scale .5
                        np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], F32)])
    for s in (scale, F32(0.5)):
        q = K.quantize(x, s)
        assert np.array_equal(q[:-5], npk.quantize(x[:-5], s)), f"scale={s}"
        assert q[-5:].tolist() == [127, -128, -128, 0, 0]  # NaN -> -128 by definition
    q = rng.integers(-128, 128, (3, 7, 11), dtype=np.int8)
    d = K.dequantize(q, scale)
    assert d.shape == q.shape and np.array_equal(d, q.astype(F32) * scale)


@pytest.mark.parametrize("zero_point", [128, -128, 37, -5, 300])
def test_quantize_zero_point(zero_point: int) -> None:
    # x * (1 / scale) + z, clamped, rounded half to even; NaN -> -128.
    rng = np.random.default_rng(zero_point + 1000)
    x = np.concatenate([rng.normal(0, 3, 5000).astype(F32),
                        (np.arange(-300, 300) + F32(0.5)) * F32(0.5),  # exact halves at scale .5, both ends saturate
                        np.array([np.inf, -np.inf, np.nan], F32)])
    for s in (F32(0.0371), F32(0.5)):
        q = K.quantize(x, s, zero_point=zero_point)
        assert np.array_equal(q[:-3], npk.quantize(x[:-3], s, zero_point)), f"scale={s}"
        assert q[-3:].tolist() == [127, -128, -128]
    assert {-128, 127} <= set(K.quantize(x, F32(0.5), zero_point=zero_point).tolist())
    x4 = x[:5600].reshape(2, 7, 20, 20)
    assert np.array_equal(K.quantize_nchw_to_nhwc(x4, 0.5, zero_point=zero_point),
                          npk.quantize(x4.transpose(0, 2, 3, 1), 0.5, zero_point))


POOL_CASES = [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)),
              ((3, 3), (1, 1), (0, 1, 2, 0)), ((2, 3), (1, 2), (1, 0, 0, 2)), ((5, 5), (3, 3), (2, 2, 2, 2))]


@pytest.mark.parametrize("kernel,stride,pads", POOL_CASES)
def test_pools_s8(kernel, stride, pads) -> None:
    rng = np.random.default_rng(sum(kernel) * 10 + sum(pads))
    x = rand_s8(rng, (3, 9, 8, 5))
    assert np.array_equal(K.maxpool_s8(x, kernel, stride, pads),
                          npk.maxpool_nhwc(x, kernel, stride, pads))
    assert np.array_equal(K.maxpool_s8(rand_s8(rng, x.shape, "min"), kernel, stride, pads),
                          np.full_like(K.maxpool_s8(x, kernel, stride, pads), -128))
    for cip, (s_in, s_out) in itertools.product((False, True), ((0.1, 0.1), (0.1, 0.0513))):
        got = K.avgpool_s8(x, kernel, stride, pads, cip, s_in, s_out)
        want = npk.avgpool_s8(x, kernel, stride, pads, cip, s_in, s_out)
        assert_equal_s8(got, want, f"avgpool k={kernel} cip={cip} s_out={s_out}")
    # zero points (unsigned activations: -128; a model's own), padding standing for 0
    for cip, (z_in, z_out) in itertools.product((False, True), ((-128, -128), (-128, 0), (0, -128), (5, -3))):
        got = K.avgpool_s8(x, kernel, stride, pads, cip, 0.1, 0.0513, z_in=z_in, z_out=z_out)
        want = npk.avgpool_s8(x, kernel, stride, pads, cip, 0.1, 0.0513, z_in, z_out)
        assert_equal_s8(got, want, f"avgpool k={kernel} cip={cip} z={z_in, z_out}")


def test_global_avgpool_s8() -> None:
    rng = np.random.default_rng(8)
    for x in (rand_s8(rng, (3, 7, 5, 17)), rand_s8(rng, (1, 2, 2, 3), "max"),
              rand_s8(rng, (1, 4, 4, 3), "min")):
        for s_in, s_out in ((0.2, 0.2), (0.2, 0.013)):
            want = npk.avg_requant(x.astype(np.int64).sum(axis=(1, 2)), x.shape[1] * x.shape[2],
                                   s_in, s_out)
            assert_equal_s8(K.global_avgpool_s8(x, s_in, s_out), want, "global avg")


def test_add_s8() -> None:
    rng = np.random.default_rng(9)
    a, b = rand_s8(rng, (2, 5, 7, 13)), rand_s8(rng, (2, 5, 7, 13))
    for s_a, s_b, s_y, relu in ((0.1, 0.2, 0.25, False), (0.1, 0.1, 0.2, True),
                                (0.05, 0.3, 0.31, False), (0.1, 0.1, 0.05, False)):
        assert_equal_s8(K.add_s8(a, b, s_a, s_b, s_y, relu), npk.add_s8(a, b, s_a, s_b, s_y, relu),
                        f"add {s_a} {s_b} {s_y} relu={relu}")
    with pytest.raises(InvalidArgumentError, match="same shape"):
        K.add_s8(a, b[:1], 0.1, 0.1, 0.1)


def test_concat_s8() -> None:
    rng = np.random.default_rng(10)
    xs = [rand_s8(rng, (2, 3, 4, c)) for c in (1, 5, 16, 3)]
    scales = [0.1, 0.05, 0.2, 0.1]
    got = K.concat_s8(xs, scales, 0.1)
    assert_equal_s8(got, npk.concat_s8(xs, scales, 0.1), "concat")
    # Equal scales: the copy path equals the rescale formula (multiplier 1.0f).
    assert np.array_equal(got[..., :1], xs[0]) and np.array_equal(got[..., 22:], xs[3])
    assert np.array_equal(npk.concat_s8([xs[0]], [0.1], 0.1), xs[0])
    with pytest.raises(InvalidArgumentError, match="outside the channel axis"):
        K.concat_s8([xs[0], xs[1][:1]], [0.1, 0.1], 0.1)


F32_CONV_CASES = [(3, 12, 11, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
                  (8, 9, 9, 8, 3, 3, (2, 2), (0, 1, 2, 0), (1, 1), 8),
                  (6, 10, 9, 9, 5, 3, (2, 1), (2, 1, 2, 1), (2, 1), 3),
                  (16, 7, 7, 5, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
                  (4, 15, 15, 6, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1), 2)]


@pytest.mark.parametrize("case", F32_CONV_CASES, ids=case_id)
def test_conv2d_f32_within_rounding_bound(case) -> None:
    c, h, w, k, r, s, stride, pads, dil, groups = case
    rng = np.random.default_rng(len(case_id(case)))
    x = rng.normal(size=(2, c, h, w)).astype(F32)
    wt = rng.normal(size=(k, c // groups, r, s)).astype(F32)
    bias = rng.normal(size=k).astype(F32)
    got = K.conv2d_f32(x, wt, bias, stride, pads, dil, groups)
    want, mag = npk.conv2d_f64_nchw(x, wt, bias, stride, pads, dil, groups)
    # Recursive float32 summation of n = C/g*R*S + 1 terms (products rounded too):
    # |error| <= (n + 1) * u * sum|terms| (Higham, Accuracy and Stability, 3.1).
    n = (c // groups) * r * s + 1
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= (n + 1) * U * mag)


def test_gemm_f32_and_pools_f32() -> None:
    rng = np.random.default_rng(12)
    a, b, bias = (rng.normal(size=sh).astype(F32) for sh in ((5, 300), (7, 300), (7,)))
    got = K.gemm_f32(a, b, bias)
    want = a.astype(np.float64) @ b.astype(np.float64).T + bias
    mag = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)).T + np.abs(bias)
    assert np.all(np.abs(got - want) <= 302 * U * mag)  # n = 301 terms, bound as above
    # Few-row (dot product) and many-row (transposed) paths follow one documented
    # order, so rows agree bit for bit whichever path computed them.
    a11 = rng.normal(size=(11, 300)).astype(F32)
    full = K.gemm_f32(a11, b, bias)
    assert all(np.array_equal(full[i], K.gemm_f32(a11[i:i + 1], b, bias)[0]) for i in range(11))
    x = rng.normal(size=(2, 3, 9, 8)).astype(F32)
    x_nhwc = x.transpose(0, 2, 3, 1)
    for kernel, stride, pads in POOL_CASES:
        mp = K.maxpool_f32(x, kernel, stride, pads)
        assert np.array_equal(mp, npk.maxpool_nhwc(x_nhwc, kernel, stride, pads).transpose(0, 3, 1, 2))
        for cip in (False, True):
            ap = K.avgpool_f32(x, kernel, stride, pads, cip)
            ref = np.empty_like(ap, dtype=np.float64)
            for oh, ow, r0, r1, s0, s1 in npk.pool_windows(9, 8, kernel, stride, pads):
                cnt = kernel[0] * kernel[1] if cip else (r1 - r0) * (s1 - s0)
                ref[:, :, oh, ow] = x[:, :, r0:r1, s0:s1].astype(np.float64).sum(axis=(2, 3)) / cnt
            # window sum of <= 25 terms then one division: (25 + 1) * u relative to sum|x|/cnt
            assert np.all(np.abs(ap - ref) <= 27 * U * np.abs(x).max() * kernel[0] * kernel[1])
    g = K.global_avgpool_f32(x)
    assert np.allclose(g, x.astype(np.float64).mean(axis=(2, 3)), rtol=0, atol=80 * U * np.abs(x).max())


def test_shape_errors_are_clear() -> None:
    x, w = np.zeros((1, 4, 4, 6), np.int8), np.zeros((4, 3, 3, 3), np.int8)
    with pytest.raises(InvalidArgumentError, match="groups"):
        K.conv2d_s8(x, w, np.ones(4, F32))
    with pytest.raises(InvalidArgumentError, match="scale: expected a 1-D array of length 4"):
        K.conv2d_s8(x, w, np.ones(3, F32), groups=2)
    with pytest.raises(InvalidArgumentError, match="x: expected a NumPy int8 array"):
        K.conv2d_s8(x.astype(np.int32), w, np.ones(4, F32), groups=2)
    with pytest.raises(InvalidArgumentError, match="empty output"):
        K.conv2d_s8(x, np.zeros((4, 3, 7, 7), np.int8), np.ones(4, F32), groups=2)
    with pytest.raises(InvalidArgumentError, match="int8 output needs a clamp range"):
        K.conv2d_s8(x, w, np.ones(4, F32), lo=-200.0, groups=2)
    with pytest.raises(InvalidArgumentError, match="pad_top=-1"):
        K.conv2d_s8(x, w, np.ones(4, F32), pads=(-1, 0, 0, 0), groups=2)
    with pytest.raises(InvalidArgumentError, match="unknown kernel 'conv_s8_nope'"):
        K.conv2d_s8(x, w, np.ones(4, F32), groups=2, kernel="conv_s8_nope")
    with pytest.raises(InvalidArgumentError, match="vertical pads"):
        K.maxpool_s8(x, (2, 2), (1, 1), (2, 0, 0, 0))
