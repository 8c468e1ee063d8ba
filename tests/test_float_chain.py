"""A float conv's element-wise chain (fuse_float_chain.cc) as its epilogue.

PP-OCRv4 rec spells hardswish Add(z, 3), Clip(0, 6), Mul(z, .), Div(., 6)
and follows it by an affine Mul(w), Add(b) (RESULTS_accuracy.md acc37). A
model of that shape: conv1 -> the chain -> conv2 -> Relu. FP32 engines and
the float convs of mixed engines fuse the chain into the conv. The fused
arithmetic is the unfused layers' (the same IEEE operations in the graph's
order, Add/Sub/Mul/Div on the same binary kernel), so outputs are compared
with == against the same network kept unfused (an intermediate tensor of the
chain made a network output, which stops the fusion there); the float
layers of the mixed engine == the FP32 engine's; its int8 output against
FP32 within a stated bound; `int8rt inspect` shows the fused layer. A float
island entered through such a chain after an int8 conv reads its int8 codes
(QLutFloat), == the engine that dequantizes and runs the float layers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.cli import main
from int8rt.data_calibrator import make_calibrator
from onnx_models import hardswish_affine

CHAIN = "+chain(Add:tc;Clip;Mul:zt;Div:tc;Mul:ct;Add:tc)"


def _model(path: Path, extra_outputs: tuple[str, ...] = (), k: int = 3) -> Path:
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.4, (8, 4, k, k)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (8,)).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.3, (8, 8, 1, 1)).astype(np.float32), "w2"),
    ]
    chain, consts = hardswish_affine("z", "y1")
    inits += consts
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["z"], name="conv1", pads=[k // 2] * 4),
        *chain,
        helper.make_node("Conv", ["y1", "w2"], ["z2"], name="conv2"),
        helper.make_node("Relu", ["z2"], ["y"], name="relu"),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8, 9, 9])]
    outs += [helper.make_tensor_value_info(t, TensorProto.FLOAT, [None, 8, 9, 9]) for t in extra_outputs]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4, 9, 9])],
                              outs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _data(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1.5, (n, 4, 9, 9)).astype(np.float32)


def _details(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["detail"] for layer in engine.layers()}


def _build(path: Path, **kw: object) -> int8rt.Engine:
    if kw.get("precision") != "fp32":
        kw["calibrator"] = make_calibrator({"x": _data(32, 1)}, batch_size=16)
        kw["accuracy_check"] = False
    return int8rt.build_engine(path, int8rt.BuilderConfig(**kw))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("chain")
    # fused; fused with y1 an output too (the chain ends at y1 either way); unfused: Add's output an
    # output ends a chain at Add, which leaves Mul, a reader of z, outside it: nothing fuses
    return _model(d / "fused.onnx"), _model(d / "y1.onnx", ("y1",)), _model(d / "unfused.onnx", ("a", "y1"))


def _run(engine: int8rt.Engine, x: np.ndarray) -> dict[str, np.ndarray]:
    return engine.create_execution_context().run({"x": x})


@pytest.mark.parametrize("k", [3, 1])  # 1x1: the im2col SGEMM's block epilogue (SgemmEpilogue::post)
def test_fp32_engine_fuses_the_chain_bit_for_bit(models: tuple[Path, Path, Path], tmp_path: Path, k: int) -> None:
    fused, _, unfused = models
    if k == 1:
        fused, unfused = _model(tmp_path / "f1.onnx", k=1), _model(tmp_path / "u1.onnx", ("a", "y1"), k=1)
    e, u = _build(fused, precision="fp32"), _build(unfused, precision="fp32")
    assert CHAIN in _details(e)["conv1"]
    assert not {"add3", "clip", "mul", "div6", "scale", "shift"} & set(_details(e))
    assert "+chain" not in _details(u)["conv1"] and {"add3", "div6", "shift"} <= set(_details(u))
    for seed in (2, 3):
        x = _data(5, seed)
        np.testing.assert_array_equal(_run(e, x)["y"], _run(u, x)["y"])


def test_mixed_engine_fuses_its_float_convs_chain(models: tuple[Path, Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    fused, with_y1, unfused = models
    mixed = _build(with_y1, layer_precisions={"conv1": "fp32"})
    mixed.save(tmp_path / "mixed.i8rt")
    assert main(["inspect", str(tmp_path / "mixed.i8rt")]) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if "conv1" in line and CHAIN in line]
    plain = _build(unfused, layer_precisions={"conv1": "fp32"})
    fp32 = _build(with_y1, precision="fp32")
    d = _details(mixed)
    assert CHAIN in d["conv1"] and not {"add3", "clip", "mul", "div6", "scale", "shift"} & set(d)
    assert "fused Add 'add3', Clip 'clip', Mul 'mul', Div 'div6', Mul 'scale', Add 'shift' (a float chain) " \
           "into Conv 'conv1'" in mixed.report()
    assert [layer["precision"] for layer in mixed.layers() if layer["name"] == "conv2"] == ["int8"]
    assert "+chain" not in _details(plain)["conv1"]
    for seed in (4, 5):
        x = _data(6, seed)
        m, p, f = _run(mixed, x), _run(plain, x), _run(fp32, x)
        # Same op order on both: ==. The float layers: == the FP32 engine's.
        np.testing.assert_array_equal(m["y"], p["y"])
        np.testing.assert_array_equal(m["y1"], p["y1"])
        np.testing.assert_array_equal(m["y1"], f["y1"])
        # conv2 in int8 (per-tensor input scale, per-channel weights): relative L2 against FP32 under 3%.
        rel = np.linalg.norm(m["y"] - f["y"]) / np.linalg.norm(f["y"])
        assert rel < 0.03, rel


def test_only_the_named_float_convs_fuse(models: tuple[Path, Path, Path]) -> None:
    fused, _, _ = models
    all_int8 = _build(fused)
    d = _details(all_int8)
    assert "+chain" not in " ".join(d.values())  # conv1 int8: its chain is an int8 table, not a float epilogue
    assert [layer["precision"] for layer in all_int8.layers() if layer["name"] == "conv1"] == ["int8"]


def test_the_chain_output_keeps_its_lower_bounded_grid(models: tuple[Path, Path, Path]) -> None:
    # The grids are decided on the unfused network (lower_int8_zero_points.cc): y1 = hardswish * 0.7 + 0.1
    # is >= 0.1 - 0.375 * 0.7, so with asymmetric_activations (the default) its 256 levels span [lo, threshold],
    # in the mixed engine (a Quantize after the fused float conv) as in the all-int8 one (a table's output).
    fused, _, _ = models
    mixed = _build(fused, layer_precisions={"conv1": "fp32"})
    all_int8 = _build(fused)
    assert CHAIN in _details(mixed)["conv1"]

    def grid(engine: int8rt.Engine) -> tuple[float, int]:
        (t,) = [t for t in engine.int8_plan().tensors if t.tensor == "y1"]
        return t.scale, t.zero_point

    assert grid(mixed) == grid(all_int8)
    assert grid(mixed)[1] != 0


def test_a_float_island_entered_through_a_chain_reads_int8_values(models: tuple[Path, Path, Path]) -> None:
    # conv1 int8, conv2 float: the chain between them reads conv1's int8 codes through its 256 float values
    # (int8rt.QLutFloat, lower_int8_gates.cc) instead of a Dequantize and six float layers. Exact: the
    # values are the float layers' own on the dequantized levels, so == the engine without tables
    # (pointwise_tables off: Dequantize, then the float chain; this model has no other table).
    fused, _, _ = models
    entry = _build(fused, layer_precisions={"conv2": "fp32"})
    plain = _build(fused, layer_precisions={"conv2": "fp32"}, pointwise_tables=False)
    ops = {layer["name"]: layer["op"] for layer in entry.layers()}
    assert ops["add3+clip+mul+div6+scale+shift"] == "int8rt.QLutFloat"
    assert "int8rt.Dequantize" not in ops.values()
    assert "int8rt.Dequantize" in {layer["op"] for layer in plain.layers()}
    for seed in (6, 7):
        x = _data(6, seed)
        np.testing.assert_array_equal(_run(entry, x)["y"], _run(plain, x)["y"])



@pytest.mark.parametrize("rank", [0, 4, 5])
def test_a_constant_that_raises_the_rank_ends_the_chain(tmp_path: Path, rank: int) -> None:
    # Add(z, 3), Clip(0, 6), Mul(z, .), Div(., 6) with Div's 6 of shape [1] * rank: up to the conv output's rank
    # the whole chain fuses; a rank-5 constant broadcasts the 2-D conv's output to rank 5, so Div stays a layer
    # and the output keeps ONNX's shape (the fused conv once wrote [N, C, H, W] there).
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array(3.0, np.float32), "three"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
             numpy_helper.from_array(np.full([1] * rank, 6.0, np.float32), "six")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["z"], name="conv", pads=[1] * 4),
             helper.make_node("Add", ["z", "three"], ["a"], name="add3"),
             helper.make_node("Clip", ["a", "zero", "hi"], ["cl"], name="clip"),
             helper.make_node("Mul", ["z", "cl"], ["m"], name="mul"),
             helper.make_node("Div", ["m", "six"], ["y"], name="div6")]
    graph = helper.make_graph(nodes, "rank", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * max(4, rank))], inits)
    path = tmp_path / "rank.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    engine = _build(path, precision="fp32")
    x = rng.normal(0, 1.5, (2, 3, 6, 6)).astype(np.float32)
    y = _run(engine, x)["y"]
    ort = pytest.importorskip("onnxruntime")
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert y.shape == want.shape == (1,) * (rank - 4) + (2, 4, 6, 6)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    chained = [layer["detail"] for layer in engine.layers() if "+chain(" in layer["detail"]]
    assert len(chained) == 1 and ("Div" in chained[0]) == (rank <= 4), chained
