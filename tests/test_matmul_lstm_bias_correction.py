"""Bias correction of MatMul layers with a constant B (a transformer Linear
as exporters write it: MatMul + Add(bias)) and of LSTM layers (the input
GEMM of the gate pre-activations), accuracy/bias_correction.py (acc24).

The models make a known mean shift: each output column (gate row) has one
weight of magnitude 1, which sets its int8 step to 1/127, and 63 others
between 0.30 and 0.45 steps, which round to 0; so the int8 layer loses
sum_i W[i, c] * mean(x_i), about 0.2 on an input of mean 1, in every row
(token, time step) alike."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.accuracy import bias_correction as bc  # noqa: E402
from int8rt.accuracy import row_shifts  # noqa: E402
from int8rt.accuracy.taps import WholeBatch  # noqa: E402
from int8rt.calib import Collector  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(2405)
K, N, S = 64, 16, 12  # features in, columns out, tokens per sample
HIDDEN, T = 4, 10  # the LSTM's hidden size (4 * 4 = 16 gate rows) and time steps


def _biased(rows: int) -> np.ndarray:
    """[rows, K]: column 0 +-1, the rest +-(0.30..0.45)/127, one sign per row."""
    sign = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)[:, None]
    w = sign * RNG.uniform(0.30, 0.45, (rows, K)) / 127
    w[:, 0] = sign[:, 0]
    return w.astype(np.float32)


W = _biased(N).T.copy()  # MatMul's B: [K, N]
BIAS = RNG.uniform(-0.5, 0.5, N).astype(np.float32)
W_LSTM = _biased(4 * HIDDEN)[None]  # [1, 4H, K]
R_LSTM = (0.2 * RNG.standard_normal((1, 4 * HIDDEN, HIDDEN))).astype(np.float32)
B_LSTM = np.concatenate([RNG.uniform(-0.3, 0.3, 4 * HIDDEN), np.zeros(4 * HIDDEN)])[None].astype(np.float32)


def linear_model(with_bias: bool = True) -> onnx.ModelProto:
    """x [B, S, K] -> MatMul(x, W) -> Add(BIAS, .) -> y [B, S, N] (the
    exporter's Linear, the bias first as torch writes it); or the MatMul alone."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm" if with_bias else "y"], name="linear")]
    inits = [init("w", W)]
    if with_bias:
        nodes.append(helper.make_node("Add", ["b", "mm"], ["y"], name="linear_bias"))
        inits.append(init("b", BIAS))
    return model(nodes, [fvi("x", ["B", S, K])], [fvi("y", ["B", S, N])], inits)


def lstm_model() -> onnx.ModelProto:
    """x [T, B, K] -> LSTM (hidden 4, B given) -> Y [T, 1, B, 4]."""
    nodes = [helper.make_node("LSTM", ["x", "w", "r", "b"], ["Y"], hidden_size=HIDDEN, name="lstm")]
    return model(nodes, [fvi("x", [T, "B", K])], [fvi("Y", [T, 1, "B", HIDDEN])],
                 [init("w", W_LSTM), init("r", R_LSTM), init("b", B_LSTM)])


def _x(shape: tuple[int, ...]) -> np.ndarray:
    return (1.0 + 0.5 * RNG.standard_normal(shape)).astype(np.float32)


def _batches(shape: tuple[int, ...], count: int = 6) -> list[dict[str, np.ndarray]]:
    return [{"x": _x(shape)} for _ in range(count)]


def _calibrated(m: onnx.ModelProto, data: list[dict[str, np.ndarray]]) -> tuple[_core.Builder, dict[str, float]]:
    builder = _core.Builder(int8rt.onnx.import_model(m.SerializeToString()), "int8")
    collector = Collector("minmax")
    for batch in data:
        builder.calibrate_batch(batch, collector._native)
    return builder, collector.scales()


def _build(m: onnx.ModelProto, data: list[dict[str, np.ndarray]], method: str, correction) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(data, algorithm=method), bias_correction=correction, accuracy_check=False))


def _run(engine: int8rt.Engine, x: np.ndarray, out: str = "y") -> np.ndarray:
    return engine.create_execution_context().run({"x": x})[out]


