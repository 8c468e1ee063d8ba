"""Inputs that the mutation campaigns of 7 December 2026 (docs/reliability.md; tools/path_seeds.py's seeds of
the paths added on 6-7 December) turned into a crash or an exception other than int8rt's, each reduced to the
smallest model that still did, and the clear int8rt error it gives now."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt


def _conv1d(**attrs: object) -> bytes:
    """x [1, 1, 10] -> Conv (1 x 1 x 3 taps, ``attrs``) -> y."""
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], name="cqt", **attrs)
    graph = helper.make_graph([node], "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, None])],
                              [numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("attrs, key, n, want", [
    ({"pads": [1, 1, 1]}, "pads", 3, 2),  # the campaign's input: an edge value appended to a Conv1d's pads
    ({"pads": [1]}, "pads", 1, 2),
    ({"strides": [1, 2]}, "strides", 2, 1),
    ({"dilations": [1, 1, 1]}, "dilations", 3, 1),
])
def test_conv1d_window_attribute_of_the_wrong_length(attrs: dict, key: str, n: int, want: int) -> None:
    """A 1-D Conv whose pads had 3 values raised ValueError ('too many values to unpack') in the importer's
    lift to 2-D (onnx/ops.py lift_1d); every window attribute's length is checked before the lift, the
    InvalidArgumentError a 2-D Conv with the wrong number of pads gives, naming the node and the axes."""
    with pytest.raises(int8rt.InvalidArgumentError,
                       match=rf"node 'cqt' \(Conv\): attribute '{key}' has {n} values, expected {want}"):
        int8rt.build_engine(_conv1d(**attrs), int8rt.BuilderConfig(precision="fp32"))


def test_conv1d_with_right_lengths_still_builds() -> None:
    engine = int8rt.build_engine(_conv1d(pads=[1, 1], strides=[2], dilations=[1]),
                                 int8rt.BuilderConfig(precision="fp32"))
    y = engine.create_execution_context().run({"x": np.arange(10, dtype=np.float32).reshape(1, 1, 10)})["y"]
    np.testing.assert_array_equal(y.ravel(), [1, 6, 12, 18, 24])  # 0+1, 1+2+3, 3+4+5, 5+6+7, 7+8+9


def _two_output_engine() -> bytes:
    """The payload of an FP32 engine x [2, 6] -> Split (two outputs a, b) -> Relu each."""
    from engine_bytes import payload

    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2, name="split"),
             helper.make_node("Relu", ["a"], ["ya"], name="ra"), helper.make_node("Relu", ["b"], ["yb"], name="rb")]
    graph = helper.make_graph(nodes, "split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("ya", "yb")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()
    return payload(int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).serialize())


def test_a_node_with_more_outputs_than_its_op_gives_is_a_format_error() -> None:
    """The field campaign gave a float LSTM's node (three outputs) the op int8rt.ToBf16 (one): the load
    was refused with a plain int8rt.Error ('layer produced a wrong number of outputs', executor.cc),
    the kind a device failure raises, not the FormatError naming the bytes that every refusal of an
    engine file is. Reduced: a Split node's op swapped for Sigmoid."""
    from engine_bytes import frame, replace_once, string

    data = _two_output_engine()
    int8rt.Engine.deserialize(frame(data, version=3))  # the unmutated engine loads
    forged = replace_once(data, string(b"Split"), string(b"Sigmoid"))
    with pytest.raises(int8rt.FormatError, match=r"^engine bytes: .*node 'split' \(Sigmoid\): the layer gives 1 "
                                                 r"output\(s\), the node has 2"):
        int8rt.Engine.deserialize(frame(forged, version=3))


def _lstm(hidden_size: int) -> bytes:
    """x [1, 5, 8] -> LSTM (hidden 16 by its weights, ``hidden_size`` by its attribute) -> Y."""
    rng = np.random.default_rng(0)
    arrays = {"w": rng.standard_normal((1, 64, 8)).astype(np.float32),
              "r": rng.standard_normal((1, 64, 16)).astype(np.float32)}
    node = helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=hidden_size, name="lstm1")
    graph = helper.make_graph([node], "lstm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["s", "d", "b", "h"])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("hidden", [2**62, 2**63 - 1])
def test_lstm_hidden_size_whose_weight_shapes_overflow(hidden: int) -> None:
    """The sanitized ONNX campaign set the float LSTM's hidden_size to 2^62: forming W's expected shape
    (4 H rows) overflowed int64 (UBSan at rnn_f32.cc; natively the wrapped 'W is [1, 64, 8], expected
    [1, 0, ...]'). The layer refuses a hidden_size whose 2 G H overflows, naming it."""
    with pytest.raises(int8rt.InvalidArgumentError, match=r"node 'lstm1' \(LSTM\): hidden_size: 8 x \d+ overflows"):
        int8rt.build_engine(_lstm(hidden), int8rt.BuilderConfig(precision="fp32"))
    engine = int8rt.build_engine(_lstm(16), int8rt.BuilderConfig(precision="fp32"))  # the right size builds
    assert engine.create_execution_context().run({"x": np.ones((5, 1, 8), np.float32)})["y"].shape == (5, 1, 1, 16)


def test_image_chain_rule_on_a_forged_dim_leaves_the_refusal_to_the_shape_check() -> None:
    """The field campaign under the checking build on Zen 4 (RESULTS.md 260) set a dim of the u8-codes INT8
    seed's tensor 'g::int8' to 2^62: the INT8 image chain's rule, which Engine::create asks before the
    declared shapes are checked, formed H x W x C and overflowed int64 (UBSan at int8_image_chain.cc; natively
    the product wrapped to 0 and the tensor was not chained). The rule declines a plane or image whose product
    overflows, and the declared-shape check refuses the file, naming the layer. The input is the corpus's
    regress-qconv-image-chain-plane-mul-overflow-*, which tools/sanitize_tests.sh's fuzz replay also loads."""
    from pathlib import Path

    from engine_bytes import frame

    corpus = Path(__file__).parent / "fuzz" / "corpus" / "engine_file"
    data = next(corpus.glob("regress-qconv-image-chain-plane-mul-overflow-*")).read_bytes()
    with pytest.raises(int8rt.FormatError, match=r"^engine bytes: node 'GlobalAveragePool_18' .*tensor 'g::int8' "
                                                 r"is declared \[-1, 4611686018427387904, 1, 64\] but its layers "
                                                 r"make it \[1, 1, 1, 64\]"):
        int8rt.Engine.deserialize(frame(data, version=3))
    seed = (corpus / "u8codes_int8.payload").read_bytes()
    assert len(seed) == len(data) and sum(a != b for a, b in zip(seed, data)) <= 8  # one int64 field apart
    int8rt.Engine.deserialize(frame(seed, version=3))  # the unmutated seed loads
