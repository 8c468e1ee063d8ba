"""Bias correction's row-wise shifts beyond acc24 (accuracy/row_shifts.py,
accuracy/bias_correction.py; acc28): real tokens only where the feed has an
attention mask, a bias-free MatMul (add_to_bias inserts its bias), GRU's
input GEMM, and the recurrent GEMM h R' of an LSTM whose state is int8.

Each model makes a known mean shift as test_matmul_lstm_bias_correction.py's
do: per output column (gate row) one weight +-1 sets the int8 step to
1/127 and the others lie between 0.30 and 0.45 steps, so they round to 0
and the int8 layer loses their sum times the input's mean."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.accuracy import bias_correction as bc  # noqa: E402
from int8rt.accuracy import row_shifts  # noqa: E402
from int8rt.accuracy.taps import WholeBatch  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402
from test_matmul_lstm_bias_correction import (BIAS, K, N, S, W, _build, _calibrated, _run, _x,  # noqa: E402
                                              assert_added_to_wb, linear_model, mean_errors)

RNG = np.random.default_rng(2812)
T = 10  # time steps


def _biased(rows: int, cols: int) -> np.ndarray:
    """[rows, cols]: column 0 +-1, the rest +-(0.30..0.45)/127, one sign per row."""
    sign = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)[:, None]
    w = sign * RNG.uniform(0.30, 0.45, (rows, cols)) / 127
    w[:, 0] = sign[:, 0]
    return w.astype(np.float32)


# ---- a masked encoder: padding tokens whose rounding shift is another ----

def masked_model() -> onnx.ModelProto:
    """x [B, S, K], attention_mask [B, S] (int64) -> (MatMul(x, W) + BIAS)
    times the mask: padded rows' outputs are 0, as an encoder's pooling
    leaves them out."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="linear"),
             helper.make_node("Add", ["b", "mm"], ["h"], name="linear_bias"),
             helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["mf", "axis"], ["m3"]),
             helper.make_node("Mul", ["h", "m3"], ["y"])]
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", S])
    return model(nodes, [fvi("x", ["B", S, K]), mask], [fvi("y", ["B", S, N])],
                 [init("w", W), init("b", BIAS), init("axis", np.array([-1], np.int64))])


def _masked_batch(batch: int) -> dict[str, np.ndarray]:
    """Real tokens (3 to 6 of 12, so about 62% padding) of mean 1; padding
    rows of mean -2 (a padding embedding): their shift is -2 times theirs."""
    lengths = RNG.integers(3, 7, batch)
    mask = (np.arange(S)[None, :] < lengths[:, None]).astype(np.int64)
    pad = (-2.0 + 0.5 * RNG.standard_normal((batch, S, K))).astype(np.float32)
    return {"x": np.where(mask[..., None] == 1, _x((batch, S, K)), pad), "attention_mask": mask}


