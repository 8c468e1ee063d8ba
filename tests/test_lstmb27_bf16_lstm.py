"""The BF16 LSTM (issue 13; csrc/engine/ops/rnn_bf16_gemms.h): an ONNX LSTM marked int8rt_precision="bf16" (the
builder's ``bf16=True`` / ``layer_precisions``) runs its input projection (every step and direction in one GEMM)
and its recurrent product (per step, the whole batch) on the BF16 GEMM, the cell in FP32.

Bound against the FP32 LSTM (``lstm64`` below computes it per output value, beside a float64 LSTM). Per step and
direction the gate pre-activations z = x W' + h R' + Wb + Rb (+ P.c) of the two layers differ by at most

    dz = (2^-7 + 2^-16 + acc) * (|x| |W|' + (|h| + e_h) |R|') + (1 + 2^-8) e_h |R|' (+ |P| e_c)

where x and h (the state entering the GEMM) and W, R are rounded to BF16 (nearest even: 2^-8 of each operand, so
2^-7 + 2^-16 of each product, as tests/test_bf16_layers.py), acc = 2 (I + H + 4) 2^-24 is the FP32 accumulation
of both layers over the projection and the recurrent sum, and e_h, e_c bound the previous step's state difference
(it enters through R, whose BF16 copy is at most (1 + 2^-8) |R|). Sigmoid is 1/4-Lipschitz, tanh 1-Lipschitz,
clip 1-Lipschitz, so with di = dz_i / 4, df = dz_f / 4 (di when input_forget), dg = dz_g:

    e_c' = |f| e_c + (|c| + e_c) df + |i| dg + (|g| + dg) di + 2^-18 (1 + |c'|)
    e_h' = |tanh c'| do + (|o| + do) e_c' + 2^-18,   do = (dz_o + |P_o| e_c') / 4

(products' second-order terms kept; 2^-18 covers both layers' FP32 cell arithmetic, exp_f32 / tanh_f32 or the
unary_f32 kernel's vector tier, and a handful of roundings, per step). Magnitudes are the float64 LSTM's. A worst
case, reached only if every rounding pushes the same way; over many steps it compounds (|R|' e_h grows by the
norm of R each step: vacuous after a few steps of random weights), so a run is checked step by step
(check_steps): one-step BF16 LSTMs chained per direction give the full run's bits, each step from the BF16
run's own state is within the one-step bound (e_h = e_c = 0 on entry) of the FP32 step from that state, and
within the FP32 accumulation bound alone (the 2^-7 term 0) of float64's LSTM on the BF16-rounded operands, a
check the FP32 step must fail somewhere (it does not round). The whole run's Y stays within 2^-6 relative RMS of
the FP32 LSTM's (the typical error: ~2^-9 per product with independent roundings; measured 2^-8.6 on 7-28 steps).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op
from bf16_order import CAP, uncap, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)

F32 = np.float32
PROD = 2.0 ** -7 + 2.0 ** -16  # a product of two BF16-rounded operands moves by at most this much of itself
CELL = 2.0 ** -18  # both layers' FP32 cell arithmetic, per step and value
BF16 = {"int8rt_precision": "bf16"}


def to_bf16(x: np.ndarray) -> np.ndarray:
    """x rounded to BF16 (nearest even; the test data has no NaN / denormal)."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)).view(F32)


