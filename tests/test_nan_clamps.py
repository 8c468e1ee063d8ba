"""NaN, +-inf and -0 through every FP32 / BF16 Relu and Clip (kernels/ref/clip_f32.h): the standalone layers
and the epilogues fused into convolutions and GEMMs (NCHW SGEMM, depthwise, the output-transposed product with
its residual, the float chain, channel-blocked FP32 and BF16 regions, BF16 GEMMs), against ONNX Runtime, which
keeps a NaN through Relu and Clip (std::max(x, lo) then std::min(., hi)), and across the ISA tiers.

The standalone layers are compared bit for bit (their arithmetic is the clamp alone). Through a convolution the
finite values round differently from ONNX Runtime's (FMA, summation order, BF16), but where a NaN or an infinity
lands does not depend on the order: the NaN and +-inf masks must be ONNX Runtime's exactly, the finite values
within a stated bound. The reference tier's engine (saved at the default tier, loaded under the ref cap) has the
same masks, and the same bytes where the tiers are bit-exact by contract (channel-blocked FP32, BF16)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)
from bf16_order import uncap, vdpbf16ps_order  # noqa: F401,E402  (autouse: the VDPBF16PS order where AMX-BF16 runs)

ort = pytest.importorskip("onnxruntime")

SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0, 7.0, 0.25, -0.75, 6.0, 1e30, -1e30],
                   np.float32)


def _ort(m: onnx.ModelProto, feeds: dict) -> list:
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def _scalar(name: str, v: float) -> onnx.TensorProto:
    return init(name, np.array(v, np.float32))


STANDALONE = {
    "relu": ([helper.make_node("Relu", ["x"], ["y"])], [], 17),
    "clip_0_6": ([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [_scalar("lo", 0.0), _scalar("hi", 6.0)], 13),
    "clip_-1_1": ([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [_scalar("lo", -1.0), _scalar("hi", 1.0)],
                  13),
    "clip_min_only": ([helper.make_node("Clip", ["x", "lo"], ["y"])], [_scalar("lo", 0.0)], 13),
    "clip_max_only": ([helper.make_node("Clip", ["x", "", "hi"], ["y"])], [_scalar("hi", 0.5)], 13),
    "clip_opset6": ([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=2.0)], [], 6),
}


@pytest.mark.parametrize("name", sorted(STANDALONE))
@pytest.mark.parametrize("isa", [None, "ref"])
def test_standalone_relu_and_clip_give_onnxruntime_bits(name: str, isa: str | None) -> None:
    nodes, inits, opset = STANDALONE[name]
    m = model(nodes, [fvi("x", [SPECIAL.size])], [fvi("y", [SPECIAL.size])], inits, opset=opset)
    want = _ort(m, {"x": SPECIAL})[0]
    assert np.isnan(want[:2]).all(), "ONNX Runtime keeps NaN (the test's premise)"
    if isa:
        int8rt.set_max_isa(isa)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    got = engine.run({"x": SPECIAL})["y"]
    np.testing.assert_array_equal(_bits(got), _bits(want), err_msg=f"{name}: {got} vs {want}")


def test_clip_with_run_time_bounds_keeps_nan() -> None:
    m = model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
              [fvi("x", [SPECIAL.size]), fvi("lo", []), fvi("hi", [])], [fvi("y", [SPECIAL.size])], opset=13)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    for lo, hi in [(0.0, 6.0), (-1.0, 1.0), (-np.inf, np.inf)]:
        feeds = {"x": SPECIAL, "lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}
        np.testing.assert_array_equal(_bits(engine.run(feeds)["y"]), _bits(_ort(m, feeds)[0]), err_msg=f"{lo} {hi}")


def test_hard_sigmoid_keeps_nan() -> None:
    m = model([helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.2, beta=0.5)], [fvi("x", [SPECIAL.size])],
              [fvi("y", [SPECIAL.size])])
    want = _ort(m, {"x": SPECIAL})[0]
    got = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": SPECIAL})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---- fused epilogues ----

class _Graph:
    """Convs with random weights and the activations under test, in one ONNX graph."""

    def __init__(self, seed: int) -> None:
        self.rng, self.nodes, self.inits, self.n = np.random.default_rng(seed), [], [], 0

    def _name(self, what: str) -> str:
        self.n += 1
        return f"{what}{self.n}"

    def conv(self, x: str, c: int, m: int, k: int, group: int = 1, residual: str | None = None) -> str:
        w, b, y = self._name("w"), self._name("b"), self._name("conv")
        self.inits += [init(w, (self.rng.standard_normal((m, c // group, k, k)) * 0.3).astype(np.float32)),
                       init(b, (self.rng.standard_normal(m) * 0.1).astype(np.float32))]
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], name=y, kernel_shape=[k, k], group=group,
                                           pads=[k // 2] * 4))
        if residual:
            s = self._name("add")
            self.nodes.append(helper.make_node("Add", [y, residual], [s], name=s))
            return s
        return y

    def act(self, x: str, kind: str) -> str:
        y = self._name(kind.lower())
        if kind == "Relu":
            self.nodes.append(helper.make_node("Relu", [x], [y], name=y))
        elif kind == "ClipMin":  # no max: ONNX's default, the largest float32 (+inf clips to it)
            lo = self._name("lo")
            self.inits.append(_scalar(lo, 0.0))
            self.nodes.append(helper.make_node("Clip", [x, lo], [y], name=y))
        else:  # Clip to [0, 6]
            lo, hi = self._name("lo"), self._name("hi")
            self.inits += [_scalar(lo, 0.0), _scalar(hi, 6.0)]
            self.nodes.append(helper.make_node("Clip", [x, lo, hi], [y], name=y))
        return y

    def op(self, op: str, inputs: list, **attrs) -> str:
        y = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [y], name=y, **attrs))
        return y

    def model(self, c: int, hw: int, outputs: list) -> onnx.ModelProto:
        """outputs: the names of NCHW outputs, or (name, rank)."""
        outs = [(o, 4) if isinstance(o, str) else o for o in outputs]
        return model(self.nodes, [fvi("x", ["N", c, hw, hw])],
                     [fvi(o, [f"{o}_{i}" for i in range(rank)]) for o, rank in outs], self.inits, opset=13)


def nchw_net() -> onnx.ModelProto:
    """SGEMM convs with Relu / Clip / residual + Relu, a depthwise conv with Clip, a Gemm with Relu."""
    g = _Graph(1)
    a = g.act(g.conv("x", 8, 8, 3), "Relu")
    b = g.act(g.conv(a, 8, 8, 3, residual=a), "Relu")
    c = g.act(g.conv(b, 8, 8, 3, group=8), "Clip")
    d = g.act(g.conv(c, 8, 12, 1), "Clip")
    flat = g.op("Flatten", [d], axis=1)
    w, bias = g._name("fc"), g._name("fcb")
    g.inits += [init(w, (g.rng.standard_normal((12 * 10 * 10, 10)) * 0.05).astype(np.float32)),
                init(bias, np.zeros(10, np.float32))]
    fc = g.act(g.op("Gemm", [flat, w, bias]), "Relu")
    return g.model(8, 10, [d, (fc, 2)])


def transposed_net() -> onnx.ModelProto:
    """ResNet's 7 x 7 stage in small: 64 channels, a 3x3 conv with its residual and Relu, the geometry for which
    conv_f32.cc picks the output-transposed product (the clip in the transpose's stores) or the NHWC conv (the
    choice is made per run and not reported)."""
    g = _Graph(2)
    a = g.act(g.conv("x", 64, 64, 1), "Relu")
    b = g.act(g.conv(a, 64, 64, 3, residual=a), "Relu")
    return g.model(64, 7, [b])


def chain_net() -> onnx.ModelProto:
    """Element-wise steps after a conv that fuse_float_chain folds into its epilogue, a Relu and a Clip among them."""
    g = _Graph(3)
    k = g._name("k")
    g.inits.append(_scalar(k, -0.25))
    z = g.conv("x", 8, 8, 3)
    y = g.act(g.op("Mul", [z, g.act(g.op("Add", [z, k]), "Relu")]), "Clip")  # z * relu(z - 0.25), clipped
    open_ = g.act(g.op("Mul", [z, g.act(g.op("Add", [z, k]), "Relu")]), "ClipMin")  # the same, no max
    return g.model(8, 6, [y, open_])


def open_clip_net(then_relu: bool = True) -> onnx.ModelProto:
    """A 1x1 conv whose Clip has no max (the largest float32 then, where +inf clips to it), then a 1x1 conv with
    Relu. (Not in BF16: the largest float32 rounds to +inf as a BF16 tensor between the convs, and the second
    conv's sums of infinities of both signs give NaN where FP32 sums overflow to one infinity.)"""
    g = _Graph(5)
    a = g.act(g.conv("x", 8, 8, 1), "ClipMin")
    outputs = [a, g.act(g.conv(a, 8, 8, 1), "Relu")] if then_relu else [a]
    return g.model(8, 6, outputs)


def blocked_net() -> onnx.ModelProto:
    """A channel-blocked body: 1x1, depthwise 3x3 and 3x3 convs of 16 / 32 channels with Relu and Clip."""
    g = _Graph(4)
    a = g.act(g.conv("x", 16, 16, 1), "Relu")
    b = g.act(g.conv(a, 16, 16, 3, group=16), "Clip")
    c = g.act(g.conv(b, 16, 32, 3), "Relu")
    d = g.act(g.conv(c, 32, 32, 1, residual=c), "Clip")
    e = g.act(g.conv(d, 32, 16, 1), "Relu")
    return g.model(16, 9, [e])


NETS = {"nchw": (nchw_net, {}), "transposed": (transposed_net, {}), "chain": (chain_net, {}),
        "open_clip": (open_clip_net, {}), "bf16_open_clip": (lambda: open_clip_net(False), {"bf16": True}),
        "blocked": (blocked_net, {"channel_blocked": True}),
        "bf16_nchw": (nchw_net, {"bf16": True}), "bf16_blocked": (blocked_net, {"bf16": True, "channel_blocked": True})}
# Engines whose tiers give the same bytes by contract (FP32 channel-blocked kernels, BF16 kernels).
SAME_BYTES = {"blocked", "bf16_blocked", "bf16_nchw", "bf16_open_clip"}


def _input(m: onnx.ModelProto) -> np.ndarray:
    """Three images: a NaN and a -NaN in the first, +inf and -inf in the second, the third finite."""
    c, hw = (m.graph.input[0].type.tensor_type.shape.dim[i].dim_value for i in (1, 2))
    x = np.random.default_rng(9).standard_normal((3, c, hw, hw)).astype(np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, hw - 1, hw - 1] = -np.nan
    x[1, 1, 4, 2] = np.inf
    x[1, 2, 2, hw - 2] = -np.inf
    return x


def _build(m: onnx.ModelProto, options: dict, isa: str | None) -> int8rt.Engine:
    """Built at the default cap; for `isa`, its bytes deserialized under that cap (each layer chooses its kernel
    at load; the autouse fixture lifts the cap after the test)."""
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32", **options))
    if isa is not None:
        data = engine.serialize()
        int8rt.set_max_isa(isa)
        engine = int8rt.Engine.deserialize(data)
        uncap()
    return engine


def _same_masks(got: np.ndarray, want: np.ndarray, what: str) -> None:
    for mask in (np.isnan, np.isposinf, np.isneginf):
        bad = np.argwhere(mask(got) != mask(want))
        assert not bad.size, f"{what}: {mask.__name__} differs at {bad[:3].tolist()}: {got[tuple(bad[0])]} vs " \
                             f"{want[tuple(bad[0])]}"


@pytest.mark.parametrize("name", sorted(NETS))
def test_fused_relu_and_clip_keep_nan_and_inf_where_onnxruntime_does(name: str) -> None:
    make, options = NETS[name]
    m = make()
    x = _input(m)
    want = dict(zip([o.name for o in m.graph.output], _ort(m, {"x": x})))
    engines = {isa: _build(m, options, isa) for isa in (None, "ref")}
    details = " ".join(layer["detail"] for layer in engines[None].layers())
    if name == "chain":
        assert "+chain(" in details, details
    # The blocked region forms where its vector kernels may run (not under a suite-wide INT8RT_MAX_ISA below them).
    blocked = "blocked" in name and int8rt.kernels.isa_info()["avx512bf16" if "bf16" in name else "avx512"]["enabled"]
    if blocked:
        assert "layout=nchw16c" in details, details
    if name.startswith("bf16"):
        assert any(layer["precision"] == "bf16" for layer in engines[None].layers()), engines[None].layers()
    got = {isa: e.run({"x": x}) for isa, e in engines.items()}
    bound = 0.1 if name.startswith("bf16") else 1e-4
    for key, w in want.items():
        assert np.isnan(w[0]).any() and np.isfinite(w[2]).all(), f"{name} {key}: no NaN reaches the output to tell"
        for isa, outs in got.items():
            what = f"{name} {key} tier {isa or 'default'}"
            _same_masks(outs[key], w, what)
            finite = np.isfinite(w)
            scale = max(1.0, float(np.abs(w[finite]).max()))
            np.testing.assert_allclose(outs[key][finite], w[finite], rtol=bound, atol=bound * scale, err_msg=what)
        if name in SAME_BYTES and (blocked or name.startswith("bf16")):
            np.testing.assert_array_equal(_bits(got["ref"][key]), _bits(got[None][key]),
                                          err_msg=f"{name} {key}: the ref tier's bytes differ")