def test_the_mask_input_and_which_rows_it_keeps() -> None:
    network = int8rt.onnx.import_model(masked_model().SerializeToString())
    assert row_shifts.mask_input(network) == "attention_mask"
    assert row_shifts.mask_input(int8rt.onnx.import_model(linear_model().SerializeToString())) is None
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(row_shifts.token_mask({"m": mask}, "m", (2, 3, 5)), [1, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(row_shifts.token_mask({"m": mask}, "m", (6, 5)), [1, 1, 0, 1, 0, 0])
    assert row_shifts.token_mask({"m": mask}, "m", (3, 2, 5)) is None  # rows not lined up with the mask
    x = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    got, dx = row_shifts.sample_rows(x, x + 1, np.array([1, 1, 0, 1, 0, 0], bool))
    np.testing.assert_array_equal(got, x[[0, 1, 3]])
    np.testing.assert_array_equal(dx, np.ones((3, 2), np.float32))


def test_padding_tokens_do_not_set_the_matmul_shift(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 62% of the rows padding, the median over all rows is the
    padding's shift (about -2x the real tokens'); with the mask it is the
    real tokens' rounding shift W[1:]' mean(x_real[1:])."""
    data = [_masked_batch(8) for _ in range(4)]
    builder, scales = _calibrated(masked_model(), data)
    network = builder.optimized_network()
    got = np.asarray(bc.measure_shifts(network, scales, data, 8, set())["linear"])
    real = np.concatenate([d["x"][d["attention_mask"] == 1] for d in data]).astype(np.float64)
    want = W[1:].astype(np.float64).T @ real.mean(axis=0)[1:]
    np.testing.assert_allclose(got, want, atol=0.01)
    assert np.abs(want).min() > 0.15
    monkeypatch.setattr(row_shifts, "mask_input", lambda network: None)  # the rule before: every row
    unmasked = np.asarray(bc.measure_shifts(network, scales, data, 8, set())["linear"])
    assert np.abs(unmasked - got).min() > 0.3, (unmasked, got)  # all rows: the padding's shift


@pytest.mark.parametrize("method", ["minmax", "auto"])
def test_the_masked_correction_removes_the_real_tokens_shift(method: str) -> None:
    """End to end: on new inputs the per-column mean error of the real
    tokens' outputs falls from about 0.2 to under a tenth of it (minmax with
    the correction on; auto deciding)."""
    m = masked_model()
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    data = [_masked_batch(8) for _ in range(6)]
    plain = _build(m, data, "minmax", False)
    corrected = _build(m, data, method, True if method == "minmax" else None)
    feed = _masked_batch(32)
    real = feed["attention_mask"] == 1

    def err(engine: int8rt.Engine) -> np.ndarray:
        out = engine.create_execution_context().run(feed)["y"]
        ref = fp32.create_execution_context().run(feed)["y"]
        return np.abs((out - ref)[real].mean(axis=0))

    before, after = err(plain), err(corrected)
    assert before.min() > 0.15 and after.max() < 0.1 * before.min(), (before, after)
    if method == "auto":
        assert corrected.build_report().auto_choice["bias_correction"] == "on (auto)"


# ---- a bias-free MatMul ----

def test_a_bias_free_matmul_gets_a_bias_add() -> None:
    """add_to_bias on a MatMul no Add of a constant reads inserts one that
    takes over its output (name and network output kept); its shift is the
    rounding's; end to end (minmax, correction on) the per-column mean error
    falls from about 0.2 to under a tenth, and the int8 engine folds the Add
    into its one QGemm."""
    bare = _core.Builder(int8rt.onnx.import_model(linear_model(False).SerializeToString()), "int8")
    delta = np.arange(N, dtype=np.float32)
    bare.add_to_bias("linear", delta.tolist())
    network = bare.optimized_network()
    mm = next(n for n in network.nodes() if n["op"] == "MatMul")
    add = next(n for n in network.nodes() if n["op"] == "Add")
    assert network.tensor(mm["outputs"][0])["name"] == "linear::unbiased"
    assert add["inputs"][0] == mm["outputs"][0] and network.tensor(add["outputs"][0])["name"] == "y"
    assert add["outputs"][0] in network.outputs()
    np.testing.assert_array_equal(network.constant_data(add["inputs"][1]), delta)

    m = linear_model(False)
    data = [{"x": _x((8, S, K))} for _ in range(6)]
    builder, scales = _calibrated(m, data)
    got = bc.measure_shifts(builder.optimized_network(), scales, data, 8, set())
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 1)) for d in data], axis=0)
    np.testing.assert_allclose(got["linear"], W[1:].astype(np.float64).T @ x_mean[1:], atol=0.01)
    plain, corrected = (_build(m, data, "minmax", c) for c in (False, True))
    before, after = mean_errors(m, [plain, corrected], _x((16, S, K)))
    assert before.min() > 0.15 and after.max() < 0.1 * before.min(), (before, after)
    ops = [n["op"] for n in corrected.network().nodes()]
    assert ops.count("int8rt.QGemm") == 1 and "Add" not in ops, ops


def test_the_qdq_export_carries_an_inserted_bias(tmp_path) -> None:
    """The Q/DQ export of an engine whose bias-free MatMul got a corrected
    bias reproduces that engine in ONNX Runtime (==), so the bias is there."""
    ort = pytest.importorskip("onnxruntime")
    from int8rt.qdq_export import export_qdq

    m = linear_model(False)
    corrected = _build(m, [{"x": _x((8, S, K))} for _ in range(4)], "minmax", True)
    assert corrected.build_report().bias_corrected_layers == 1
    export_qdq(m, corrected, tmp_path / "q.onnx")
    x = _x((4, S, K))
    got = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    np.testing.assert_array_equal(got, _run(corrected, x))


# ---- GRU: its input GEMM ----

HIDDEN_GRU = 4
W_GRU = _biased(3 * HIDDEN_GRU, K)[None]  # [1, 3H, K]
R_GRU = (0.2 * RNG.standard_normal((1, 3 * HIDDEN_GRU, HIDDEN_GRU))).astype(np.float32)
B_GRU = np.concatenate([RNG.uniform(-0.3, 0.3, 3 * HIDDEN_GRU), np.zeros(3 * HIDDEN_GRU)])[None].astype(np.float32)


def gru_model() -> onnx.ModelProto:
    nodes = [helper.make_node("GRU", ["x", "w", "r", "b"], ["Y"], hidden_size=HIDDEN_GRU, name="gru")]
    return model(nodes, [fvi("x", [T, "B", K])], [fvi("Y", [T, 1, "B", HIDDEN_GRU])],
                 [init("w", W_GRU), init("r", R_GRU), init("b", B_GRU)])


def test_a_gru_input_gemm_shift_goes_into_wb_and_leaves_the_output_unbiased() -> None:
    """GRU's correction is per gate row of W, -(q(W) - W) mean(x); it lands in
    B's Wb half; end to end (QGRU, minmax) the output's per-unit mean error
    against float32 falls to under a fifth."""
    m = gru_model()
    data = [{"x": _x((T, 8, K))} for _ in range(6)]
    builder, scales = _calibrated(m, data)
    got = bc.measure_shifts(builder.optimized_network(), scales, [WholeBatch(d, 8) for d in data], 8, set())
    assert list(got) == ["gru"]
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 1)) for d in data], axis=0)
    np.testing.assert_allclose(got["gru"], W_GRU[0, :, 1:].astype(np.float64) @ x_mean[1:], atol=0.01)
    assert_added_to_wb(builder, "gru", B_GRU, got["gru"])

    plain, corrected = (_build(m, data, "minmax", c) for c in (False, True))
    assert any(n["op"] == "int8rt.QGRU" for n in corrected.network().nodes())
    before, after = mean_errors(m, [plain, corrected], _x((T, 16, K)), "Y")
    assert before.max() > 0.02 and after.max() < 0.2 * before.max(), (before, after)


# ---- LSTM: the recurrent GEMM h R' ----

HIDDEN = 64
W_IN = (0.3 * RNG.standard_normal((1, 4 * HIDDEN, 8))).astype(np.float32)
R_REC = _biased(4 * HIDDEN, HIDDEN)[None]  # [1, 4H, H]
# input and output gates open, cell input positive: h of mean about 0.5
B_REC = np.concatenate([np.full(HIDDEN, 1.0), np.full(HIDDEN, 2.0), np.full(HIDDEN, -1.0), np.full(HIDDEN, 1.0),
                        np.zeros(4 * HIDDEN)])[None].astype(np.float32)


def recurrent_model() -> onnx.ModelProto:
    nodes = [helper.make_node("LSTM", ["x", "w", "r", "b"], ["Y"], hidden_size=HIDDEN, name="lstm")]
    return model(nodes, [fvi("x", [T, "B", 8])], [fvi("Y", [T, 1, "B", HIDDEN])],
                 [init("w", W_IN), init("r", R_REC), init("b", B_REC)])


def test_an_lstm_recurrent_gemm_shift(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the state int8 (Y calibrated), the recurrent GEMM's shift adds
    R[:, 1:] mean(h_prev[1:]) per gate row (h_prev: 0, then Y one step
    back); end to end (QLSTM with an int8 R) the output's mean error
    against float32 is under half the input-GEMM-only correction's."""
    m = recurrent_model()
    data = [{"x": _x((T, 8, 8))} for _ in range(6)]
    builder, scales = _calibrated(m, data)
    assert scales.get("Y", 0) > 0
    whole = [WholeBatch(d, 8) for d in data]
    got = np.asarray(bc.measure_shifts(builder.optimized_network(), scales, whole, 8, set())["lstm"])
    monkeypatch.setattr(row_shifts, "RECURRENT", False)
    input_only = np.asarray(bc.measure_shifts(builder.optimized_network(), scales, whole, 8, set())["lstm"])
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    ys = [_run(fp32, d["x"], "Y")[:, 0] for d in data]  # [T, B, H]
    h_prev = np.concatenate([np.concatenate([np.zeros_like(y[:1]), y[:-1]]).reshape(-1, HIDDEN) for y in ys])
    want = R_REC[0, :, 1:].astype(np.float64) @ h_prev.mean(axis=0)[1:]
    assert np.abs(want).min() > 0.05
    np.testing.assert_allclose(got - input_only, want, atol=0.02)

    without = _build(m, data, "minmax", True)  # RECURRENT off: the input GEMM's only
    monkeypatch.setattr(row_shifts, "RECURRENT", True)
    corrected = _build(m, data, "minmax", True)
    assert any(n["op"] == "int8rt.QLSTM" for n in corrected.network().nodes())
    before, after = mean_errors(m, [without, corrected], _x((T, 16, 8)), "Y")
    assert after.mean() < 0.5 * before.mean(), (before.mean(), after.mean())
