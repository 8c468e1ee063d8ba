"""ONNX Runtime as an oracle: one ONNX node for the float32 layer tests
(:func:`run_ort`), and sessions to hold int8 results to (:func:`qdq_session`,
:func:`integer_gemm_is_exact`).

run_ort builds the node with onnx.helper; inputs flagged constant become
initializers, the rest graph inputs, so the model matches what
int8rt._testing.run_single_op builds.

ONNX Runtime's integer GEMM (MLAS) is exact only on some CPUs: on x86 without
VNNI its uint8 x int8 kernel adds pairs of products in saturating int16
(vpmaddubsw), so full-range operands come out wrong (measured on an AMD Zen 3:
248 of 840 sums of a 12x45 @ 45x70 MatMulInteger off, by up to 22041). Tests
that compare int8 results with ONNX Runtime's kernels ask first.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

onnx = __import__("pytest").importorskip("onnx")
ort = __import__("pytest").importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

_ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
         np.dtype(np.int32): TensorProto.INT32, np.dtype(np.int8): TensorProto.INT8, np.dtype(np.bool_): TensorProto.BOOL}


def run_ort(op: str, inputs: Sequence[np.ndarray | None], attrs: dict[str, Any],
            constant_inputs: Sequence[bool], num_outputs: int = 1, opset: int = 17) -> list[np.ndarray]:
    """Runs `op` on `inputs` with ONNX Runtime at `opset`; returns its outputs."""
    names, graph_inputs, inits, feeds = [], [], [], {}
    for i, x in enumerate(inputs):
        if x is None:
            names.append("")
            continue
        name = f"input{i}"
        names.append(name)
        if i < len(constant_inputs) and constant_inputs[i]:
            inits.append(numpy_helper.from_array(np.asarray(x), name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, _ELEM[x.dtype], list(x.shape)))
            feeds[name] = x
    out_names = [f"output{o}" for o in range(num_outputs)]
    node = helper.make_node(op, names, out_names, name="op_under_test", **attrs)
    outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph([node], "g", graph_inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model)  # fills in the outputs' types
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@functools.lru_cache(maxsize=None)
def integer_gemm_is_exact() -> bool:
    """Whether ONNX Runtime's MatMulInteger gives the exact int32 sums on this
    CPU (module docstring): probed once on full-range uint8 x int8 operands."""
    rng = np.random.default_rng(0)
    a = rng.integers(200, 256, (8, 64)).astype(np.uint8)
    b = rng.integers(100, 128, (64, 16)).astype(np.int8)
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("a", TensorProto.UINT8, [8, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [8, 16])],
                              [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"a": a})[0]
    return bool(np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64)))


def skip_unless_integer_gemm_is_exact() -> None:
    """Skips a test whose oracle is ONNX Runtime's integer kernels where they are inexact here."""
    if not integer_gemm_is_exact():
        __import__("pytest").skip("ONNX Runtime's integer GEMM is inexact on this CPU (x86 without VNNI: "
                                  "saturating int16 pair sums), so it cannot be the oracle here")


def qdq_session(model: Any) -> Any:
    """An ONNX Runtime session (path or serialized model) to hold int8rt's int8
    results to: ONNX Runtime's own int8 kernels where its integer GEMM is exact,
    otherwise the QDQ graph run literally with optimizations off
    (DequantizeLinear, the float op, QuantizeLinear: the format's definition)."""
    so = ort.SessionOptions()
    if not integer_gemm_is_exact():
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
