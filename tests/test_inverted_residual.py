"""Fused int8 inverted-residual blocks (csrc/engine/inverted_residual.h):
expand 1x1 -> (table) -> depthwise -> (table) -> project 1x1 run band by
band must give the bytes of the same layers run one by one (==). The
reference engine is the same network with the tensors the depthwise reads
and writes also network outputs, which keeps every block unfused (those
tensors have a second reader); both engines read one calibration cache, so
their scales are equal.

Covered: MobileNetV2 / EfficientNet-Lite blocks (Clip or Relu fused into
the convs) and MobileNetV3's HardSwish blocks (an int8rt.QLut table after
the expansion and after the depthwise, applied to each band's rows). Its
squeeze-excite blocks and blocks without an expansion stay unfused (they
did not pay, benchmarks/RESULTS.md section 37), and so do blocks that at most
double the channels (PP-OCR rec's, section 50). A block without a residual
ends in the network output: its projection writes float32 (a conv head,
lower_int8_conv_head.cc) and the runner still drives it."""
from __future__ import annotations

from pathlib import Path
from typing import List, NamedTuple, Tuple

import numpy as np
import onnx
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32


class Case(NamedTuple):
    c: int                # input channels (the expanded ones without an expansion)
    e: int                # expanded channels
    k: int                # output channels
    hw: Tuple[int, int]   # input height, width
    r: int                # depthwise kernel size
    stride: int
    pad: int
    residual: bool        # project output + x
    act: str              # "clip" (ReLU6), "relu" or "hardswish" after the expansion and the depthwise
    batch: int
    expand: bool = True   # False: x feeds the depthwise (c == e)
    se: bool = False      # squeeze-excite between the depthwise and the projection
    fused_nodes: int = 3  # nodes run as one step by the fused engine (0: none)


def exposed_tensors(case: Case) -> List[str]:
    """The tensors the depthwise reads and writes (before the table with
    HardSwish, which stays an int8rt.QLut only on an int8 tensor)."""
    if case.act == "hardswish":
        return (["c1"] if case.expand else []) + ["c2"]
    return (["t"] if case.expand else []) + ["u"]


