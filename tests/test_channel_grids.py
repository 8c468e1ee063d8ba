"""Per-channel int8 grids of calibrated activations (BuilderConfig.channel_activations,
csrc/engine/lower_int8_channel_grids.cc) on a PP-LCNet-style chain whose channels spread
widely, as PicoDet's do behind folded BatchNorm scales:

    conv1 (gains 0.02 .. 8) -> HardSwish -> depthwise conv (gains 1 / sqrt of conv1's)
          -> HardSwish -> pointwise conv -> y

The grids are the rule written in the lowering's header (min(channel max, threshold) / 127);
each per-channel table is the formula evaluated in float32, byte for byte; the engine
equals a NumPy simulation of the same grids (depthwise: per-channel multipliers; pointwise:
the input scales folded into the weights) within a stated bound that the per-tensor engine
misses; per channel is closer to float32 than per tensor; channels that spread little, a
build from the cache alone and the engine file behave as documented."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
C, K, H, W = 8, 6, 12, 10


def chain_model(gains: np.ndarray) -> bytes:
    """The chain above; ``gains`` scale conv1's output channels (and inversely the depthwise's)."""
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((C, 3, 3, 3)) * 0.3 * gains[:, None, None, None]).astype(F32)
    b1 = (rng.standard_normal(C) * gains * 0.5 - gains * 0.8).astype(F32)  # many values below -3 on big channels
    wd = (rng.standard_normal((C, 1, 3, 3)) * 0.4 / np.sqrt(gains)[:, None, None, None]).astype(F32)
    bd = (rng.standard_normal(C) * 0.2).astype(F32)
    wp = (rng.standard_normal((K, C, 1, 1)) * 0.4).astype(F32)
    bp = (rng.standard_normal(K) * 0.1).astype(F32)
    inits = [init("w1", w1), init("b1", b1), init("wd", wd), init("bd", bd), init("wp", wp), init("bp", bp),
             init("three", np.array(3.0, F32)), init("zero", np.array(0.0, F32)), init("six", np.array(6.0, F32))]

    def hardswish(x: str, y: str) -> list:
        return [helper.make_node("Add", [x, "three"], [y + "_a"], name=y + "_add"),
                helper.make_node("Clip", [y + "_a", "zero", "six"], [y + "_c"], name=y + "_clip"),
                helper.make_node("Mul", [x, y + "_c"], [y + "_m"], name=y + "_mul"),
                helper.make_node("Div", [y + "_m", "six"], [y], name=y + "_div")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
             *hardswish("c1", "h1"),
             helper.make_node("Conv", ["h1", "wd", "bd"], ["d1"], name="dw", kernel_shape=[3, 3], pads=[1] * 4,
                              group=C),
             *hardswish("d1", "h2"),
             helper.make_node("Conv", ["h2", "wp", "bp"], ["y"], name="pw", kernel_shape=[1, 1])]
    return model(nodes, [fvi("x", ["N", 3, H, W])], [fvi("y", ["N", K, H, W])], inits).SerializeToString()


SPREAD = np.array([0.02, 0.05, 0.1, 0.3, 1.0, 2.0, 4.0, 8.0])
X_CAL = np.random.default_rng(5).uniform(-1, 1, (16, 3, H, W)).astype(F32)
X_EVAL = np.random.default_rng(6).uniform(-1, 1, (8, 3, H, W)).astype(F32)


def build(m: bytes, channels: bool = True, cache: str = "", **kw) -> int8rt.Engine:
    cal = int8rt.make_calibrator({"x": X_CAL}, algorithm="minmax", batch_size=8, cache_file=cache or None)
    return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, channel_activations=channels,
                                                       accuracy_check=False, **kw))


def float_tensors(m: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    """c1, h1, d1, h2, y of the float32 network (int8rt's FP32 engine with them as outputs)."""
    import onnx

    proto = onnx.load_from_string(m)
    for name in ("c1", "h1", "d1", "h2"):
        proto.graph.output.append(fvi(name, ["N", C, H, W]))
    fp32 = int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    return fp32.run({"x": x})


def plan_of(engine: int8rt.Engine) -> dict[str, tuple[float, np.ndarray]]:
    return {t.tensor: (t.scale, np.asarray(t.channel_scales, F32)) for t in engine.int8_plan().tensors}


@pytest.fixture(scope="module")
def spread() -> dict:
    m = chain_model(SPREAD)
    return {"model": m, "channels": build(m), "per_tensor": build(m, channels=False),
            "cal": float_tensors(m, X_CAL), "eval": float_tensors(m, X_EVAL)}


def test_spread_tensors_get_the_documented_grids(spread) -> None:
    plan = plan_of(spread["channels"])
    for name in ("c1", "h1", "d1", "h2"):
        scale, channels = plan[name]
        # minmax: the threshold is the tensor's max |x|, so each channel's is its own max |x|
        want = np.abs(spread["cal"][name]).max(axis=(0, 2, 3)).astype(F32) / F32(127)
        assert scale == 0.0 and channels.shape == (C,), (name, plan[name])
        np.testing.assert_allclose(channels, want, rtol=1e-5, err_msg=name)
    assert not plan_of(spread["per_tensor"])["h1"][1].size
    tables = [layer for layer in spread["channels"].layers() if layer["op"] == "int8rt.QLut"]
    assert len(tables) == 2 and all("per-channel" in layer["detail"] for layer in tables), tables


def _hardswish_f32(x: np.ndarray) -> np.ndarray:
    """The region's float32 ops in their order: Add 3, Clip [0, 6], Mul x, Div 6."""
    return (x * np.clip(x + F32(3), F32(0), F32(6))).astype(F32) / F32(6)


def _quantize(v: np.ndarray, s) -> np.ndarray:
    """kernels::ref::quantize_value: v * (1 / s) in float32, clamped, rounded half to even."""
    inv = (F32(1) / np.asarray(s, F32)).astype(F32)
    return np.rint(np.clip((v.astype(F32) * inv).astype(F32), -128, 127)).astype(np.int8)


def test_per_channel_tables_are_the_formula(spread) -> None:
    net = spread["channels"]._native.network()
    plan = plan_of(spread["channels"])
    levels = np.arange(-128, 128, dtype=F32)
    for x, y in (("c1", "h1"), ("d1", "h2")):
        table = np.asarray(net.constant_data(net.find_tensor(y + "::table")))
        s_in, s_out = plan[x][1], plan[y][1]
        want = _quantize(_hardswish_f32((levels[None, :] * s_in[:, None]).astype(F32)), s_out[:, None])
        assert table.shape == (C, 256)
        np.testing.assert_array_equal(table, want, err_msg=y)


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, group: int) -> np.ndarray:
    """float64 NCHW convolution, stride 1, 'same' padding for odd kernels."""
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((n, k, h, wd)) + b[None, :, None, None]
    per = k // group
    for o in range(k):
        g = o // per
        for j in range(cg):
            for i in range(kh):
                for t in range(kw):
                    out[:, o] += w[o, j, i, t] * xp[:, g * cg + j, i:i + h, t:t + wd]
    return out


