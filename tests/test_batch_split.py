"""A batch split across threads by sample (csrc/engine/batch_split.h): an
execution context runs a batch as one sub-batch per thread when every layer
works per sample. Outputs must be the bytes of a 1-thread unsplit run at
every batch and thread count (==), the split must happen where it should
(int8rt._testing.batch_split_runs counts split runs), and networks whose
layers mix samples must run unsplit (else their outputs would differ)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _testing
from onnx_models import resnet_block
from thread_settings import restore_threads  # noqa: F401 (the fixture, by name)

F32 = np.float32


pytestmark = pytest.mark.usefixtures("restore_threads")


def expected_parts(batch: int, threads: int, per_thread: int) -> int:
    """batch_split.cc's rule: parts that divide the batch (per_thread per
    thread, else one per thread), or one per thread from 4 per thread up."""
    if threads < 2 or per_thread < 1 or batch < 2:
        return 1
    for p in (threads * per_thread, threads):
        if p <= batch and batch % p == 0:
            return p
    return threads if batch >= 4 * threads else 1


def resnet_block_engine(tmp_path: Path, precision: str) -> object:
    """tests/onnx_models.resnet_block (QConv with padding and a residual,
    QMaxPool, 1x1 QConv, QGlobalAveragePool, QFlatten, QGemm in int8)."""
    path = tmp_path / "block.onnx"
    onnx.save(resnet_block(np.random.default_rng(5), relu_after_pointwise=True), str(path))
    if precision == "fp32":
        return int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    calib = np.random.default_rng(6).standard_normal((16, 3, 12, 12)).astype(F32)
    cal = int8rt.make_calibrator({"x": calib}, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(path, int8rt.BuilderConfig(precision="int8", calibrator=cal))


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_split_runs_equal_one_thread_unsplit(tmp_path: Path, precision: str) -> None:
    engine = resnet_block_engine(tmp_path, precision)
    if precision == "int8":
        ops = {layer["op"] for layer in engine.layers()}
        assert "int8rt.QConv" in ops and "int8rt.QGemm" in ops, ops
    ctx = engine.create_execution_context()
    x_all = np.random.default_rng(7).standard_normal((12, 3, 12, 12)).astype(F32)
    for batch in (1, 2, 3, 4, 6, 8, 9, 12):
        x = np.ascontiguousarray(x_all[:batch])
        int8rt.set_num_threads(1)
        _testing.set_batch_split(0)
        want = ctx.run({"x": x})["y"]
        for threads in (2, 3):
            for per_thread in (0, 1, 2):
                int8rt.set_num_threads(threads)
                _testing.set_batch_split(per_thread)
                before = _testing.batch_split_runs()
                got = ctx.run({"x": x})["y"]
                split = _testing.batch_split_runs() - before
                where = f"{precision} batch {batch}, {threads} threads, {per_thread} parts per thread"
                assert split == (expected_parts(batch, threads, per_thread) > 1), where
                assert got.shape == want.shape, where
                assert np.array_equal(got, want), f"{where}: max diff {np.abs(got - want).max()}"


def one_input_model(nodes: list, inits: list, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "mix", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
                              [numpy_helper.from_array(a, name) for name, a in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def halves_scaled(x: np.ndarray) -> np.ndarray:
    """Reshape [n, 4] -> [2, 2n], rows times 1 and 2, back to [n, 4]: every
    op splits by sample but the middle tensor's rows are half batches."""
    return (x.reshape(2, -1) * np.array([[1.0], [2.0]], F32)).reshape(-1, 4)


def softmax_over_batch(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


MIXING = {
    # The shape check: the middle tensor's first dimension is 2, not the batch.
    "reshape_across_samples": (one_input_model(
        [helper.make_node("Reshape", ["x", "s1"], ["r"]), helper.make_node("Mul", ["r", "k"], ["m"]),
         helper.make_node("Reshape", ["m", "s2"], ["y"])],
        [("s1", np.array([2, -1], np.int64)), ("k", np.array([[1.0], [2.0]], F32)),
         ("s2", np.array([-1, 4], np.int64))]), halves_scaled),
    # The op list: shapes keep the batch first, the op reads across it.
    "softmax_over_batch": (one_input_model([helper.make_node("Softmax", ["x"], ["y"], axis=0)], []),
                           softmax_over_batch),
    "minus_batch_mean": (one_input_model(
        [helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1), helper.make_node("Sub", ["x", "m"], ["y"])],
        [("axes", np.array([0], np.int64))], opset=18), lambda x: x - x.mean(axis=0, keepdims=True)),
    # A value computed from shapes used as data: each part would count its own batch.
    "element_count_as_data": (one_input_model(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("ReduceProd", ["s"], ["p"], keepdims=1),
         helper.make_node("Cast", ["p"], ["z"], to=TensorProto.FLOAT), helper.make_node("Add", ["x", "z"], ["y"])],
        []), lambda x: x + F32(x.size)),
}


def test_shapes_as_reshape_targets_split(tmp_path: Path) -> None:
    """Flatten spelled as PyTorch exports it (Reshape to [Shape(x)[0], -1]):
    each part's own batch is the right target, so the run splits."""
    model = one_input_model(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "a0"], ["n1"]), helper.make_node("Concat", ["n1", "m1"], ["t"], axis=0),
         helper.make_node("Reshape", ["x", "t"], ["r"]), helper.make_node("Mul", ["r", "k"], ["y"])],
        [("i0", np.array(0, np.int64)), ("a0", np.array([0], np.int64)), ("m1", np.array([-1], np.int64)),
         ("k", np.array([1.0, 2.0, 3.0, 4.0], F32))])
    path = tmp_path / "flatten.onnx"
    onnx.save(model, str(path))
    ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = np.random.default_rng(9).standard_normal((6, 4)).astype(F32)
    int8rt.set_num_threads(2)
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    got = ctx.run({"x": x})["y"]
    assert _testing.batch_split_runs() == before + 1
    np.testing.assert_array_equal(got, x * np.array([1.0, 2.0, 3.0, 4.0], F32))


@pytest.mark.parametrize("name", sorted(MIXING))
def test_networks_that_mix_samples_run_unsplit(tmp_path: Path, name: str) -> None:
    model, reference = MIXING[name]
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = np.random.default_rng(8).standard_normal((6, 4)).astype(F32)
    int8rt.set_num_threads(2)
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    got = ctx.run({"x": x})["y"]
    assert _testing.batch_split_runs() == before, f"{name}: split a network that mixes samples"
    np.testing.assert_allclose(got, reference(x), rtol=1e-5, atol=1e-6)  # float32 vs numpy's order of operations