def block_model(case: Case, expose: bool, seed: int) -> onnx.ModelProto:
    """x [N, c, H, W] -> (Conv 1x1 c -> e -> act) -> depthwise Conv r x r
    (stride, pad) -> act -> (squeeze-excite) -> Conv 1x1 (e -> k) [+ x] -> y."""
    c, e, k, r, s, p = case.c, case.e, case.k, case.r, case.stride, case.pad
    rng = np.random.default_rng(seed)

    def act(i: str, o: str) -> onnx.NodeProto:
        if case.act == "clip":
            return helper.make_node("Clip", [i, "lo", "hi"], [o])
        return helper.make_node("Relu" if case.act == "relu" else "HardSwish", [i], [o])
    nodes = []
    t = "x"
    if case.expand:
        nodes += [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]), act("c1", "t")]
        t = "t"
    nodes += [helper.make_node("Conv", [t, "w2", "b2"], ["c2"], group=e, strides=[s, s], pads=[p, p, p, p]),
              act("c2", "u")]
    v = "u"
    if case.se:
        nodes += [helper.make_node("GlobalAveragePool", ["u"], ["g0"]),
                  helper.make_node("Conv", ["g0", "ws1", "bs1"], ["g1"]), helper.make_node("Relu", ["g1"], ["g2"]),
                  helper.make_node("Conv", ["g2", "ws2", "bs2"], ["g3"]),
                  helper.make_node("HardSigmoid", ["g3"], ["g4"], alpha=1.0 / 6),
                  helper.make_node("Mul", ["u", "g4"], ["v"])]
        v = "v"
    nodes.append(helper.make_node("Conv", [v, "w3", "b3"], ["p" if case.residual else "y"]))
    if case.residual:
        nodes.append(helper.make_node("Add", ["p", "x"], ["y"]))
    inits = [init("w2", (rng.standard_normal((e, 1, r, r)) / r).astype(F32)),
             init("b2", (rng.standard_normal(e) * 0.5).astype(F32)),
             init("w3", (rng.standard_normal((k, e, 1, 1)) / np.sqrt(e)).astype(F32)),
             init("b3", (rng.standard_normal(k) * 0.1).astype(F32)),
             init("lo", np.array(0.0, F32)), init("hi", np.array(6.0, F32))]
    if case.expand:
        inits += [init("w1", (rng.standard_normal((e, c, 1, 1)) / np.sqrt(c)).astype(F32)),
                  init("b1", (rng.standard_normal(e) * 0.5).astype(F32))]
    if case.se:
        q = max(8, e // 4)
        inits += [init("ws1", (rng.standard_normal((q, e, 1, 1)) / np.sqrt(e)).astype(F32)),
                  init("bs1", (rng.standard_normal(q) * 0.1).astype(F32)),
                  init("ws2", (rng.standard_normal((e, q, 1, 1)) / np.sqrt(q)).astype(F32)),
                  init("bs2", (rng.standard_normal(e) * 0.5 + 1).astype(F32))]
    outputs = [fvi("y", None)] + ([fvi(n, None) for n in exposed_tensors(case)] if expose else [])
    return onnx.shape_inference.infer_shapes(model(nodes, [fvi("x", ["N", c, *case.hw])], outputs, inits))


# Each block's kept tensor (the expanded one, or the depthwise output without
# an expansion) is at least 256 KiB over the batch (inverted_residual.cc's
# kMinExpandedBytes) and spans 3-6 bands of 384 KiB (kBandBytes) per image.
CASES = [
    Case(16, 96, 16, (112, 56), 3, 1, 1, True, "clip", 2),   # MobileNetV2 stride-1 block with residual
    Case(16, 96, 24, (171, 55), 3, 2, 1, False, "clip", 3),  # stride 2, odd sizes
    Case(24, 144, 24, (131, 31), 5, 1, 2, True, "relu", 2),  # 5x5, ReLU, odd sizes
    Case(8, 72, 12, (243, 61), 5, 2, 2, False, "relu", 3),   # 5x5 stride 2, odd batch
    Case(12, 40, 12, (200, 120), 3, 1, 1, True, "clip", 1),  # batch 1: parts of one image on 2 threads
    # MobileNetV3: HardSwish tables after the expansion and the depthwise
    Case(24, 120, 24, (131, 45), 5, 1, 2, True, "hardswish", 2, fused_nodes=5),
    Case(16, 88, 24, (153, 47), 3, 2, 1, False, "hardswish", 3, fused_nodes=5),
]


def engines(tmp_path: Path, case: Case) -> Tuple[object, object, np.ndarray]:
    """The block's INT8 engine and its layer-by-layer twin: the same lowered
    network with the exposed tensors also read by a Dequantize
    (accuracy/taps.py's int8_tap_engine), so no block fuses, with the same
    grids and kernels. (A network output cannot stand in: a tensor that is
    one takes no grid that clips what its readers ignore, such as a
    HardSwish input's [-3, T] (lower_int8_zero_points.cc), nor a
    per-channel grid.)"""
    from int8rt.accuracy.taps import int8_tap_engine
    from int8rt.engine import Engine

    seed = sum(map(int, [case.c, case.e, case.k, *case.hw, case.r, case.stride]))
    x = np.random.default_rng(seed).standard_normal((case.batch, case.c, *case.hw)).astype(F32)
    m = block_model(case, False, seed)
    cal = int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=case.batch)
    # per-tensor grids: the runner is what is compared (per-channel ones: test_channel_grids.py)
    fused = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="int8", calibrator=cal,
                                                                            channel_activations=False))
    names = exposed_tensors(case)
    shapes = {vi.name: [case.batch] + [d.dim_value for d in vi.type.tensor_type.shape.dim[1:]]
              for vi in m.graph.value_info if vi.name in names}
    twin, _ = int8_tap_engine(fused._native.network(), shapes, names)
    return fused, Engine(twin), x


INT8_OPS = ("int8rt.QConv", "int8rt.QLut")


def layer_ms(profile: List[dict]) -> List[float]:
    """The int8 conv and table layers' times, in execution order."""
    return [layer["ms"] for layer in profile if layer["op"] in INT8_OPS]


