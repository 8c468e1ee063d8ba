"""BF16 layers (issue 13, "BF16 layers"): Conv, Gemm and MatMul with constant
weights, and MatMul between two activations, marked int8rt_precision="bf16" (csrc/engine/bf16_layers.h), the
builder's ``layer_precisions={name: "bf16"}`` and ``bf16=True``, the CLI's
``--bf16`` / ``--bf16-layers``, the TensorRT facade's ``BuilderFlag.BF16``,
and engine files that keep the marking.

Bounds, per output, with S = sum_k |a_k * b_k| over the layer's own FP32
operands (weights and activations; + |bias| / |C| where the op adds one) and
K the dot-product length:

1. BF16 layer vs FP32 layer: |y_bf16 - y_fp32| <= (2^-7 + 2^-16) * S
   + 2 * (K + 2) * 2^-24 * S. Rounding each operand to BF16 (8 significant
   bits, round to nearest even: a unit roundoff of 2^-8) moves it by at most
   2^-8 of itself, so a product moves by at most (1 + 2^-8)^2 - 1 = 2^-7 +
   2^-16 of itself (reached within a few percent by a depthwise conv's nine
   terms; the bound stated before, 2^-8 + 2^-16, assumed 2^-9 per operand); the
   second term is the FP32 accumulation of either layer (as in
   tests/test_fp32_gemm_kernels.py). A worst case, reached only if every
   rounding pushes the same way.
2. The BF16 layer computes exactly the products of BF16-rounded operands:
   against float64 on those operands its error is only the FP32
   accumulation, 2 * (K + 2) * 2^-24 * S. The FP32 layer must FAIL this
   check somewhere (so the test can tell BF16 from FP32).
3. Typical error: with independent roundings the error of a K-term sum is
   ~2^-9 * sqrt(K) * rms(a_k b_k), i.e. ~2^-9 relative to a random-sign sum;
   the relative RMS error over the whole output must stay under 2^-7.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op
from int8rt.quickstart import DATA_PATH, MODEL_PATH
from np_kernels import conv2d_f64_nchw
from bf16_order import CAP as VDPBF16PS_CAP  # the cap of the reference's summation order where AMX-BF16 runs

F32 = np.float32
BF16 = {"int8rt_precision": "bf16"}


def to_bf16(x: np.ndarray) -> np.ndarray:
    """x rounded to BF16 (nearest even; the test data has no NaN / denormal)."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)).view(F32)


def check(what: str, y16: np.ndarray, y32: np.ndarray, exact_bf16: np.ndarray, mag: np.ndarray,
          mag_bf16: np.ndarray, k: int) -> None:
    acc = 2 * (k + 2) * 2.0 ** -24
    err1 = np.abs(y16.astype(np.float64) - y32)
    bound1 = (2.0 ** -7 + 2.0 ** -16 + acc) * mag + 1e-30
    i = np.unravel_index(np.argmax(err1 / bound1), err1.shape)
    assert err1[i] <= bound1[i], f"{what}: |bf16 - fp32| {err1[i]:.3g} > {bound1[i]:.3g} at {i}"
    bound2 = acc * mag_bf16 + 1e-30
    err2 = np.abs(y16.astype(np.float64) - exact_bf16)
    j = np.unravel_index(np.argmax(err2 / bound2), err2.shape)
    assert err2[j] <= bound2[j], f"{what}: |bf16 - exact on bf16 operands| {err2[j]:.3g} > {bound2[j]:.3g} at {j}"
    assert np.any(np.abs(y32.astype(np.float64) - exact_bf16) > bound2), f"{what}: the FP32 layer passes check 2"
    rel = np.sqrt(np.mean((y16.astype(np.float64) - y32) ** 2) / np.mean(y32.astype(np.float64) ** 2))
    assert rel < 2.0 ** -7, f"{what}: relative RMS error {rel:.3g} >= 2^-7"


