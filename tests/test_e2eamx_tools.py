"""The helpers of benchmarks/e2e_amx_rule_projection.py and e2e_amx_ov_kinds.py
(RESULTS.md §171) on synthetic ONNX graphs: conv shapes read from
initializers and from Constant nodes (Paddle's exporter), the shape classes,
and the measured AMX decline rule at the edges of its thresholds. No timing."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

import e2e_amx_rule_projection as R  # noqa: E402


def _graph(path: str, as_constants: bool) -> None:
    """Three convs: a C = 3 stem, a depthwise 3x3, a grouped 1x1 (g = 2)."""
    ws = {"w_stem": np.zeros((16, 3, 3, 3), np.float32), "w_dw": np.zeros((16, 1, 3, 3), np.float32),
          "w_pw": np.zeros((96, 8, 1, 1), np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w_stem"], ["a"], name="stem", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w_dw"], ["b"], name="dw", group=16, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w_pw"], ["y"], name="pw", group=2)]
    inits = []
    if as_constants:
        nodes = [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v, k)) for k, v in ws.items()] + nodes
    else:
        inits = [numpy_helper.from_array(v, k) for k, v in ws.items()]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(g), path)


@pytest.mark.parametrize("as_constants", [False, True])
def test_conv_shapes_from_initializers_and_constants(tmp_path, as_constants: bool) -> None:
    path = str(tmp_path / "m.onnx")
    _graph(path, as_constants)
    assert R.conv_shapes(tmp_path / "m.onnx") == {"stem": (16, 3, 9, 1), "dw": (1, 1, 9, 16), "pw": (48, 8, 1, 2)}


def test_conv_classes(tmp_path) -> None:
    pytest.importorskip("openvino")  # e2e_amx_ov_kinds imports the OpenVINO helpers
    import e2e_amx_ov_kinds as K
    _graph(str(tmp_path / "m.onnx"), True)
    assert K.conv_classes(tmp_path / "m.onnx") == {
        "stem": "conv stem (C/g <= 4)", "dw": "conv depthwise", "pw": "conv 1x1, C/g % 64 != 0 (grouped)"}
    assert K.class_of("stem/WithoutBiases", "conv", K.conv_classes(tmp_path / "m.onnx")) == "conv stem (C/g <= 4)"
    assert K.class_of("other", "conv", {}) == "conv"


@pytest.mark.parametrize("kg, cg, rs, g, rule, declined", [
    (64, 3, 49, 1, "s171", True),      # the 7x7 stem
    (64, 3, 49, 1, "stem", True),
    (1, 1, 9, 32, "s171", False),      # depthwise: AMX declines it already, the rule leaves it
    (64, 64, 1, 1, "s171", False),     # C/g % 64 == 0: input read in place
    (256, 64, 9, 1, "s171", False),    # spatial convs are not the rule's
    (144, 24, 1, 1, "s171", True),     # gathered, K/g < 240, C/g < 72
    (144, 72, 1, 1, "s171", False),    # K/g >= 128 and C/g >= 72
    (127, 96, 1, 1, "s171", True),
    (240, 40, 1, 1, "s171", False),    # K/g >= 240
    (239, 40, 1, 1, "s171", True),
    (240, 40, 1, 1, "c64", True),
    (240, 40, 1, 1, "stem", False),
])
def test_rule_edges(kg: int, cg: int, rs: int, g: int, rule: str, declined: bool) -> None:
    assert R.declines(rule, kg, cg, rs, g) is declined
