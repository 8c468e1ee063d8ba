"""INT8 recurrent layers (int8rt.QLSTM / QGRU / QRNN, csrc/engine/lower_int8_rnn.cc).

The engine's outputs are checked against a NumPy model of the same
arithmetic, written here from the contract (contracts.h, QRnnAttrs): X
quantized per tensor at its calibrated scale, W (and R, where the state has
a calibrated range: LSTM and RNN) per gate row as symmetric int8, integer
products accumulated exactly (int64 in NumPy), each accumulator times
s_in * s_w[row] in float32, then the float cell. The integer part is exact;
what differs is float32 exp / tanh (a few ulp), hence the 2e-5 bound, two
orders of magnitude under the int8 error itself (which the test also
requires to be present, so a float path passing for the int8 one fails).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import int8rt

G = {"LSTM": 4, "GRU": 3, "RNN": 1}
F32 = np.float32


def quantize(x: np.ndarray, scale: float) -> np.ndarray:
    """ref/requantize.h quantize_value: rne(clamp(x * (1 / scale), -128, 127))."""
    inv = F32(1.0) / F32(scale)
    return np.rint(np.clip(x.astype(F32) * inv, F32(-128), F32(127))).astype(np.int64)


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8rt/quantization.h: per row s = amax / 127 (1 for a zero row), q = clamp(rne(w / s), -127, 127)."""
    amax = np.abs(w).max(axis=1).astype(F32)
    s = (amax / F32(127)).astype(F32)
    s = np.where(s >= np.finfo(F32).tiny, s, F32(1)).astype(F32)  # zero or subnormal: 1 (quantization.h)
    return np.clip(np.rint(w.astype(F32) / s[:, None]), -127, 127).astype(np.int64), s


def int8_product(a_q: np.ndarray, w_q: np.ndarray, s_in: float, s_w: np.ndarray) -> np.ndarray:
    """Exact int accumulation, then the float epilogue acc * (s_in * s_w) in float32."""
    acc = a_q @ w_q.T
    assert np.abs(acc).max() < 2 ** 24, "accumulators must convert to float32 exactly"
    return acc.astype(F32) * (F32(s_in) * s_w)


def sigmoid(v: np.ndarray) -> np.ndarray:
    return (F32(1) / (F32(1) + np.exp(-v))).astype(F32)


