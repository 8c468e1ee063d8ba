"""A Mul by a float32 constant of one element inside a BF16 channel-blocked
region (engine/bf16_blocked.cc scale_input; int8rt.ChannelScaleBf16x16c's
scalar form, ops/bf16_blocked_scale.cc): NFNet's scaled activations
(x * gamma, x * alpha), RESULTS.md section 272. Follows
test_bf16_blocked_act.py's squeeze-and-excitation test.

What is exact and what is bounded:
1. m = to_bf16(t * k) of the region's own t (exact BF16) and k, bits,
   either input order, a rank-0 and a [1, 1, 1, 1] constant, odd channel
   counts, batch 1 and 3, 1 and 2 threads, on the reference kernels after
   save / load; the residual form x + x * k (fused into the scale)
   to_bf16(f32(x * k) + x), bits.
2. Against the NCHW BF16 engine, which multiplies its unrounded FP32 t: two
   roundings, |m - t k| <= 2^-7 |t k|.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16

F32 = np.float32


def _scalar_model(const_first: bool, rank0: bool, c_in: int = 5, mid: int = 37, c_out: int = 19,
                  hw: tuple = (9, 13)) -> bytes:
    """t = Relu(1x1 (x)) -> m = Mul(t, k) (or Mul(k, t)) -> c2 = depthwise 3x3
    (m) -> a = c2 + c2 * alpha (NFNet's residual form) -> c3 = 1x1 (a) -> y =
    1x1 (c3) -> ten more 1x1 to y; outputs y, t, m, c2, a."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2724)
    inits = {
        "w0": rng.standard_normal((mid, c_in, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(mid),
        "w2": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b2": rng.standard_normal(c_out),
        "w3": rng.standard_normal((c_out, c_out, 1, 1)) * 0.3, "b3": rng.standard_normal(c_out),
        "k": np.array(1.7132) if rank0 else np.full((1, 1, 1, 1), 1.7132),
        "alpha": np.array(0.2),
    }
    for i in range(4, 14):
        inits[f"w{i}"] = rng.standard_normal((c_out, c_out, 1, 1)) * 0.3
        inits[f"b{i}"] = rng.standard_normal(c_out)
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"]), helper.make_node("Relu", ["c0"], ["t"]),
        helper.make_node("Mul", ["k", "t"] if const_first else ["t", "k"], ["m"]),
        helper.make_node("Conv", ["m", "w1", "b1"], ["c2"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c2", "alpha"], ["c2a"]),
        helper.make_node("Add", ["c2", "c2a"], ["a"]),
        helper.make_node("Conv", ["a", "w2", "b2"], ["c3"]),
        helper.make_node("Conv", ["c3", "w3", "b3"], ["c4"]),
    ]
    for i in range(4, 14):  # enough region convs for the five outputs' conversions
        nodes.append(helper.make_node("Conv", [f"c{i}", f"w{i}", f"b{i}"], ["y" if i == 13 else f"c{i + 1}"]))
    h, w = hw
    shapes = {"y": [None, c_out, h, w], "t": [None, mid, h, w], "m": [None, mid, h, w], "c2": [None, mid, h, w],
              "a": [None, mid, h, w]}
    graph = helper.make_graph(
        nodes, "region24_scalar", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()],
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("const_first,rank0", [(False, True), (True, True), (False, False)],
                         ids=["mul-t-k", "mul-k-t", "k-1111"])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_scalar_mul_joins_the_region_and_rounds_t_times_k(tmp_path, const_first, rank0, batch) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "scalar.onnx"
    path.write_bytes(_scalar_model(const_first, rank0))
    x = np.random.default_rng(2725).standard_normal((batch, 5, 9, 13)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    ops = [la["op"] for la in blocked.layers()]
    assert ops.count("int8rt.ChannelScaleBf16x16c") == 2 and ops.count("int8rt.ConvBf16x16c") == 14 and \
        "Mul" not in ops and "Add" not in ops and "int8rt.AddBf16x16c" not in ops, ops
    out = blocked.run({"x": x})
    t, m, c2, a = (out[k] for k in ("t", "m", "c2", "a"))
    _same_bits(t, to_bf16(t), "t is a blocked (BF16) tensor")
    k = F32(1.7132)
    want = to_bf16(t * k)
    assert not np.array_equal(want, t * k), "the product was BF16 already: the test cannot tell"
    _same_bits(m, want, "m = to_bf16(t * k)")
    want_a = to_bf16(c2 * F32(0.2) + c2)
    _same_bits(a, want_a, "a = to_bf16(f32(c2 * alpha) + c2)")
    for threads in (1, 2):
        got = _run_at(blocked, {"x": x}, threads)["m"]
        _same_bits(got, want, f"m at {threads} threads")
    # Against the NCHW engine's unrounded t: two roundings, each within 2^-8.
    nchw = _build(path, False).run({"x": x})
    _same_bits(t, to_bf16(nchw["t"]), "t = to_bf16(the NCHW engine's t)")
    exact = nchw["t"].astype(np.float64) * np.float64(k)
    err, bound = np.abs(m - exact), 2.0 ** -7 * np.abs(exact)
    assert np.all(err <= bound), f"{np.sum(err > bound)} values past 2^-7 |t k|, worst {np.max(err - bound)}"
    assert np.max(err / np.maximum(bound, 1e-30)) > 0.5, "no error near the bound: the check cannot tell"
    saved = tmp_path / "scalar.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved)).run({"x": x})
    for name in ("y", "t", "m", "c2", "a"):
        _same_bits(ref[name], out[name], f"{name} on the reference kernels")
    forged = bytearray(saved.read_bytes())
    forged[len(forged) // 2] ^= 0x40
    bad = tmp_path / "forged.i8rt"
    bad.write_bytes(bytes(forged))
    with pytest.raises(Exception):
        int8rt.Engine.load(str(bad))
