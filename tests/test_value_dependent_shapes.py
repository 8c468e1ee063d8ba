"""Output shapes that depend on the values of a graph input, not only its shape
(issue 11 §2): a Reshape's target shape, a reduction's axes, TopK's K, Slice's
starts, Tile's repeats given at run time. Build-time shape inference marks
such tensors (and what is computed from them) as known only at run time
(``ValueDependentShape`` in csrc/engine/layer.h); every run infers them from
the values it is given. Checked against NumPy, for several values through one
execution context, in FP32 and INT8 engines and across an engine file."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(5)


def ivi(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.INT64, shape)


def _fp32(m: onnx.ModelProto) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))


def test_reshape_by_a_run_time_shape_follows_each_runs_values() -> None:
    m = model([helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
               helper.make_node("Relu", ["r"], ["y"], name="relu")],
              [fvi("x", [2, 3, 4]), ivi("shape", [3])], [fvi("y", ["a", "b", "c"])])
    ctx = _fp32(m).create_execution_context()
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    for shape in ([4, 6, 1], [1, -1, 2], [0, 12, 1], [24, 1, 1]):
        (y,) = ctx.run({"x": x, "shape": np.array(shape, np.int64)}).values()
        want = np.maximum(x.reshape([2 if d == 0 else d for d in shape]), 0)
        assert y.shape == want.shape and np.array_equal(y, want), shape
    with pytest.raises(int8rt.NotSupportedError, match="output 'y'.*depends on the values"):
        ctx.output_shapes({"x": [2, 3, 4], "shape": [3]})
    with pytest.raises(int8rt.InvalidArgumentError, match="reshape"):
        ctx.run({"x": x, "shape": np.array([5, 5, 1], np.int64)})


@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduction_axes_and_topk_k_given_at_run_time(keepdims: int) -> None:
    m = model([helper.make_node("ReduceSum", ["x", "axes"], ["s"], name="sum", keepdims=keepdims),
               helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", axis=-1)],
              [fvi("x", [3, 4, 5]), ivi("axes", [None]), ivi("k", [1])],
              [fvi("s", ["a", "b", "c"][:3 - 2 * (1 - keepdims)]), fvi("v", ["a", "b", "k"]), ivi("i", ["a", "b", "k"])], opset=13)
    ctx = _fp32(m).create_execution_context()
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    for axes, k in (([0], 1), ([1, -1], 3), ([0, 1, 2], 5)):
        out = ctx.run({"x": x, "axes": np.array(axes, np.int64), "k": np.array([k], np.int64)})
        want = x.sum(axis=tuple(axes), keepdims=bool(keepdims))
        np.testing.assert_allclose(out["s"], want, rtol=1e-5, atol=1e-5)
        order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        assert np.array_equal(out["i"], order) and np.array_equal(out["v"], np.take_along_axis(x, order, -1))


def test_value_dependent_tensors_survive_an_engine_file(tmp_path) -> None:
    m = model([helper.make_node("Tile", ["x", "reps"], ["t"], name="tile"),
               helper.make_node("Slice", ["t", "starts", "ends"], ["y"], name="slice")],
              [fvi("x", [2, 3]), ivi("reps", [2]), ivi("starts", [2]), ivi("ends", [2])], [fvi("y", ["a", "b"])])
    path = tmp_path / "tile.i8rt"
    _fp32(m).save(str(path))
    ctx = int8rt.Engine.load(str(path)).create_execution_context()
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    for reps, starts, ends in (([2, 1], [1, 0], [4, 2]), ([1, 3], [0, 2], [2, 9]), ([3, 2], [-1, -4], [6, 6])):
        feeds = {"x": x, "reps": np.array(reps, np.int64), "starts": np.array(starts, np.int64),
                 "ends": np.array(ends, np.int64)}
        (y,) = ctx.run(feeds).values()
        t = np.tile(x, reps)
        assert np.array_equal(y, t[starts[0]:ends[0], starts[1]:ends[1]]), (reps, starts, ends)


def test_int8_build_keeps_value_dependent_tensors_in_float() -> None:
    """The Reshape's output and the Conv reading it have no static shape to
    plan with: left out of calibration (said in the report), they run in
    float32; the first Conv still runs in int8."""
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = RNG.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3
    m = model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
               helper.make_node("Relu", ["c"], ["r"], name="relu"),
               helper.make_node("Reshape", ["r", "shape"], ["rr"], name="reshape"),
               helper.make_node("Conv", ["rr", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1])],
              [fvi("x", [1, 3, 6, 6]), ivi("shape", [4])], [fvi("y", ["a", "b", "c", "d"])],
              [init("w", w), init("w2", w2)])
    batches = [{"x": RNG.uniform(-1, 1, (1, 3, 6, 6)).astype(np.float32), "shape": np.array([1, 4, 6, 6], np.int64)}
               for _ in range(4)]
    calibrator = int8rt.make_calibrator(batches, algorithm="entropy")
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="int8", calibrator=calibrator,
                                                         accuracy_check=False))
    assert any("depend on input values" in line and "'rr'" in line for line in engine.report()), engine.report()
    ctx = engine.create_execution_context()
    ref = _fp32(m).create_execution_context()
    x = batches[0]["x"]
    for shape in ([1, 4, 6, 6], [1, 4, 3, 12], [1, 4, 12, 3]):
        feeds = {"x": x, "shape": np.array(shape, np.int64)}
        (y,) = ctx.run(feeds).values()
        (y32,) = ref.run(feeds).values()
        assert y.shape == y32.shape == tuple(shape)
        np.testing.assert_allclose(y, y32, atol=0.05 * float(np.abs(y32).max()))
