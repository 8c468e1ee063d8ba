"""BF16 tensors between BF16 MatMuls (engine/bf16_layers.h, mark_bf16_tensors;
PackedBf16Gemm::run_bf16_io with right weights; engine/ops/bf16_convert.cc):
a Linear MatMul whose output only Linear MatMuls read as A (an encoder's FC1
+ bias + Gelu -> FC2) writes it as bfloat16, and a tensor that several read
as A (Q, K, V reading one LayerNorm output) is converted once by an
int8rt.ToBf16 node; an int8rt.Bf16Attention's output read through a
Transpose and a Reshape by a Linear MatMul is bfloat16 on the way. All
give the bits of the same network where those
tensors stay float32 (the first and third kept float32 by making them network outputs
too, the second by feeding each MatMul its own input with the same values),
under every BF16 tier (AMX-BF16 natively where the CPU has it, the
AVX512-BF16 tier, the scalar reference), for k a multiple of the AMX pair
block (A read in place) and not (copied), rows off the 32-row tile, and
after a save and reload; FC2 against the FP32 op on FC1's float output
within abi/gemm_bf16.h's bound."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

F32 = np.float32
CAPS = [c for c in ("amx", "avx512bf16", "ref") if int8rt.kernels.isa_info()[c]["cpu"]]


def _linear(nodes: list, inits: list, x: str, name: str, k: int, n: int, rng, gelu: bool = False) -> str:
    """x @ W + b (+ Gelu as Erf's decomposition is not needed: ONNX Gelu, opset 20)."""
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(F32)
    b = rng.standard_normal(n).astype(F32) * F32(0.1)
    inits += [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]
    nodes += [helper.make_node("MatMul", [x, f"{name}_w"], [f"{name}_mm"]),
              helper.make_node("Add", [f"{name}_mm", f"{name}_b"], [f"{name}_out" if not gelu else f"{name}_pre"])]
    if gelu:
        nodes.append(helper.make_node("Gelu", [f"{name}_pre"], [f"{name}_out"]))
    return f"{name}_out"


def _model(nodes, inits, inputs, outputs) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


def ffn_model(rows: tuple, k: int, hidden: int, n: int, keep_h: bool) -> bytes:
    """x [rows..., k] -> FC1 (+ bias, Gelu) -> h -> FC2 (+ bias) -> y; keep_h: h a network output too."""
    rng = np.random.default_rng(k * 1000 + hidden)
    nodes, inits = [], []
    h = _linear(nodes, inits, "x", "fc1", k, hidden, rng, gelu=True)
    y = _linear(nodes, inits, h, "fc2", hidden, n, rng)
    nodes.append(helper.make_node("Identity", [y], ["y"]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [*rows, n])]
    if keep_h:
        outs.append(helper.make_tensor_value_info(h, TensorProto.FLOAT, [*rows, hidden]))
    return _model(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*rows, k])], outs)


def qkv_model(rows: tuple, k: int, n: int, shared: bool) -> bytes:
    """Three Linear layers (q, k, v) reading x and a residual Add reading it as float32;
    not shared: each Linear reads its own input (x_q, x_k, x_v, fed the same values)."""
    rng = np.random.default_rng(k * 7 + n)
    nodes, inits, outs = [], [], []
    names = ("x", "x", "x") if shared else ("x_q", "x_k", "x_v")
    for src, tag in zip(names, "qkv"):
        out = _linear(nodes, inits, src, tag, k, n, rng)
        nodes.append(helper.make_node("Identity", [out], [tag]))
        outs.append(helper.make_tensor_value_info(tag, TensorProto.FLOAT, [*rows, n]))
    nodes.append(helper.make_node("Add", ["x", "x"], ["twice"]))  # a float32 reader of x
    outs.append(helper.make_tensor_value_info("twice", TensorProto.FLOAT, [*rows, k]))
    inputs = [helper.make_tensor_value_info(s, TensorProto.FLOAT, [*rows, k]) for s in dict.fromkeys(names)]
    if not shared:
        inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [*rows, k]))
    return _model(nodes, inits, inputs, outs)


def _report(engine) -> str:
    return "\n".join(engine.report())


def _engine(tmp_path, name: str, data: bytes, cap: str):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(data)
    return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True, max_isa=cap))


