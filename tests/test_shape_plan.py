"""The executor's shape plans (shape_plan.h: one per input-shape signature,
at most shape_plan_capacity, least recently used replaced): runs at a
signature with a plan size their tensors from it instead of inferring every
layer's shapes again; every way of running (shapes in turn, a profile, a
batch split, any capacity) must leave results exactly what a fresh context
computes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

import int8rt
from onnx_models import conv_net, fvi, model


def _spatial_net():
    """Conv 3x3 (dynamic N, H, W) -> Relu -> Shape-driven Reshape to [N, -1]."""
    w = np.random.default_rng(3).standard_normal((4, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Shape", ["r"], ["s"], end=1),
             helper.make_node("Concat", ["s", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["r", "target"], ["y"])]
    return model(nodes, [fvi("x", ["N", 2, "H", "W"])], [fvi("y", ["N", "F"])],
                 [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([-1], np.int64), "minus_one")])


@pytest.mark.parametrize("make, shapes", [
    (conv_net, [(2, 3, 8, 8), (2, 3, 8, 8), (2, 3, 8, 8), (5, 3, 8, 8), (5, 3, 8, 8), (2, 3, 8, 8), (2, 3, 8, 8)]),
    (_spatial_net, [(1, 2, 6, 6), (1, 2, 6, 6), (1, 2, 6, 6), (1, 2, 9, 4), (1, 2, 6, 6), (1, 2, 6, 6),
                    (3, 2, 6, 6), (1, 2, 6, 6)]),
])
def test_runs_across_shape_changes_and_profiles_match_a_fresh_context(make, shapes) -> None:
    engine = int8rt.build_engine(make(), int8rt.BuilderConfig(precision="fp32"))
    name, out = engine.input_names[0], engine.output_names[0]
    ctx = engine.create_execution_context()
    rng = np.random.default_rng(4)
    for i, shape in enumerate(shapes):
        x = {name: rng.standard_normal(shape, dtype=np.float32)}
        if i == 2:  # between two runs at one shape: the profile at another must drop the plan
            ctx.profile({name: rng.standard_normal((3,) + shape[1:], dtype=np.float32)}, runs=1)
        want = engine.create_execution_context().run(x)[out]
        got = ctx.run(x)[out]
        assert got.shape == want.shape, (i, shape)
        np.testing.assert_array_equal(got, want, err_msg=f"run {i} at {shape}")


@pytest.mark.parametrize("capacity", [0, 1, 2, 8])
def test_sizes_in_turn_match_a_fresh_context_at_any_plan_capacity(capacity: int) -> None:
    # Three signatures in turn: with 8 plans each run after the first round
    # sizes its tensors from its own plan; with 2 or 1 plans the least
    # recently used is replaced on every run; with 0 every run infers. All
    # must give what a fresh context gives.
    engine = int8rt.build_engine(_spatial_net(), int8rt.BuilderConfig(precision="fp32"))
    ctx = engine.create_execution_context()
    assert ctx.shape_plan_capacity == 8
    ctx.shape_plan_capacity = capacity
    assert ctx.shape_plan_capacity == capacity
    rng = np.random.default_rng(6)
    shapes = [(1, 2, 6, 6), (2, 2, 9, 4), (1, 2, 3, 11)]
    for i in range(4 * len(shapes)):
        x = {"x": rng.standard_normal(shapes[i % len(shapes)], dtype=np.float32)}
        want = engine.create_execution_context().run(x)["y"]
        got = ctx.run(x)["y"]
        assert got.shape == want.shape, (capacity, i)
        np.testing.assert_array_equal(got, want, err_msg=f"capacity {capacity}, run {i}")


def test_plan_capacity_refuses_a_negative_count() -> None:
    ctx = int8rt.build_engine(_spatial_net(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    with pytest.raises(int8rt.InvalidArgumentError, match="shape_plan_capacity must be >= 0"):
        ctx.shape_plan_capacity = -1
