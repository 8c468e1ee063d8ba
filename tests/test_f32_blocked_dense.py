"""ResNet-shaped channel-blocked (NCHW16c) regions (csrc/engine/f32_blocked.h):
the dense convs from blocked inputs (3x3 at strides 1 / 2, a strided 1x1
projection, a 3x3 with a fused residual, a 5x5 whose reduction runs in
slices) and the blocked MaxPool (kernels/abi/nchw16c_f32.h's conv and max
pool), behind a 7x7 / stride 2 stem, with odd channel counts (not multiples
of 16) and planes whose rows have edge and inner tiles (31 x 39 -> 16 x 20
-> 8 x 10), built with BuilderConfig(channel_blocked=True):
  - the region runs every conv and the MaxPool, from the stem to the global
    average pool (one conversion: an inner output);
  - the reference and AVX-512 tiers give the same bytes at batch 1 and 3;
  - every output is within test_f32_blocked.Net's float64 bound on both tiers
    (and within 2e-6 of the output's largest magnitude), and so is the NCHW
    engine's;
  - a saved and loaded engine, a batch split over 2 threads and the layers'
    own tasks over 2 threads give the same bytes;
  - dilated, unevenly padded and strided convs (convs whose weights outweigh
    an image run each weight slice over several images): tiers ==, within
    2e-6 of the NCHW engine."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

import int8rt
from test_f32_blocked import NEEDS_REGIONS, F32, Net, build, check_saved_and_threads, same_bytes_on_tiers
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)

SHAPE = (61, 77)


def resnet_like(seed: int = 4) -> tuple[Net, onnx.ModelProto]:
    """Stem 7x7 / 2 + Relu, MaxPool 3x3 / 2; a bottleneck with a 1x1
    projection (1x1, 3x3, 1x1 + residual + Relu); a stride-2 bottleneck with
    a strided 1x1 projection; a 3x3 + residual + Relu (the conv kernel's
    residual, K = 360: sliced); a 5x5 + Clip (K = 1000); the global pool. The
    first bottleneck's output is also a network output."""
    n = Net(seed)
    stem = n.conv("x", 3, 24, k=7, stride=2, act="Relu")
    p = n.maxpool(stem)
    a = n.conv(p, 24, 21, act="Relu")
    b = n.conv(a, 21, 21, k=3, act="Relu")
    c = n.conv(b, 21, 37, residual=n.conv(p, 24, 37), act="Relu")
    a2 = n.conv(c, 37, 19, act="Relu")
    b2 = n.conv(a2, 19, 19, k=3, stride=2, act="Relu")
    c2 = n.conv(b2, 19, 40, residual=n.conv(c, 37, 40, stride=2), act="Relu")
    r3 = n.conv(c2, 40, 40, k=3, residual=c2, act="Relu")
    f = n.conv(r3, 40, 17, k=5, act="Clip")
    return n, n.model(3, [(n.mean(f), [17, 1, 1]), (c, [37, 16, 20])], hw=SHAPE)


def images(batch: int) -> dict:
    return {"x": np.random.default_rng(10 + batch).standard_normal((batch, 3, *SHAPE)).astype(F32)}


@pytest.fixture
def model(tmp_path: Path) -> tuple[Net, Path]:
    net, m = resnet_like()
    path = tmp_path / "resnet_like.onnx"
    onnx.save(m, str(path))
    return net, path


@NEEDS_REGIONS
def test_region_runs_the_whole_body(model) -> None:
    _, path = model
    engine = build(path)
    layers = engine.layers()
    ops = [layer["op"] for layer in layers]
    details = [layer["detail"] for layer in layers if "layout=nchw16c" in layer["detail"]]
    assert len(details) == 11, [layer["detail"] for layer in layers]
    dense = [d for d in details if "conv2d dense" in d and "from NCHW" not in d]
    assert len(dense) == 4, details  # 3x3, 3x3 / 2, 3x3 + residual, 5x5
    assert sum("dense from NCHW" in d for d in details) == 1
    assert ops.count("int8rt.MaxPool16c") == 1 and "MaxPool" not in ops, ops
    assert "int8rt.ToNCHW16c" not in ops and ops.count("int8rt.FromNCHW16c") == 1, ops
    assert ops.count("int8rt.GlobalAveragePool16c") == 1
    assert any("channel-blocked: 1 region(s), 11 FP32 convs on NCHW16c tensors, 1 layout conversions" in line
               for line in engine.report()), engine.report()


@NEEDS_REGIONS
@pytest.mark.parametrize("batch", [1, 3])
def test_tiers_give_the_same_bytes(model, batch: int) -> None:
    _, path = model
    same_bytes_on_tiers(path, images(batch), f"batch {batch}")


def check_bound(net: Net, engine: int8rt.Engine, x: dict, what: str) -> None:
    want = net.evaluate(x["x"])
    for name, y in engine.create_execution_context().run(x).items():
        v, e = want[name]
        err = np.abs(y.astype(np.float64) - v)
        worst = np.unravel_index(np.argmax(err - e), err.shape)
        assert np.all(err <= e), f"{what} {name}: |{y[worst]} - {v[worst]}| > bound {e[worst]} at {worst}"
        # The tight check (test_f32_blocked.py): a lost tap, lane or slice
        # is 1e-2 or more of the output's magnitude, rounding 1e-7.
        assert err.max() <= 2e-6 * np.abs(v).max(), f"{what} {name}: max error {err.max()}"


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("isa", ["ref", "avx512"])
def test_outputs_within_the_bound(model, batch: int, isa: str) -> None:
    net, path = model
    check_bound(net, build(path, isa), images(batch), f"{isa} batch {batch}")


