"""Channels-last regions in FP32 engines (csrc/engine/f32_layout.h): the
build-time pass keeps the tensors between consecutive FP32 convs NHWC and
converts only at a region's edges. Every conv computes each output with the
same operations as on NCHW tensors, so an engine built with
BuilderConfig.channels_last (the default) must give the bytes of one built
without it (==), on every ISA tier, at every batch, split over threads or
not; names read outside a region (network outputs included) keep their NCHW
shape; regions that would pay more conversions than they save stay NCHW;
and `layers()` (what `int8rt inspect` prints) says which convs run on NHWC
tensors."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _testing

F32 = np.float32
ISAS = ["ref", "avx2", "avx512"]


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    threads = int8rt.get_num_threads()
    yield
    int8rt.set_num_threads(threads)
    int8rt.set_max_isa(None)
    _testing.set_batch_split(1)


class _Net:
    """A small ONNX graph builder: convs with random weights, adds, activations."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def name(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def conv(self, x: str, cin: int, cout: int, k: int = 1, stride: int = 1, act: str | None = "Relu") -> str:
        w = self.name("w")
        b = self.name("b")
        scale = 1.0 / np.sqrt(cin * k * k)
        self.inits.append(numpy_helper.from_array(
            (self.rng.standard_normal((cout, cin, k, k)) * scale).astype(F32), w))
        self.inits.append(numpy_helper.from_array((self.rng.standard_normal(cout) * 0.1).astype(F32), b))
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], name=y, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[k // 2] * 4))
        return self.act(y, act) if act else y

    def act(self, x: str, op: str) -> str:
        y = self.name(op.lower())
        if op == "Clip":
            lo, hi = self.name("lo"), self.name("hi")
            self.inits.append(numpy_helper.from_array(np.array(0.0, F32), lo))
            self.inits.append(numpy_helper.from_array(np.array(6.0, F32), hi))
            self.nodes.append(helper.make_node("Clip", [x, lo, hi], [y], name=y))
        elif op == "LeakyRelu":
            self.nodes.append(helper.make_node("LeakyRelu", [x], [y], name=y, alpha=0.1))
        else:
            self.nodes.append(helper.make_node(op, [x], [y], name=y))
        return y

    def add(self, a: str, b: str, act: str | None = "Relu") -> str:
        y = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [y], name=y))
        return self.act(y, act) if act else y

    def model(self, x: str, c: int, hw: int, outputs: list[tuple[str, list]]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "layout", [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", c, hw, hw])],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs],
            self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def resnet_like(seed: int = 0) -> onnx.ModelProto:
    """A ResNet-shaped network on 16 x 14 x 14 inputs: a 3x3 stem, bottleneck
    blocks with residual adds (one with a stride-2 3x3 and a strided 1x1
    downsample), Clip / LeakyRelu / HardSwish activations, a 3x3 conv of 16
    output channels (under the AVX-512 tile's 32 columns: the NCHW fallback
    inside the region), 1x1 convs over 1024 channels (their pixels packed),
    then a global pool. The first block's output is also a network output
    (read outside the region)."""
    g = _Net(seed)
    stem = g.conv("x", 16, 32, k=3)
    a = g.conv(stem, 32, 16)
    a = g.conv(a, 16, 16, k=3)
    a = g.conv(a, 16, 32, act=None)
    b1 = g.add(a, stem)
    a = g.conv(b1, 32, 32)
    a = g.conv(a, 32, 32, k=3, stride=2)
    a = g.conv(a, 32, 64, act=None)
    d = g.conv(b1, 32, 64, stride=2, act=None)
    b2 = g.add(a, d)
    a = g.conv(b2, 64, 32, act="Clip")
    a = g.conv(a, 32, 32, k=3, act="LeakyRelu")
    a = g.conv(a, 32, 64, act=None)
    b3 = g.add(a, b2)
    a = g.conv(b3, 64, 1024, act="HardSwish")
    a = g.conv(a, 1024, 64, act=None)
    b4 = g.add(a, b3)
    a = g.conv(b4, 64, 32, k=3)
    a = g.conv(a, 32, 64, act=None)
    b5 = g.add(a, b4, act="Relu")
    g.nodes.append(helper.make_node("GlobalAveragePool", [b5], ["y"], name="gap"))
    return g.model("x", 16, 14, [("y", ["N", 64, 1, 1]), (b1, ["N", 32, 14, 14])])


def pointwise_pairs(seed: int = 1) -> onnx.ModelProto:
    """MobileNet's shape: 1x1 expansion, depthwise 3x3, 1x1 projection: the
    pointwise pairs between depthwise convs form regions of 2 convs and 2
    conversions, which the pass leaves NCHW."""
    g = _Net(seed)
    x = "x"
    for i in range(3):
        e = g.conv(x, 16, 64)
        w = g.name("dw")
        g.inits.append(numpy_helper.from_array(g.rng.standard_normal((64, 1, 3, 3)).astype(F32) / 3, w))
        d = g.name("dwconv")
        g.nodes.append(helper.make_node("Conv", [e, w], [d], name=d, group=64, kernel_shape=[3, 3], pads=[1] * 4))
        p = g.conv(d, 64, 16, act=None)
        x = g.add(p, x, act=None)
    g.nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return g.model("x", 16, 14, [("y", ["N", 16, 14, 14])])


def build(path: Path, channels_last: bool) -> int8rt.Engine:
    # the NHWC pass alone (channel-blocked regions, on by default, would take the pointwise pairs)
    return int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", channels_last=channels_last,
                                                          channel_blocked=False))