def mean_errors(m: onnx.ModelProto, engines: list[int8rt.Engine], x: np.ndarray, out: str = "y") -> list[np.ndarray]:
    """Per engine, |the mean over every row of its error against float32| per
    output unit (the last axis) on input ``x``."""
    ref = _run(int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")), x, out)
    return [np.abs((_run(e, x, out) - ref).reshape(-1, ref.shape[-1]).mean(axis=0)) for e in engines]


def assert_added_to_wb(builder: _core.Builder, node: str, b0: np.ndarray, delta: list[float]) -> None:
    """``add_to_bias(node, delta)`` on a recurrent layer (one direction)
    adds ``delta`` to its B's Wb half (the first len(delta) values of
    ``b0``, the model's B) and leaves the Rb half as it was."""
    builder.add_to_bias(node, delta)
    network = builder.optimized_network()
    layer = next(n for n in network.nodes() if n["name"] == node)
    b, b0, rows = network.constant_data(layer["inputs"][3]).reshape(-1), b0.reshape(-1), len(delta)
    np.testing.assert_allclose(b[:rows], b0[:rows] + np.float32(delta), rtol=1e-6)
    np.testing.assert_array_equal(b[rows:], b0[rows:])


def _row_median_shift(data: list[dict[str, np.ndarray]], scale: float, w: np.ndarray, step: int = 1) -> np.ndarray:
    """numpy's correction for x @ w ([K, N]; float64): per batch (a chunk)
    the median over its rows (every ``step``-th) of q(x) q(w) - x w,
    averaged over the batches, negated."""
    qw = bc.quantize_weights(w.astype(np.float32), False).astype(np.float64)
    meds = []
    for d in data:
        x = d["x"].reshape(-1, K).astype(np.float64)[::step]
        codes = np.clip(np.rint(d["x"] / np.float32(scale)), -128, 127).reshape(-1, K)[::step]
        xq = codes * np.float64(np.float32(scale))
        meds.append(np.median(xq @ qw - x @ w.astype(np.float64), axis=0))
    return -np.mean(meds, axis=0)


def test_a_matmul_shift_is_the_one_its_rounding_predicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MatMul's correction is -(q(W) - W)' x per row, its median over
    each chunk's rows averaged over the chunks (numpy's, to float32
    rounding; with at most ROWS_PER_CHUNK rows a chunk, strided); about
    W[1:]' mean(x[1:]) (the 63 small weights round to 0), up to what
    rounding x adds through the weight 1 (well under 0.01)."""
    data = _batches((8, S, K), 4)
    builder, scales = _calibrated(linear_model(), data)
    got = bc.measure_shifts(builder.optimized_network(), scales, data, 8, set())
    assert list(got) == ["linear"]
    np.testing.assert_allclose(got["linear"], _row_median_shift(data, scales["x"], W), atol=1e-4)
    monkeypatch.setattr(row_shifts, "ROWS_PER_CHUNK", 40)  # 96 rows a chunk: every 3rd
    strided = bc.measure_shifts(builder.optimized_network(), scales, data, 8, set())["linear"]
    np.testing.assert_allclose(strided, _row_median_shift(data, scales["x"], W, 3), atol=1e-4)
    assert np.abs(np.subtract(strided, got["linear"])).max() > 1e-4  # other rows, another median
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 1)) for d in data], axis=0)
    want = W[1:].astype(np.float64).T @ x_mean[1:]
    np.testing.assert_allclose(got["linear"], want, atol=0.01)
    assert np.abs(want).min() > 0.15  # the shift is there to find


def test_a_few_clipped_tokens_do_not_set_the_matmul_shift() -> None:
    """One token in 96 carries an outlier feature (40, as a transformer's
    outlier dimensions) that the grid (threshold 4) clips: through the
    weight +-1 its error, -36 per column, moves the mean over the rows by
    0.375; the per-chunk median stays the rounding's shift of every token."""
    data = _batches((8, S, K), 4)
    for d in data:
        d["x"][:, 0, 0] = 1.0
        d["x"][0, 0, 0] = 40.0  # one row (token) in 8 x 12 per batch
    scales = {"x": 4.0 / 127}
    builder, _ = _calibrated(linear_model(), data)
    got = np.asarray(bc.measure_shifts(builder.optimized_network(), scales, data, 8, set())["linear"])
    np.testing.assert_allclose(got, _row_median_shift(data, scales["x"], W), atol=1e-4)
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 1)) for d in data], axis=0)
    np.testing.assert_allclose(got, W[1:].astype(np.float64).T @ x_mean[1:], atol=0.01)
    qw = bc.quantize_weights(W, False).astype(np.float64)
    rows = np.concatenate([d["x"].reshape(-1, K) for d in data]).astype(np.float64)
    mean = -(np.clip(rows, -4.0, 4.0) @ qw - rows @ W.astype(np.float64)).mean(axis=0)  # the mean over the rows
    assert np.abs(got - mean).min() > 0.3, (got, mean)