def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def lstm64(ins: list, H: int, direction: str = "forward", layout: int = 0, clip: float = 0.0,
           input_forget: int = 0, rnd=lambda a: a, prod: float = PROD) -> tuple[list, list]:
    """The ONNX LSTM in float64 on rnd(x), rnd(W), rnd(R) and rnd(h) before each product: (Y, Y_h, Y_c) in the
    node's layout, and per value the bound of the module docstring (prod: the products' rounding term)."""
    x, W, R, Bias, lens, h0, c0, P = (list(ins) + [None] * 8)[:8]
    if layout:
        x = x.transpose(1, 0, 2)
        h0, c0 = [None if s is None else s.transpose(1, 0, 2) for s in (h0, c0)]
    T, B, I = x.shape
    dirs = W.shape[0]
    lens = np.full(B, T) if lens is None else np.asarray(lens)
    acc = 2 * (I + H + 4) * 2.0 ** -24
    lim = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    Y, EY = np.zeros((T, dirs, B, H)), np.zeros((T, dirs, B, H))
    states, bounds = np.zeros((2, dirs, B, H)), np.zeros((2, dirs, B, H))
    for d in range(dirs):
        Wd, Rd = rnd(W[d]).astype(np.float64), rnd(R[d]).astype(np.float64)
        bias = np.zeros(4 * H) if Bias is None else Bias[d, :4 * H].astype(np.float64) + Bias[d, 4 * H:]
        p = np.zeros((3, H)) if P is None else P[d].reshape(3, H).astype(np.float64)  # i, o, f
        h = np.zeros((B, H)) if h0 is None else h0[d].astype(np.float64)
        c = np.zeros((B, H)) if c0 is None else c0[d].astype(np.float64)
        eh, ec = np.zeros((B, H)), np.zeros((B, H))
        reverse = direction == "reverse" or (dirs == 2 and d == 1)
        for t in (reversed(range(T)) if reverse else range(T)):
            act = (t < lens)[:, None]
            xr = rnd(x[t]).astype(np.float64)
            hr = rnd(h.astype(F32)).astype(np.float64)
            z = xr @ Wd.T + hr @ Rd.T + bias
            dz = (prod + acc) * (np.abs(xr) @ np.abs(Wd).T + (np.abs(hr) + eh) @ np.abs(Rd).T) + \
                (1 + 2.0 ** -8) * eh @ np.abs(Rd).T
            zi, zo, zf, zg = np.split(z, 4, axis=1)
            dzi, dzo, dzf, dzg = np.split(dz, 4, axis=1)
            zi, zf = zi + p[0] * c, zf + p[2] * c
            dzi, dzf = dzi + np.abs(p[0]) * ec, dzf + np.abs(p[2]) * ec
            i, g = _sig(lim(zi)), np.tanh(lim(zg))
            f = 1 - i if input_forget else _sig(lim(zf))
            di, dg = dzi / 4, dzg
            df = di if input_forget else dzf / 4
            cn = f * c + i * g
            ecn = np.abs(f) * ec + (np.abs(c) + ec) * df + np.abs(i) * dg + (np.abs(g) + dg) * di + \
                CELL * (1 + np.abs(cn))
            o = _sig(lim(zo + p[1] * cn))
            do = (dzo + np.abs(p[1]) * ecn) / 4
            hn = o * np.tanh(cn)
            ehn = np.abs(np.tanh(cn)) * do + (np.abs(o) + do) * ecn + CELL
            h, c = np.where(act, hn, h), np.where(act, cn, c)
            eh, ec = np.where(act, ehn, eh), np.where(act, ecn, ec)
            Y[t, d], EY[t, d] = np.where(act, hn, 0), np.where(act, ehn, 0)
        states[:, d], bounds[:, d] = (h, c), (eh, ec)
    outs, errs = [Y, states[0], states[1]], [EY, bounds[0], bounds[1]]
    if layout:
        outs = [outs[0].transpose(2, 0, 1, 3)] + [s.transpose(1, 0, 2) for s in outs[1:]]
        errs = [errs[0].transpose(2, 0, 1, 3)] + [s.transpose(1, 0, 2) for s in errs[1:]]
    return outs, errs


