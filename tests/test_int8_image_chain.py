"""The INT8 image chain (engine/int8_image_chain.h, RESULTS.md section 219):
where the AMX int8 kernels run them, an INT8 network's first layers on
planes of at least 28 x 28 pixels with small weights become one
int8rt.Int8ImageChain layer run image by image, with the unchained layers'
bytes (integer arithmetic, compared with ==).

The twin without a chain is the same network with one more output: a
tensor inside the run, so no cut of it leaves one tensor read after it
with at least 4 convs; the engine capped below AMX (no chain either) is
the other oracle. The chained engine's network (Engine.network(), its
file, the int8 plan) keeps every layer. The chain is built only where the
AMX-INT8 kernels run (a hardware reason for the skips).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

from onnx import helper, numpy_helper  # noqa: E402

import int8rt  # noqa: E402
from onnx_models import fvi, model  # noqa: E402
from test_bf16_blocked_chain import assert_chain_bits  # noqa: E402

CHAIN = "int8rt.Int8ImageChain"
C, HW = 8, (64, 64)  # 64 channels on 64 x 64 planes: 256 KiB an image, the rule's least


def chain_model(extra_outputs: tuple = (), hw: tuple = HW):
    """x [N, 8, 64, 64] -> six convs (a residual add, a 2x2 max pool) on
    64 x 64 / 32 x 32 planes, then a stride-2 conv to 16 x 16 (too small a
    plane to chain): the chain is the entry quantize to conv c5. Each of
    `extra_outputs` (t0 .. t6, 64 x 64 ones) is a network output too."""
    rng = np.random.default_rng(219)
    inits, nodes = [], []

    def conv(name, src, dst, cin, cout, k=3, stride=1, relu=True):
        w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        b = (0.1 * rng.standard_normal(cout)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, name + ".w"), numpy_helper.from_array(b, name + ".b")])
        out = dst + "_pre" if relu else dst
        nodes.append(helper.make_node("Conv", [src, name + ".w", name + ".b"], [out], name=name,
                                      kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride, stride]))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [dst], name=name + ".relu"))

    conv("c0", "x", "t0", C, 64)
    conv("c1", "t0", "t1", 64, 32, k=1)
    conv("c2", "t1", "t2", 32, 32)
    conv("c3", "t2", "t3", 32, 64, k=1, relu=False)
    nodes.append(helper.make_node("Add", ["t3", "t0"], ["t4_pre"], name="add"))
    nodes.append(helper.make_node("Relu", ["t4_pre"], ["t4"], name="add.relu"))
    nodes.append(helper.make_node("MaxPool", ["t4"], ["t5"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    conv("c5", "t5", "t6", 64, 64)
    conv("c6", "t6", "y", 64, 64, stride=2)
    channels = {"t0": 64, "t1": 32, "t2": 32, "t3": 64, "t4": 64}
    outputs = [fvi("y", ["N", 64, hw[0] // 4, hw[1] // 4])] + [fvi(t, ["N", channels[t], *hw]) for t in extra_outputs]
    return model(nodes, [fvi("x", ["N", C, *hw])], outputs, inits)


def _amx_int8() -> bool:
    info = int8rt.kernels.isa_info()["amx"]
    return bool(info["compiled"] and info["cpu"] and int8rt.kernels.cpu_features().get("amx_int8"))


def _build(extra_outputs: tuple = ()):
    rng = np.random.default_rng(7)
    calib = [{"x": rng.standard_normal((2, C, *HW), dtype=np.float32)} for _ in range(2)]
    return int8rt.build_engine(chain_model(extra_outputs),
                               int8rt.BuilderConfig(calibrator=calib, accuracy_check=False))


def _ops(engine) -> list:
    return [la["op"] for la in engine.layers()]


def _images(batch: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((batch, C, *HW)).astype(np.float32)
    if batch > 2:
        x[2] *= 4.0  # images that differ: one mixed into another shows
    return x


@pytest.fixture(scope="module")
def engines():
    if not _amx_int8():
        pytest.skip("the chain is built only where the AMX-INT8 kernels run (CPU or build lacks them)")
    before = int8rt.get_max_isa()
    int8rt.set_max_isa(None)
    try:
        yield _build(), _build(("t2",))
    finally:
        int8rt.set_max_isa(before)


def test_the_chain_is_built_and_its_layers_still_named(engines) -> None:
    chained, plain = engines
    ops = _ops(chained)
    assert ops.count(CHAIN) == 1 and ops.count("int8rt.QConv") == 1, ops  # c6 (16 x 16) left out
    assert CHAIN not in _ops(plain), _ops(plain)
    layer = next(la for la in chained.layers() if la["op"] == CHAIN)
    assert layer["precision"] == "int8", layer
    detail = layer["detail"]
    assert "int8 chain of 7 layers run image by image" in detail and "'c5'" in detail, detail
    # The engine's network (the plan's, inspect's and the accuracy tools' view) keeps every layer.
    names = {n["name"] for n in chained.network().nodes()}
    assert {"c0", "c1", "c2", "c3", "c5", "c6", "pool"} <= names, names
    assert not any(n["op"] == CHAIN for n in chained.network().nodes())
    plan = {la.name for la in chained.int8_plan().layers}
    assert {"c0", "c5", "pool"} <= plan <= names, plan
    rows = [r["name"] for r in chained.create_execution_context().profile({"x": _images(2, 1)}, runs=1)]
    assert "int8_chain:x::quantize" in rows, rows


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_the_chain_gives_the_unchained_bytes(engines, batch) -> None:
    chained, plain = engines
    x = _images(batch, 219 + batch)
    assert_chain_bits(chained, x, plain.run({"x": x})["y"])


def test_an_engine_file_keeps_every_layer_and_chains_again_at_load(engines, tmp_path) -> None:
    chained, _ = engines
    x = _images(3, 5)
    want = chained.run({"x": x})["y"]
    path = tmp_path / "chained.i8rt"
    chained.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    assert CHAIN in _ops(loaded)
    assert {"c0", "c5"} <= {n["name"] for n in loaded.network().nodes()}
    np.testing.assert_array_equal(loaded.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))


def test_the_file_of_a_chained_engine_is_the_unchained_file(engines, tmp_path) -> None:
    """The engine runs the chained copy and rebuilds the network as given
    from it when asked (image_chain.h's unchain_images): its file is byte
    for byte the file of the same engine loaded where nothing chains, and
    a chained engine loaded from it saves that file again."""
    chained, _ = engines
    first, again, capped_file = (tmp_path / n for n in ("first.i8rt", "again.i8rt", "capped.i8rt"))
    chained.save(str(first))
    int8rt.Engine.load(str(first)).save(str(again))
    try:
        int8rt.set_max_isa("avx512vnni")
        capped = int8rt.Engine.load(str(first))
        assert CHAIN not in _ops(capped)
        capped.save(str(capped_file))
    finally:
        int8rt.set_max_isa(None)
    assert first.read_bytes() == capped_file.read_bytes()
    assert again.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("isa", ["avx512vnni", "avxvnni"])
def test_below_amx_no_chain_and_the_same_bytes(engines, tmp_path, isa) -> None:
    chained, _ = engines
    x = _images(3, 6)
    want = chained.run({"x": x})["y"]
    path = tmp_path / "chained.i8rt"
    chained.save(str(path))
    try:
        int8rt.set_max_isa(isa)
        capped = int8rt.Engine.load(str(path))
        assert CHAIN not in _ops(capped), _ops(capped)
        np.testing.assert_array_equal(capped.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))
    finally:
        int8rt.set_max_isa(None)


def test_a_batch_whose_images_differ_is_not_mixed(engines) -> None:
    """Each image's output is its own: one image alone == its row of a batch."""
    chained, _ = engines
    x = _images(4, 8)
    whole = chained.run({"x": x})["y"]
    for n in range(4):
        alone = chained.run({"x": x[n:n + 1].copy()})["y"]
        np.testing.assert_array_equal(alone.view(np.uint32), whole[n:n + 1].view(np.uint32))


def test_a_small_network_is_left_unchained(engines) -> None:
    """The same layers on 32 x 32 planes (64 KiB an image at most) stay in cache at any batch: no chain."""
    calib = [{"x": np.random.default_rng(9).standard_normal((2, C, 32, 32), dtype=np.float32)}]
    engine = int8rt.build_engine(chain_model(hw=(32, 32)), int8rt.BuilderConfig(calibrator=calib, accuracy_check=False))
    assert CHAIN not in _ops(engine), _ops(engine)
    assert "int8rt.QConv" in _ops(engine)


def test_compare_names_every_chained_layer(engines) -> None:
    """int8rt compare reads the engine's network (every layer) and taps it:
    each chained layer's tensor gets its row."""
    from int8rt.accuracy.compare import compare

    chained, _ = engines
    rows = compare(chain_model(), chained, {"x": _images(2, 10)}, batch_size=2)
    layers = {r.layer for r in rows}
    assert {"c0", "c1", "c2", "c3", "pool", "c5", "c6"} <= layers, layers
