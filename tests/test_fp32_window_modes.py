"""Float32-engine modes of window ops that detector / segmenter exports use:
MaxPool's Indices output (and MaxPool on uint8 / float16), Resize antialias
and tf_crop_and_resize (csrc/engine/ops/resize_separable.cc), ConvTranspose
output_shape and auto_pad SAME.


MaxPool values and indices are compared with == against ONNX Runtime (a max
is exact; both take the first maximum). Resize against ONNX's reference
evaluator within 1e-5 relative (both compute in float64; the engine's scale
for `sizes` is float32). ConvTranspose against ONNX Runtime (output_shape)
or ONNX's reference (auto_pad SAME) within 1e-4 (float32 sums in another
order)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import int8rt

RNG = np.random.default_rng(31)
F32 = np.float32


def _out(name: str, elem: int, rank: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, [f"{name}{i}" for i in range(rank)])


def _engine_run(model: onnx.ModelProto, feeds: dict) -> list:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    out = engine.run(feeds)
    return [out[o.name] for o in model.graph.output]


def _ort_run(model: onnx.ModelProto, feeds: dict) -> list:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _maxpool(attrs: dict[str, Any], shape: Sequence[int], elem: int = TensorProto.FLOAT,
             indices: bool = True) -> onnx.ModelProto:
    outs = ["y", "i"] if indices else ["y"]
    node = helper.make_node("MaxPool", ["x"], outs, **attrs)
    out_vi = [_out("y", elem, len(shape))]
    if indices:
        out_vi.append(_out("i", TensorProto.INT64, len(shape)))
    graph = helper.make_graph([node], "mp", [helper.make_tensor_value_info("x", elem, list(shape))], out_vi)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


@pytest.mark.parametrize("attrs,shape", [
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, (2, 3, 9, 8)),
    ({"kernel_shape": [2, 3], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]}, (1, 2, 7, 7)),
    ({"kernel_shape": [3, 3], "storage_order": 1, "pads": [0, 1, 2, 1]}, (1, 2, 6, 5)),
    ({"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, (2, 3, 11)),
    ({"kernel_shape": [2, 2, 2], "strides": [1, 2, 2]}, (1, 2, 4, 5, 6)),
])
def test_maxpool_indices_match_onnx_runtime(attrs: dict[str, Any], shape: Sequence[int]) -> None:
    x = RNG.integers(-20, 20, shape).astype(F32)  # small integers: ties, which both break to the first
    m = _maxpool(attrs, shape)
    got, want = _engine_run(m, {"x": x}), _ort_run(m, {"x": x})
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float16, np.float64])
def test_maxpool_on_other_dtypes(dtype: type) -> None:
    x = RNG.integers(0, 100, (1, 2, 6, 6)).astype(dtype)
    m = _maxpool({"kernel_shape": [2, 2], "strides": [2, 2]}, x.shape, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                 indices=False)
    got = _engine_run(m, {"x": x})[0]
    want = x.reshape(1, 2, 3, 2, 3, 2).max(axis=(3, 5))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


def _resize(attrs: dict[str, Any], shape: Sequence[int], roi=None, scales=None, sizes=None) -> tuple:
    inits, names = [], ["x", "", "", ""]
    for i, (name, v) in enumerate((("roi", roi), ("scales", scales), ("sizes", sizes)), start=1):
        if v is not None:
            inits.append(numpy_helper.from_array(v, name))
            names[i] = name
    while names[-1] == "":
        names.pop()
    node = helper.make_node("Resize", names, ["y"], **attrs)
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [_out("y", TensorProto.FLOAT, len(shape))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


@pytest.mark.parametrize("attrs,kw", [
    ({"mode": "linear", "antialias": 1}, {"scales": np.array([1, 1, 0.4, 0.55], F32)}),
    ({"mode": "cubic", "antialias": 1}, {"sizes": np.array([2, 3, 5, 4], np.int64)}),
    ({"mode": "linear", "antialias": 1, "axes": [3, 2]}, {"sizes": np.array([3, 7], np.int64)}),
    ({"mode": "cubic", "antialias": 1, "exclude_outside": 1, "cubic_coeff_a": -0.5},
     {"scales": np.array([1, 1, 0.3, 1.5], F32)}),
    ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 9.0},
     {"roi": np.array([0, 0, 0.2, -0.3, 1, 1, 0.9, 0.8], F32), "sizes": np.array([2, 3, 6, 5], np.int64)}),
    ({"mode": "nearest", "coordinate_transformation_mode": "tf_crop_and_resize", "axes": [2, 3]},
     {"roi": np.array([0.1, 0.3, 0.7, 1.2], F32), "sizes": np.array([4, 9], np.int64)}),
    ({"mode": "linear"}, {"scales": np.array([1, 2, 1.5, 1], F32)}),  # a dim other than the last two
])
def test_resize_modes_match_onnx_reference(attrs: dict[str, Any], kw: dict) -> None:
    shape = (2, 3, 13, 10)
    x = RNG.standard_normal(shape).astype(F32)
    m = _resize(attrs, shape, **kw)
    want = ReferenceEvaluator(m).run(None, {"x": x})[0]
    got = _engine_run(m, {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attrs,size,k", [
    ({"output_shape": [10, 8], "strides": [3, 2]}, (3, 3), (3, 3)),
    ({"output_shape": [9, 7], "strides": [3, 2], "output_padding": [1, 1]}, (3, 3), (3, 3)),  # odd totals
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, (5, 4), (3, 3)),
    ({"auto_pad": "SAME_LOWER", "strides": [2, 3], "dilations": [2, 1]}, (5, 4), (3, 2)),
    ({"output_shape": [12], "strides": [2]}, (5,), (4,)),
    ({"auto_pad": "SAME_UPPER", "strides": [3]}, (6,), (2,)),
])
def test_conv_transpose_output_shape_and_same(attrs: dict[str, Any], size, k) -> None:
    """ONNX's reference, the spec: with auto_pad SAME the output is in * stride even where that
    needs a negative total padding (ONNX Runtime clips the padding to 0 there and gives a smaller
    output, the SAME_LOWER and 1-D SAME_UPPER cases here)."""
    w = RNG.standard_normal((3, 2, *k)).astype(F32)
    b = RNG.standard_normal(2).astype(F32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    graph = helper.make_graph([node], "ct", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, *size])],
                              [_out("y", TensorProto.FLOAT, 2 + len(size))],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = RNG.standard_normal((1, 3, *size)).astype(F32)
    # output_shape: ONNX Runtime (ONNX's reference mis-sizes output_shape without pads: it keeps
    # zero pads and fails to fold back); auto_pad SAME: ONNX's reference (see above).
    want = (ReferenceEvaluator(m).run(None, {"x": x}) if "auto_pad" in attrs else _ort_run(m, {"x": x}))[0]
    got = _engine_run(m, {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