# The last two: odd k, hidden and n (an odd FP32 row converted with its zero pad, FC2's bfloat16 A copied with it,
# FC1's output rounded with a last unpaired value), and 300 columns over several column tasks.
SHAPES = [((2, 40), 64, 96, 64), ((1, 1), 64, 64, 32), ((3, 23), 40, 70, 24), ((70,), 96, 160, 48),
          ((5, 13), 33, 41, 17), ((2, 75), 48, 300, 40)]


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize("rows,k,hidden,n", SHAPES)
def test_fc1_fc2_bfloat16_tensor_same_bits(tmp_path, cap, rows, k, hidden, n):
    x = np.random.default_rng(5).standard_normal((*rows, k)).astype(F32)
    new = _engine(tmp_path, "new", ffn_model(rows, k, hidden, n, keep_h=False), cap)
    ref = _engine(tmp_path, "ref", ffn_model(rows, k, hidden, n, keep_h=True), cap)
    assert "1 tensors between BF16 MatMuls stored as bfloat16" in _report(new), _report(new)
    assert "between BF16 MatMuls" not in _report(ref), _report(ref)
    details = [la["detail"] for la in new.layers() if la["op"] == "MatMul"]
    assert len(details) == 2 and sum("-> bfloat16" in d for d in details) == 1, details
    got, want = new.run({"x": x}), ref.run({"x": x})
    assert got["y"].tobytes() == want["y"].tobytes(), f"{cap} {rows} k={k}: FC2's output bits differ"
    # FC2 against the FP32 op on FC1's float output: abi/gemm_bf16.h's bound with S = sum |h w| + |b|.
    h = want["fc1_out"].astype(np.float64).reshape(-1, hidden)
    w = np.asarray(numpy_helper.to_array(_init(ffn_model(rows, k, hidden, n, True), "fc2_w")), np.float64)
    b = np.asarray(numpy_helper.to_array(_init(ffn_model(rows, k, hidden, n, True), "fc2_b")), np.float64)
    s = np.abs(h) @ np.abs(w) + np.abs(b)
    bound = (2.0 ** -7 + 2.0 ** -16) * s + 2 * (hidden + 2) * 2.0 ** -24 * s
    err = np.abs(got["y"].reshape(-1, n).astype(np.float64) - (h @ w + b))
    assert np.all(err <= bound), f"{cap}: worst {np.max(err - bound)} past the bound"
    reloaded = _reload(new, cap)
    assert reloaded.run({"x": x})["y"].tobytes() == got["y"].tobytes()


def _reload(engine, cap: str):
    """The engine saved and loaded under the same ISA cap (a load chooses its kernels anew)."""
    int8rt.set_max_isa(cap)
    try:
        return int8rt.Engine.deserialize(engine.serialize())
    finally:
        int8rt.set_max_isa(None)


def _init(data: bytes, name: str):
    import onnx

    return next(t for t in onnx.load_from_string(data).graph.initializer if t.name == name)


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize("rows,k,n", [((2, 40), 64, 64), ((3, 23), 40, 24), ((1, 1), 32, 48), ((3, 23), 41, 24)])
def test_qkv_one_conversion_same_bits(tmp_path, cap, rows, k, n):
    x = np.random.default_rng(9).standard_normal((*rows, k)).astype(F32)
    new = _engine(tmp_path, "new", qkv_model(rows, k, n, shared=True), cap)
    ref = _engine(tmp_path, "ref", qkv_model(rows, k, n, shared=False), cap)
    assert "bf16: 1 tensors converted once for several BF16 MatMuls" in _report(new), _report(new)
    assert [la["op"] for la in new.layers()].count("int8rt.ToBf16") == 1
    assert "int8rt.ToBf16" not in [la["op"] for la in ref.layers()]
    got = new.run({"x": x})
    want = ref.run({"x": x, "x_q": x, "x_k": x, "x_v": x})
    for name in ("q", "k", "v", "twice"):
        assert got[name].tobytes() == want[name].tobytes(), f"{cap} {rows} k={k}: {name} differs"
    reloaded = _reload(new, cap)
    assert all(reloaded.run({"x": x})[t].tobytes() == got[t].tobytes() for t in "qkv")


