"""Channel-blocked (NCHW16c) regions in FP32 engines (csrc/engine/f32_blocked.h,
kernels/abi/nchw16c_f32.h). A MobileNet / EfficientNet-shaped network with
odd channel counts (not multiples of 16), odd planes (13 x 37: rows with
edge tiles and inner tiles of the depthwise kernel), strides 1 and 2, 3x3
and 5x5 depthwise convs with padding, a squeeze-and-excitation block, fused
Relu / Clip / Swish, residual adds and an inner tensor that is also a network
output, built with BuilderConfig(channel_blocked=True):
  - the reference and AVX-512 tiers of the nchw16c_f32 family give the same
    bytes (the contract's operations in the same order), at batch 1 and 3;
  - every output is within a bound of the exact value (and within 2e-6 of
    the output's largest magnitude, the tight check): a float64 evaluation
    of the network that carries, per element, a bound on the float32
    engine's error (each conv / mean adds (K + 2) * 2^-24 times the sum of
    the magnitudes it adds, and propagates the input's bound through |W|;
    Relu / Clip / Sigmoid / Swish are Lipschitz with 1 / 1 / 1/4 / 1.1);
  - the region covers every 1x1 and depthwise conv, enters by one
    conversion, and leaves through the global average pool and one
    conversion for the inner output; a saved and loaded engine and a batch
    split over threads give the same bytes."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _testing
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)

F32 = np.float32
GAMMA = 2.0 ** -24
# The pass forms regions only where the nchw16c_f32 family has its AVX-512 tier usable (the CPU's and
# INT8RT_MAX_ISA's cap: under a lower cap it reports "not applied", test_not_applied_without_a_vector_tier).
NEEDS_REGIONS = pytest.mark.skipif(not int8rt.kernels.isa_info()["avx512"]["enabled"],
                                   reason="NCHW16c regions need the AVX-512 tier (CPU or INT8RT_MAX_ISA cap)")


class Net:
    """An ONNX graph and its float64 evaluation with error bounds: each value
    is (v, e), e bounding |float32 engine - exact| elementwise."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.steps: list = []
        self.n = 0

    def name(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def const(self, a: np.ndarray, stem: str) -> str:
        n = self.name(stem)
        self.inits.append(numpy_helper.from_array(a.astype(F32), n))
        return n

    def conv(self, x: str, cin: int, cout: int, k: int = 1, stride: int = 1, group: int = 1,
             act: str | None = None, residual: str | None = None) -> str:
        w = (self.rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(cin // group * k * k)).astype(F32)
        b = (self.rng.standard_normal(cout) * 0.1).astype(F32)
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, self.const(w, "w"), self.const(b, "b")], [y], name=y,
                                           kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
                                           group=group))
        self.steps.append(("conv", y, x, w, b, stride, group))
        if residual:
            y = self.binary("Add", y, residual)
        return self.act(y, act) if act else y

    def act(self, x: str, op: str) -> str:
        y = self.name(op.lower())
        if op == "Clip":
            self.nodes.append(helper.make_node("Clip", [x, self.const(np.array(0.0), "lo"),
                                                        self.const(np.array(6.0), "hi")], [y], name=y))
        elif op == "Swish":
            s = self.act(x, "Sigmoid")
            return self.binary("Mul", x, s)
        else:
            self.nodes.append(helper.make_node(op, [x], [y], name=y))
        self.steps.append(("act", y, x, op))
        return y

    def binary(self, op: str, a: str, b: str) -> str:
        y = self.name(op.lower())
        self.nodes.append(helper.make_node(op, [a, b], [y], name=y))
        self.steps.append((op, y, a, b))
        return y

    def maxpool(self, x: str, k: int = 3, stride: int = 2) -> str:
        """MaxPool k x k, pads k // 2 (exact: its error is its window's largest input error)."""
        y = self.name("pool")
        self.nodes.append(helper.make_node("MaxPool", [x], [y], name=y, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[k // 2] * 4))
        self.steps.append(("maxpool", y, x, k, stride))
        return y

    def mean(self, x: str) -> str:
        y = self.name("gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [y], name=y))
        self.steps.append(("mean", y, x))
        return y

    def model(self, c_in: int, outputs: list[tuple[str, list]], hw: tuple = (13, 37)) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "blocked",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c_in, *hw])],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N"] + dims) for o, dims in outputs], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])

    def evaluate(self, x: np.ndarray) -> dict:
        vals = {"x": (x.astype(np.float64), np.zeros(x.shape))}
        for s in self.steps:
            kind, y = s[0], s[1]
            if kind == "conv":
                _, _, xi, w, b, stride, group = s
                v, e = vals[xi]
                yv, ya = conv64(v, w.astype(np.float64), stride, group), conv64(np.abs(v), np.abs(w), stride, group)
                k = w.shape[1] * w.shape[2] * w.shape[3]
                ye = conv64(e, np.abs(w), stride, group)
                b4 = b.astype(np.float64)[None, :, None, None]
                vals[y] = (yv + b4, ye + (k + 2) * GAMMA * (ya + np.abs(b4)) * (1 + 1e-6))
            elif kind == "act":
                v, e = vals[s[2]]
                op = s[3]
                if op == "Relu":
                    vals[y] = (np.maximum(v, 0), e)
                elif op == "Clip":
                    vals[y] = (np.clip(v, 0, 6), e)
                else:  # Sigmoid: Lipschitz 1/4, plus its own few ulps of 1
                    vals[y] = (1 / (1 + np.exp(-v)), e / 4 + 8 * GAMMA)
            elif kind == "maxpool":
                v, e = vals[s[2]]
                vals[y] = (maxpool64(v, s[3], s[4]), maxpool64(e, s[3], s[4]))
            elif kind == "mean":
                v, e = vals[s[2]]
                P = v.shape[2] * v.shape[3]
                vals[y] = (v.mean(axis=(2, 3), keepdims=True),
                           e.mean(axis=(2, 3), keepdims=True) +
                           (P + 2) * GAMMA * np.abs(v).mean(axis=(2, 3), keepdims=True))
            else:
                (av, ae), (bv, be) = vals[s[2]], vals[s[3]]
                if kind == "Add":
                    vals[y] = (av + bv, ae + be + 2 * GAMMA * (np.abs(av) + np.abs(bv) + ae + be))
                else:  # Mul
                    vals[y] = (av * bv, np.abs(av) * be + np.abs(bv) * ae + ae * be +
                               2 * GAMMA * (np.abs(av) + ae) * (np.abs(bv) + be))
        return vals


def conv64(x: np.ndarray, w: np.ndarray, stride: int, group: int) -> np.ndarray:
    """float64 Conv, pads k // 2."""
    N, C, H, W = x.shape
    M, cg, k, _ = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (H + 2 * p - k) // stride + 1, (W + 2 * p - k) // stride + 1
    y = np.zeros((N, M, oh, ow))
    mg = M // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(k):
            for j in range(k):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, w[g * mg:(g + 1) * mg, :, i, j])
    return y


