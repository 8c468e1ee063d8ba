"""gather_before_cast (csrc/graph/passes/gather_before_cast.cc): Gather(Cast(constant
table), ids) -> Cast(Gather(table, ids)), so a uint8 / int16 table the importer holds
as int64 is cast row by row as gathered, not whole on every run (ONNX Runtime's
quantize_dynamic stores BERT's word embeddings as a uint8 table read by Gather).

Exact: the engine with the pass == the engine without passes == ONNX Runtime, bit
for bit; the pass report names the rewrite; a Cast with another reader stays.
"""
from __future__ import annotations

import pickle

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core, _testing


def _embedding_model(path: str, table: np.ndarray, scale: float, zero_point: int, twice: bool = False) -> None:
    """ids [B, S] int64 -> Gather(table) -> DequantizeLinear -> y (and, with `twice`, a second
    Gather of the same table at ids + 1 -> z: the table's run-time Cast then has two readers)."""
    zp_type = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}[table.dtype.type]
    inits = [numpy_helper.from_array(table, "table"),
             numpy_helper.from_array(np.array(scale, np.float32), "scale"),
             numpy_helper.from_array(np.array(zero_point, table.dtype), "zp"),
             numpy_helper.from_array(np.array(1, np.int64), "one")]
    nodes = [helper.make_node("Gather", ["table", "ids"], ["rows"], name="gather"),
             helper.make_node("DequantizeLinear", ["rows", "scale", "zp"], ["y"], name="dq")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", "S", table.shape[1]])]
    if twice:
        nodes += [helper.make_node("Add", ["ids", "one"], ["ids1"], name="next"),
                  helper.make_node("Gather", ["table", "ids1"], ["rows1"], name="gather1"),
                  helper.make_node("DequantizeLinear", ["rows1", "scale", "zp"], ["z"], name="dq1")]
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["B", "S", table.shape[1]]))
    graph = helper.make_graph(nodes, "emb", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "S"])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    del zp_type
    onnx.save(model, path)


@pytest.mark.parametrize("dtype,zp", [(np.uint8, 131), (np.uint8, 0), (np.int8, -3)])
def test_gathered_rows_cast_equal_whole_table(tmp_path, dtype, zp: int) -> None:
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    table = rng.integers(info.min, info.max + 1, (97, 24), dtype=dtype)
    table[0, :] = info.min
    table[1, :] = info.max
    path = str(tmp_path / "emb.onnx")
    _embedding_model(path, table, 0.0173, zp)
    ids = rng.integers(0, 97, (3, 11), dtype=np.int64)
    ids[0, :3] = (0, 1, -1)  # both ends of the table and a negative index
    feed = {"ids": ids}
    on = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run(feed)["y"]
    off = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", optimize=False)
                              ).create_execution_context().run(feed)["y"]
    want = (table[ids].astype(np.int32) - zp).astype(np.float32) * np.float32(0.0173)
    assert np.array_equal(on.view(np.uint32), off.view(np.uint32))
    assert np.array_equal(on.view(np.uint32), want.view(np.uint32))
    ort = pytest.importorskip("onnxruntime")
    got_ort = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    assert np.array_equal(on.view(np.uint32), got_ort.view(np.uint32))


def _report(path: str, options: dict) -> list[str]:
    from int8rt.onnx import import_model

    net: _core.Network = import_model(path)
    return _testing.run_passes(pickle.loads(pickle.dumps(net)), options)["lines"]


def test_pass_report_and_switch(tmp_path) -> None:
    path = str(tmp_path / "emb.onnx")
    _embedding_model(path, np.arange(40, dtype=np.uint8).reshape(10, 4), 0.5, 7)
    lines = _report(path, {})
    assert any(line.startswith("gathered before Cast") and "'gather'" in line for line in lines), lines
    assert not any(line.startswith("gathered before") for line in _report(path, {"gather_before_cast": False}))


def test_cast_with_two_readers_stays(tmp_path) -> None:
    path = str(tmp_path / "emb2.onnx")
    table = np.arange(120, dtype=np.uint8).reshape(30, 4)
    _embedding_model(path, table, 0.25, 9, twice=True)
    assert not any(line.startswith("gathered before") for line in _report(path, {}))
    ids = np.array([[0, 5, 28]], np.int64)
    out = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run({"ids": ids})
    assert np.array_equal(out["z"], (table[ids + 1].astype(np.int32) - 9).astype(np.float32) * np.float32(0.25))
