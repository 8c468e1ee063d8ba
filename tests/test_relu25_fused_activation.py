"""A Relu / Clip after a BF16 channel-blocked Add or squeeze-and-excitation
scale, fused into that layer (engine/bf16_blocked_moves.h
bf16_fuse_activations; the depthwise kernel's clip epilogue in
ops/bf16_blocked_moves.cc and ops/bf16_blocked_scale.cc), RESULTS.md
section 276: ecaresnet's residual Add + Relu, rexnet's SE scale + Clip(0, 6).

What is exact:
1. The fused engine's outputs are the unfused region's bits, but for one
   case: the rounding to BF16 flushes a float32 denormal to a zero of its
   sign, so a negative denormal pre-activation gives -0 unfused (clip(-0, 0,
   6) = -0) and +0 fused (clip first): the bits differ only where both are
   zeros, and in k / u only where the unfused pre-activation (m / s) is -0.
   The same
   network with the activations' inputs also network outputs (so nothing
   fuses) gives the same bits for every common output; odd channel counts,
   batch 1 and 3, 1 and 2 threads, and the reference kernels after save /
   load.
2. Against NumPy from the region's own tensors: k = to_bf16(clip(f32(c1 * g),
   0, 6)), u = to_bf16(relu(f32(m2) + p)).
3. A Clip bound BF16 cannot represent (6.1) is not fused (the NCHW reader
   would see 6.1, the fused layer bf16(6.1)).
4. A forged activation in a saved file is refused, naming the layer.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

import int8rt
import engine_bytes
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16

F32 = np.float32
HW = (9, 13)


def _model(c_in: int, mid: int, outputs: tuple, hi: float = 6.0) -> bytes:
    """p = Relu(1x1 (sixteen 1x1 convs of x)) (enough region convs for the
    conversions of every variant's outputs); c1 = depthwise 3x3 (p); g = Sigmoid(1x1 (GAP(c1)));
    m = c1 * g; k = Clip(m, 0, hi); c2 = 1x1 (k); g2 = Sigmoid(1x1 (GAP(c2)));
    m2 = c2 * g2; s = m2 + p; u = Relu(s); side = Sqrt(u) (a float layer: u is
    read NCHW too; an AveragePool joins the region since RESULTS.md section 282);
    y = eight 1x1 convs of u. Outputs y, side and `outputs`."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2761)
    inits = {
        "w0": rng.standard_normal((mid, mid, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 3, 3)) * 3.0, "b1": rng.standard_normal(mid),
        "wg": rng.standard_normal((mid, mid, 1, 1)) * 0.5, "bg": rng.standard_normal(mid),
        "w2": rng.standard_normal((mid, mid, 1, 1)) * 0.4, "b2": rng.standard_normal(mid),
        "wg2": rng.standard_normal((mid, mid, 1, 1)) * 0.5, "bg2": rng.standard_normal(mid),
        "lo": np.array(0.0), "hi": np.array(hi),
    }
    nodes = []
    prev = "x"
    for i in range(16):
        inits[f"wx{i}"] = rng.standard_normal((mid, c_in if i == 0 else mid, 1, 1)) / np.sqrt(c_in if i == 0 else mid)
        inits[f"bx{i}"] = rng.standard_normal(mid)
        nodes.append(helper.make_node("Conv", [prev, f"wx{i}", f"bx{i}"], [f"x{i}"]))
        prev = f"x{i}"
    nodes += [
        helper.make_node("Conv", [prev, "w0", "b0"], ["c0"]), helper.make_node("Relu", ["c0"], ["p"]),
        helper.make_node("Conv", ["p", "w1", "b1"], ["c1"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c1"], ["q"]), helper.make_node("Conv", ["q", "wg", "bg"], ["qg"]),
        helper.make_node("Sigmoid", ["qg"], ["g"]), helper.make_node("Mul", ["c1", "g"], ["m"]),
        helper.make_node("Clip", ["m", "lo", "hi"], ["k"]),
        helper.make_node("Conv", ["k", "w2", "b2"], ["c2"]),
        helper.make_node("GlobalAveragePool", ["c2"], ["q2"]), helper.make_node("Conv", ["q2", "wg2", "bg2"], ["qg2"]),
        helper.make_node("Sigmoid", ["qg2"], ["g2"]), helper.make_node("Mul", ["c2", "g2"], ["m2"]),
        helper.make_node("Add", ["m2", "p"], ["s"]), helper.make_node("Relu", ["s"], ["u"]),
        helper.make_node("Sqrt", ["u"], ["side"]),
    ]
    prev = "u"
    for i in range(8):
        inits[f"wy{i}"] = rng.standard_normal((mid, mid, 1, 1)) * 0.3
        inits[f"by{i}"] = rng.standard_normal(mid)
        nodes.append(helper.make_node("Conv", [prev, f"wy{i}", f"by{i}"], ["y" if i == 7 else f"y{i}"]))
        prev = f"y{i}"
    h, w = HW
    shapes = {n: [None, mid, h, w] for n in ("y", "c1", "m", "k", "c2", "m2", "p", "s", "u", "side")}
    shapes.update({"g": [None, mid, 1, 1], "g2": [None, mid, 1, 1]})
    graph = helper.make_graph(
        nodes, "relu25", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in ("y", "side", *outputs)],
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


SEEN = ("c1", "g", "c2", "g2", "p", "k", "u")


def _engine(tmp_path, name: str, mid: int, outputs: tuple, hi: float = 6.0):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(_model(5, mid, outputs, hi))
    engine = _build(path, True)
    if not _blocked_ops(engine):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    return engine


def _ops(engine) -> list:
    return [la["op"] for la in engine.layers()]


@pytest.mark.parametrize("mid", [37, 16, 7])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_fused_relu_or_clip_gives_the_unfused_bits(tmp_path, mid, batch) -> None:
    pytest.importorskip("onnx")
    x = (np.random.default_rng(2762).standard_normal((batch, 5, *HW)) * 3).astype(F32)
    hidden = _engine(tmp_path, "hidden", mid, ())
    seen = _engine(tmp_path, "seen", mid, SEEN)
    unfused = _engine(tmp_path, "unfused", mid, (*SEEN, "m", "s"))  # the activations' inputs read: nothing fuses
    for e in (hidden, seen):
        ops = _ops(e)
        assert "Relu" not in ops and "Clip" not in ops and ops.count("int8rt.ChannelScaleBf16x16c") == 2 and \
            ops.count("int8rt.AddBf16x16c") == 1, ops
    ops = _ops(unfused)
    assert ops.count("Relu") == 1 and ops.count("Clip") == 1, ops
    assert len(_ops(hidden)) < len(ops) - 2, (_ops(hidden), ops)
    want = unfused.run({"x": x})
    assert np.any(want["k"] == 6.0) and np.any(want["k"] == 0.0) and np.any(want["u"] == 0.0), "no clipped values"
    assert np.any(want["m"] < 0) and np.any(want["s"] < 0), "nothing for the activations to clip"
    for threads in (1, 2):
        for e, names in ((hidden, ("y", "side")), (seen, ("y", "side", *SEEN))):
            got = _run_at(e, {"x": x}, threads)
            for n in names:
                _same_bits_but_zero_signs(got[n], want[n], f"{n} at {threads} threads")
            if e is seen:
                _same_bits_but_flushed(got["k"], want["k"], want["m"], f"k at {threads} threads")
                _same_bits_but_flushed(got["u"], want["u"], want["s"], f"u at {threads} threads")
    _check_formulas(want, fused=False)
    # The reference kernels after save / load: the fused file against the unfused one (the NCHW SE convs
    # round their own way there, so against the unfused engine on the same kernels).
    for e, name in ((seen, "seen"), (unfused, "unfused")):
        e.save(str(tmp_path / f"{name}.i8rt"))
    with reference_kernels():
        ref = int8rt.Engine.load(str(tmp_path / "seen.i8rt")).run({"x": x})
        ref_unfused = int8rt.Engine.load(str(tmp_path / "unfused.i8rt")).run({"x": x})
    for n in ("y", "side", *SEEN):
        _same_bits_but_zero_signs(ref[n], ref_unfused[n], f"{n} on the reference kernels")
    _same_bits_but_flushed(ref["k"], ref_unfused["k"], ref_unfused["m"], "k on the reference kernels")
    _same_bits_but_flushed(ref["u"], ref_unfused["u"], ref_unfused["s"], "u on the reference kernels")
    _check_formulas(ref, fused=True)
    _check_formulas(ref_unfused, fused=False)


NEG_ZERO = np.uint32(0x80000000)


def _same_bits_but_zero_signs(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """The same bits, or zeros of either sign at one place."""
    differ = got.view(np.uint32) != want.view(np.uint32)
    assert np.all((got[differ] == 0) & (want[differ] == 0)), f"{what}: {np.sum(differ)} values differ past a zero's sign"


def _same_bits_but_flushed(got: np.ndarray, want: np.ndarray, pre: np.ndarray, what: str) -> None:
    """The same bits but +0 for the unfused -0 where the unfused pre-activation was -0 (a flushed denormal)."""
    differ = got.view(np.uint32) != want.view(np.uint32)
    assert np.all(got.view(np.uint32)[differ] == 0) and np.all(want.view(np.uint32)[differ] == NEG_ZERO) and \
        np.all(pre.view(np.uint32)[differ] == NEG_ZERO), f"{what}: {np.sum(differ)} values differ otherwise"


def _round(v: np.ndarray) -> np.ndarray:
    """to_bf16 with the kernels' flush of a float32 denormal to a zero of its sign (kernels/ref/bf16.h)."""
    v = np.asarray(v, F32)
    return np.where(np.abs(v) < np.finfo(F32).tiny, np.copysign(F32(0), v), to_bf16(v)).astype(F32)


def _check_formulas(out: dict, fused: bool) -> None:
    """k and u from the region's own tensors, in NumPy: fused, the activation before the rounding; unfused,
    after it."""
    def act(v, lo, hi):
        return _round(np.clip(v, lo, hi)) if fused else np.clip(_round(v), lo, hi)
    _same_bits(out["k"], act(out["c1"] * out["g"], F32(0), F32(6)), "k = clip(c1 * g, 0, 6)")
    m2 = _round(out["c2"] * out["g2"])
    _same_bits(out["u"], act(m2 + out["p"], F32(0), F32(np.inf)), "u = relu(m2 + p)")


def test_a_clip_bound_bf16_cannot_represent_stays_a_layer(tmp_path) -> None:
    pytest.importorskip("onnx")
    ops = _ops(_engine(tmp_path, "hi61", 37, (), hi=6.1))
    assert ops.count("Clip") == 1 and "Relu" not in ops, ops


def _forged(data: bytes, old: bytes, new: bytes) -> bytes:
    head = data[:engine_bytes.HEADER]
    (version,) = struct.unpack_from("<I", head, 8)
    body = engine_bytes.payload(data)
    key = engine_bytes.string(b"int8rt_activation") + b"\x02" + engine_bytes.string(old)
    at = body.index(key, body.index(engine_bytes.string(b"int8rt.AddBf16x16c")))  # the Add's own attribute
    new_key = engine_bytes.string(b"int8rt_activation") + b"\x02" + engine_bytes.string(new)
    return engine_bytes.frame(body[:at] + new_key + body[at + len(key):], version=version)


@pytest.mark.parametrize("new,message", [(b"Swish", r"fuses Relu / Clip only"),
                                         (b"Bogus", r"int8rt_activation")])
def test_a_forged_activation_is_refused(tmp_path, new, message) -> None:
    pytest.importorskip("onnx")
    engine = _engine(tmp_path, "forge", 19, ())
    saved = tmp_path / "forge.i8rt"
    engine.save(str(saved))
    data = saved.read_bytes()
    ok = tmp_path / "ok.i8rt"
    ok.write_bytes(_forged(data, b"Relu", b"Relu"))
    int8rt.Engine.load(str(ok))  # the surgery itself is sound
    bad = tmp_path / "bad.i8rt"
    bad.write_bytes(_forged(data, b"Relu", new))
    with pytest.raises(Exception, match=r"AddBf16x16c.*" + message):
        int8rt.Engine.load(str(bad))