def lstm_inputs(rng: np.random.Generator, *, T: int, B: int, I: int, H: int, dirs: int, layout: int = 0,
                initial: bool = False, lens: bool = False, peep: bool = False) -> list:
    state = (dirs, B, H) if layout == 0 else (B, dirs, H)
    ins = [rng.standard_normal((T, B, I) if layout == 0 else (B, T, I)).astype(F32),
           (rng.standard_normal((dirs, 4 * H, I)) / np.sqrt(I)).astype(F32),
           (rng.standard_normal((dirs, 4 * H, H)) / np.sqrt(H)).astype(F32),
           (rng.standard_normal((dirs, 8 * H)) * 0.3).astype(F32),
           rng.integers(1, T + 1, B).astype(np.int32) if lens else None,
           rng.standard_normal(state).astype(F32) if initial else None,
           rng.standard_normal(state).astype(F32) if initial else None,
           (rng.standard_normal((dirs, 3 * H)) * 0.3).astype(F32) if peep else None]
    while ins[-1] is None:
        ins.pop()
    return ins


def run_lstm(ins: list, attrs: dict, bf16: bool) -> list:
    """The LSTM node alone (W, R, B and P constants) on the executor: Y, Y_h, Y_c."""
    const = [False, True, True, True, False, False, False, True][:len(ins)]
    return run_single_op("LSTM", ins, {**attrs, **(BF16 if bf16 else {})}, const, 3)


def assert_within(what: str, got: list, want: list, bound: list) -> None:
    for k, (g, w, e) in enumerate(zip(got, want, bound)):
        assert g.shape == w.shape, f"{what} output {k}: shape {g.shape} != {w.shape}"
        err = np.abs(g.astype(np.float64) - w)
        ratio = err / (e + 1e-30)
        j = np.unravel_index(np.argmax(ratio), ratio.shape)
        assert err[j] <= e[j], f"{what} output {k}: |got - want| {err[j]:.3g} > bound {e[j]:.3g} at {j}"


def to_layout0(outs: list, layout: int) -> list:
    """(Y, Y_h, Y_c) of a layout-1 node in layout 0's order ([T, dirs, B, H], [dirs, B, H])."""
    if not layout:
        return list(outs)
    return [outs[0].transpose(1, 2, 0, 3)] + [s.transpose(1, 0, 2) for s in outs[1:]]


def check_steps(what: str, ins: list, attrs: dict, full16: list) -> None:
    """Chains one-step BF16 LSTMs per direction (the state fed back as initial_h / initial_c, sequence_lens as
    0 / 1 per step) and asserts: the chain gives the full BF16 run's bits (the projection's rows and the
    recurrent product do not depend on how many rows a GEMM has); each step is within lstm64's one-step bound
    (no state error on entry) of the FP32 LSTM from the same state, and within the FP32 accumulation bound of
    float64's LSTM on the BF16-rounded operands, which the FP32 step misses somewhere in the run."""
    layout, H = int(attrs.get("layout", 0)), int(attrs["hidden_size"])
    x, W, R, Bias, lens, h0, c0, P = (list(ins) + [None] * 8)[:8]
    if layout:
        x = x.transpose(1, 0, 2)
        h0, c0 = [None if v is None else np.ascontiguousarray(v.transpose(1, 0, 2)) for v in (h0, c0)]
    T, B, _ = x.shape
    dirs = W.shape[0]
    cell = {k: attrs[k] for k in ("clip", "input_forget") if k in attrs}
    Y, states = np.zeros((T, dirs, B, H), F32), np.zeros((2, dirs, B, H), F32)
    fp32_misses = False
    for d in range(dirs):
        h = np.zeros((1, B, H), F32) if h0 is None else h0[d:d + 1]
        c = np.zeros((1, B, H), F32) if c0 is None else c0[d:d + 1]
        reverse = attrs.get("direction") == "reverse" or d == 1
        for t in (reversed(range(T)) if reverse else range(T)):
            one = [np.ascontiguousarray(x[t:t + 1]), W[d:d + 1], R[d:d + 1], None if Bias is None else Bias[d:d + 1],
                   None if lens is None else (np.asarray(lens) > t).astype(np.int32), h, c,
                   None if P is None else P[d:d + 1]]
            while one[-1] is None:
                one.pop()
            step = f"{what}: direction {d} step {t}"
            s16, s32 = run_lstm(one, {"hidden_size": H, **cell}, True), run_lstm(one, {"hidden_size": H, **cell}, False)
            assert_within(f"{step} vs FP32", s16, s32, lstm64(one, H, **cell)[1])
            want, bound = lstm64(one, H, **cell, rnd=to_bf16, prod=0.0)
            assert_within(f"{step} vs float64 on BF16 operands", s16, want, bound)
            fp32_misses = fp32_misses or any(np.any(np.abs(v - w) > e) for v, w, e in zip(s32, want, bound))
            Y[t, d], h, c = s16[0][0, 0], s16[1], s16[2]
        states[:, d] = h[0], c[0]
    assert fp32_misses, f"{what}: the FP32 steps pass the BF16-operand check"
    for k, (g, w) in enumerate(zip(to_layout0(full16, layout), [Y, states[0], states[1]])):
        np.testing.assert_array_equal(g.view(np.uint32), w.view(np.uint32), err_msg=f"{what}: output {k} != steps")