def inputs(batch: int, seed: int = 3) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((batch, 16, 14, 14)).astype(F32)}


def assert_same(got: dict, want: dict, where: str) -> None:
    assert got.keys() == want.keys(), where
    for k in want:
        assert got[k].shape == want[k].shape, f"{where} {k}: {got[k].shape} vs {want[k].shape}"
        diff = np.abs(got[k] - want[k]).max() if got[k].size else 0
        assert np.array_equal(got[k], want[k]), f"{where} {k}: max diff {diff}"


@pytest.mark.parametrize("isa", ISAS)
def test_resnet_like_same_bits_as_nchw(tmp_path: Path, isa: str) -> None:
    if not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    path = tmp_path / "resnet_like.onnx"
    onnx.save(resnet_like(), str(path))
    int8rt.set_max_isa(isa)  # layers choose their kernels when created
    nhwc, nchw = build(path, True), build(path, False)
    layers = nhwc.layers()
    ops = [layer["op"] for layer in layers]
    assert ops.count("int8rt.ToNHWC") == 1 and ops.count("int8rt.ToNCHW") == 2, ops
    convs = [layer for layer in layers if layer["op"] == "Conv"]
    assert len(convs) == 15 and all("layout=nhwc" in c["detail"] for c in convs), convs
    assert not any(layer["op"].startswith("int8rt.To") for layer in nchw.layers())
    assert any("channels-last: 1 region(s), 15 FP32 convs on NHWC tensors, 3 layout conversions" in line
               for line in nhwc.report()), nhwc.report()
    for batch in (1, 2, 3):
        x = inputs(batch, seed=batch)
        want = nchw.create_execution_context().run(x)
        assert want["y"].shape == (batch, 64, 1, 1)
        assert_same(nhwc.create_execution_context().run(x), want, f"{isa} batch {batch}")


def test_saved_engine_keeps_layout(tmp_path: Path) -> None:
    path = tmp_path / "resnet_like.onnx"
    onnx.save(resnet_like(2), str(path))
    engine = build(path, True)
    engine.save(tmp_path / "e.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "e.i8rt")
    assert [layer["detail"] for layer in loaded.layers()] == [layer["detail"] for layer in engine.layers()]
    x = inputs(2)
    assert_same(loaded.create_execution_context().run(x), build(path, False).create_execution_context().run(x),
                "loaded")


def test_batch_split_over_threads(tmp_path: Path) -> None:
    """The conversions work per image: a batch split over threads runs and
    gives the unsplit bytes."""
    path = tmp_path / "resnet_like.onnx"
    onnx.save(resnet_like(3), str(path))
    ctx = build(path, True).create_execution_context()
    want = build(path, False).create_execution_context().run(inputs(6))
    int8rt.set_num_threads(2)
    _testing.set_batch_split(1)
    before = _testing.batch_split_runs()
    got = ctx.run(inputs(6))
    assert _testing.batch_split_runs() > before
    assert_same(got, want, "split over 2 threads")
    _testing.set_batch_split(0)
    assert_same(ctx.run(inputs(6)), want, "2 threads unsplit")


def test_pointwise_pairs_stay_nchw(tmp_path: Path) -> None:
    path = tmp_path / "pairs.onnx"
    onnx.save(pointwise_pairs(), str(path))
    engine = build(path, True)
    assert not any(layer["op"].startswith("int8rt.To") for layer in engine.layers())
    assert not any("layout=nhwc" in layer["detail"] for layer in engine.layers())
    assert any("left NCHW (under 4 convs per conversion)" in line for line in engine.report()), engine.report()
    x = inputs(2)
    assert_same(engine.create_execution_context().run(x), build(path, False).create_execution_context().run(x),
                "pairs")


MODELS = {"resnet50": ("/tmp/r50fp32/resnet50.onnx", "/tmp/fp32gap/resnet50.onnx"),
          "mobilenet_v2": ("/tmp/fp32gap/mobilenet_v2.onnx",)}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
def test_torchvision_exports(model: str) -> None:
    """torchvision-shaped ResNet-50 (one region, 52 convs) and MobileNetV2
    (no region kept) exports, where an earlier session left them
    (benchmarks/e2e_bench.py / fp32_onnx_ab.py make them): the same bytes
    as the NCHW engine."""
    path = next((p for p in MODELS[model] if os.path.exists(p)), None)
    if path is None:
        pytest.skip(f"no {model} export on this machine")
    nhwc, nchw = build(Path(path), True), build(Path(path), False)
    convs = [layer for layer in nhwc.layers() if "layout=nhwc" in layer["detail"]]
    assert len(convs) == (52 if model == "resnet50" else 0)
    x = {nhwc.input_names[0]: np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(F32)}
    assert_same(nhwc.create_execution_context().run(x), nchw.create_execution_context().run(x), model)
