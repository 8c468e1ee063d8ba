"""The batch split across threads (csrc/engine/batch_split.h) on encoders:
Softmax / LayerNormalization / Transpose / Gather split under their
attributes' conditions, and data computed from shapes is proven per part
(csrc/engine/batch_split_probes.h): the attention mask torch.onnx exports
for BERT (the mask flattened to [batch * seq, 1], read back by a Gather at
Range(batch) * seq + Range(seq)) and the token-type table Gather. A split run
must give the bytes of a 1-thread unsplit run (==, INT8 and FP32), and a
graph whose values cross samples (the same Gather with the batch reversed,
a softmax over the batch, a transpose moving it) must run unsplit."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import int8rt
from int8rt import _testing
from thread_settings import restore_threads  # noqa: F401 (the fixture, by name)

F32 = np.float32
SEQ = 12


pytestmark = pytest.mark.usefixtures("restore_threads")


def run_both(engine: object, feed: dict) -> tuple[dict, dict, int]:
    """(1-thread unsplit outputs, 2-thread outputs, split runs in the latter)."""
    ctx = engine.create_execution_context()
    int8rt.set_num_threads(1)
    _testing.set_batch_split(0)
    ref = ctx.run(feed)
    int8rt.set_num_threads(2)
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    out = ctx.run(feed)
    return ref, out, _testing.batch_split_runs() - before


def assert_same_bytes(ref: dict, out: dict) -> None:
    assert ref.keys() == out.keys()
    for k in ref:
        assert ref[k].shape == out[k].shape and ref[k].tobytes() == out[k].tobytes(), k


def i64(name: str, values: list) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64,
                                                                             [len(values)], values))


def mask_gather_model(reverse: bool) -> onnx.ModelProto:
    """y = x * m[row] + x with m [B, S] flattened to [B * S, 1] and gathered
    at row * S + s, row = b (as BERT's export) or B - 1 - b (crosses samples)."""
    scalar = lambda name, v: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [], [v]))
    nodes = [
        scalar("zero", 0), scalar("one", 1), i64("ax0", [0]), i64("ax1", [1]), i64("ax2", [2]),
        helper.make_node("Cast", ["m"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Flatten", ["mf"], ["flat"], axis=2),
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["B"], axis=0),
        helper.make_node("Gather", ["shp", "one"], ["S"], axis=0),
        helper.make_node("Range", ["zero", "B", "one"], ["rb"]),
        helper.make_node("Range", ["zero", "S", "one"], ["rs"]),
    ]
    if reverse:
        nodes += [helper.make_node("Sub", ["B", "one"], ["last"]), helper.make_node("Sub", ["last", "rb"], ["row"])]
    else:
        nodes += [helper.make_node("Identity", ["rb"], ["row"])]
    nodes += [
        helper.make_node("Unsqueeze", ["row", "ax1"], ["row2"]),
        helper.make_node("Mul", ["row2", "S"], ["base"]),
        helper.make_node("Unsqueeze", ["rs", "ax0"], ["col"]),
        helper.make_node("Add", ["base", "col"], ["idx"]),
        helper.make_node("Gather", ["flat", "idx"], ["g"], axis=0),
        helper.make_node("Squeeze", ["g", "ax2"], ["gm"]),
        helper.make_node("Mul", ["x", "gm"], ["xm"]),
        helper.make_node("Add", ["xm", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "mask_gather",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SEQ]),
         helper.make_tensor_value_info("m", TensorProto.INT64, ["batch", SEQ])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", SEQ])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("reverse", [False, True])
def test_mask_gather_splits_only_when_each_part_reads_its_own_rows(tmp_path: Path, reverse: bool) -> None:
    path = tmp_path / "mask.onnx"
    onnx.save(mask_gather_model(reverse), str(path))
    engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    rng = np.random.default_rng(3)
    for batch in (2, 4, 6, 8):
        x = rng.standard_normal((batch, SEQ)).astype(F32)
        m = (rng.random((batch, SEQ)) < 0.6).astype(np.int64)
        ref, out, split = run_both(engine, {"x": x, "m": m})
        rows = m[::-1] if reverse else m
        np.testing.assert_array_equal(ref["y"], x * rows.astype(F32) + x)
        assert_same_bytes(ref, out)
        assert split == (0 if reverse else 1), (batch, reverse)


def one_op_model(op: str, attrs: dict) -> onnx.ModelProto:
    inputs = ["x"] + (["scale", "bias"] if op == "LayerNormalization" else [])
    inits = [] if op != "LayerNormalization" else [
        helper.make_tensor("scale", TensorProto.FLOAT, [4], [1.0, 0.5, 2.0, 1.5]),
        helper.make_tensor("bias", TensorProto.FLOAT, [4], [0.0, 0.1, -0.2, 0.3])]
    dims = ["batch", 3, 4]
    out_shape = [dims[i] for i in attrs.get("perm", [2, 1, 0])] if op == "Transpose" else dims
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], **attrs)], "one_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("op, attrs, splits", [
    ("Softmax", {"axis": -1}, True), ("Softmax", {"axis": 1}, True), ("Softmax", {"axis": 0}, False),
    ("LayerNormalization", {"axis": -1}, True), ("LayerNormalization", {"axis": 1}, True),
    ("LayerNormalization", {"axis": 0}, False),
    ("Transpose", {"perm": [0, 2, 1]}, True), ("Transpose", {"perm": [1, 0, 2]}, False), ("Transpose", {}, False),
])
def test_axis_ops_split_only_when_samples_stay_apart(tmp_path: Path, op: str, attrs: dict, splits: bool) -> None:
    path = tmp_path / "op.onnx"
    onnx.save(one_op_model(op, attrs), str(path))
    engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    x = np.random.default_rng(4).standard_normal((8, 3, 4)).astype(F32)
    ref, out, split = run_both(engine, {"x": x})
    assert_same_bytes(ref, out)
    assert split == int(splits), (op, attrs)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random BertModel exported by torch.onnx as the benchmarks'
    encoders are (benchmarks/transformer_bench.export_encoder, as
    test_attention_mask_structure.py uses it): the same mask and token-type
    subgraphs as MiniLM's and BERT-base's."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import transformer_bench

    transformer_bench.hide_broken_torchvision()
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    bert = transformers.BertModel(transformers.BertConfig(
        vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32))
    path = tmp_path_factory.mktemp("bert") / "tiny_bert.onnx"
    transformer_bench.export_encoder(bert.eval(), str(path), 60)
    return path


def bert_feed(batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, SEQ), np.int64)
    for b in range(batch):
        mask[b, SEQ - b % 5:] = 0  # a different padding per sample
    return {"input_ids": rng.integers(0, 60, (batch, SEQ)).astype(np.int64), "attention_mask": mask}


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_bert_export_splits_and_equals_one_thread(tiny_bert: Path, precision: str) -> None:
    config = int8rt.BuilderConfig(precision="fp32")
    if precision == "int8":
        cal = int8rt.make_calibrator([bert_feed(4, s) for s in range(3)], algorithm="minmax", batch_size=4)
        config = int8rt.BuilderConfig(precision="int8", calibrator=cal)
    engine = int8rt.build_engine(tiny_bert, config)
    if precision == "int8":
        assert "int8rt.QAttention" in {layer["op"] for layer in engine.layers()}
    for batch in (2, 4, 6, 8):
        ref, out, split = run_both(engine, bert_feed(batch, 10 + batch))
        assert_same_bytes(ref, out)
        assert split == 1, (precision, batch)