def check_against_fp32(what: str, ins: list, attrs: dict) -> list:
    """check_steps on the BF16 LSTM's outputs, whose Y is within 2^-6 (relative RMS) of the FP32 LSTM's."""
    got16, got32 = run_lstm(ins, attrs, True), run_lstm(ins, attrs, False)
    check_steps(what, ins, attrs, got16)
    y16, y32 = got16[0].astype(np.float64), got32[0].astype(np.float64)
    rel = np.sqrt(np.mean((y16 - y32) ** 2) / max(np.mean(y32 ** 2), 1e-30))
    assert rel < 2.0 ** -6, f"{what}: relative RMS error of Y {rel:.3g} >= 2^-6"
    return got16


CASES = [  # (T, I, H, variant)
    (1, 37, 20, "plain"), (7, 37, 20, "plain"), (7, 37, 20, "initial"), (7, 19, 9, "lens"),
    (1, 19, 9, "initial"), (7, 37, 20, "layout1"), (7, 16, 33, "peep_clip"), (3, 192, 48, "sequencer"),
]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("case", CASES, ids=[f"T{c[0]}_I{c[1]}_H{c[2]}_{c[3]}" for c in CASES])
def test_bf16_lstm_within_the_bound_of_the_fp32_lstm(batch: int, direction: str, case: tuple) -> None:
    T, I, H, variant = case
    dirs = 2 if direction == "bidirectional" else 1
    layout = 1 if variant == "layout1" else 0
    rng = np.random.default_rng(hash((batch, direction, case)) % 2**32)
    ins = lstm_inputs(rng, T=T, B=batch, I=I, H=H, dirs=dirs, layout=layout,
                      initial=variant in ("initial", "lens", "layout1", "peep_clip"), lens=variant == "lens",
                      peep=variant == "peep_clip")
    attrs = {"hidden_size": H, "direction": direction, **({"layout": 1} if layout else {}),
             **({"clip": 1.5} if variant == "peep_clip" else {})}
    check_against_fp32(f"LSTM {direction} b{batch} {case}", ins, attrs)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("batch", [1, 3])
def test_one_step_is_the_lstm_of_the_bf16_rounded_operands(direction: str, batch: int) -> None:
    """T = 1 from a given state: the BF16 layer's outputs are float64's LSTM on BF16-rounded x, W, R and h up
    to the FP32 accumulation and cell arithmetic alone; the FP32 layer misses that bound (it does not round)."""
    dirs = 2 if direction == "bidirectional" else 1
    ins = lstm_inputs(np.random.default_rng(7 + batch), T=1, B=batch, I=37, H=20, dirs=dirs, initial=True)
    attrs = {"hidden_size": 20, "direction": direction}
    want, bound = lstm64(ins, 20, direction, rnd=to_bf16, prod=0.0)
    assert_within(f"LSTM {direction} b{batch} vs exact on BF16 operands", run_lstm(ins, attrs, True), want, bound)
    y32 = run_lstm(ins, attrs, False)[0]
    assert np.any(np.abs(y32 - want[0]) > bound[0]), "the FP32 layer passes the BF16-operand check"


