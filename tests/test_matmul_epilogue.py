"""MatMul + bias Add (+ Gelu) fused into the SGEMM's epilogue in FP32 engines
(graph/passes/fuse_matmul_epilogue.cc, engine/ops/gemm_f32.cc): the bias is
added after the whole product (the epilogue's residual row with stride 0)
and Gelu runs the Gelu layer's unary_f32 kernel on each finished tile, so
the fused engine gives the unfused graph's bits (== against the same
network built with optimize=False: MatMul, Add and Gelu layers), on every
SGEMM tier, for shapes crossing the K slice (kc 192 / 256), the column tile
(nc 512) and partial panels, rank-3 activations, both Add operand orders, a
saved and reloaded engine, and the layer's own fallback for products that
do not run as one GEMM (a batched B)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
# (A shape, N): K = A's last dim; 300 crosses every tier's K slice, 545 the 512-wide column tile
CASES = [((5, 7), 3), ((2, 9, 300), 45), ((37, 64), 545)]


def linear_model(a_shape: tuple, n: int, bias: bool, bias_first: bool, gelu: bool) -> onnx.ModelProto:
    rng = np.random.default_rng(sum(a_shape) + n)
    k = a_shape[-1]
    nodes, inits, last = [helper.make_node("MatMul", ["x", "W"], ["mm"])], [], "mm"
    inits.append(numpy_helper.from_array((rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32), "W"))
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "b"))
        nodes.append(helper.make_node("Add", ["b", last] if bias_first else [last, "b"], ["biased"]))
        last = "biased"
    if gelu:
        nodes.append(helper.make_node("Gelu", [last], ["act"]))
        last = "act"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    out_shape = list(a_shape[:-1]) + [n]
    graph = helper.make_graph(nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(a_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def run(model: onnx.ModelProto, x: np.ndarray, optimize: bool, bf16: bool = False) -> tuple[np.ndarray, list[str]]:
    engine = int8rt.build_engine(model.SerializeToString(),
                                 int8rt.BuilderConfig(precision="fp32", optimize=optimize, bf16=bf16))
    y = engine.create_execution_context().run({"x": x})["y"]
    return y, [layer["detail"].split(" kernel=")[0] for layer in engine.layers() if layer["op"] == "MatMul"]


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{a}x{n}" for a, n in CASES])
@pytest.mark.parametrize("bias,bias_first,gelu", [(True, False, True), (True, True, False), (False, False, True)])
def test_fused_matmul_same_bits_as_unfused(isa: str, case: tuple, bias: bool, bias_first: bool, gelu: bool) -> None:
    a_shape, n = case
    model = linear_model(a_shape, n, bias, bias_first, gelu)
    x = (np.random.default_rng(3).standard_normal(a_shape) * 2).astype(np.float32)
    int8rt.set_max_isa(isa)  # layers choose their kernels when they are created
    try:
        fused, details = run(model, x, optimize=True)
        plain, plain_details = run(model, x, optimize=False)
    finally:
        int8rt.set_max_isa(None)
    want = "fp32 matmul" + (" + bias" if bias else "") + (" + gelu" if gelu else "")
    assert details == [want] and plain_details == ["fp32 matmul"], (details, plain_details)
    assert fused.tobytes() == plain.tobytes(), (isa, case, bias, gelu)


BF16_TIERS = ["ref"] + (["avx512"] if int8rt.kernels.isa_info()["avx512"]["cpu"] else [])


@pytest.mark.parametrize("isa", BF16_TIERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{a}x{n}" for a, n in CASES])
@pytest.mark.parametrize("bias,bias_first,gelu", [(True, False, True), (True, True, False), (False, False, True)])
def test_fused_bf16_matmul_same_bits_as_unfused(isa: str, case: tuple, bias: bool, bias_first: bool,
                                                gelu: bool) -> None:
    """A BF16 MatMul (bf16=True) takes the fusion too: the bias added in the
    BF16 tile's epilogue (one row, stride 0), the Gelu after the product:
    the bits of the unfused BF16 MatMul, Add and Gelu layers (under the cap
    "ref" the reference tile, else the AVX512-BF16 tile where the CPU has
    it)."""
    a_shape, n = case
    model = linear_model(a_shape, n, bias, bias_first, gelu)
    x = (np.random.default_rng(3).standard_normal(a_shape) * 2).astype(np.float32)
    int8rt.set_max_isa(isa)
    try:
        fused, details = run(model, x, optimize=True, bf16=True)
        plain, plain_details = run(model, x, optimize=False, bf16=True)
    finally:
        int8rt.set_max_isa(None)
    want = "bf16 matmul" + (" + bias" if bias else "") + (" + gelu" if gelu else "")
    assert details == [want] and plain_details == ["bf16 matmul"], (details, plain_details)
    assert fused.tobytes() == plain.tobytes(), (isa, case, bias, gelu)


def test_fused_matmul_survives_save_and_load(tmp_path) -> None:
    model = linear_model((2, 9, 300), 45, True, False, True)
    x = np.random.default_rng(4).standard_normal((2, 9, 300)).astype(np.float32)
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    engine.save(tmp_path / "linear.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "linear.i8rt")
    assert [layer["detail"] for layer in loaded.layers() if layer["op"] == "MatMul"] == ["fp32 matmul + bias + gelu"]
    y = engine.create_execution_context().run({"x": x})["y"]
    assert loaded.create_execution_context().run({"x": x})["y"].tobytes() == y.tobytes()


def test_int8_engine_keeps_the_unfused_matmul() -> None:
    """The INT8 lowering reads MatMul -> Add: the pass runs on FP32 engines only."""
    model = linear_model((16, 64), 32, True, False, True)
    calib = [np.random.default_rng(i).standard_normal((16, 64)).astype(np.float32) for i in range(2)]
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(calibrator=[{"x": c} for c in calib]))
    assert not any("+ bias" in layer["detail"] for layer in engine.layers())


@pytest.mark.parametrize("isa", TIERS)
def test_layer_epilogue_after_batched_products(isa: str) -> None:
    """A MatMul node carrying the fused attributes whose B is an activation
    with batch dims (one GEMM per batch) applies the bias and Gelu after the
    products: the bits of separate MatMul, Add and Gelu layers."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 5, 40)).astype(np.float32)
    b = rng.standard_normal((3, 40, 7)).astype(np.float32)
    bias = rng.standard_normal(7).astype(np.float32)
    int8rt.set_max_isa(isa)
    try:
        (fused,) = run_single_op("MatMul", [a, b, bias], {"int8rt_bias": 2, "int8rt_activation": "Gelu"},
                                 [False, False, True])
        (mm,) = run_single_op("MatMul", [a, b], {}, [False, False])
        (added,) = run_single_op("Add", [mm, bias], {}, [False, True])
        (plain,) = run_single_op("Gelu", [added], {}, [False])
    finally:
        int8rt.set_max_isa(None)
    assert fused.tobytes() == plain.tobytes(), isa


def test_malformed_fused_matmul_is_refused() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal((6, 5)).astype(np.float32)
    with pytest.raises(int8rt.InvalidArgumentError, match="int8rt_bias"):
        run_single_op("MatMul", [a, b, np.zeros(5, np.float32)], {"int8rt_bias": 1}, [False, True, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="4 values for 5"):
        run_single_op("MatMul", [a, b, np.zeros(4, np.float32)], {"int8rt_bias": 2}, [False, True, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="constant"):
        run_single_op("MatMul", [a, b, np.zeros(5, np.float32)], {"int8rt_bias": 2}, [False, True, False])
    with pytest.raises(int8rt.NotSupportedError, match="no fused activation 'Tanh'"):
        run_single_op("MatMul", [a, b], {"int8rt_activation": "Tanh"}, [False, True])
