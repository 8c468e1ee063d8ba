"""Engines whose inputs and outputs are not float32: int64 token ids in (an
embedding lookup, Gather by run-time indices), int64 shapes out, the dtype a
network declares enforced without conversion, and INT8 calibration with
integer batches for integer inputs."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

RNG = np.random.default_rng(50)
TABLE = RNG.standard_normal((20, 8)).astype(np.float32)
W = RNG.standard_normal((8, 6)).astype(np.float32)


def embedding_model(opset: int = 13) -> bytes:
    """ids [N, 5] int64 -> Gather(table) -> MatMul(W) -> y; Shape(y) -> s (int64)."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
             helper.make_node("MatMul", ["emb", "w"], ["y"], name="proj"),
             helper.make_node("Shape", ["y"], ["s"], name="shape")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 6]),
         helper.make_tensor_value_info("s", TensorProto.INT64, [3])],
        [numpy_helper.from_array(TABLE, "table"), numpy_helper.from_array(W, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def test_int64_ids_in_and_an_int64_shape_out() -> None:
    engine = int8rt.build_engine(embedding_model(), int8rt.BuilderConfig(precision="fp32"))
    ids = np.array([[0, 3, 19, -1, 7], [1, 1, 2, -20, 0]], np.int64)
    out = engine.run({"ids": ids})
    np.testing.assert_allclose(out["y"], TABLE[ids] @ W, rtol=1e-5, atol=1e-5)
    assert out["s"].dtype == np.int64 and out["s"].tolist() == [2, 5, 6]


@pytest.mark.parametrize("ids,error", [
    (np.zeros((1, 5), np.float32), r"input 'ids': expected int64, got float32"),
    (np.zeros((1, 5), np.int32), r"input 'ids': expected int64, got int32"),
    (np.zeros((1, 5), np.float64), r"input 'ids': expected int64, got float64"),
    (np.zeros((1, 5), np.complex64), r"input 'ids': expected float32 \(or the dtype an input declared.*got complex64"),
    (np.full((1, 5), 20, np.int64), r"'embed' \(Gather\): index 20 is outside \[-20, 20\)"),
])
def test_wrong_dtypes_and_indices_are_clear_errors(ids: np.ndarray, error: str) -> None:
    engine = int8rt.build_engine(embedding_model(), int8rt.BuilderConfig(precision="fp32"))
    with pytest.raises(int8rt.InvalidArgumentError, match=error):
        engine.run({"ids": ids})


class IdsCalibrator(int8rt.IInt8MinMaxCalibrator):
    def __init__(self, dtype: type = np.int64) -> None:
        super().__init__()
        self.left, self.dtype = 3, dtype

    def get_batch_size(self) -> int:
        return 4

    def get_batch(self, names):
        self.left -= 1
        return None if self.left < 0 else [RNG.integers(0, 20, (4, 5)).astype(self.dtype)]


def test_int8_build_calibrates_on_integer_batches() -> None:
    engine = int8rt.build_engine(embedding_model(), int8rt.BuilderConfig(calibrator=IdsCalibrator()))
    assert "int8rt.QGemm" in [layer["op"] for layer in engine.layers()]
    ids = RNG.integers(0, 20, (6, 5)).astype(np.int64)
    want = TABLE[ids] @ W
    got = engine.run({"ids": ids})["y"]
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.03


def test_float_batches_for_an_integer_input_are_refused() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"input 'ids' has dtype float32, but the network input "
                                                          "is int64"):
        int8rt.build_engine(embedding_model(), int8rt.BuilderConfig(calibrator=IdsCalibrator(np.float32)))


def test_engine_files_written_before_the_bool_dtype_still_load() -> None:
    """tests/data/engine_before_bool/: an FP32 and an INT8 engine (int64 ids
    in, float32 and int64 out) written by int8rt at commit 25e5fe4, before
    the bool dtype extended the engine file's dtype values (make.py wrote
    them, with the outputs that int8rt gave). They load unchanged and give
    the same outputs: bit for bit in int8 and for the int64 shape; the FP32
    MatMul within float32 rounding (another CPU may pick another GEMM kernel,
    which sums in another order)."""
    from pathlib import Path
    data = Path(__file__).parent / "data" / "engine_before_bool"
    want = np.load(data / "engine_v1_outputs.npz")
    for kind in ("fp32", "int8"):
        engine = int8rt.Engine.load(data / f"engine_v1_{kind}.i8rt")
        got = engine.run({"ids": want["ids"]})
        if kind == "int8":
            np.testing.assert_array_equal(got["y"], want[f"{kind}_y"], err_msg=kind)
        else:
            np.testing.assert_allclose(got["y"], want[f"{kind}_y"], rtol=1e-6, atol=1e-6, err_msg=kind)
        np.testing.assert_array_equal(got["s"], want[f"{kind}_s"], err_msg=kind)
