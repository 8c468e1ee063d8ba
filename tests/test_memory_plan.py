"""Activation buffer sharing (engine/memory_plan.h): an execution context
gives tensors whose lifetimes do not overlap one buffer. Its outputs must equal
those of the testing Executor, whose state keeps one buffer per tensor, on the
same network (no graph passes, the same layers: ==), with branches that keep
tensors alive across several nodes, two outputs, and batch sizes that grow and
shrink the shared buffers between runs."""
from __future__ import annotations

import numpy as np

import int8rt
from int8rt._testing import Executor
from int8rt.network import Network


def branchy_network() -> Network:
    net = Network()
    x = net.add_input("x", [-1, 8])
    a = net.add_activation(x, "Relu", name="a")            # lives until 'sum2'
    b = net.add_activation(a, "Sigmoid", name="b")
    c = net.add_activation(b, "Tanh", name="c")
    d = net.add_activation(c, "LeakyRelu", alpha=0.5, name="d")
    s1 = net.add_elementwise(a, d, "Add", name="sum1")     # reads a long-lived and a fresh tensor
    e = net.add_activation(s1, "Clip", alpha=-0.25, beta=0.75, name="e")
    s2 = net.add_elementwise(e, a, "Mul", name="sum2")
    f = net.add_activation(s2, "Sigmoid", name="f")
    net.mark_output(f)
    net.mark_output(c)                                     # an output in the middle keeps its own buffer
    return net


def test_shared_buffers_equal_private_buffers() -> None:
    net = branchy_network()
    reference = Executor(net)
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32", optimize=False))
    ctx = engine.create_execution_context()
    rng = np.random.default_rng(5)
    for batch in (1, 6, 2, 9, 1):
        xs = rng.standard_normal((batch, 8)).astype(np.float32) * 3
        want = reference.run({"x": xs})
        got = ctx.run({"x": xs})
        assert set(got) == set(want)
        for name in want:
            assert np.array_equal(got[name], want[name]), f"{name} at batch {batch}"