def test_two_threads_give_the_same_bits() -> None:
    ins = lstm_inputs(np.random.default_rng(3), T=5, B=3, I=192, H=48, dirs=2, initial=True)
    attrs = {"hidden_size": 48, "direction": "bidirectional"}
    want = run_lstm(ins, attrs, True)
    threads = int8rt.get_num_threads()
    try:
        int8rt.set_num_threads(2)
        got = run_lstm(ins, attrs, True)
    finally:
        int8rt.set_num_threads(threads)
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_array_equal(g.view(np.uint32), w.view(np.uint32), err_msg=f"2 threads: output {k}")


@pytest.mark.parametrize("cap", ["avx2", "ref"])
@pytest.mark.parametrize("batch", [1, 3])
def test_isa_caps_run_the_lower_tiers_within_the_bounds(cap: str, batch: int) -> None:
    """INT8RT_MAX_ISA avx2 / ref: the BF16 GEMM's scalar gemm_bf16_ref (the same VDPBF16PS order: the bits of the
    uncapped products) and the cell's unary_f32 tier at the cap (its last bits its own), held to the same checks."""
    ins = lstm_inputs(np.random.default_rng(30 + batch), T=7, B=batch, I=37, H=20, dirs=2, initial=True,
                      lens=batch > 1)
    try:
        int8rt.set_max_isa(cap)
        check_against_fp32(f"LSTM under {cap} b{batch}", ins, {"hidden_size": 20, "direction": "bidirectional"})
    finally:
        uncap()


def test_forms_the_layer_does_not_take_are_refused_naming_it() -> None:
    ins = lstm_inputs(np.random.default_rng(4), T=2, B=1, I=5, H=3, dirs=1)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*bf16.*its W 'input1' is computed at run time"):
        run_single_op("LSTM", ins, {"hidden_size": 3, **BF16}, [False, False, True, True], 3)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*bf16.*GRU has no BF16 kernel"):
        gru = [ins[0], ins[1][:, :9], ins[2][:, :9], ins[3][:, :18]]
        run_single_op("GRU", gru, {"hidden_size": 3, **BF16}, [False, True, True, True], 2)
    with pytest.raises(int8rt.NotSupportedError, match=r"op_under_test.*bf16.*its R is \[1, 12, 3\], not .*hidden_size 4"):
        run_single_op("LSTM", ins, {"hidden_size": 4, **BF16}, [False, True, True, True], 3)


# ---------------------------------------------------------------- builder, engine files, conformance