def reference(op: str, ins: list, attrs: dict, scales: Optional[dict]) -> list[np.ndarray]:
    """The layer's outputs (Y, Y_h[, Y_c]) in NumPy; scales None: float32 GEMMs,
    else {"x": s_x, "h": s_h or 0} for the int8 ones."""
    x, w, r = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    lens = ins[4] if len(ins) > 4 else None
    h0 = ins[5] if len(ins) > 5 else None
    c0 = ins[6] if len(ins) > 6 else None
    layout, H = attrs.get("layout", 0), attrs["hidden_size"]
    lbr = attrs.get("linear_before_reset", 0)
    dirs = w.shape[0]
    g = G[op]
    xt = x if layout == 0 else x.transpose(1, 0, 2)  # [T, B, I]
    T, B, _ = xt.shape
    lens = np.full(B, T) if lens is None else lens
    y = np.zeros((T, dirs, B, H), F32)
    states = []
    for d in range(dirs):
        reverse = (attrs.get("direction", "forward") == "reverse") or d == 1
        wb = b[d, :g * H] if b is not None else np.zeros(g * H, F32)
        rb = b[d, g * H:] if b is not None else np.zeros(g * H, F32)
        rows = xt.reshape(T * B, -1)
        if scales:
            wq, sw = quantize_rows(w[d])
            xw = int8_product(quantize(rows, scales["x"]), wq, scales["x"], sw)
        else:
            xw = rows @ w[d].T
        bias = wb + np.where(np.arange(g * H) >= 2 * H, 0, rb) if (op == "GRU" and lbr) else wb + rb
        xw = (xw + bias.astype(F32)).astype(F32).reshape(T, B, g * H)
        h = (h0[d] if h0 is not None else np.zeros((B, H), F32)).astype(F32) if layout == 0 else \
            (h0[:, d] if h0 is not None else np.zeros((B, H), F32)).astype(F32)
        c = np.zeros((B, H), F32) if c0 is None else (c0[d] if layout == 0 else c0[:, d]).astype(F32)
        h, c = h.copy(), c.copy()
        int8_rec = scales is not None and scales["h"] > 0
        if int8_rec:
            rq, sr = quantize_rows(r[d])
        for step in range(T):
            t = T - 1 - step if reverse else step
            gate = xw[t].copy()
            active = t < lens
            if op == "GRU":
                gate[:, :2 * H] += h @ r[d, :2 * H].T
                rt = sigmoid(gate[:, H:2 * H])
                if lbr:
                    gate[:, 2 * H:] += rt * (h @ r[d, 2 * H:].T + rb[2 * H:])
                else:
                    gate[:, 2 * H:] += (rt * h) @ r[d, 2 * H:].T
                z, n = sigmoid(gate[:, :H]), np.tanh(gate[:, 2 * H:])
                new_h = (F32(1) - z) * n + z * h
            else:
                gate += int8_product(quantize(h, scales["h"]), rq, scales["h"], sr) if int8_rec else h @ r[d].T
                if op == "RNN":
                    new_h = np.tanh(gate)
                else:
                    i, o = sigmoid(gate[:, :H]), None
                    f, cand = sigmoid(gate[:, 2 * H:3 * H]), np.tanh(gate[:, 3 * H:])
                    new_c = f * c + i * cand
                    o = sigmoid(gate[:, H:2 * H])
                    c = np.where(active[:, None], new_c, c).astype(F32)
                    new_h = o * np.tanh(new_c)
            h = np.where(active[:, None], new_h, h).astype(F32)
            y[t, d] = np.where(active[:, None], h, 0)
        states.append((h, c))
    yh = np.stack([s[0] for s in states])
    yc = np.stack([s[1] for s in states])
    if layout == 1:
        y, yh, yc = y.transpose(2, 0, 1, 3), yh.transpose(1, 0, 2), yc.transpose(1, 0, 2)
    return [y, yh, yc][:3 if op == "LSTM" else 2]


def rnn_model(op: str, ins: list, attrs: dict) -> onnx.ModelProto:
    """One recurrent node: x a graph input, the rest initializers."""
    names = ["x"] + [f"in{i}" if a is not None else "" for i, a in enumerate(ins[1:], 1)]
    outs = ["y", "y_h", "y_c"][:3 if op == "LSTM" else 2]
    inits = [numpy_helper.from_array(a, n) for n, a in zip(names[1:], ins[1:]) if a is not None]
    graph = helper.make_graph([helper.make_node(op, names, outs, **attrs)], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(ins[0].shape))],
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if k == 0 else 3))
                               for k, o in enumerate(outs)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def make_inputs(rng, op: str, *, T: int, B: int, I: int, H: int, dirs: int, layout: int, initial: bool,
                lens: bool) -> list:
    g = G[op]
    state = (dirs, B, H) if layout == 0 else (B, dirs, H)
    x = rng.uniform(-2, 2, (T, B, I) if layout == 0 else (B, T, I)).astype(F32)
    ins = [x, rng.uniform(-0.6, 0.6, (dirs, g * H, I)).astype(F32), rng.uniform(-0.6, 0.6, (dirs, g * H, H)).astype(F32),
           rng.uniform(-0.3, 0.3, (dirs, 2 * g * H)).astype(F32),
           rng.integers(1, T + 1, B).astype(np.int32) if lens else None,
           rng.uniform(-0.8, 0.8, state).astype(F32) if initial else None]
    if op == "LSTM":
        ins.append(rng.uniform(-0.8, 0.8, state).astype(F32) if initial else None)
    while ins[-1] is None:
        ins.pop()
    return ins