def case_id(c: Case) -> str:
    return (f"c{c.c}e{c.e}k{c.k}_{c.hw[0]}x{c.hw[1]}_r{c.r}s{c.stride}{'_res' if c.residual else ''}_{c.act}"
            f"{'_se' if c.se else ''}{'' if c.expand else '_noexpand'}_n{c.batch}")


UNFUSED = [
    # squeeze-excite between the depthwise and the projection (HardSwish on
    # the depthwise read by the gate's pool and multiply through float tables)
    Case(16, 72, 24, (161, 57), 5, 2, 2, False, "hardswish", 3, se=True, fused_nodes=0),
    # the first block: depthwise -> projection, no expansion
    Case(16, 16, 24, (300, 150), 3, 1, 1, False, "clip", 1, expand=False, fused_nodes=0),
    # an expansion that only doubles the channels (PP-OCR rec's blocks), 900 KiB expanded over the batch
    Case(32, 64, 32, (120, 60), 5, 1, 2, False, "hardswish", 2, fused_nodes=0),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_block_equals_layer_by_layer(tmp_path: Path, case: Case, threads: int) -> None:
    fused, reference, x = engines(tmp_path, case)
    if case.act == "hardswish":  # the tables the runner applies are there (the gate's
        # pool and multiply read the depthwise's HardSwish through float tables)
        assert sum(layer["op"] == "int8rt.QLut" for layer in fused.layers()) == (1 if case.se else 2)
    # Without a residual the projection is the network output and writes float32 from its
    # accumulators (lower_int8_conv_head.cc): the runner drives it, no Dequantize follows.
    ops = [layer["op"] for layer in fused.layers()]
    assert ("int8rt.Dequantize" in ops) == case.residual, ops
    before = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        y = fused.run({"x": x})["y"]
        y_ref = reference.run({"x": x})["y"]
        # The fused engine ran the block as one step: run_timed gives its
        # time to the block's first node and none to the others (the
        # reference times every layer).
        ms = layer_ms(fused.create_execution_context().profile({"x": x}, 1))
        ms_ref = layer_ms(reference.create_execution_context().profile({"x": x}, 1))
    finally:
        int8rt.set_num_threads(before)
    assert len(ms) == len(ms_ref) and ms[0] > 0, ms
    assert ms[1:case.fused_nodes] == [0.0] * (case.fused_nodes - 1), ms
    assert min(ms[case.fused_nodes:], default=1) > 0 and min(ms_ref) > 0, (ms, ms_ref)
    assert y.shape == y_ref.shape
    diff = np.flatnonzero(y != y_ref)
    assert diff.size == 0, f"{diff.size} outputs differ, first at {np.unravel_index(diff[0], y.shape)}: " \
                           f"{y.flat[diff[0]]} vs {y_ref.flat[diff[0]]}"
    assert np.unique(np.round(y / max(np.abs(y).max(), 1e-6) * 127)).size > 32  # not saturated / constant


@pytest.mark.parametrize("case", UNFUSED, ids=case_id)
def test_blocks_that_do_not_pay_run_unfused(tmp_path: Path, case: Case) -> None:
    """Squeeze-excite blocks, blocks without an expansion and blocks whose
    expansion at most doubles the channels run layer by layer (every layer
    timed) and give the reference's bytes."""
    fused, reference, x = engines(tmp_path, case)
    ms = layer_ms(fused.create_execution_context().profile({"x": x}, 1))
    assert len(ms) >= 2 and min(ms) > 0, ms
    assert np.array_equal(fused.run({"x": x})["y"], reference.run({"x": x})["y"])


def test_small_batch_runs_unfused(tmp_path: Path) -> None:
    """Below kMinExpandedBytes (256 KiB) the block runs layer by layer (the
    expanded tensor stays in cache anyway): all layers are timed."""
    fused, _, x = engines(tmp_path, Case(16, 96, 16, (20, 20), 3, 1, 1, True, "hardswish", 2))
    ms = layer_ms(fused.create_execution_context().profile({"x": x}, 1))
    assert len(ms) == 5 and min(ms) > 0, ms