def context_model(b: int, h: int, s: int, d: int, n: int, keep_ctx: bool) -> bytes:
    """softmax(q kt) v per head (fused into int8rt.Bf16Attention) -> Transpose -> Reshape -> Linear;
    keep_ctx: the attention's output a network output too."""
    rng = np.random.default_rng(h * 100 + s)
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["scores"]),
             helper.make_node("Softmax", ["scores"], ["probs"], axis=-1),
             helper.make_node("MatMul", ["probs", "v"], ["ctx"]),
             helper.make_node("Shape", ["ctx"], ["ctx_shape"]),  # reads no value (MiniLM's context has one)
             helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["ctx_t", "to_rows"], ["ctx_rows"])]
    inits = [numpy_helper.from_array(np.array([b, s, h * d], dtype=np.int64), "to_rows")]
    y = _linear(nodes, inits, "ctx_rows", "out", h * d, n, rng)
    nodes.append(helper.make_node("Identity", [y], ["y"]))
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
              for name, shape in (("q", [b, h, s, d]), ("kt", [b, h, d, s]), ("v", [b, h, s, d]))]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, s, n]),
            helper.make_tensor_value_info("ctx_shape", TensorProto.INT64, [4])]
    if keep_ctx:
        outs.append(helper.make_tensor_value_info("ctx", TensorProto.FLOAT, [b, h, s, d]))
    return _model(nodes, inits, inputs, outs)


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize("b,h,s,d,n", [(2, 3, 40, 32, 48), (1, 2, 17, 8, 24)])
def test_attention_context_bfloat16_same_bits(tmp_path, cap, b, h, s, d, n):
    rng = np.random.default_rng(13)
    feed = {"q": rng.standard_normal((b, h, s, d)).astype(F32), "kt": rng.standard_normal((b, h, d, s)).astype(F32),
            "v": rng.standard_normal((b, h, s, d)).astype(F32)}
    new = _engine(tmp_path, "new", context_model(b, h, s, d, n, keep_ctx=False), cap)
    ref = _engine(tmp_path, "ref", context_model(b, h, s, d, n, keep_ctx=True), cap)
    assert "int8rt.Bf16Attention" in [la["op"] for la in new.layers()]
    assert "bf16: 1 BF16 attention outputs stored as bfloat16" in _report(new), _report(new)
    assert "BF16 attention outputs" not in _report(ref), _report(ref)
    got, want = new.run(feed), ref.run(feed)
    assert got["y"].tobytes() == want["y"].tobytes(), f"{cap}: the Linear's output bits differ"
    assert list(got["ctx_shape"]) == [b, h, s, d]
    assert _reload(new, cap).run(feed)["y"].tobytes() == got["y"].tobytes()


def test_matmul_output_left_float_where_another_op_reads_it(tmp_path):
    """FC1's output read by a non-MatMul too (here a network output is the other
    reader's case: an Add) stays float32; so does one read as B."""
    rows, k, hidden = (2, 8), 32, 64
    rng = np.random.default_rng(3)
    nodes, inits = [], []
    h = _linear(nodes, inits, "x", "fc1", k, hidden, rng, gelu=True)
    y = _linear(nodes, inits, h, "fc2", hidden, hidden, rng)
    nodes.append(helper.make_node("Add", [y, h], ["y"]))
    data = _model(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*rows, k])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [*rows, hidden])])
    engine = _engine(tmp_path, "other", data, None)
    assert "between BF16 MatMuls" not in _report(engine), _report(engine)


@pytest.mark.parametrize("cap", CAPS)
def test_fc1_fc2_one_and_two_threads_same_bits(tmp_path, cap):
    """600 rows of k = 500 (FC1's float32 A converted across threads, several row and column tasks): the engine's
    output bytes at 1 and 2 threads are equal, and equal to the float32-tensor network's."""
    rows, k, hidden, n = (2, 300), 500, 96, 40
    x = np.random.default_rng(11).standard_normal((*rows, k)).astype(F32)
    new = _engine(tmp_path, "new", ffn_model(rows, k, hidden, n, keep_h=False), cap)
    ref = _engine(tmp_path, "ref", ffn_model(rows, k, hidden, n, keep_h=True), cap)
    before = int8rt.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            outs.append(new.run({"x": x})["y"].tobytes())
        assert outs[0] == outs[1], f"{cap}: 1 and 2 threads differ"
        assert outs[0] == ref.run({"x": x})["y"].tobytes(), f"{cap}: the bfloat16 tensor changed FC2's bits"
    finally:
        int8rt.set_num_threads(before)
