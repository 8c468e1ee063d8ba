"""int8rt.QLSTM's cell on the unary_f32 kernels (engine/ops/lstm_gates.h, RESULTS.md §277).

The common LSTM (no peepholes, no coupled gates, no clip) runs its Sigmoid / Tanh on the chosen unary_f32
kernel; an LSTM with a clip that clips nothing (1e30) runs rnn_f32.cc's general loop, the scalar
sigmoid_f32 / tanh_f32 of kernels/ref/math_f32.h that the common case ran before. So:
- on the reference tier (INT8RT_MAX_ISA=ref) the two give the same bits (the unary reference loop is that
  scalar code);
- on the AVX2 / AVX-512 tiers each Sigmoid / Tanh is the tier's (a few ulp from the reference,
  tests/test_fp32_ops.py bounds both against float64), so the outputs differ from the general loop's by
  little: |h|, the gates <= 1, c within [-T, T], a few ulp per gate and step
  (2e-6: some 16 ulp of 1 at 7 steps, where the drift measured 3e-8; the int8 error is ~1e-2).
  With the recurrent GEMM in int8, a drift that moved q(h) across a rounding boundary would show as a
  jump of ~1e-3; none occurs in these seeded cases, and the bound would catch it.
The int8 GEMMs' integer parts are the same in both runs (same engine build but for `clip`). Batch 1 / 3,
forward / reverse / bidirectional, sequence lengths 1 / 7, sequence_lens, 1 / 2 threads, recurrent GEMM int8
and float32 (a cache with Y's scale or without).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from test_int8_rnn import F32, _Cache, make_inputs, reference, rnn_model

SCALES = {"int8 H R'": {"x": 0.02, "y": 0.006}, "float32 H R'": {"x": 0.02}}


def _run(ins: list, attrs: dict, scales: dict, isa: str | None, threads: int) -> dict:
    before = int8rt.get_num_threads()
    int8rt.set_max_isa(isa)  # the layer chooses its kernels when it is made
    int8rt.set_num_threads(threads)
    try:
        model = rnn_model("LSTM", ins, attrs).SerializeToString()
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Cache(scales), accuracy_check=False))
        return engine.run({"x": ins[0]})
    finally:
        int8rt.set_max_isa(None)
        int8rt.set_num_threads(before)


CASES = [  # (batch, steps, direction, sequence_lens, initial state)
    (1, 1, "forward", False, False), (1, 7, "reverse", False, True), (3, 7, "bidirectional", True, True),
    (3, 1, "bidirectional", False, True), (3, 7, "forward", True, False), (1, 7, "bidirectional", False, False)]


@pytest.mark.parametrize("recurrent", list(SCALES))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("B,T,direction,lens,initial", CASES)
def test_qlstm_cell_reference_tier_gives_the_general_loops_bits(B: int, T: int, direction: str, lens: bool,
                                                                initial: bool, threads: int, recurrent: str) -> None:
    rng = np.random.default_rng(B * 100 + T * 10 + len(direction))
    H = 21  # the unary loops' 16-lane body and a tail, 3H = 63 sigmoids per row
    dirs = 2 if direction == "bidirectional" else 1
    ins = make_inputs(rng, "LSTM", T=T, B=B, I=13, H=H, dirs=dirs, layout=0, initial=initial, lens=lens)
    attrs = dict(hidden_size=H, direction=direction)
    common = _run(ins, attrs, SCALES[recurrent], "ref", threads)
    general = _run(ins, dict(attrs, clip=1e30), SCALES[recurrent], "ref", threads)
    for name in ("y", "y_h", "y_c"):
        np.testing.assert_array_equal(common[name].view(np.uint32), general[name].view(np.uint32),
                                      err_msg=f"{name} {recurrent} B={B} T={T} {direction}")


@pytest.mark.parametrize("isa", ["avx2", None])
@pytest.mark.parametrize("recurrent", list(SCALES))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("B,T,direction,lens,initial", CASES)
def test_qlstm_cell_vector_tiers_within_bound_of_the_general_loop(B: int, T: int, direction: str, lens: bool,
                                                                  initial: bool, threads: int, recurrent: str,
                                                                  isa: str | None) -> None:
    if isa is not None and not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    rng = np.random.default_rng(B * 100 + T * 10 + len(direction))
    H = 21
    dirs = 2 if direction == "bidirectional" else 1
    ins = make_inputs(rng, "LSTM", T=T, B=B, I=13, H=H, dirs=dirs, layout=0, initial=initial, lens=lens)
    attrs = dict(hidden_size=H, direction=direction)
    common = _run(ins, attrs, SCALES[recurrent], isa, threads)
    general = _run(ins, dict(attrs, clip=1e30), SCALES[recurrent], isa, threads)
    for name in ("y", "y_h", "y_c"):
        err = np.abs(common[name] - general[name]).max()
        assert err <= 2e-6, f"{name} {recurrent} {isa} B={B} T={T} {direction}: |common - general| = {err}"


@pytest.mark.parametrize("isa", ["ref", "avx2", None])
def test_qlstm_cell_matches_the_numpy_int8_model(isa: str | None) -> None:
    """Against test_int8_rnn's NumPy model of the int8 arithmetic (float64 exp / tanh rounded to float32)
    at a width where the unary kernels' vector body runs (H = 40: 120 sigmoids per row), within that file's
    2e-5, with the int8 error present (far from the float32 model)."""
    if isa is not None and not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    rng = np.random.default_rng(27)
    H = 40
    ins = make_inputs(rng, "LSTM", T=7, B=3, I=24, H=H, dirs=2, layout=0, initial=True, lens=True)
    attrs = dict(hidden_size=H, direction="bidirectional")
    scales = {"x": 0.02, "y": 0.006}
    ours = _run(ins, attrs, scales, isa, 1)
    h_scale = max(0.006, float(np.abs(ins[5]).max() / F32(127)))  # a constant initial_h's range counts
    want = reference("LSTM", ins, attrs, {"x": 0.02, "h": h_scale})
    fp32 = reference("LSTM", ins, attrs, None)
    for k, name in enumerate(("y", "y_h", "y_c")):
        err = np.abs(ours[name] - want[k]).max()
        assert err <= 2e-5, f"{isa} {name}: |int8rt - NumPy int8 model| = {err}"
        assert np.abs(ours[name] - fp32[k]).max() > 20 * max(err, 1e-6), f"{isa} {name}: no int8 error at all"


def _model_with_h0_input(ins: list, H: int) -> bytes:
    """An LSTM whose initial_h is a graph input ("h0"), as timm's Sequencer2D feeds an Expand of zeros."""
    import onnx
    from onnx import helper, numpy_helper
    names = ["x", "w", "r", "b", "", "h0"]
    graph = helper.make_graph(
        [helper.make_node("LSTM", names, ["y", "y_h", "y_c"], hidden_size=H)], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(ins[0].shape)),
         helper.make_tensor_value_info("h0", onnx.TensorProto.FLOAT, [1, ins[0].shape[1], H])],
        [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if o == "y" else 3))
         for o in ("y", "y_h", "y_c")],
        [numpy_helper.from_array(a, n) for n, a in zip(names[1:4], ins[1:4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


def test_initial_h_calibrated_to_zero_keeps_the_recurrent_gemm_int8() -> None:
    """lower_int8_rnn.cc: an initial_h whose calibrated range is exactly 0 (zeros in every batch) adds nothing
    to the state's range, so H R' is int8 at Y's scale; an initial_h with no calibration entry leaves the
    state's range unknown (H R' float32), and one with a range takes part in the largest."""
    rng = np.random.default_rng(9)
    H = 5
    ins = make_inputs(rng, "LSTM", T=6, B=2, I=7, H=H, dirs=1, layout=0, initial=False, lens=False)
    model = _model_with_h0_input(ins, H)
    zeros = np.zeros((1, 2, H), F32)
    attrs = dict(hidden_size=H)
    for cache, detail, h_scale in [({"x": 0.02, "y": 0.006, "h0": 0.0}, "int8 H R'", 0.006),
                                   ({"x": 0.02, "y": 0.006}, "float32 H R'", 0.0),
                                   ({"x": 0.02, "y": 0.006, "h0": 0.008}, "int8 H R'", 0.008)]:
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Cache(cache), accuracy_check=False))
        layer = next(lay for lay in engine.layers() if lay["op"] == "int8rt.QLSTM")
        assert detail in layer["detail"], (cache, layer)
        want = reference("LSTM", ins + [None, zeros], attrs, {"x": 0.02, "h": h_scale})
        ours = engine.run({"x": ins[0], "h0": zeros})
        for k, name in enumerate(("y", "y_h", "y_c")):
            assert np.abs(ours[name] - want[k]).max() <= 2e-5, (cache, name)
