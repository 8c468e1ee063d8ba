"""A float island's exit written in int8 by its last float conv (lower_int8_float_exit.cc).

A mixed engine's float conv whose output only int8 convs read writes that output as int8 NHWC itself
(int8rt_output_scale / int8rt_output_zero_point on the Conv, conv_f32.cc), with int8rt.Quantize's own code
(ops/int8/quantize_rule.h) at the grid the Quantize took: no float tensor and no Quantize layer. The int8
readers see the same bytes, so outputs are compared with == against the same network where an int8 max pool
reads the conv's output too (which keeps the float tensor and the Quantize; the grids compared equal). Cases:
PP-OCRv4 rec's shape (a conv with the hardswish / affine chain: a lower-bounded grid, zero point != 0), a
plain conv (zero point 0: the quantize_s8 kernel), a depthwise conv, a BF16 conv with the chain (its chain
now run per image, conv_f32.cc), a reader that is not a conv (no fold); batch 1 and 5, 1 and 2 threads, the
engine saved and loaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import int8rt
from int8rt.data_calibrator import make_calibrator
from onnx_models import fvi, hardswish_affine, model


def _model(path: Path, *, chain: bool = True, group: int = 1, reader: str = "Conv", pool_too: bool = False) -> Path:
    rng = np.random.default_rng(11)
    c1_in = 8 if group > 1 else 4
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.4, (8, 4, 1, 1)).astype(np.float32), "w0"),
        numpy_helper.from_array(rng.normal(0, 0.4, (8, c1_in // group, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (8,)).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.3, (16, 8, 1, 1)).astype(np.float32), "w2"),
    ]
    x1 = "x"
    nodes = []
    if group > 1:  # an int8 1x1 conv first, then the float depthwise conv
        nodes.append(helper.make_node("Conv", ["x", "w0"], ["x0"], name="conv0"))
        x1 = "x0"
    nodes.append(helper.make_node("Conv", [x1, "w1", "b1"], ["z"], name="conv1", pads=[1] * 4, group=group))
    if chain:
        chain_nodes, consts = hardswish_affine("z", "y1")
        nodes += chain_nodes
        inits += consts
    else:
        nodes.append(helper.make_node("Identity", ["z"], ["y1"], name="ident"))
    if reader == "Conv":
        nodes.append(helper.make_node("Conv", ["y1", "w2"], ["z2"], name="conv2"))
    else:  # an int8 max pool reads y1, then the conv
        nodes.append(helper.make_node("MaxPool", ["y1"], ["p"], name="pool", kernel_shape=[3, 3], pads=[1] * 4))
        nodes.append(helper.make_node("Conv", ["p", "w2"], ["z2"], name="conv2"))
    nodes.append(helper.make_node("Relu", ["z2"], ["y"], name="relu"))
    outs = [fvi("y", [None, 16, 9, 11])]
    if pool_too:  # an int8 max pool and a conv read y1 as well (the grid stays): its Quantize stays
        nodes.append(helper.make_node("MaxPool", ["y1"], ["p2"], name="pool2", kernel_shape=[3, 3], pads=[1] * 4))
        nodes.append(helper.make_node("Conv", ["p2", "w2"], ["y3"], name="conv3"))
        outs.append(fvi("y3", [None, 16, 9, 11]))
    onnx.save(model(nodes, [fvi("x", [None, 4, 9, 11])], outs, inits, opset=13), path)
    return path


def _data(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1.5, (n, 4, 9, 11)).astype(np.float32)


def _build(path: Path, **kw: object) -> int8rt.Engine:
    # minmax: each tensor's scale from its own values only, the same in both networks of a pair
    kw["calibrator"] = make_calibrator({"x": _data(32, 1)}, algorithm="minmax", batch_size=16)
    kw["accuracy_check"] = False
    return int8rt.build_engine(path, int8rt.BuilderConfig(**kw))


def _ops(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["op"] for layer in engine.layers()}


def _details(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["detail"] for layer in engine.layers()}


def _pair(tmp_path: Path, float_layers: dict[str, str], **model: object) -> tuple[int8rt.Engine, int8rt.Engine]:
    folded = _build(_model(tmp_path / "folded.onnx", **model), layer_precisions=float_layers)
    kept = _build(_model(tmp_path / "kept.onnx", pool_too=True, **model), layer_precisions=float_layers)
    return folded, kept


def _same(folded: int8rt.Engine, kept: int8rt.Engine, tmp_path: Path) -> None:
    folded.save(tmp_path / "folded.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "folded.i8rt")
    before = int8rt.get_num_threads()
    try:
        for batch, seed in ((1, 2), (5, 3)):
            x = _data(batch, seed)
            want = kept.create_execution_context().run({"x": x})["y"]
            for engine in (folded, loaded):
                for threads in (1, 2):
                    int8rt.set_num_threads(threads)
                    np.testing.assert_array_equal(engine.create_execution_context().run({"x": x})["y"], want)
    finally:
        int8rt.set_num_threads(before)


@pytest.mark.parametrize("chain", [True, False])
def test_the_float_conv_writes_int8_for_its_int8_conv(tmp_path: Path, chain: bool) -> None:
    folded, kept = _pair(tmp_path, {"conv1": "fp32"}, chain=chain)
    y1 = "y1" if chain else "z"  # without a chain the Identity is dropped: conv1 writes z
    ops = _ops(folded)
    assert f"{y1}::quantize" not in ops and f"{y1}::quantize" in _ops(kept)
    assert "int8rt.Quantize" not in ops.values()
    assert "out=int8" in _details(folded)["conv1"] and "out=int8" not in _details(kept)["conv1"]
    assert ("zero_point=" in _details(folded)["conv1"]) == chain  # the chain's lower-bounded grid
    assert f"layer 'conv1' (Conv, float) writes '{y1}' as int8 for its int8 readers (no Quantize layer)" \
        in folded.report()
    # The plan still shows the conversion (now inside the conv), at the same grid.
    grids = {e: {(t.tensor, t.scale, t.zero_point) for t in e.int8_plan().tensors if t.tensor == y1}
             for e in (folded, kept)}
    assert grids[folded] == grids[kept] and len(grids[folded]) == 1
    converts = {e: {(c.name, c.tensor, c.scale) for c in e.int8_plan().converts if c.tensor == y1} for e in (folded, kept)}
    assert converts[folded] == converts[kept] and len(converts[folded]) == 1
    _same(folded, kept, tmp_path)


def test_a_depthwise_float_conv_writes_int8(tmp_path: Path) -> None:
    folded, kept = _pair(tmp_path, {"conv1": "fp32"}, group=8)
    assert "out=int8" in _details(folded)["conv1"] and "group=8" in _details(folded)["conv1"]
    assert "int8rt.Quantize" not in {op for name, op in _ops(folded).items() if name != "x::quantize"}
    _same(folded, kept, tmp_path)


def test_a_reader_that_is_not_a_conv_keeps_the_quantize(tmp_path: Path) -> None:
    folded, _ = _pair(tmp_path, {"conv1": "fp32"}, reader="MaxPool")
    assert "out=int8" not in _details(folded)["conv1"] and "int8rt.Quantize" in _ops(folded).values()


def test_bf16_conv_writes_int8_and_runs_its_chain_per_image(tmp_path: Path) -> None:
    if not int8rt.kernels.cpu_features().get("avx512_bf16"):
        pytest.skip("no native BF16 here (the BF16 GEMM's reference is correct but not what this times)")
    folded, kept = _pair(tmp_path, {"conv1": "bf16"})
    assert [layer["precision"] for layer in folded.layers() if layer["name"] == "conv1"] == ["bf16"]
    assert "out=int8" in _details(folded)["conv1"] and "+chain" in _details(folded)["conv1"]
    _same(folded, kept, tmp_path)


def test_a_zero_scale_keeps_the_float_output(tmp_path) -> None:
    # A tensor whose given scale is 0 (a per-channel tensor's plan scale, a
    # calibration that saw only zeros) has no grid the conv could write on:
    # the conv keeps its float output (it refused the build before: "an int8
    # output ... needs ... a positive scale"), here through the symmetric
    # Q/DQ export, whose build takes the scales as given.
    path = _model(tmp_path / "m.onnx", chain=False, group=8)  # conv0 in int8, conv1 the float depthwise conv
    scales = {"x": 0.05, "x0": 0.05, "z": 0.0, "y1": 0.0, "z2": 0.04, "y": 0.04}
    out = tmp_path / "qdq.onnx"
    int8rt.export_qdq(path, scales, out, fp32_layers=["conv1"])
    assert onnx.load(str(out)).graph.node