CONV_CASES = [
    # (N, C, H, W, M, k, attrs)
    (1, 3, 9, 9, 4, (3, 3), {}),
    (2, 4, 8, 7, 6, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 4, 10, 10, 8, (3, 3), {"pads": [0, 1, 2, 1], "dilations": [2, 2]}),
    (1, 6, 8, 8, 4, (3, 3), {"group": 2, "strides": [1, 2]}),
    (2, 16, 5, 5, 24, (1, 1), {}),  # pointwise: the input itself is B
    (1, 32, 20, 20, 40, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 3, 23, 23, 16, (7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),  # an RGB stem: 4 stride phases
    (1, 5, 7, 7, 9, (1, 1), {"strides": [2, 2]}),  # strided pointwise
    (1, 7, 9, 11, 6, (2, 3), {"pads": [1, 0, 0, 2]}),  # odd C, a 2x3 window, asymmetric pads
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv_bf16_within_bounds_of_fp32(case: tuple) -> None:
    n, c, h, w, m, k, attrs = case
    rng = np.random.default_rng(10)
    g = attrs.get("group", 1)
    x = rng.standard_normal((n, c, h, w)).astype(F32)
    wt = rng.standard_normal((m, c // g, *k)).astype(F32)
    b = rng.standard_normal(m).astype(F32)
    y32 = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
    y16 = run_single_op("Conv", [x, wt, b], {**attrs, **BF16}, [False, True, True])[0]
    pads = attrs.get("pads", [0, 0, 0, 0])
    pads4 = (pads[0], pads[1], pads[2], pads[3])
    args = (attrs.get("strides", [1, 1]), pads4, attrs.get("dilations", [1, 1]), g)
    _, mag = conv2d_f64_nchw(x, wt, b, *args)
    exact, mag16 = conv2d_f64_nchw(to_bf16(x), to_bf16(wt), b, *args)
    check(f"Conv case {case}", y16, y32, exact, mag, mag16, c // g * k[0] * k[1])


@pytest.mark.parametrize("cap", ["ref", None])
def test_conv_bf16_fused_activation_and_residual_on_the_tile_epilogue(cap) -> None:
    """Bias, a residual and Relu / Clip ride in the BF16 microkernel's tile
    epilogue: the same bits as the unfused BF16 conv with the residual added
    and then clipped (one FP32 add, then the clip, as the FP32 layer's
    order): a 3x3 conv whose tiles are copied out around dropped columns
    (the residual gathered into the tile) and a pointwise conv stored in
    place (ResNet's and MobileNetV2's residual convs, with and without an
    activation). Under the cap "ref" the reference tile runs, and it gives
    the optimized tile's bits (``==``) where that tile sums in the
    reference's order (VDPBF16PS: the AVX512-BF16 tier); the AMX-BF16 tile
    (TDPBF16PS's order, tests/test_bf16_kernels.py) meets the epilogue
    contract above on its own bits, natively where the CPU has AMX-BF16."""
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 12, 9, 11)).astype(F32)
    w = rng.standard_normal((21, 12, 3, 3)).astype(F32)
    b = rng.standard_normal(21).astype(F32)
    attrs = {"pads": [1, 1, 1, 1], **BF16}
    r = rng.standard_normal((2, 21, 9, 11)).astype(F32)
    w1 = rng.standard_normal((21, 12, 1, 1)).astype(F32)
    cases = [("Relu", {}, lambda z: np.maximum(z, 0)),
             ("Clip", {"int8rt_clip_min": -0.5, "int8rt_clip_max": 2.0}, lambda z: np.clip(z, -0.5, 2.0))]
    results = {}
    for which in dict.fromkeys((cap, VDPBF16PS_CAP, None)):
        int8rt.set_max_isa(which)
        try:
            z = run_single_op("Conv", [x, w, b], attrs, [False, True, True])[0]
            got = [run_single_op("Conv", [x, w, b], {**attrs, "int8rt_activation": act, **extra},
                                 [False, True, True])[0] for act, extra, _ in cases]
            res = run_single_op("Conv", [x, w, b, r], {**attrs, "int8rt_residual": 3, "int8rt_activation": "Relu"},
                                [False, True, True, False])[0]
            z1 = run_single_op("Conv", [x, w1, b], BF16, [False, True, True])[0]
            res1 = [run_single_op("Conv", [x, w1, b, r], {**BF16, "int8rt_residual": 3, **act},
                                  [False, True, True, False])[0] for act in ({}, {"int8rt_activation": "Relu"})]
        finally:
            int8rt.set_max_isa(None)
        for (act, _, f), g in zip(cases, got):
            np.testing.assert_array_equal(g, f(z), err_msg=f"{act} cap={which}")
        np.testing.assert_array_equal(res, np.maximum(z + r, 0))
        np.testing.assert_array_equal(res1[0], z1 + r)
        np.testing.assert_array_equal(res1[1], np.maximum(z1 + r, 0))
        results[which] = [z, *got, res, z1, *res1]
    for which, got in results.items():  # a capped tier against the uncapped one of its order
        for a, c in zip(got, results[VDPBF16PS_CAP if which else None]):
            np.testing.assert_array_equal(a.view(np.uint32), c.view(np.uint32), err_msg=f"cap={which}")


DW_CASES = [
    # (N, C, H, W, k, attrs): depthwise (group == C == M) on the dwconv_bf16 kernel
    (1, 8, 14, 14, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 5, 15, 17, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 3, 12, 70, (5, 5), {"pads": [2, 2, 2, 2]}),
    (1, 4, 11, 13, (3, 3), {"pads": [2, 1, 0, 2], "dilations": [2, 2]}),
    (1, 6, 7, 7, (3, 3), {"pads": [1, 1, 1, 1], "strides": [3, 3]}),
    # the channel-blocked walk of small planes (16 planes per zmm; blocks across images, leftovers)
    (2, 24, 14, 14, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 35, 14, 14, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (3, 7, 9, 9, (5, 5), {"pads": [2, 2, 2, 2]}),
]


@pytest.mark.parametrize("case", DW_CASES, ids=[str(i) for i in range(len(DW_CASES))])
def test_depthwise_conv_bf16_within_bounds_of_fp32(case: tuple) -> None:
    """A depthwise conv in BF16 (kernels/abi/dwconv_bf16.h): input and
    weights rounded to BF16, exact products, FP32 sums; the same bounds as
    the GEMM ops with K = the window's taps. Under the cap "ref" the scalar
    reference kernel gives the same bits as the optimized one."""
    n, c, h, w, k, attrs = case
    rng = np.random.default_rng(30)
    x = rng.standard_normal((n, c, h, w)).astype(F32)
    wt = rng.standard_normal((c, 1, *k)).astype(F32)
    b = rng.standard_normal(c).astype(F32)
    attrs = {**attrs, "group": c}
    y32 = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
    y16 = run_single_op("Conv", [x, wt, b], {**attrs, **BF16}, [False, True, True])[0]
    int8rt.set_max_isa("ref")
    try:
        y16_ref = run_single_op("Conv", [x, wt, b], {**attrs, **BF16}, [False, True, True])[0]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(y16.view(np.uint32), y16_ref.view(np.uint32))
    pads = attrs.get("pads", [0, 0, 0, 0])
    args = (attrs.get("strides", [1, 1]), (pads[0], pads[1], pads[2], pads[3]), attrs.get("dilations", [1, 1]), c)
    _, mag = conv2d_f64_nchw(x, wt, b, *args)
    exact, mag16 = conv2d_f64_nchw(to_bf16(x), to_bf16(wt), b, *args)
    check(f"depthwise Conv case {case}", y16, y32, exact, mag, mag16, k[0] * k[1])


def test_depthwise_conv_bf16_epilogue() -> None:
    """Bias, a residual and Relu / Clip in the BF16 depthwise kernel's
    epilogue: the bits of the BF16 depthwise conv followed by numpy's add
    and clip (one FP32 add, then the clip)."""
    rng = np.random.default_rng(31)
    x = rng.standard_normal((2, 16, 9, 20)).astype(F32)
    w = rng.standard_normal((16, 1, 3, 3)).astype(F32)
    b = rng.standard_normal(16).astype(F32)
    r = rng.standard_normal((2, 16, 9, 20)).astype(F32)
    attrs = {"pads": [1, 1, 1, 1], "group": 16, **BF16}
    z = run_single_op("Conv", [x, w, b], attrs, [False, True, True])[0]
    relu6 = run_single_op("Conv", [x, w, b], {**attrs, "int8rt_activation": "Clip", "int8rt_clip_min": 0.0,
                                              "int8rt_clip_max": 6.0}, [False, True, True])[0]
    np.testing.assert_array_equal(relu6, np.clip(z, 0, 6))
    res = run_single_op("Conv", [x, w, b, r], {**attrs, "int8rt_residual": 3, "int8rt_activation": "Relu"},
                        [False, True, True, False])[0]
    np.testing.assert_array_equal(res, np.maximum(z + r, 0))


def test_conv1d_bf16() -> None:
    rng = np.random.default_rng(11)
    x, wt, b = (rng.standard_normal(s).astype(F32) for s in ((2, 8, 17), (6, 8, 3), (6,)))
    attrs = {"pads": [1, 1], "strides": [2]}
    y32 = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
    y16 = run_single_op("Conv", [x, wt, b], {**attrs, **BF16}, [False, True, True])[0]
    args = ((1, 2), (0, 1, 0, 1), (1, 1), 1)
    _, mag = conv2d_f64_nchw(x[:, :, None], wt[:, :, None], b, *args)
    exact, mag16 = conv2d_f64_nchw(to_bf16(x)[:, :, None], to_bf16(wt)[:, :, None], b, *args)
    check("Conv1d", y16, y32, exact[:, :, 0], mag[:, :, 0], mag16[:, :, 0], 24)


@pytest.mark.parametrize("ta,tb,alpha,beta,c_shape", [
    (0, 0, 1.0, 1.0, (13,)), (1, 0, 1.0, 1.0, (9, 13)), (0, 1, 0.5, 2.0, (1, 13)), (1, 1, 1.0, 0.0, None)])
def test_gemm_bf16_within_bounds_of_fp32(ta: int, tb: int, alpha: float, beta: float, c_shape) -> None:
    rng = np.random.default_rng(12)
    M, K, N = 9, 70, 13
    a, bm = rng.standard_normal((M, K)).astype(F32), rng.standard_normal((K, N)).astype(F32)
    c = rng.standard_normal(c_shape).astype(F32) if c_shape else None
    inputs = [np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(bm.T) if tb else bm, c]
    attrs = {"transA": ta, "transB": tb, "alpha": alpha, "beta": beta}
    y32 = run_single_op("Gemm", inputs, attrs, [False, True, True])[0]
    y16 = run_single_op("Gemm", inputs, {**attrs, **BF16}, [False, True, True])[0]
    bc = 0.0 if c is None else beta * np.broadcast_to(c, (M, N)).astype(np.float64)
    mag = abs(alpha) * np.abs(a.astype(np.float64)) @ np.abs(bm.astype(np.float64)) + np.abs(bc)
    a16, b16 = to_bf16(a).astype(np.float64), to_bf16(bm).astype(np.float64)
    exact = alpha * a16 @ b16 + bc
    mag16 = abs(alpha) * np.abs(a16) @ np.abs(b16) + np.abs(bc)
    check(f"Gemm transA={ta} transB={tb} alpha={alpha} beta={beta}", y16, y32, exact, mag, mag16, K)


@pytest.mark.parametrize("a_shape", [(2, 3, 5, 40), (7, 40), (40,)])
def test_matmul_bf16_within_bounds_of_fp32(a_shape: tuple) -> None:
    rng = np.random.default_rng(13)
    a, bm = rng.standard_normal(a_shape).astype(F32), rng.standard_normal((40, 33)).astype(F32)
    y32 = run_single_op("MatMul", [a, bm], {}, [False, True])[0]
    y16 = run_single_op("MatMul", [a, bm], BF16, [False, True])[0]
    mag = np.abs(a.astype(np.float64)) @ np.abs(bm.astype(np.float64))
    a16, b16 = to_bf16(a).astype(np.float64), to_bf16(bm).astype(np.float64)
    check(f"MatMul {a_shape} x (40, 33)", y16, y32, a16 @ b16, mag, np.abs(a16) @ np.abs(b16), 40)


@pytest.mark.parametrize("a_shape,b_shape,b_const", [
    ((2, 3, 5, 40), (2, 3, 40, 7), False),   # attention: a product per (batch, head)
    ((2, 3, 17, 40), (3, 40, 33), False),    # B broadcast over the batch
    ((6, 40), (40, 7), False),               # a 2-D activation B: one GEMM
    ((40,), (2, 40, 7), False),              # a vector A
    ((2, 9, 40), (2, 40, 7), True),          # a batched constant B (packed per run too)
])
def test_matmul_of_two_activations_bf16_within_bounds_of_fp32(a_shape: tuple, b_shape: tuple,
                                                              b_const: bool) -> None:
    rng = np.random.default_rng(15)
    a, bm = rng.standard_normal(a_shape).astype(F32), rng.standard_normal(b_shape).astype(F32)
    y32 = run_single_op("MatMul", [a, bm], {}, [False, b_const])[0]
    y16 = run_single_op("MatMul", [a, bm], BF16, [False, b_const])[0]
    f64 = np.float64
    mag = np.matmul(np.abs(a.astype(f64)), np.abs(bm.astype(f64)))
    a16, b16 = to_bf16(a).astype(f64), to_bf16(bm).astype(f64)
    check(f"MatMul {a_shape} x {b_shape}", y16, y32, np.matmul(a16, b16), mag,
          np.matmul(np.abs(a16), np.abs(b16)), 40)


def test_layers_without_a_bf16_kernel_refuse_the_attribute() -> None:
    rng = np.random.default_rng(14)
    x3 = rng.standard_normal((1, 4, 5, 5, 5)).astype(F32)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*bf16.*3-D Conv"):
        run_single_op("Conv", [x3, rng.standard_normal((4, 4, 3, 3, 3)).astype(F32)], BF16, [False, True])
    a, bm = rng.standard_normal((3, 4)).astype(F32), rng.standard_normal((4, 5)).astype(F32)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*bf16.*computed at run time"):
        run_single_op("Gemm", [a, bm], BF16, [False, False])
    with pytest.raises(int8rt.InvalidArgumentError, match="int8rt_precision must be 'bf16', got 'fp16'"):
        run_single_op("MatMul", [a, bm], {"int8rt_precision": "fp16"}, [False, True])


# ---------------------------------------------------------------- builder, engine files, CLI, facade

TEST_X = np.load(DATA_PATH)["test_x"]


class Digits(int8rt.IInt8EntropyCalibrator2):
    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def get_batch_size(self) -> int:
        return 64

    def get_batch(self, names):
        if self.done:
            return None
        self.done = True
        return [np.load(DATA_PATH)["calib"][:64]]


def layers(engine: int8rt.Engine) -> dict:
    return {layer["name"]: layer for layer in engine.layers()}


@pytest.fixture(scope="module")
def fp32_engine() -> int8rt.Engine:
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))


def test_bf16_flag_runs_every_conv_and_gemm_in_bf16_and_survives_the_engine_file(tmp_path, fp32_engine) -> None:
    # NCHW BF16 layers (the model's stem and 3x3 convs would form a channel-blocked region:
    # tests/test_bf16_blocked_dense.py)
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=False))
    heavy = [la for la in engine.layers() if la["op"] in ("Conv", "Gemm", "MatMul")]
    depthwise = [la for la in heavy if la["name"] == "/depthwise/depthwise.0/Conv"]
    assert len(depthwise) == 1 and depthwise[0]["precision"] == "bf16"
    assert "kernel=dwconv_bf16_" in depthwise[0]["detail"], depthwise
    dense = [la for la in heavy if la not in depthwise]
    assert len(dense) == 6 and all(la["precision"] == "bf16" and "kernel=gemm_bf16_" in la["detail"]
                                   for la in dense), dense
    assert "bf16: 7 of 7 float Conv / Gemm / MatMul layers run in BF16" in engine.report()
    y16 = engine.run({"input": TEST_X})["logits"]
    y32 = fp32_engine.run({"input": TEST_X})["logits"]
    rel = np.sqrt(np.mean((y16 - y32) ** 2) / np.mean(y32 ** 2))
    assert 0 < rel < 2.0 ** -6, f"digits CNN, all layers bf16: relative RMS {rel:.3g} of the logits"
    assert np.mean(y16.argmax(1) == y32.argmax(1)) >= 0.99
    path = tmp_path / "digits_bf16.i8rt"
    engine.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    assert [(la["name"], la["precision"], la["detail"]) for la in loaded.layers()] == \
        [(la["name"], la["precision"], la["detail"]) for la in engine.layers()]
    assert np.array_equal(loaded.run({"input": TEST_X})["logits"], y16)