def maxpool64(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """float64 MaxPool, pads k // 2 (padding never wins)."""
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    oh, ow = (x.shape[2] + 2 * p - k) // stride + 1, (x.shape[3] + 2 * p - k) // stride + 1
    return np.max([xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(k) for j in range(k)],
                  axis=0)


def mobile_like(seed: int = 0) -> tuple[Net, onnx.ModelProto]:
    """A stem-less MobileNetV2 / EfficientNet-B0 body: 20 channels in (not a
    multiple of 16), expand 1x1 + Clip, depthwise 3x3 / stride 1 + Clip,
    project 1x1 + residual; expand + Swish, depthwise 5x5 / stride 2 + Swish,
    squeeze-and-excitation (GlobalAveragePool, 1x1 + Relu, 1x1 + Sigmoid, Mul),
    project 1x1; a last 1x1 + Relu whose input is also a network output; then
    the head's GlobalAveragePool."""
    n = Net(seed)
    x = n.act("x", "Relu")  # outside the region: its output is converted in
    e = n.conv(x, 20, 37, act="Clip")
    d = n.conv(e, 37, 37, k=3, group=37, act="Clip")
    b1 = n.conv(d, 37, 20, residual=x)
    e2 = n.conv(b1, 20, 53, act="Swish")
    d2 = n.conv(e2, 53, 53, k=5, stride=2, group=53, act="Swish")
    s = n.mean(d2)
    s = n.conv(s, 53, 7, act="Relu")
    s = n.conv(s, 7, 53, act="Sigmoid")
    se = n.binary("Mul", d2, s)
    b2 = n.conv(se, 53, 24)
    h = n.conv(b2, 24, 40, act="Relu")
    y = n.mean(h)
    return n, n.model(20, [(y, [40, 1, 1]), (b2, [24, 7, 19])])


def blocked_only(seed: int = 2) -> onnx.ModelProto:
    """Only layers the region runs on its own kernels (Relu / Clip fused, the
    SE scales a network input): the nchw16c_f32 tiers alone decide the bytes."""
    n = Net(seed)
    e = n.conv("x", 20, 37, act="Clip")
    d = n.conv(e, 37, 37, k=3, group=37, act="Clip")
    b1 = n.conv(d, 37, 20, residual="x")
    e2 = n.conv(b1, 20, 53, act="Relu")
    d2 = n.conv(e2, 53, 53, k=5, stride=2, group=53, act="Relu")
    se = n.binary("Mul", d2, "s")
    b2 = n.conv(se, 53, 24)
    m = n.model(20, [(n.mean(b2), [24, 1, 1]), (d2, [53, 7, 19])])
    m.graph.input.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", 53, 1, 1]))
    return m


def inputs(batch: int) -> dict:
    return {"x": np.random.default_rng(batch).standard_normal((batch, 20, 13, 37)).astype(F32)}


def build(path: Path, isa: str | None = None, blocked: bool = True) -> int8rt.Engine:
    """The engine, its layers' kernels chosen under `isa`. The pass marks
    regions only where a vector tier exists, so a reference-tier engine is
    built at the default cap, saved, and loaded under the ref cap (its layers
    choose their kernels at load)."""
    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", channel_blocked=blocked))
    if isa is None:
        return engine
    with tempfile.TemporaryDirectory() as d:
        engine.save(Path(d) / "e.i8rt")
        int8rt.set_max_isa(isa)
        try:
            return int8rt.Engine.load(Path(d) / "e.i8rt")
        finally:
            int8rt.set_max_isa(None)


def same_bytes_on_tiers(path: Path, x: dict, what: str, names: tuple = (), layer: str = "nchw16c_f32_") -> None:
    """The engine's outputs (those in `names`, else all) are the same bytes on the ref and AVX-512 tiers; some layer's
    detail names f"{layer}{isa}" on each."""
    got = {}
    for isa in ("ref", "avx512"):
        engine = build(path, isa)
        assert any(f"{layer}{isa}" in e["detail"] for e in engine.layers()), f"{what}: no {layer}{isa} layer"
        got[isa] = engine.create_execution_context().run(x)
    for name in names or got["ref"]:
        assert np.array_equal(got["avx512"][name], got["ref"][name]), f"{name}: avx512 differs from ref ({what})"


@pytest.fixture
def model(tmp_path: Path) -> tuple[Net, Path]:
    net, m = mobile_like()
    path = tmp_path / "mobile_like.onnx"
    onnx.save(m, str(path))
    return net, path


@NEEDS_REGIONS
def test_region_covers_the_body(model) -> None:
    _, path = model
    engine = build(path)
    layers = engine.layers()
    ops = [layer["op"] for layer in layers]
    blocked = [layer for layer in layers if "layout=nchw16c" in layer["detail"]]
    assert len(blocked) == 7, [layer["detail"] for layer in layers]  # 4 x 1x1 on planes, 2 depthwise, head 1x1
    assert sum("depthwise" in layer["detail"] for layer in blocked) == 2
    assert ops.count("int8rt.ToNCHW16c") == 1 and ops.count("int8rt.FromNCHW16c") == 1
    assert ops.count("int8rt.GlobalAveragePool16c") == 2 and ops.count("int8rt.ChannelScale16c") == 1
    assert any("channel-blocked: 1 region(s), 7 FP32 convs on NCHW16c tensors, 2 layout conversions" in line
               for line in engine.report()), engine.report()
    outs = engine.create_execution_context().run(inputs(2))
    assert sorted(o.shape for o in outs.values()) == [(2, 24, 7, 19), (2, 40, 1, 1)]


@NEEDS_REGIONS
@pytest.mark.parametrize("batch", [1, 3])
def test_tiers_give_the_same_bytes(tmp_path: Path, batch: int) -> None:
    path = tmp_path / "blocked_only.onnx"
    onnx.save(blocked_only(), str(path))
    x = inputs(batch)
    x["s"] = np.random.default_rng(7).uniform(0, 1, (batch, 53, 1, 1)).astype(F32)
    got = {}
    for isa in ("ref", "avx512"):
        engine = build(path, isa)
        assert sum("layout=nchw16c" in layer["detail"] for layer in engine.layers()) == 6
        assert any(f"nchw16c_f32_{isa}" in layer["detail"] for layer in engine.layers())
        got[isa] = engine.create_execution_context().run(x)
    for name, y in got["avx512"].items():
        assert np.array_equal(y, got["ref"][name]), f"{name}: avx512 differs from ref at batch {batch}"


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("isa", ["ref", "avx512"])
def test_outputs_within_the_bound(model, batch: int, isa: str) -> None:
    net, path = model
    x = inputs(batch)
    want = net.evaluate(x["x"])
    for name, y in build(path, isa).create_execution_context().run(x).items():
        v, e = want[name]
        err = np.abs(y.astype(np.float64) - v)
        worst = np.unravel_index(np.argmax(err - e), err.shape)
        assert np.all(err <= e), f"{isa} {name} batch {batch}: |{y[worst]} - {v[worst]}| > bound {e[worst]} at {worst}"
        # The propagated bound is a worst case (|W| grows it ~5x per layer:
        # 1e-3 here); the errors seen are 1e-7 (the NCHW engine's too), and a
        # lost tap or lane would be 1e-2 or more: a tight check beside it.
        assert err.max() <= 2e-6 * np.abs(v).max(), f"{isa} {name} batch {batch}: max error {err.max()}"


def test_nchw_engine_is_within_the_same_bound(model) -> None:
    """The bound is not tailored to the blocked order: the NCHW engine meets it too."""
    net, path = model
    x = inputs(2)
    want = net.evaluate(x["x"])
    for name, y in build(path, blocked=False).create_execution_context().run(x).items():
        v, e = want[name]
        assert np.all(np.abs(y.astype(np.float64) - v) <= e), name


def check_saved_and_threads(engine: int8rt.Engine, x: dict, tmp_path: Path) -> None:
    """A saved and loaded engine, a batch split over 2 threads and the
    layers' own tasks over 2 threads give the engine's bytes."""
    engine.save(tmp_path / "e.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "e.i8rt")
    assert [layer["detail"] for layer in loaded.layers()] == [layer["detail"] for layer in engine.layers()]
    want = engine.create_execution_context().run(x)
    for name, y in loaded.create_execution_context().run(x).items():
        assert np.array_equal(y, want[name]), f"loaded engine: {name}"
    int8rt.set_num_threads(2)
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    got = engine.create_execution_context().run(x)
    assert _testing.batch_split_runs() > before
    for name, y in got.items():
        assert np.array_equal(y, want[name]), f"split over 2 threads: {name}"
    _testing.set_batch_split(0)  # the layers' own tasks over 2 threads (pixel runs, block chunks, rows)
    for name, y in engine.create_execution_context().run(x).items():
        assert np.array_equal(y, want[name]), f"2 threads unsplit: {name}"


@NEEDS_REGIONS
def test_saved_engine_and_batch_split(model, tmp_path: Path) -> None:
    _, path = model
    check_saved_and_threads(build(path), inputs(6), tmp_path)


@NEEDS_REGIONS
def test_stem_writes_blocked(tmp_path: Path) -> None:
    """A 3-channel 3x3 / stride 2 stem reads the NCHW image and writes the
    region's first blocked tensor (no conversion in); its inner output leaves
    by one conversion; tiers ==, outputs within the bound."""
    n = Net(3)
    stem = n.conv("x", 3, 21, k=3, stride=2, act="Clip")
    d = n.conv(stem, 21, 21, k=3, group=21, act="Relu")
    p = n.conv(d, 21, 18)
    path = tmp_path / "stem.onnx"
    onnx.save(n.model(3, [(n.mean(p), [18, 1, 1]), (stem, [21, 8, 9])], hw=(15, 17)), str(path))
    x = {"x": np.random.default_rng(5).standard_normal((2, 3, 15, 17)).astype(F32)}
    want = n.evaluate(x["x"])
    got = {}
    for isa in ("ref", "avx512"):
        engine = build(path, isa)
        ops = [layer["op"] for layer in engine.layers()]
        assert "int8rt.ToNCHW16c" not in ops and ops.count("int8rt.FromNCHW16c") == 1, ops
        assert any("dense from NCHW+clip layout=nchw16c" in layer["detail"] for layer in engine.layers())
        got[isa] = engine.create_execution_context().run(x)
        for name, y in got[isa].items():
            v, e = want[name]
            err = np.abs(y.astype(np.float64) - v)
            assert np.all(err <= e) and err.max() <= 2e-6 * np.abs(v).max(), f"{isa} {name}: {err.max()}"
    for name, y in got["avx512"].items():
        assert np.array_equal(y, got["ref"][name]), f"{name}: avx512 differs from ref"


def test_not_applied_without_a_vector_tier(model) -> None:
    _, path = model
    int8rt.set_max_isa("avx2")
    try:
        engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", channel_blocked=True))
    finally:
        int8rt.set_max_isa(None)
    assert not any("nchw16c" in layer["detail"] or "16c" in layer["op"] for layer in engine.layers())
    assert any("channel-blocked: not applied (no vector kernel for NCHW16c tensors here: nchw16c_f32_ref)" in line
               for line in engine.report()), engine.report()


@NEEDS_REGIONS
def test_short_region_stays_nchw(tmp_path: Path) -> None:
    """One depthwise + pointwise pair between two conversions is not worth them."""
    n = Net(1)
    d = n.conv("x", 20, 20, k=3, group=20, act="Relu")
    y = n.conv(d, 20, 24, act="Relu")
    path = tmp_path / "pair.onnx"
    onnx.save(n.model(20, [(y, [24, 13, 37])]), str(path))
    engine = build(path)
    assert not any("nchw16c" in layer["detail"] or "16c" in layer["op"] for layer in engine.layers())
    assert any("channel-blocked: 1 region(s) left NCHW" in line for line in engine.report()), engine.report()
