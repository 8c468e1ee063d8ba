"""The executor's cached shape plan (executor.h, State::plan_*): runs at the
shapes of the previous run keep the nodes' output shapes instead of inferring
them again; every other way of running (another shape, a profile, a batch
split) must leave results exactly what a fresh context computes."""
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
