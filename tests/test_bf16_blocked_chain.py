"""The BF16 channel-blocked region's image chain (engine/bf16_blocked_chain.h,
RESULTS.md sections 215, 246): where a vector kernel runs the region (AMX,
AVX512-BF16), its first layers on planes of at least 28 x 28 pixels with
small weights become one int8rt.Bf16ImageChain node run image by image,
with the unchained layers' bits.

The twin without a chain is the same network with one more output: a
tensor read outside the run after its second conv, so no cut of the run
leaves one tensor read after it (the rule) with at least 4 convs; its
layers and their arithmetic are otherwise the same (both uncapped: the
AMX order where AMX-BF16 runs, else VDPBF16PS's), so the two give the same
bits. Runs only where a vector kernel runs the region (a hardware reason:
no region, so no chain, on the reference tier).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402

from test_bf16_blocked import _block_model, _build  # noqa: E402

CHAIN = "int8rt.Bf16ImageChain"
HW = (30, 30)  # 900 pixels per plane: the body's five convs before its stride-2 depthwise chain


@pytest.fixture
def engines(tmp_path):
    int8rt.set_max_isa(None)  # both engines uncapped (no bf16_order cap here: where AMX-BF16 runs, both in its order)
    chained, plain = tmp_path / "chained.onnx", tmp_path / "plain.onnx"
    chained.write_bytes(_block_model(16, 48, 32, pool=False, hw=HW))
    plain.write_bytes(_block_model(16, 48, 32, pool=False, hw=HW, extra_outputs=("t1",)))
    built = _build(chained, True), _build(plain, True)
    if not any("Bf16x16c" in la["op"] for la in built[1].layers()):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here: no region, no chain")
    return built


def _ops(engine) -> list:
    return [la["op"] for la in engine.layers()]


def test_the_chain_is_built_and_said(engines) -> None:
    chained, plain = engines
    ops = _ops(chained)
    assert ops.count(CHAIN) == 1 and ops.count("int8rt.ConvBf16x16c") == 2, ops  # 5 of 7 convs chained
    assert CHAIN not in _ops(plain), _ops(plain)
    assert any("5 layers from" in line and "run image by image" in line for line in chained.report()), \
        chained.report()
    detail = next(la["detail"] for la in chained.layers() if la["op"] == CHAIN)
    assert "chain of 5 NCHW16c layers" in detail, detail


def assert_chain_bits(chained, x: np.ndarray, want: np.ndarray) -> None:
    """`chained`'s output "y" on `x` has `want`'s bits, at the thread count
    set, again on the same context state, and at 2 threads (a split batch, or
    each image's layers split there); test_int8_image_chain.py uses it too."""
    np.testing.assert_array_equal(chained.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))
    threads = int8rt.get_num_threads()
    try:
        int8rt.set_num_threads(2)
        np.testing.assert_array_equal(chained.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))
    finally:
        int8rt.set_num_threads(threads)


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_the_chain_gives_the_unchained_bits(engines, batch) -> None:
    chained, plain = engines
    x = np.random.default_rng(215).standard_normal((batch, 16, *HW)).astype(np.float32)
    want = plain.run({"x": x})["y"]
    assert_chain_bits(chained, x, want)


def test_an_engine_file_with_a_chain_loads_and_gives_its_bits(engines, tmp_path) -> None:
    chained, _ = engines
    x = np.random.default_rng(216).standard_normal((2, 16, *HW)).astype(np.float32)
    want = chained.run({"x": x})["y"]
    path = tmp_path / "chained.i8rt"
    chained.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    assert CHAIN in _ops(loaded)
    np.testing.assert_array_equal(loaded.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))


def test_a_batch_whose_images_differ_is_not_mixed(engines) -> None:
    """Each image's output is its own: one image alone == its row of a batch."""
    chained, _ = engines
    x = np.random.default_rng(217).standard_normal((4, 16, *HW)).astype(np.float32)
    x[2] *= 8.0
    whole = chained.run({"x": x})["y"]
    for n in range(4):
        alone = chained.run({"x": x[n:n + 1].copy()})["y"]
        np.testing.assert_array_equal(alone.view(np.uint32), whole[n:n + 1].view(np.uint32))


def test_an_empty_batch_runs_to_an_empty_output(engines) -> None:
    # No image to run: the output has the unchained engine's (empty) shape.
    chained, plain = engines
    x = np.zeros((0, 16, *HW), np.float32)
    assert chained.run({"x": x})["y"].shape == plain.run({"x": x})["y"].shape == (0, 32, 15, 15)
