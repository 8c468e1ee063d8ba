"""The batch split at one thread (csrc/engine/batch_split.h,
BatchSplit::serial_parts): a batch whose float32 activations do not fit the
cache runs as parts one after the other, each part's largest float32
activation at most 2 MiB, where the network's constants are at most one
sample's float32 activation bytes. Outputs must be the bytes of the unsplit
run (==), and the split must happen exactly where the rule says
(int8rt._testing.batch_split_runs counts split runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _testing

F32 = np.float32


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = int8rt.get_num_threads()
    int8rt.set_num_threads(1)
    yield
    int8rt.set_num_threads(threads)
    _testing.set_batch_split(1)


def conv_net(path: Path) -> Path:
    """[n, 16, 64, 64] -> 3x3 Conv to 48 channels + Relu -> 1x1 Conv to 16:
    per sample 0.75 MiB at the widest tensor (so parts of 2 samples), 1.25 MiB
    of float32 activations in all against 30 KiB of weights."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array((rng.standard_normal((48, 16, 3, 3)) * 0.1).astype(F32), "w1"),
             numpy_helper.from_array(rng.standard_normal(48).astype(F32), "b1"),
             numpy_helper.from_array((rng.standard_normal((16, 48, 1, 1)) * 0.1).astype(F32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]), helper.make_node("Conv", ["r1", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16, 64, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16, 64, 64])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def feature_net(path: Path, op: str) -> Path:
    """[n, 256] times a [256] constant (Mul: 1 KiB of constants) or a
    [256, 256] one (MatMul: 256 KiB), then Relu: 2 KiB of activations per
    sample either way."""
    rng = np.random.default_rng(4)
    shape = (256,) if op == "Mul" else (256, 256)
    k = numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(F32), "k")
    nodes = [helper.make_node(op, ["x", "k"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    graph = helper.make_graph(nodes, "features", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 256])], [k])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def run_both(ctx: object, x: np.ndarray) -> tuple:
    """(unsplit output, output with the split allowed, whether it split)."""
    _testing.set_batch_split(0)
    want = ctx.run({"x": x})["y"]
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    got = ctx.run({"x": x})["y"]
    return want, got, _testing.batch_split_runs() - before == 1


@pytest.mark.parametrize("batch,splits", [(1, False), (2, False), (3, True), (8, True)])
def test_fp32_conv_net_splits_by_its_largest_activation(tmp_path: Path, batch: int, splits: bool) -> None:
    ctx = int8rt.build_engine(conv_net(tmp_path / "c.onnx"),
                              int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = np.random.default_rng(batch).standard_normal((batch, 16, 64, 64)).astype(F32)
    want, got, split = run_both(ctx, x)
    assert split == splits, f"batch {batch}: split {split}"
    assert np.array_equal(got, want), f"batch {batch}: max diff {np.abs(got - want).max()}"


@pytest.mark.parametrize("batch,splits", [(8, False), (16, True)])
def test_int8_engine_counts_its_float32_tensors_only(tmp_path: Path, batch: int, splits: bool) -> None:
    """The int8 conv outputs (0.75 MiB a sample in float32) do not count;
    the float32 input and output (0.25 MiB a sample each) give parts of 8
    samples: batch 8 runs whole where the FP32 engine splits it."""
    cal = int8rt.make_calibrator({"x": np.random.default_rng(5).standard_normal((8, 16, 64, 64)).astype(F32)},
                                 algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(conv_net(tmp_path / "c.onnx"), int8rt.BuilderConfig(precision="int8", calibrator=cal))
    assert "int8rt.QConv" in {layer["op"] for layer in engine.layers()}
    x = np.random.default_rng(6).standard_normal((batch, 16, 64, 64)).astype(F32)
    want, got, split = run_both(engine.create_execution_context(), x)
    assert split == splits, f"batch {batch}: split {split}"
    assert np.array_equal(got, want)


@pytest.mark.parametrize("op,splits", [("Mul", True), ("MatMul", False)])
def test_constants_heavier_than_a_sample_keep_the_batch_whole(tmp_path: Path, op: str, splits: bool) -> None:
    """4096 samples of 1 KiB: 4 MiB at the largest tensor, so parts of 2048;
    the MatMul's 256 KiB of weights exceed a sample's 2 KiB: unsplit."""
    ctx = int8rt.build_engine(feature_net(tmp_path / f"{op}.onnx", op),
                              int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = np.random.default_rng(7).standard_normal((4096, 256)).astype(F32)
    want, got, split = run_both(ctx, x)
    assert split == splits, f"{op}: split {split}"
    assert np.array_equal(got, want)