def lstm_model(ins: list, attrs: dict, runtime_w: bool = False, states: tuple = ("y_h", "y_c")) -> bytes:
    """X (and initial_h / initial_c, sequence_lens where given) graph inputs, W, R, B, P initializers (W an input
    with runtime_w); Y -> MatMul -> out, and `states` (Y_h, Y_c) outputs."""
    import onnx
    from onnx import helper, numpy_helper
    names = ["x", "w", "r", "b", "lens", "h0", "c0", "p"][:len(ins)]
    names = [n if a is not None else "" for n, a in zip(names, ins)]
    runtime = {"x", "lens", "h0", "c0"} | ({"w"} if runtime_w else set())
    dtype = {"lens": onnx.TensorProto.INT32}
    inputs = [helper.make_tensor_value_info(n, dtype.get(n, onnx.TensorProto.FLOAT), list(a.shape))
              for n, a in zip(names, ins) if n in runtime]
    inits = [numpy_helper.from_array(a, n) for n, a in zip(names, ins) if n and n not in runtime]
    H = attrs["hidden_size"]
    inits.append(numpy_helper.from_array(np.random.default_rng(1).standard_normal((H, 5)).astype(F32), "m"))
    nodes = [helper.make_node("LSTM", names, ["y", *states], name="lstm", **attrs),
             helper.make_node("MatMul", ["y", "m"], ["out"], name="head")]
    outs = [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if o == "out" else 3))
            for o in ("out", *states)]
    graph = helper.make_graph(nodes, "g", inputs, outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()


def _layers(engine: int8rt.Engine) -> dict:
    return {la["name"]: la for la in engine.layers()}


def test_bf16_flag_runs_the_lstm_in_bf16_and_the_engine_file_keeps_it(tmp_path) -> None:
    ins = lstm_inputs(np.random.default_rng(5), T=6, B=2, I=24, H=16, dirs=2, initial=True)
    attrs = {"hidden_size": 16, "direction": "bidirectional"}
    model = lstm_model(ins, attrs)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", bf16=True))
    lstm = _layers(engine)["lstm"]
    assert lstm["precision"] == "bf16" and "bf16 gemms kernel=gemm_bf16_" in lstm["detail"], lstm
    assert "bf16: 1 of 1 LSTM layers run in BF16" in engine.report()
    feed = {"x": ins[0], "h0": ins[5], "c0": ins[6]}
    got = engine.run(feed)
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    assert _layers(fp32)["lstm"]["precision"] == "fp32"
    want = fp32.run(feed)
    y = run_lstm(ins, attrs, True)
    np.testing.assert_array_equal(got["y_h"], y[1])  # the node run alone (check_against_fp32's layer)
    np.testing.assert_array_equal(got["y_c"], y[2])
    y32 = run_lstm(ins, attrs, False)
    np.testing.assert_array_equal(want["y_h"], y32[1])
    path = tmp_path / "lstm_bf16.i8rt"
    engine.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    assert _layers(loaded)["lstm"]["detail"] == lstm["detail"]
    for k, v in loaded.run(feed).items():
        np.testing.assert_array_equal(v.view(np.uint32), got[k].view(np.uint32), err_msg=k)
    named = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", layer_precisions={"lstm": "bf16"}))
    assert _layers(named)["lstm"]["precision"] == "bf16" and _layers(named)["head"]["precision"] == "fp32"
    np.testing.assert_array_equal(named.run(feed)["y_h"], got["y_h"])


def test_an_lstm_whose_weights_are_computed_stays_fp32_with_the_reason() -> None:
    ins = lstm_inputs(np.random.default_rng(6), T=3, B=1, I=8, H=4, dirs=1)
    model = lstm_model(ins, {"hidden_size": 4}, runtime_w=True)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", layer_precisions={"lstm": "bf16"}))
    assert _layers(engine)["lstm"]["precision"] == "fp32"
    assert "warning: layer 'lstm' asked for bf16 stays float32: its W 'w' is computed at run time" in engine.report()


def test_capped_build_names_the_reference_kernel() -> None:
    ins = lstm_inputs(np.random.default_rng(8), T=3, B=2, I=8, H=4, dirs=1)
    model = lstm_model(ins, {"hidden_size": 4})
    try:
        int8rt.set_max_isa("avx2")
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", bf16=True))
    finally:
        uncap()
    assert "kernel=gemm_bf16_ref" in _layers(engine)["lstm"]["detail"]
    assert any("BF16 layers run the scalar reference kernel here" in line for line in engine.report())


def _patched_hidden(data: bytes, value: int) -> bytes:
    """The engine file with the LSTM's int attribute 'hidden_size' set to `value`, reframed with a valid
    checksum (tests/engine_bytes.py)."""
    import struct

    import engine_bytes
    body = engine_bytes.payload(data)
    tag = engine_bytes.string(b"hidden_size") + bytes([0])
    at = body.index(tag) + len(tag)
    body = body[:at] + struct.pack("<q", value) + body[at + 8:]
    return engine_bytes.frame(body, version=struct.unpack_from("<I", data, 8)[0])


@pytest.mark.parametrize("forge,match", [
    ("hidden", r"lstm.*its R is \[1, 16, 4\], not \[1, 4 \* hidden_size, hidden_size\] \(forward, hidden_size 5\)"),
    ("gru", r"lstm.*cannot run in bf16: GRU has no BF16 kernel"),
], ids=["hidden_size", "op-gru"])
def test_forged_engine_files_are_refused_naming_the_layer(forge: str, match: str) -> None:
    import engine_bytes
    ins = lstm_inputs(np.random.default_rng(9), T=3, B=1, I=8, H=4, dirs=1)
    data = int8rt.build_engine(lstm_model(ins, {"hidden_size": 4}, states=("y_h",)),
                               int8rt.BuilderConfig(precision="fp32", bf16=True)).serialize()
    if forge == "hidden":
        data = _patched_hidden(data, 5)
    else:
        import struct
        body = engine_bytes.replace_once(engine_bytes.payload(data), engine_bytes.string(b"LSTM"),
                                         engine_bytes.string(b"GRU"))
        data = engine_bytes.frame(body, version=struct.unpack_from("<I", data, 8)[0])
    with pytest.raises(int8rt.Error, match=match):
        int8rt.Engine.deserialize(data).run({"x": ins[0]})


def _conformance_cases() -> list:
    from int8rt.onnx import conformance
    return conformance.collect_cases({"LSTM"})


def test_onnx_lstm_conformance_cases_run_in_bf16_within_the_bound() -> None:
    """ONNX's LSTM node cases (their W, R, B, P made initializers so the layer can pack them): the BF16 engine
    checked step by step (check_steps); the FP32 engine matches the cases' expected outputs."""
    import onnx
    from onnx import helper, numpy_helper
    cases = _conformance_cases()
    assert len(cases) >= 6, [c.name for c in cases]
    for case in cases:
        node = case.model.graph.node[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        for inputs, expected in case.data_sets:
            values = dict(zip([i.name for i in case.model.graph.input], inputs))
            consts = [n for n in node.input[1:4] if n] + ([node.input[7]] if len(node.input) > 7 and node.input[7]
                                                          else [])
            graph = onnx.GraphProto()
            graph.CopyFrom(case.model.graph)
            keep = [i for i in graph.input if i.name not in consts]
            del graph.input[:]
            graph.input.extend(keep)
            graph.initializer.extend(numpy_helper.from_array(np.asarray(values[n], F32), n) for n in consts)
            model = helper.make_model(graph, opset_imports=list(case.model.opset_import))
            model.ir_version = case.model.ir_version
            feed = {n: values[n] for n in (i.name for i in keep)}
            e16 = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32", bf16=True))
            e32 = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
            assert all(la["precision"] == "bf16" for la in e16.layers() if la["op"] == "LSTM"), case.name
            got, want = e16.run(feed), e32.run(feed)
            outs = [o.name for o in graph.output]
            for o, e in zip(outs, expected):
                np.testing.assert_allclose(want[o], e, rtol=1e-5, atol=1e-6, err_msg=f"{case.name} FP32 {o}")
            ins = [values.get(n) if n else None for n in node.input]
            full = [run_lstm(ins, attrs, True), run_lstm(ins, attrs, False)]
            for o in outs:  # the engines' outputs are the node's run alone
                at = list(node.output).index(o)
                np.testing.assert_array_equal(got[o], full[0][at], err_msg=f"{case.name} BF16 {o}")
                np.testing.assert_array_equal(want[o], full[1][at], err_msg=f"{case.name} FP32 {o}")
            check_steps(case.name, ins, attrs, full[0])
