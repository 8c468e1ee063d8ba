"""Runs one ONNX node with ONNX Runtime: the oracle for the float32 layer tests.

The node is built with onnx.helper; inputs flagged constant become
initializers, the rest graph inputs, so the model matches what
int8rt._testing.run_single_op builds.
"""
from __future__ import annotations

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