def test_nchw_engine_is_within_the_same_bound(model) -> None:
    net, path = model
    check_bound(net, build(path, blocked=False), images(2), "NCHW engine")


def test_saved_engine_and_threads(model, tmp_path: Path) -> None:
    _, path = model
    check_saved_and_threads(build(path), images(4), tmp_path)


def conv_node(rng, inits: list, name: str, x: str, cin: int, cout: int, k: tuple, bias: bool = False,
              **attrs) -> onnx.NodeProto:
    """A Conv node with seeded weights (and a bias) appended to inits."""
    w = (rng.standard_normal((cout, cin, *k)) / np.sqrt(cin * k[0] * k[1])).astype(F32)
    inits.append(onnx.numpy_helper.from_array(w, name + "_w"))
    inputs = [x, name + "_w"]
    if bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(cout).astype(F32) * 0.1, name + "_b"))
        inputs.append(name + "_b")
    return onnx.helper.make_node("Conv", inputs, [name], name=name, kernel_shape=list(k), **attrs)


def check_tiers_and_nchw(path: Path, nodes: list, inits: list, x: np.ndarray, out: tuple, dense: int) -> None:
    """Saves the graph (input "x" of x's shape, batch dynamic; output out = (name, shape)), then: the blocked
    engine runs `dense` dense convs from blocked inputs, its tiers give the same bytes, and each is within 2e-6 of
    the NCHW engine (which the bound tests above hold to the exact value)."""
    graph = onnx.helper.make_graph(
        nodes, path.stem, [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", *x.shape[1:]])],
        [onnx.helper.make_tensor_value_info(out[0], onnx.TensorProto.FLOAT, ["N", *out[1]])], inits)
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)]), str(path))
    want = build(path, blocked=False).create_execution_context().run({"x": x})[out[0]].astype(np.float64)
    got = {}
    for isa in ("ref", "avx512"):
        engine = build(path, isa)
        details = [layer["detail"] for layer in engine.layers()]
        assert sum("conv2d dense" in d and "nchw16c" in d and "NCHW" not in d for d in details) == dense, details
        got[isa] = engine.create_execution_context().run({"x": x})[out[0]]
        err = np.abs(got[isa] - want).max() / np.abs(want).max()
        assert got[isa].shape == want.shape and err <= 2e-6, f"{isa}: {err}"
    assert np.array_equal(got["avx512"], got["ref"])


@NEEDS_REGIONS
def test_dilated_and_uneven_padding(tmp_path: Path) -> None:
    """A 3x3 conv at dilation 2 and a 2x3 / stride (1, 2) conv with pads (0, 1, 1, 2) between 1x1 convs: the conv
    kernel's dilation and its begin / end padding on each axis (check_tiers_and_nchw)."""
    rng, inits = np.random.default_rng(8), []
    nodes = [conv_node(rng, inits, "a", "x", 20, 33, (1, 1)),
             conv_node(rng, inits, "b", "a", 33, 33, (3, 3), dilations=[2, 2], pads=[2, 2, 2, 2]),
             conv_node(rng, inits, "c", "b", 33, 21, (2, 3), strides=[1, 2], pads=[0, 1, 1, 2]),
             conv_node(rng, inits, "d", "c", 21, 18, (1, 1))]
    x = np.random.default_rng(9).standard_normal((2, 20, 13, 37)).astype(F32)
    check_tiers_and_nchw(tmp_path / "dilated.onnx", nodes, inits, x, ("d", [18, 13, 19]), 2)


@NEEDS_REGIONS
def test_strided_convs_over_several_images(tmp_path: Path) -> None:
    """Strided dense convs from blocked inputs at batch 3: a 3x3 / 2 on an odd width (27) with a fused residual and
    Relu (blocks inner), a 5x5 / 3 with pads 2 to 470 channels (weights outweigh an image: images inner, one per
    task), and a 3x3 / (1, 2) from those 470 channels, whose 4 blocks' weights (1.08 MB) pass L2, so a task runs
    each weight slice over the 3 images (DenseNchw16c::images); biases (check_tiers_and_nchw)."""
    rng, inits = np.random.default_rng(12), []
    nodes = [conv_node(rng, inits, "a", "x", 19, 35, (1, 1), bias=True),
             conv_node(rng, inits, "b", "a", 35, 35, (3, 3), bias=True, strides=[2, 2], pads=[1, 1, 1, 1]),
             conv_node(rng, inits, "p", "a", 35, 35, (1, 1), bias=True, strides=[2, 2]),
             onnx.helper.make_node("Add", ["b", "p"], ["s"]),
             onnx.helper.make_node("Relu", ["s"], ["r"]),
             conv_node(rng, inits, "c", "r", 35, 470, (5, 5), bias=True, strides=[3, 3], pads=[2, 2, 2, 2]),
             conv_node(rng, inits, "d", "c", 470, 23, (3, 3), bias=True, strides=[1, 2], pads=[1, 1, 1, 1]),
             conv_node(rng, inits, "e", "d", 23, 18, (1, 1), bias=True)]
    x = np.random.default_rng(13).standard_normal((3, 19, 17, 27)).astype(F32)
    check_tiers_and_nchw(tmp_path / "strided.onnx", nodes, inits, x, ("e", [18, 3, 3]), 3)