def test_layer_precisions_bf16_keeps_one_layer_out_of_int8() -> None:
    network = int8rt.onnx.import_model(MODEL_PATH)
    gemm = next(n["name"] for n in network.nodes() if n["op"] == "Gemm")
    pool = next(n["name"] for n in network.nodes() if n["op"] == "MaxPool")
    relu = "/stem/stem.2/Relu"  # fused into the stem Conv by the graph passes
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(
        calibrator=Digits(), layer_precisions={gemm: "bf16", pool: "bf16", relu: "bf16"}, accuracy_check=False))
    by_name = layers(engine)
    assert by_name[gemm]["precision"] == "bf16" and by_name[pool]["precision"] == "fp32"
    assert sum(la["precision"] == "int8" for la in by_name.values()) > 0
    report = engine.report()
    assert f"warning: layer '{pool}' asked for bf16 stays float32: MaxPool has no BF16 kernel" in report, report
    assert any(line.startswith(f"warning: layer '{relu}' asked for bf16 is not a layer") for line in report), report
    slow = [line for line in report if "scalar reference kernel" in line]
    assert bool(slow) == (int8rt.kernels.get_max_isa() not in ("avx512bf16", "amx")
                          or not int8rt.kernels.cpu_features()["avx512_bf16"]), slow
    with pytest.raises(int8rt.InvalidArgumentError, match="must be 'fp32', 'bf16' or 'int8', got 'fp16'"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", layer_precisions={gemm: "fp16"}))


def test_cli_bf16_and_inspect(tmp_path, capsys) -> None:
    from int8rt.cli import main

    out = tmp_path / "bf16.i8rt"
    assert main(["build", str(MODEL_PATH), "--precision", "fp32", "--bf16", "--no-channel-blocked", "-o", str(out),
                 "--no-progress"]) == 0
    assert "0/10 layers int8, 7 bf16," in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bf16" in text and "kernel=gemm_bf16_" in text, text


def test_trt_facade_builder_flag_bf16(fp32_engine) -> None:
    pytest.importorskip("onnx")
    import int8rt.trt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network()
    assert trt.OnnxParser(network, logger).parse_from_file(str(MODEL_PATH))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.BF16)
    assert config.get_flag(trt.BuilderFlag.BF16) and int(trt.BuilderFlag.BF16) == 17  # TensorRT's value
    engine = builder.build_engine(network, config)
    got = {la["name"]: la["precision"] for la in engine.layers() if la["op"] in ("Conv", "Gemm", "int8rt.ConvBf16x16c")}
    assert sorted(got.values()) == ["bf16"] * 7, got  # the depthwise Conv too (dwconv_bf16 or the blocked one)


