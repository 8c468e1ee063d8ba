"""A folded PRelu's output held on a lower-bounded grid
(csrc/engine/lower_int8_zero_points.cc's prelu_lower_bound; the zero point
added after the slope: ref/requantize.h's finish_output,
engine/ops/int8/qconv_prelu.cc).

test_int8_prelu.py's PReLU CNN (Conv -> PRelu -> MaxPool -> Conv -> PRelu ->
Conv, one slope negative, one zero): with asymmetric_activations (the
default) each PRelu output's lower bound is min over slope[k] > 0 of
-slope[k] * m[k], m[k] the pre-activation's calibrated channel max |x|, and
the output is held over [lo, threshold] (scale (threshold - lo) / 255, the
zero point mapping lo to -128); without the switch, or from a cache alone
(no channel ranges), it stays symmetric. Every tier runs such a layer as a
float32-output conv finished per value (the int8 epilogue has no step after
the slope): the reference tier's bytes equal the optimized tier's; a numpy model
of conv2's epilogue from the engine's own int8 input codes (with the pool's
zero point), weights and scales gives its output codes exactly; the error
against FP32 is bounded and below the symmetric grid's."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
import int8rt.kernels
from test_int8_prelu import CALIB, W, X, _fp32, _model, _rel_l2, tapped_conv2

F32 = np.float32


def _build(cache: str, asymmetric: bool = True, isa: str | None = None, **kw) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8, cache_file=cache)
    try:
        if isa:
            int8rt.set_max_isa(isa)
        return int8rt.build_engine(_model("prelu"), int8rt.BuilderConfig(
            calibrator=calibrator, accuracy_check=False, asymmetric_activations=asymmetric, **kw))
    finally:
        if isa:
            int8rt.set_max_isa(None)


def _pre_activation_ranges() -> dict[str, np.ndarray]:
    """Channel max |x| of c1 and c2 over the calibration data (FP32)."""
    import onnx

    model = onnx.load_from_string(_model("prelu"))
    for name, shape in (("c1", ["n", 8, 10, 10]), ("c2", ["n", 16, 5, 5])):
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    out = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run(CALIB)
    return {name: np.abs(out[name]).max(axis=(0, 2, 3)) for name in ("c1", "c2")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("prelu_zp") / "scales.cache")  # every build at the same scales


def test_prelu_outputs_get_the_bounded_grid(cache) -> None:
    tensors = {t.tensor: t for t in _build(cache).int8_plan().tensors}
    symmetric = {t.tensor: t for t in _build(cache, asymmetric=False).int8_plan().tensors}
    m = _pre_activation_ranges()
    for out, pre, slope in (("p1", "c1", W["s1"]), ("p2", "c2", W["s2"])):
        s = slope.reshape(-1)
        lo = min(0.0, float(np.min(np.where(s > 0, -(s * m[pre]).astype(F32), 0.0))))
        t = tensors[out]
        assert lo < 0 and t.zero_point != 0, (out, lo, t.zero_point)
        # quant::lower_bounded_grid: 255 steps over [lo', threshold], lo' = lo rounded down to a
        # multiple of threshold / 1024, the zero point mapping lo' to -128.
        threshold = 127 * symmetric[out].scale  # the calibrated one, unchanged
        lo_grid = threshold - 255 * t.scale
        assert lo - threshold / 1024 - 1e-5 <= lo_grid <= lo + 1e-5, (out, lo, lo_grid, threshold)
        assert t.zero_point == -128 - round(lo_grid / t.scale), (out, lo_grid, t.scale, t.zero_point)
    assert tensors["m1"].zero_point == tensors["p1"].zero_point  # the max pool passes it on


def test_symmetric_without_the_switch_or_the_ranges(cache, tmp_path) -> None:
    tensors = {t.tensor: t for t in _build(cache, asymmetric=False).int8_plan().tensors}
    assert tensors["p1"].zero_point == 0 and tensors["p2"].zero_point == 0
    # A build from the TensorRT cache alone (no channel-ranges sidecar): no bound, symmetric.
    _build(cache)  # the cache exists
    bare = tmp_path / "bare.cache"
    bare.write_bytes(open(cache, "rb").read())
    tensors = {t.tensor: t for t in _build(str(bare)).int8_plan().tensors}
    assert tensors["p1"].zero_point == 0 and tensors["p2"].zero_point == 0


def test_reference_tier_equals_optimized(cache) -> None:
    fast_engine = _build(cache)
    ref_engine = _build(cache, isa="ref")
    try:
        int8rt.set_max_isa("ref")
        ref = ref_engine.run({"x": X})["y"]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(fast_engine.run({"x": X})["y"], ref)
    for engine in (ref_engine, fast_engine):
        details = [l["detail"] for l in engine.layers() if "PReLU" in l["detail"]]
        assert len(details) == 2 and all("finished per value" in d for d in details), details
    ref_kernels = [l["detail"] for l in ref_engine.layers() if "PReLU" in l["detail"]]
    assert all("ref" in d for d in ref_kernels), ref_kernels


def test_epilogue_codes_match_numpy(cache) -> None:
    """conv2's epilogue from the engine's own codes: acc over the raw input
    codes q (padding = the input's zero point z_in), bias centred:
    (b[k] - float32(z_in * sum w[k]) * (s_in * s_w[k])) / s_out, then
    t = float32(acc) * scale[k] + bias[k], t = prelu(t, slope[k]) + z_out,
    q = rne(clip(t, -128, 127)), in float32 as requant_params.h says."""
    codes, plan, attrs, wq, bias, acc = tapped_conv2(_build(cache))
    z_in, z_out = plan["m1"].zero_point, plan["p2"].zero_point
    assert z_in != 0 and z_out != 0
    assert attrs["in_zero_point"] == z_in and attrs["out_zero_point"] == z_out
    s_in, s_out = F32(attrs["in_scale"]), F32(attrs["out_scale"])
    s_w = np.asarray(attrs["w_scales"], F32)
    slope = np.asarray(attrs["slopes"], F32)
    s = (s_in * s_w).astype(F32)
    scale = (s / s_out).astype(F32)
    corr = ((z_in * wq.reshape(16, -1).sum(1)).astype(F32) * s).astype(F32)
    b = ((bias - corr).astype(F32) / s_out).astype(F32)
    t = (acc.astype(F32) * scale[None, :, None, None]).astype(F32) + b[None, :, None, None]
    t = np.where(t < 0, (t * slope[None, :, None, None]).astype(F32), t)
    t = (t + F32(z_out)).astype(F32)
    want = np.rint(np.clip(t, -128, 127)).astype(np.int64)
    np.testing.assert_array_equal(codes["p2"], want)


def test_accuracy_against_fp32(cache) -> None:
    """Relative L2 to FP32 below 0.03, and below the symmetric grid's."""
    ref = _fp32("prelu")
    bounded = _rel_l2(_build(cache).run({"x": X})["y"], ref)
    symmetric = _rel_l2(_build(cache, asymmetric=False).run({"x": X})["y"], ref)
    assert bounded < 0.03, (bounded, symmetric)
    assert bounded < symmetric, (bounded, symmetric)