class _Batches(int8rt.IInt8MinMaxCalibrator):
    def __init__(self, batches: list) -> None:
        super().__init__()
        self.batches = list(batches)

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names):
        return [self.batches.pop(0)] if self.batches else None

    def read_calibration_cache(self):
        return None

    def write_calibration_cache(self, cache: bytes) -> None:
        pass


CASES = [  # (direction, layout, initial state, sequence_lens, extra attributes, cells)
    ("forward", 0, False, False, {}, "LSTM GRU RNN"),
    ("reverse", 0, True, False, {}, "LSTM GRU RNN"),
    ("bidirectional", 0, True, True, {}, "LSTM GRU RNN"),
    ("bidirectional", 1, True, False, {}, "LSTM RNN"),
    ("forward", 0, True, True, {"linear_before_reset": 1}, "GRU"),
]


@pytest.mark.parametrize("op,direction,layout,initial,lens,extra",
                         [(op, *case[:-1]) for case in CASES for op in case[-1].split()])
def test_int8_recurrent_layer_matches_numpy_int8_model(op: str, direction: str, layout: int, initial: bool,
                                                       lens: bool, extra: dict) -> None:
    rng = np.random.default_rng(11)
    H, dirs = 6, 2 if direction == "bidirectional" else 1
    ins = make_inputs(rng, op, T=7, B=3, I=10, H=H, dirs=dirs, layout=layout, initial=initial, lens=lens)
    attrs = dict(hidden_size=H, direction=direction, **extra, **({"layout": 1} if layout else {}))
    model = rnn_model(op, ins, attrs).SerializeToString()
    calib = [rng.uniform(-2, 2, ins[0].shape).astype(F32) for _ in range(4)] + [ins[0]]
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Batches(calib), accuracy_check=False))
    layer = next(lay for lay in engine.layers() if lay["op"] == f"int8rt.Q{op}")
    recurrent_int8 = op != "GRU"
    assert ("int8 H R'" in layer["detail"]) == recurrent_int8, layer

    scales = engine.scales()
    h_scale = 0.0
    if recurrent_int8:  # lower_int8_rnn.cc: the largest of Y's, Y_h's and a constant initial_h's ranges
        h_scale = max(scales["y"], scales["y_h"])
        if initial:
            h_scale = max(h_scale, float(np.abs(ins[5]).max() / F32(127)))
    want = reference(op, ins, attrs, {"x": scales["x"], "h": h_scale})
    fp32 = reference(op, ins, attrs, None)
    ours = engine.run({"x": ins[0]})
    for k, name in enumerate(["y", "y_h", "y_c"][:len(want)]):
        got = ours[name]
        assert got.shape == want[k].shape, (name, got.shape, want[k].shape)
        err = np.abs(got - want[k]).max()
        assert err <= 2e-5, f"{op} {attrs} {name}: |int8rt - NumPy int8 model| = {err}"
        # The int8 rounding is there: the engine is far closer to the int8 model than to float32.
        assert np.abs(got - fp32[k]).max() > 20 * max(err, 1e-6), f"{op} {name}: no int8 error at all"
        assert np.abs(got - fp32[k]).max() < 0.1, f"{op} {name}: int8 error beyond a sane bound"


def test_numpy_float_model_matches_onnx_runtime() -> None:
    """The reference above is checked itself (float32 path) against ONNX Runtime."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(3)
    for op in G:
        ins = make_inputs(rng, op, T=5, B=2, I=4, H=3, dirs=2, layout=0, initial=True, lens=True)
        attrs = dict(hidden_size=3, direction="bidirectional")
        sess = ort.InferenceSession(rnn_model(op, ins, attrs).SerializeToString(), providers=["CPUExecutionProvider"])
        for a, b in zip(reference(op, ins, attrs, None), sess.run(None, {"x": ins[0]})):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=op)


class _Cache(int8rt.IInt8MinMaxCalibrator):
    """A calibrator that only hands over a calibration cache (TensorRT's text format)."""

    def __init__(self, scales: dict) -> None:
        super().__init__()
        lines = [f"{n}: {np.float32(s).view(np.uint32):x}" for n, s in scales.items()]
        self.cache = ("TRT-8600-MinMaxCalibration\n" + "\n".join(lines) + "\n").encode()

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names):
        return None

    def read_calibration_cache(self):
        return self.cache

    def write_calibration_cache(self, cache: bytes) -> None:
        pass


