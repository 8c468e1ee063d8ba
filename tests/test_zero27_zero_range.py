"""Tensors calibrated to exactly 0 are int8 at a nominal scale, with a warning
(csrc/engine/lower_int8_zero_range.h, docs/numerics.md "Tensors calibrated to exactly 0").

The model is a bottleneck block as timm builds it with ``zero_init_last`` (ECA-ResNet,
RESULTS_realnets.md "speed23"): the residual branch's last BatchNorm has gamma = beta = 0, so
its conv's output is exactly 0 on every input, then an ECA-style gate (global average pool ->
sigmoid -> channel Mul) and the residual Add + Relu, then a 1x1 head conv:

    x -> conv_a (3x3, Relu) -> a -> conv_b -> BN(gamma = beta = 0) -> z -> z * sigmoid(GAP(z)) -> g
      -> Relu(g + a) -> r -> conv_c -> y

Before the rule, z's calibrated scale 0 was "no scale": conv_b, the gate Mul and the Add stayed
float32 ("no calibration scale for its input or output"). A branch whose range is tiny but not
0 (gamma 1e-20) keeps its own calibrated scale, as before."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
C, H, W = 16, 10, 12
NOMINAL = F32(8e-5) / F32(127)  # kZeroRangeThreshold / 127, float32 division
X_CAL = np.random.default_rng(11).uniform(-1, 1, (16, 8, H, W)).astype(F32)
X_EVAL = np.random.default_rng(12).uniform(-1, 1, (8, 8, H, W)).astype(F32)


def block_model(gamma: float, branch: bool = True) -> bytes:
    """The block above with the branch BatchNorm's gamma (and beta = 0); without ``branch``,
    r = Relu(a): what the block computes when the branch is exactly 0."""
    rng = np.random.default_rng(7)
    wa = (rng.standard_normal((C, 8, 3, 3)) * 0.2).astype(F32)
    ba = (rng.standard_normal(C) * 0.1).astype(F32)
    wb = (rng.standard_normal((C, C, 1, 1)) * 0.3).astype(F32)
    wc = (rng.standard_normal((4, C, 1, 1)) * 0.3).astype(F32)
    bc = (rng.standard_normal(4) * 0.1).astype(F32)
    inits = [init("wa", wa), init("ba", ba), init("wc", wc), init("bc", bc)]
    nodes = [helper.make_node("Conv", ["x", "wa", "ba"], ["a0"], name="conv_a", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["a0"], ["a"], name="relu_a")]
    if branch:
        inits += [init("wb", wb), init("gamma", np.full(C, gamma, F32)), init("beta", np.zeros(C, F32)),
                  init("mean", (rng.standard_normal(C) * 0.1).astype(F32)),
                  init("var", rng.uniform(0.5, 2.0, C).astype(F32))]
        nodes += [helper.make_node("Conv", ["a", "wb"], ["b0"], name="conv_b", kernel_shape=[1, 1]),
                  helper.make_node("BatchNormalization", ["b0", "gamma", "beta", "mean", "var"], ["z"], name="bn_b"),
                  helper.make_node("GlobalAveragePool", ["z"], ["p"], name="gap"),
                  helper.make_node("Sigmoid", ["p"], ["s"], name="gate"),
                  helper.make_node("Mul", ["z", "s"], ["g"], name="eca_mul"),
                  helper.make_node("Add", ["g", "a"], ["r0"], name="residual"),
                  helper.make_node("Relu", ["r0"], ["r"], name="relu_r")]
    else:
        nodes += [helper.make_node("Relu", ["a"], ["r"], name="relu_r")]
    nodes += [helper.make_node("Conv", ["r", "wc", "bc"], ["y"], name="conv_c", kernel_shape=[1, 1])]
    return model(nodes, [fvi("x", ["N", 8, H, W])], [fvi("y", ["N", 4, H, W])], inits).SerializeToString()


def build(m: bytes, algorithm: str = "minmax", cache: str = "") -> int8rt.Engine:
    cal = int8rt.make_calibrator({"x": X_CAL}, algorithm=algorithm, batch_size=8, cache_file=cache or None)
    return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))


def fp32(m: bytes, x: np.ndarray) -> np.ndarray:
    return int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def float_layers(engine: int8rt.Engine) -> list[str]:
    """Layers that run in float32, the output's layout transpose (NHWC -> NCHW) aside; Quantize /
    Dequantize are precision "convert" (before the rule: conv_b, gap, gate, eca_mul, residual, relu_r)."""
    return [f"{layer['name']} ({layer['op']})" for layer in engine.layers()
            if layer["precision"] == "fp32" and not layer["name"].endswith("::to_nchw")]


def zero_warnings(engine: int8rt.Engine) -> list[str]:
    return [line for line in engine.report() if "calibrated to exactly 0" in line]


@pytest.mark.parametrize("algorithm", ["minmax", "entropy", "percentile"])
def test_a_branch_calibrated_to_exactly_zero_is_int8_and_named(algorithm: str) -> None:
    m = block_model(0.0)
    engine = build(m, algorithm)
    assert engine.scales()["z"] == 0.0  # the calibration (and its TensorRT cache) still says 0
    assert float_layers(engine) == [], engine.layers()
    assert not [line for line in engine.report() if "stays float32" in line], engine.report()
    plan = {t.tensor: t for t in engine.int8_plan().tensors}
    assert plan["z"].scale == NOMINAL and plan["z"].zero_point == 0, plan["z"]
    warned = zero_warnings(engine)
    assert len(warned) == len([n for n, s in engine.scales().items() if s == 0.0]) and any("'z'" in w for w in warned)
    assert all(w.startswith("warning: ") for w in warned), warned


@pytest.mark.parametrize("batch", [1, 8])
def test_the_zero_branch_adds_nothing_to_the_int8_error(batch: int) -> None:
    """z is exactly 0 in FP32; in int8 too (0 at any scale), so the block's error against FP32 is the
    error of the same block without the branch (r = Relu(a)), within 1.5x (the Add requantizes
    once more: its own grid), and below 2 % relative L2 (a block of this size at minmax)."""
    x = X_EVAL[:batch]
    with_branch, without = block_model(0.0), block_model(0.0, branch=False)
    ref = fp32(with_branch, x)
    np.testing.assert_array_equal(ref, fp32(without, x))  # the FP32 semantics: the branch adds exactly 0
    err = rel(build(with_branch).run({"x": x})["y"], ref)
    plain = rel(build(without).run({"x": x})["y"], ref)
    assert err <= 1.5 * plain + 1e-6 and err < 0.02, (err, plain)


def test_a_tiny_but_nonzero_range_keeps_its_own_scale() -> None:
    """gamma 1e-20: z is about 1e-20, its calibrated scale small but a normal float32 (RESULTS_realnets.md,
    "the zero-range INT8 failure fixed" is about ranges whose scale underflows); no warning, its own scale."""
    engine = build(block_model(1e-20))
    s = engine.scales()["z"]
    assert np.finfo(F32).tiny < s < 1e-20, s
    plan = {t.tensor: t for t in engine.int8_plan().tensors}
    assert plan["z"].scale == F32(s) and plan["z"].scale != NOMINAL
    assert zero_warnings(engine) == []
    assert float_layers(engine) == [], engine.layers()


def test_a_build_from_the_cache_holding_zero_applies_the_rule(tmp_path: Path) -> None:
    cache = str(tmp_path / "calib.cache")
    first = build(block_model(0.0), cache=cache)
    assert "\nz: 0\n" in Path(cache).read_text()  # TensorRT's format: the float32 bits of 0.0, in hex
    again = build(block_model(0.0), cache=cache)  # no calibration: the cache's scales
    assert float_layers(again) == [] and zero_warnings(again) == zero_warnings(first)
    np.testing.assert_array_equal(again.run({"x": X_EVAL})["y"], first.run({"x": X_EVAL})["y"])
    path = tmp_path / "block.i8rt"
    first.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    assert zero_warnings(loaded) == zero_warnings(first)
    np.testing.assert_array_equal(loaded.run({"x": X_EVAL})["y"], first.run({"x": X_EVAL})["y"])


def test_an_input_calibrated_to_exactly_zero_turns_the_rule_off() -> None:
    """All-zero calibration data: the input's range is 0, which says nothing about the network (nor does z's,
    downstream of it); a value the data never showed must not saturate near 0. No tensor takes the nominal
    scale, one warning names the input, and the layers stay float32 as before the rule."""
    cal = int8rt.make_calibrator({"x": np.zeros_like(X_CAL)}, algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(block_model(0.0), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))
    assert engine.scales()["x"] == 0.0 and engine.scales()["z"] == 0.0
    warned = zero_warnings(engine)
    assert len(warned) == 1 and warned[0].startswith("warning: network input 'x' is calibrated to exactly 0"), warned
    assert all(t.scale != NOMINAL for t in engine.int8_plan().tensors)
    assert "conv_b (Conv)" in float_layers(engine)