def test_capped_build_uses_the_reference_kernel_and_warns(fp32_engine) -> None:
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", bf16=True, max_isa="ref"))
    bf16 = [la for la in engine.layers() if la["precision"] == "bf16"]
    assert len(bf16) == 7 and all("kernel=gemm_bf16_ref" in la["detail"] or "kernel=dwconv_bf16_ref" in la["detail"]
                                  for la in bf16), bf16
    assert any("scalar reference kernel" in line for line in engine.report()), engine.report()
    # The reference kernels are the spec (same bits as VDPBF16PS: tests/test_bf16_kernels.py; the BF16
    # depthwise kernels agree bit for bit too). The network's other float layers (GlobalAveragePool) may
    # sum in another order on another tier, and a last-bit change there can flip the bf16 rounding of
    # the next layer's inputs (2^-8 relative each): the logits agree to within 2^-8 of their largest.
    full = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", bf16=True))
    got, want = engine.run({"input": TEST_X})["logits"], full.run({"input": TEST_X})["logits"]
    assert np.max(np.abs(got - want)) <= 2.0 ** -8 * np.max(np.abs(want))


# ---------------------------------------------------------------- bfloat16 tensors between BF16 convs


def _bf16_chain_model(extra_outputs: tuple = ()) -> bytes:
    """A block of BF16 convs whose tensors between convs become bfloat16
    (engine/bf16_layers.h, mark_bf16_tensors): expand 1x1 + Relu, depthwise
    3x3 + Clip(0, 6), project 1x1 + the block input (residual), and from the
    depthwise output a strided pointwise conv feeding a stride-2 3x3 conv
    (the direct path's phases) and a 1x5 conv the direct path declines (its
    fallback widens the bfloat16 input). `extra_outputs` also become network
    outputs, which keeps them float32."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(40)
    inits = {
        "w1": rng.standard_normal((24, 8, 1, 1)), "wd": rng.standard_normal((24, 1, 3, 3)),
        "w3": rng.standard_normal((8, 24, 1, 1)) * 0.2, "w4": rng.standard_normal((16, 24, 1, 1)) * 0.2,
        "w5": rng.standard_normal((8, 16, 3, 3)) * 0.2, "w6": rng.standard_normal((8, 16, 1, 5)) * 0.2,
        "b1": rng.standard_normal(24), "bd": rng.standard_normal(24), "lo": np.array(0.0), "hi": np.array(6.0),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("Relu", ["c1"], ["t1"]),
        helper.make_node("Conv", ["t1", "wd", "bd"], ["c2"], group=24, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["t2"]),
        helper.make_node("Conv", ["t2", "w3"], ["c3"]),
        helper.make_node("Add", ["c3", "x"], ["y1"]),
        helper.make_node("Conv", ["t2", "w4"], ["t4"], strides=[2, 2]),
        helper.make_node("Conv", ["t4", "w5"], ["y2"], strides=[2, 2]),
        helper.make_node("Conv", ["t4", "w6"], ["y3"]),
    ]
    shapes = {"y1": [None, 8, 12, 12], "y2": [None, 8, 2, 2], "y3": [None, 8, 6, 2], "t1": [None, 24, 12, 12],
              "t2": [None, 24, 12, 12], "t4": [None, 16, 6, 6]}
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in ("y1", "y2", "y3",
                                                                                         *extra_outputs)]
    graph = helper.make_graph(nodes, "bf16_chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                  [None, 8, 12, 12])],
                              outputs, [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_bfloat16_tensors_between_bf16_convs_keep_the_bits(tmp_path) -> None:
    """Tensors between BF16 convs are stored as bfloat16 (the producer's tile
    rounds what the consumer rounded itself before): the network's outputs
    have the bits of the same network where those tensors are float32
    (network outputs too), natively and under the cap "ref"; the engine
    file keeps the tensors' dtype. Across caps the bits are one summation
    order's: the reference's (VDPBF16PS) under "ref" and the AVX512-BF16
    tier; where AMX-BF16 runs natively (TDPBF16PS's order) its networks are
    compared with each other."""
    pytest.importorskip("onnx")
    x = np.random.default_rng(41).standard_normal((2, 8, 12, 12)).astype(F32)
    results = {}
    for cap in dict.fromkeys((None, "ref", VDPBF16PS_CAP)):
        for extra in ((), ("t1", "t2", "t4")):
            path = tmp_path / f"chain{len(extra)}.onnx"
            path.write_bytes(_bf16_chain_model(extra))
            engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True, max_isa=cap))
            details = [la["detail"] for la in engine.layers() if la["op"] == "Conv"]
            assert len(details) == 6 and all(d.startswith("bf16") for d in details), details
            marked = sum("out=bfloat16" in d for d in details)
            assert marked == (0 if extra else 3), details
            if not extra:
                assert "bf16: 3 tensors between BF16 convs stored as bfloat16" in engine.report()
            if not extra and cap is None:  # (a load chooses its kernels under the cap of the loading process)
                saved = tmp_path / "chain.i8rt"
                engine.save(str(saved))
                loaded = int8rt.Engine.load(str(saved))
                assert [la["detail"] for la in loaded.layers()] == [la["detail"] for la in engine.layers()]
                engine = loaded
            out = engine.run({"x": x})
            results[(cap, bool(extra))] = [out[n] for n in ("y1", "y2", "y3")]
    for key, got in results.items():
        want = results[(VDPBF16PS_CAP if key[0] else None, True)]
        for name, g, w in zip(("y1", "y2", "y3"), got, want):
            np.testing.assert_array_equal(g.view(np.uint32), w.view(np.uint32), err_msg=f"{name} {key}")


def _bf16_residual_model(extra_outputs: tuple = ()) -> bytes:
    """A ResNet-style block of BF16 convs: t0 = Relu(Conv 1x1 (x)) feeds both
    the 3x3 conv (X) and, as the residual, the last 1x1 conv's Add + Relu;
    t1 = Relu(Conv 3x3 (t0)). Both t0 and t1 become bfloat16 tensors (t0 a
    residual input); `extra_outputs` also become network outputs, which
    keeps them float32."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(42)
    inits = {"w0": rng.standard_normal((16, 6, 1, 1)), "b0": rng.standard_normal(16),
             "w1": rng.standard_normal((12, 16, 3, 3)) * 0.2, "b1": rng.standard_normal(12),
             "w2": rng.standard_normal((16, 12, 1, 1)) * 0.3, "b2": rng.standard_normal(16)}
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"]),
        helper.make_node("Relu", ["c0"], ["t0"]),
        helper.make_node("Conv", ["t0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["t1"]),
        helper.make_node("Conv", ["t1", "w2", "b2"], ["c2"]),
        helper.make_node("Add", ["c2", "t0"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    shapes = {"y": [None, 16, 10, 9], "t0": [None, 16, 10, 9], "t1": [None, 12, 10, 9]}
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in ("y", *extra_outputs)]
    graph = helper.make_graph(nodes, "bf16_residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                     [None, 6, 10, 9])],
                              outputs, [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("cap", [None, "ref"])
def test_bfloat16_residual_tensor_adds_its_bf16_values(tmp_path, cap) -> None:
    """A residual input between BF16 convs is stored as bfloat16 too
    (mark_bf16_tensors): the residual conv adds the residual's BF16 values
    (Bf16Tile::residual16, widened exactly). Exact: the output == the
    residual conv run alone on the float32 network's t1 with the residual
    rounded to BF16 by numpy (bits; natively and under the cap "ref", the
    reference tile). Bound: against the float32-residual network, the one
    extra rounding moves each output by at most 2^-8 |t0| (round to nearest
    even, 8 significant bits) plus the FP32 add's 2^-24 |y|."""
    pytest.importorskip("onnx")
    x = np.random.default_rng(43).standard_normal((2, 6, 10, 9)).astype(F32)
    engines = {}
    for extra in ((), ("t0", "t1")):
        path = tmp_path / f"res{len(extra)}.onnx"
        path.write_bytes(_bf16_residual_model(extra))
        engines[extra] = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True,
                                                                             max_isa=cap))
    marked = engines[()]
    details = [la["detail"] for la in marked.layers() if la["op"] == "Conv"]
    assert sum("out=bfloat16" in d for d in details) == 2, details
    assert ("bf16: 2 tensors between BF16 convs stored as bfloat16, 1 read as residuals (added as their "
            "BF16 values)") in marked.report()
    y = marked.run({"x": x})["y"]
    ref = engines[("t0", "t1")].run({"x": x})
    t0, t1, y_r32 = ref["t0"], ref["t1"], ref["y"]
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(_bf16_residual_model())
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    int8rt.set_max_isa(cap)
    try:
        want = run_single_op("Conv", [t1, consts["w2"], consts["b2"], to_bf16(t0)],
                             {**BF16, "int8rt_residual": 3, "int8rt_activation": "Relu"},
                             [False, True, True, False])[0]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32))
    err = np.abs(y.astype(np.float64) - y_r32)
    bound = 2.0 ** -8 * np.abs(t0.astype(np.float64)) + 2.0 ** -24 * np.abs(y_r32) + 1e-30
    assert np.all(err <= bound), f"max excess {np.max(err - bound):.3g}"
    assert np.any(err > 0), "the residual was not rounded: the test cannot tell"


def _maxpool_model(to: int, attrs: dict, shape: list) -> bytes:
    """x (float32) -> Cast(to) -> MaxPool(attrs) -> Cast(float32) -> y; to
    = FLOAT: a plain FP32 MaxPool."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Cast", ["x"], ["xc"], to=to), helper.make_node("MaxPool", ["xc"], ["p"], **attrs),
             helper.make_node("Cast", ["p"], ["y"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "maxpool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * len(shape))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},  # ResNet's pool
    {"kernel_shape": [2, 3], "strides": [1, 2]},
    {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [2, 2]},
    {"kernel_shape": [5], "strides": [3], "pads": [2, 1]},  # 1-D
])
def test_maxpool_over_bfloat16_is_the_fp32_pool_of_the_bf16_values(tmp_path, attrs) -> None:
    """MaxPool over a bfloat16 tensor (ops/bf16_maxpool.h: widened, the
    maxpool_f32 kernel, narrowed): the maximum of BF16 values is one of
    them, so the result is exactly the FP32 pool of the BF16 values (bits,
    padding never winning), natively and under the cap "ref"."""
    from onnx import TensorProto

    pytest.importorskip("onnx")
    one_d = len(attrs["kernel_shape"]) == 1
    shape = [2, 5, 23] if one_d else [2, 5, 17, 22]
    x = (np.random.default_rng(46).standard_normal(shape) * 4).astype(F32)
    fp32_path, bf16_path = tmp_path / "pool32.onnx", tmp_path / "pool16.onnx"
    fp32_path.write_bytes(_maxpool_model(TensorProto.FLOAT, attrs, shape))
    bf16_path.write_bytes(_maxpool_model(TensorProto.BFLOAT16, attrs, shape))
    want = int8rt.build_engine(str(fp32_path), int8rt.BuilderConfig(precision="fp32")).run({"x": to_bf16(x)})["y"]
    for cap in (None, "ref"):
        engine = int8rt.build_engine(str(bf16_path), int8rt.BuilderConfig(precision="fp32", max_isa=cap))
        got = engine.run({"x": x})["y"]
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=f"cap={cap}")
    assert np.any(to_bf16(x) != x), "the input was BF16 already: the test cannot tell"


def test_residual_of_a_depthwise_bf16_conv_stays_float32(tmp_path) -> None:
    """The depthwise BF16 kernel adds an FP32 residual (kernels/abi/dwconv_bf16.h),
    so a tensor that is a depthwise conv's fused residual stays float32 even
    where its other use (the same conv's X) could read bfloat16; the engine
    runs, within the BF16 bound of the unmarked network's FP32 result."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(47)
    inits = {"w0": rng.standard_normal((8, 4, 1, 1)) * 0.5, "wd": rng.standard_normal((8, 1, 3, 3)) * 0.3}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["t"]),
             helper.make_node("Conv", ["t", "wd"], ["d"], group=8, pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["d", "t"], ["y"])]
    graph = helper.make_graph(nodes, "dw_residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                   [None, 4, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8, 9, 9])],
                              [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    path = tmp_path / "dw_residual.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    assert any("fused residual Add" in line for line in engine.report()), engine.report()
    details = [la["detail"] for la in engine.layers() if la["op"] == "Conv"]
    assert len(details) == 2 and all(d.startswith("bf16") for d in details), details
    assert not any("out=bfloat16" in d for d in details), details
    x = np.random.default_rng(48).standard_normal((2, 4, 9, 9)).astype(F32)
    y = engine.run({"x": x})["y"]
    y32 = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    assert np.max(np.abs(y - y32)) <= 2.0 ** -6 * np.max(np.abs(y32))