def test_recurrent_gemm_int8_only_where_the_state_has_a_range() -> None:
    """A cache with X's scale alone: x W' int8, H R' float32 (the state's range
    is unknown); with Y's scale too: both int8, at exactly the cached scales."""
    rng = np.random.default_rng(5)
    ins = make_inputs(rng, "LSTM", T=4, B=2, I=5, H=4, dirs=1, layout=0, initial=False, lens=False)
    attrs = dict(hidden_size=4)
    model = rnn_model("LSTM", ins, attrs).SerializeToString()
    x_only = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Cache({"x": 0.02}), accuracy_check=False))
    layer = next(lay for lay in x_only.layers() if lay["op"] == "int8rt.QLSTM")
    assert "float32 H R'" in layer["detail"], layer
    want = reference("LSTM", ins, attrs, {"x": 0.02, "h": 0.0})
    for k, name in enumerate(["y", "y_h", "y_c"]):
        assert np.abs(x_only.run({"x": ins[0]})[name] - want[k]).max() <= 2e-5, name

    both = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Cache({"x": 0.02, "y": 0.006}),
                                                           accuracy_check=False))
    assert "int8 H R'" in next(lay for lay in both.layers() if lay["op"] == "int8rt.QLSTM")["detail"]
    want = reference("LSTM", ins, attrs, {"x": 0.02, "h": 0.006})
    for k, name in enumerate(["y", "y_h", "y_c"]):
        assert np.abs(both.run({"x": ins[0]})[name] - want[k]).max() <= 2e-5, name


def test_layer_precisions_keeps_a_recurrent_layer_float() -> None:
    rng = np.random.default_rng(6)
    ins = make_inputs(rng, "GRU", T=3, B=1, I=4, H=3, dirs=1, layout=0, initial=False, lens=False)
    model = rnn_model("GRU", ins, dict(hidden_size=3)).SerializeToString()
    calib = [rng.uniform(-2, 2, ins[0].shape).astype(F32) for _ in range(3)]
    built = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Batches(calib), accuracy_check=False))
    name = next(lay["name"] for lay in built.layers() if lay["op"] == "int8rt.QGRU")
    pinned = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Batches(calib), accuracy_check=False,
                                                             layer_precisions={name: "fp32"}))
    assert [lay["op"] for lay in pinned.layers() if "GRU" in lay["op"]] == ["GRU"]


def test_int8_recurrent_engine_survives_serialization() -> None:
    """The engine file keeps the int8 W and R and the scales; the GEMMs are packed again at load."""
    rng = np.random.default_rng(8)
    ins = make_inputs(rng, "LSTM", T=5, B=2, I=6, H=4, dirs=2, layout=0, initial=True, lens=True)
    model = rnn_model("LSTM", ins, dict(hidden_size=4, direction="bidirectional")).SerializeToString()
    calib = [rng.uniform(-2, 2, ins[0].shape).astype(F32) for _ in range(3)]
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_Batches(calib), accuracy_check=False))
    loaded = int8rt.Engine.deserialize(engine.serialize())
    assert [lay["detail"] for lay in loaded.layers() if lay["op"] == "int8rt.QLSTM"] == \
        [lay["detail"] for lay in engine.layers() if lay["op"] == "int8rt.QLSTM"]
    a, b = engine.run({"x": ins[0]}), loaded.run({"x": ins[0]})
    for name in ("y", "y_h", "y_c"):
        np.testing.assert_array_equal(a[name], b[name])