def _weights(w: np.ndarray) -> np.ndarray:
    """Per-output-channel symmetric int8 weights, dequantized (amax / 127)."""
    s = (np.abs(w).reshape(len(w), -1).max(axis=1).astype(F32) / F32(127)).astype(np.float64)
    return np.clip(np.rint(w / s[:, None, None, None]), -127, 127) * s[:, None, None, None]


def simulate(m: bytes, engine: int8rt.Engine, x: np.ndarray) -> tuple[np.ndarray, float]:
    """y as the per-channel grids of ``engine``'s plan compute it, in float64 NumPy, and y's
    calibrated step: every int8 tensor quantized at its plan's scales, the pointwise conv's weights w[o][c] * s_h2[c]
    quantized per output channel (the fold) and reading h2's int8 codes at scale 1."""
    import onnx
    from onnx import numpy_helper

    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in onnx.load_from_string(m).graph.initializer}
    plan = plan_of(engine)

    def grid(name: str) -> np.ndarray:
        s, ch = plan[name]
        return (ch if ch.size else np.full(C, s, F32)).astype(np.float64)[None, :, None, None]

    xq = np.clip(np.rint(x / plan["x"][0]), -128, 127) * plan["x"][0]
    c1 = np.clip(np.rint(_conv(xq, _weights(w["w1"]), w["b1"], 1) / grid("c1")), -128, 127)
    h1 = _quantize(_hardswish_f32((c1 * grid("c1")).astype(F32)), grid("h1").astype(F32)).astype(np.float64)
    d1 = np.clip(np.rint(_conv(h1 * grid("h1"), _weights(w["wd"]), w["bd"], C) / grid("d1")), -128, 127)
    h2 = _quantize(_hardswish_f32((d1 * grid("d1")).astype(F32)), grid("h2").astype(F32)).astype(np.float64)
    folded = _weights(w["wp"] * grid("h2").reshape(1, C, 1, 1))
    # y is the network output: the pointwise conv writes it in float32 from its accumulators
    # (lower_int8_conv_head.cc), no int8 rounding; its calibrated step is the unit of the bound.
    assert "y" not in plan
    return _conv(h2, folded, w["bp"], 1), engine.scales()["y"]


