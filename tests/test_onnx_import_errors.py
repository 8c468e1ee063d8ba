"""int8rt.onnx.import_model refuses bad input with clear, specific errors."""
from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
import int8rt.onnx  # noqa: E402
from onnx_models import conv_net, fvi, init, model  # noqa: E402


def test_unsupported_op_names_node_and_op_type_and_lists_all():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok_relu"),
             helper.make_node("Shrink", ["a"], ["b"], name="my_shrink"),
             helper.make_node("Hardmax", ["b"], ["y"], name="my_hardmax")]
    m = model(nodes, [fvi("x", ["N", 3])], [fvi("y", ["N", 3])], opset=18)
    with pytest.raises(int8rt.NotSupportedError) as e:
        int8rt.onnx.import_model(m)
    msg = str(e.value)
    assert "2 node(s)" in msg
    assert "node 'my_shrink' (Shrink)" in msg and "node 'my_hardmax' (Hardmax)" in msg and "ok_relu" not in msg


def test_unnamed_node_is_identified_by_its_output():
    m = model([helper.make_node("Shrink", ["x"], ["prod"])], [fvi("x", ["N", 3])], [fvi("prod", ["N", 3])])
    with pytest.raises(int8rt.NotSupportedError, match=r"node producing 'prod' \(Shrink\)"):
        int8rt.onnx.import_model(m)


@pytest.mark.parametrize("node, inits, what", [
    (helper.make_node("Conv", ["x", "w4d"], ["y"], name="c4"), [init("w4d", np.ones((2, 1, 2, 2, 2, 2), np.float32))],
     "only 1-D, 2-D and 3-D kernels"),
    (helper.make_node("BatchNormalization", ["x", "s", "b", "s", "s"], ["y"], name="bn", training_mode=1),
     [init("s", np.ones(1, np.float32)), init("b", np.zeros(1, np.float32))], "training_mode=1"),
    (helper.make_node("Cast", ["x"], ["y"], name="cs", to=onnx.TensorProto.STRING), [], "cast to ONNX element type 8"),
    (helper.make_node("Gelu", ["x"], ["y"], name="g2", approximate="erf"), [], "approximate='erf'"),
    (helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="fast"), [], "approximate='fast'"),
])
def test_unsupported_attributes_are_refused_before_work(node, inits, what):
    m = model([node], [fvi("x", ["N", 1, 4, 4, 4])], [fvi("y", ["N", 1, 4, 4, 4])], inits, 20)
    with pytest.raises(int8rt.NotSupportedError) as e:
        int8rt.onnx.import_model(m)
    assert f"node '{node.name}' ({node.op_type})" in str(e.value) and what in str(e.value)


def test_non_default_domain_is_refused():
    nodes = [helper.make_node("FusedConv", ["x"], ["y"], name="fused", domain="com.microsoft")]
    m = model(nodes, [fvi("x", ["N", 3])], [fvi("y", ["N", 3])])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(int8rt.NotSupportedError, match=r"node 'fused' \(FusedConv\): domain 'com.microsoft'"):
        int8rt.onnx.import_model(m)


def test_old_opset_is_converted_and_one_the_converter_cannot_take_is_refused():
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    outs = [int8rt.build_engine(conv_net(opset=v), int8rt.BuilderConfig(precision="fp32"))
            .create_execution_context().run({"input": x})["logits"] for v in (9, 17)]
    assert np.array_equal(outs[0], outs[1])
    crop = model([helper.make_node("Crop", ["x"], ["y"], name="crop", border=[0, 0, 0, 0])],
                 [fvi("x", [1, 3, 4, 4])], [fvi("y", [1, 3, 4, 4])], opset=1)
    with pytest.raises(int8rt.NotSupportedError, match=r"opset 1 is not supported.*version converter could not"):
        int8rt.onnx.import_model(crop)


def test_garbage_and_truncated_files_are_format_errors(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(int8rt.FormatError, match="garbage.onnx"):
        int8rt.onnx.import_model(garbage)
    data = conv_net().SerializeToString()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(int8rt.FormatError, match="truncated.onnx"):
        int8rt.onnx.import_model(truncated)
    with pytest.raises(int8rt.FormatError, match="<bytes>"):
        int8rt.onnx.import_model(b"")
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        int8rt.onnx.import_model(tmp_path / "missing.onnx")
    assert issubclass(int8rt.FormatError, ValueError)


def test_input_without_a_rank_is_refused():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, None)
    m = model([helper.make_node("Relu", ["x"], ["y"])], [x], [fvi("y", ["N", 3])])
    # Every dimension may be dynamic, but the rank must be known (ONNX's checker says so first).
    with pytest.raises(int8rt.FormatError, match=r"not a valid ONNX model: Field 'shape' of 'type' is required"):
        int8rt.onnx.import_model(m)


