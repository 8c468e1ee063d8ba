"""auto's float products (python/int8rt/accuracy/quiet_products.py; issue 12
follow-up, RESULTS.md §160.3, RESULTS_accuracy.md "acc42").

The network: EfficientViT's ReLU linear attention (timm's LiteMLA) in
small, 4 heads of 4: Q = relu(x Wq), K = relu(x Wk), V = z Wv per head;
kv = K^T [V, 1] (V padded with a column of ones), out = Q kv, and each
row's first 4 columns divided by its last (the normaliser) plus 1e-6,
heads merged, an output projection. The heads' Q and K projections have
gains 1, 0.4, 0.15 and 0.06 (EfficientViT's heads differ as much with
random weights): the operands span about 17x over the heads, kv about as
much, but out, a product of both gains, about 300x, beyond 127 int8
steps, while each row's ratio does not depend on its head's gain: out's
quiet rows round to a level or two and the division scales that rounding
up. kv's rows are not quiet, so its product stays int8 (its output read
in float by the float product).

Bounds (centred cosine of the output against FP32, 32 held inputs,
calibrated on 64): single-method calibrators collapse it (measured
minmax 0.636, mse 0.643; bound 0.8), and the accuracy check names out's
product (check.py's quiet-rows warning); auto keeps out's product in float32
(report: float products on, 1 of 2) and holds 0.95 (measured 0.976), as
int8_matmul_pairs=False does (measured 0.974; the rest is the operands'
grid), and auto with that option has no int8 product to measure. A softmax attention block (test_attention_short_rows.py's,
unfused) keeps its two int8 products under auto: its scores reach a
Softmax (left out of the rule) and its context rows are not quiet.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt.data_calibrator import make_calibrator  # noqa: E402
from onnx import helper  # noqa: E402

from onnx_models import fvi, init, model  # noqa: E402
from test_attention_short_rows import dynamic_attention  # noqa: E402
from test_int8_matmul import centred_cosine  # noqa: E402

F32 = np.float32
D_IN, HEADS, D, T = 16, 4, 4, 24
GAINS = (1.0, 0.4, 0.15, 0.06)  # each head's Q and K projection gain


def linear_attention() -> onnx.ModelProto:
    """x [B, T, 16], z [B, T, 16] -> ReLU linear attention over 4 heads (module docstring) -> y [B, T, 16]."""
    rng = np.random.default_rng(3)
    hidden = HEADS * D
    gain = np.repeat(np.array(GAINS, F32), D)  # per output column: its head's
    inits = [init("wq", (rng.standard_normal((D_IN, hidden)) * gain / np.sqrt(D_IN)).astype(F32)),
             init("wk", (rng.standard_normal((D_IN, hidden)) * gain / np.sqrt(D_IN)).astype(F32)),
             init("wv", (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(F32)),
             init("wo", (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(F32)),
             init("split", np.array([0, 0, HEADS, D], np.int64)), init("merge", np.array([0, 0, hidden], np.int64)),
             init("pads", np.array([0, 0, 0, 0, 0, 0, 0, 1], np.int64)), init("one", np.array(1.0, F32)),
             init("s0", np.array([0], np.int64)), init("sd", np.array([D], np.int64)),
             init("se", np.array([D + 1], np.int64)), init("axis", np.array([3], np.int64)),
             init("eps", np.array(1e-6, F32))]
    nodes = []
    for p, src in (("q", "x"), ("k", "x"), ("v", "z")):
        nodes += [helper.make_node("MatMul", [src, f"w{p}"], [f"{p}_lin"], name=f"{p}_proj"),
                  helper.make_node("Reshape", [f"{p}_lin", "split"], [f"{p}_heads"], name=f"{p}_split"),
                  helper.make_node("Transpose", [f"{p}_heads"], [f"{p}_t"], perm=[0, 2, 3, 1] if p == "k"
                                   else [0, 2, 1, 3], name=f"{p}_t")]
    nodes += [helper.make_node("Relu", ["q_t"], ["q"], name="q_relu"),
              helper.make_node("Relu", ["k_t"], ["k"], name="k_relu"),
              helper.make_node("Pad", ["v_t", "pads", "one"], ["v1"], name="pad_ones"),
              helper.make_node("MatMul", ["k", "v1"], ["kv"], name="kv_product"),
              helper.make_node("MatMul", ["q", "kv"], ["out"], name="out_product"),
              helper.make_node("Slice", ["out", "s0", "sd", "axis"], ["num"], name="numerators"),
              helper.make_node("Slice", ["out", "sd", "se", "axis"], ["den_raw"], name="normaliser"),
              helper.make_node("Add", ["den_raw", "eps"], ["den"], name="add_eps"),
              helper.make_node("Div", ["num", "den"], ["ratio"], name="divide"),
              helper.make_node("Transpose", ["ratio"], ["ratio_t"], perm=[0, 2, 1, 3], name="ratio_t"),
              helper.make_node("Reshape", ["ratio_t", "merge"], ["merged"], name="merge_heads"),
              helper.make_node("MatMul", ["merged", "wo"], ["y"], name="o_proj")]
    return model(nodes, [fvi("x", ["B", T, D_IN]), fvi("z", ["B", T, hidden])], [fvi("y", ["B", T, hidden])], inits)


def feeds(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, T, D_IN)).astype(F32),
            "z": rng.standard_normal((n, T, HEADS * D)).astype(F32)}


def products(engine: int8rt.Engine) -> int:
    return sum(layer["op"] == "int8rt.QMatMul" for layer in engine.layers())


def score(m: onnx.ModelProto, algorithm: str, **config) -> tuple[float, int8rt.Engine]:
    data = m.SerializeToString()
    fp32 = int8rt.build_engine(data, int8rt.BuilderConfig(precision="fp32"))
    q = int8rt.build_engine(data, int8rt.BuilderConfig(
        calibrator=make_calibrator(feeds(64, 1), algorithm=algorithm, batch_size=8), **config))
    held = feeds(32, 2)
    return centred_cosine(q.run(held)["y"], fp32.run(held)["y"]), q


@pytest.mark.parametrize("algorithm", ["minmax", "mse"])
def test_linear_attention_collapses_with_int8_products(algorithm: str) -> None:
    cos, q = score(linear_attention(), algorithm)
    assert products(q) == 2, [layer["op"] for layer in q.layers()]
    assert cos < 0.8, cos
    # not silent: the check names the quiet product (and not kv's, whose rows are not quiet)
    quiet = [w for w in q.build_report().warnings if "of its rows are below one int8 step" in w]
    assert len(quiet) == 1 and "tensor 'out'" in quiet[0] and "'out_product'" in quiet[0], quiet


def test_auto_keeps_quiet_products_in_float() -> None:
    cos, q = score(linear_attention(), "auto")
    auto = q.build_report().auto_choice
    assert auto["float_products"].startswith("on (auto: 1 of 2 products"), auto
    assert [layer["name"] for layer in q.layers() if layer["op"] == "int8rt.QMatMul"] == ["kv_product"]
    assert cos > 0.95, cos
    off, _ = score(linear_attention(), "minmax", int8_matmul_pairs=False)
    assert off > 0.95, off
    # products already float (by hand) are not measured or tried again
    _, by_hand = score(linear_attention(), "auto", int8_matmul_pairs=False)
    assert "float_products" not in by_hand.build_report().auto_choice


def test_auto_keeps_softmax_attention_products_int8() -> None:
    m = dynamic_attention(probs_output=True)
    rng = np.random.default_rng(4)
    batches = [{"x": rng.standard_normal((4, 32, 16)).astype(F32)} for _ in range(8)]
    q = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(
        calibrator=make_calibrator(batches, algorithm="auto")))
    auto = q.build_report().auto_choice
    assert auto["float_products"].startswith("off (1 products measured"), auto
    assert products(q) == 2


def test_quiet_share_counts_runs_of_different_lengths() -> None:
    """An attention product's rows are as long as each calibration run's
    sequence: the quiet share takes the runs as a list (no stacking, which
    refused rows of 16 beside rows of 24), each row counted once."""
    from int8rt.accuracy.quiet_positions import quiet_share

    step = 1.0 / 127.0
    short = np.full((2, 3, 16), 0.5 * step)   # 6 rows below one step
    long = np.full((1, 4, 24), 2.0 * step)    # 4 rows above it
    assert quiet_share([short, long], 1.0) == pytest.approx(0.6)
    assert quiet_share(short, 1.0) == 1.0 and quiet_share([long], 1.0) == 0.0
    assert quiet_share([], 1.0) == 0.0