def test_engine_equals_the_simulated_grids(spread) -> None:
    """>= 99% of outputs within 0.01 of y's calibrated step of the simulation and none more than
    one step away: the simulation accumulates in float64 where the engine scales int32 sums in
    float32 (and an int8 code next to a rounding tie may land one code over). The per-tensor
    engine is far outside this (the bound fails if the grids are replaced by one scale per
    tensor: 21% equal, 11 steps)."""
    y_sim, s_y = simulate(spread["model"], spread["channels"], X_EVAL)
    steps = np.abs(spread["channels"].run({"x": X_EVAL})["y"] - y_sim) / s_y
    assert np.mean(steps < 0.01) >= 0.99 and steps.max() <= 1.01, (np.mean(steps < 0.01), steps.max())
    per_tensor = np.abs(spread["per_tensor"].run({"x": X_EVAL})["y"] - y_sim) / s_y
    assert np.mean(per_tensor < 0.01) < 0.5 and per_tensor.max() > 3, (np.mean(per_tensor < 0.01), per_tensor.max())


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_per_channel_is_closer_to_float32(spread) -> None:
    ref = spread["eval"]["y"]
    ours, flat = _rel(spread["channels"].run({"x": X_EVAL})["y"], ref), _rel(spread["per_tensor"].run({"x": X_EVAL})["y"], ref)
    assert ours < 0.5 * flat, (ours, flat)


def test_a_channel_too_small_for_a_normal_scale_is_held_as_dead(spread) -> None:
    """conv1's channel 1 (weights and bias x 1e-44: its outputs are subnormal) has a positive calibrated range
    whose range / 127 is zero or subnormal in float32, as in MobileViT-v2's all-but-zero attention channels
    (RESULTS_realnets.md, nets17). It takes the tensor's scale, as a dead channel does, and its weights scale 1
    (quantization.h), instead of the zero scales that stopped the build ("compute_channel_luts: scales must be
    > 0", then "weight scale of channel 1 must be finite and > 0"). The other channels keep their grids, and
    the engine is as close to float32 as the per-channel engine of the plain chain (within 1.25x of it)."""
    gains = SPREAD.copy()
    gains[1] = 1e-44
    m = chain_model(gains)
    engine = build(m)
    plan = plan_of(engine)
    for name in ("c1", "h1"):
        channels = plan[name][1]
        assert channels.shape == (C,) and np.all(channels >= np.finfo(F32).tiny), (name, channels)
    ref = float_tensors(m, X_EVAL)["y"]
    plain = _rel(spread["channels"].run({"x": X_EVAL})["y"], spread["eval"]["y"])
    assert _rel(engine.run({"x": X_EVAL})["y"], ref) < 1.25 * plain


def test_channels_that_spread_little_stay_per_tensor() -> None:
    engine = build(chain_model(np.linspace(1.0, 1.5, C)))
    assert not any(t.channel_scales for t in engine.int8_plan().tensors)


def test_cache_without_its_channel_ranges_builds_per_tensor_and_the_file_keeps_the_tables(spread, tmp_path: Path) -> None:
    cache = str(tmp_path / "calib.cache")
    first = build(spread["model"], cache=cache)
    assert any(t.channel_scales for t in first.int8_plan().tensors)
    os.remove(cache + ".channels.json")  # the channel ranges' sidecar (int8rt/calib/channel_ranges.py)
    again = build(spread["model"], cache=cache)  # the cache holds per-tensor thresholds only
    assert not any(t.channel_scales for t in again.int8_plan().tensors)
    path = tmp_path / "chain.i8rt"
    spread["channels"].save(str(path))
    loaded = int8rt.Engine.load(str(path))
    np.testing.assert_array_equal(loaded.run({"x": X_EVAL})["y"], spread["channels"].run({"x": X_EVAL})["y"])