def test_batch_dependent_value_used_as_data_runs_at_run_time():
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ReduceProd", ["s"], ["p"], name="count", keepdims=1),
             helper.make_node("Cast", ["p"], ["z"], name="to_float", to=1),
             helper.make_node("Add", ["x", "z"], ["y"], name="add")]
    m = model(nodes, [fvi("x", ["N", 3])], [fvi("y", ["N", 3])])
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 4):
        x = np.ones((batch, 3), np.float32)
        np.testing.assert_array_equal(engine.run({"x": x})["y"], x + 3 * batch)
    assert int8rt.onnx.import_model(m, batch_size=2).nodes()[0]["op"] == "Add"  # static batch: folds


def test_missing_onnx_package_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install int8rt\[onnx\]"):
        int8rt.onnx.import_model(b"")


def test_failing_constant_folding_names_the_node():
    nodes = [helper.make_node("Reshape", ["a", "s"], ["r"], name="bad_reshape"),
             helper.make_node("Add", ["x", "r"], ["y"], name="add")]
    inits = [init("a", np.ones(3, np.float32)), init("s", np.array([2], np.int64))]
    m = model(nodes, [fvi("x", ["N", 2])], [fvi("y", ["N", 2])], inits, 13)
    with pytest.raises(int8rt.NotSupportedError, match=r"node 'bad_reshape' \(Reshape\): evaluating it"):
        int8rt.onnx.import_model(m)


def test_failing_fold_of_a_batch_dependent_value_names_the_node():
    """Found by tools/onnx_mutation_campaign.py on MiniLM (rel12): a Concat / Gather over a Shape of a
    dynamic batch folds through the batch-tagged path, whose reference-runtime error (an axis out of
    range: numpy's AxisError, onnx's ValueError) escaped as that type; now the node's NotSupportedError."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Concat", ["s", "k"], ["c"], name="bad_concat", axis=2**31 - 1),
             helper.make_node("Reshape", ["x", "c"], ["y"], name="reshape")]
    m = model(nodes, [fvi("x", ["N", 2])], [fvi("y", ["N", 2])], [init("k", np.array([1], np.int64))], 13)
    with pytest.raises(int8rt.NotSupportedError, match=r"node 'bad_concat' \(Concat\): evaluating it"):
        int8rt.onnx.import_model(m)


@pytest.mark.parametrize("extra", [4, 12, 24])
def test_initializer_with_more_bytes_than_its_dims_is_a_format_error(extra):
    """Found by tools/onnx_mutation_campaign.py on MiniLM (rel12): an initializer with more raw bytes
    than its dims hold (a [384, 384] weight declared [1, 384]) passes onnx's checker (it refuses too few),
    and numpy_helper's ValueError escaped the import."""
    w = init("w", np.ones((2, 3), np.float32))
    w.raw_data = w.raw_data + b"\0" * extra
    m = model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [fvi("x", ["N", 2])],
              [fvi("y", ["N", 3])], [w], 13)
    with pytest.raises(int8rt.FormatError, match=r"initializer 'w' \(dims \[2, 3\], type 1\) cannot be read"):
        int8rt.onnx.import_model(m)


@pytest.mark.parametrize("where", ["node", "tensor"])
def test_name_that_is_not_utf8_is_a_format_error(where):
    """Found by tools/onnx_mutation_campaign.py on Silero VAD (rel12): protobuf reads a string field that is
    not UTF-8 as bytes and onnx's checker accepts it; the name reached the engine, whose layer names then
    raised UnicodeDecodeError in the builder. Now a FormatError naming the bytes, at import."""
    nodes = [helper.make_node("Relu", ["x"], ["mid_AB"], name="relu_AB"),
             helper.make_node("Relu", ["mid_AB"], ["y"], name="relu2")]
    data = model(nodes, [fvi("x", ["N", 3])], [fvi("y", ["N", 3])]).SerializeToString()
    old = b"relu_AB" if where == "node" else b"mid_AB"
    data = data.replace(old, old[:-2] + b"\xff\xfe")
    with pytest.raises(int8rt.FormatError, match=r"<bytes>: .* is not UTF-8"):
        int8rt.onnx.import_model(data)