@pytest.mark.parametrize("method", ["minmax", "auto"])
def test_the_correction_removes_the_matmul_mean_shift(method: str) -> None:
    """On new inputs the int8 engine's per-column mean error against
    float32 falls from about 0.2 to under a tenth of it, with
    BuilderConfig's correction (minmax) or auto's own decision; the QGemm
    the MatMul + Add lower to reads the corrected bias."""
    m = linear_model()
    data = _batches((8, S, K))
    plain = _build(m, data, "minmax", False)
    corrected = _build(m, data, method, True if method == "minmax" else None)
    before, after = mean_errors(m, [plain, corrected], _x((16, S, K)))
    assert before.min() > 0.15 and after.max() < 0.1 * before.min(), (before, after)
    assert [n["op"] for n in corrected.network().nodes()].count("int8rt.QGemm") == 1
    if method == "auto":
        choice = corrected.build_report().auto_choice
        assert choice["bias_correction"] == "on (auto)", choice
    else:
        assert corrected.build_report().bias_corrected_layers == 1


def test_add_to_bias_on_a_matmul_edits_its_bias_add() -> None:
    """Builder.add_to_bias on a MatMul adds to the constant of the Add that
    alone reads it (a new constant; the model's stays as it was); a MatMul
    without such an Add gets one (test_row_shifts_bias_correction.py)."""
    builder = _core.Builder(int8rt.onnx.import_model(linear_model().SerializeToString()), "int8")
    delta = np.arange(N, dtype=np.float32)
    builder.add_to_bias("linear", delta.tolist())
    network = builder.optimized_network()
    add = next(n for n in network.nodes() if n["op"] == "Add")
    consts = [network.constant_data(t) for t in add["inputs"] if network.tensor(t)["is_constant"]]
    np.testing.assert_array_equal(consts[0], BIAS + delta)
    np.testing.assert_array_equal(network.constant_data(network.find_tensor("b")), BIAS)
    assert [n["op"] for n in network.nodes()].count("Add") == 1  # no second Add inserted


def test_an_lstm_input_gemm_shift_goes_into_wb() -> None:
    """The LSTM's correction is per gate row of W, as for a Gemm with
    transB: -(q(W) - W) mean(x) over every time step and sample; add_to_bias
    adds it to B's Wb half (the Rb half unchanged)."""
    data = _batches((T, 8, K), 4)
    builder, scales = _calibrated(lstm_model(), data)
    whole = [WholeBatch(d, 8) for d in data]  # x's batch axis is 1: each batch runs as it came (taps.py)
    got = bc.measure_shifts(builder.optimized_network(), scales, whole, 8, set())
    assert list(got) == ["lstm"]
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 1)) for d in data], axis=0)
    want = W_LSTM[0, :, 1:].astype(np.float64) @ x_mean[1:]
    np.testing.assert_allclose(got["lstm"], want, atol=0.01)
    assert_added_to_wb(builder, "lstm", B_LSTM, got["lstm"])


def test_the_correction_removes_most_of_the_lstm_output_shift() -> None:
    """End to end (minmax, correction on): the int8 LSTM (QLSTM) gates'
    input GEMM loses about 0.2 per gate row; uncorrected, its output's mean
    error per unit against float32 is over 0.02; corrected, under a tenth
    of it (what is left: the recurrent GEMM's and the gates' own rounding)."""
    m = lstm_model()
    data = _batches((T, 8, K))
    plain, corrected = (_build(m, data, "minmax", c) for c in (False, True))
    assert any(n["op"] == "int8rt.QLSTM" for n in corrected.network().nodes())
    before, after = mean_errors(m, [plain, corrected], _x((T, 16, K)), "Y")
    assert before.max() > 0.02 and after.max() < 0.1 * before.max(), (before, after)
