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


def test_reshapes_pass_their_input_buffer_on() -> None:
    """A Reshape / Flatten / Unsqueeze / Squeeze that is its input's last
    reader takes over the input's buffer and copies nothing
    (Layer::output_is_input_bytes); one whose input is read again later
    (the Add below) must not. Outputs equal the testing Executor's, whose
    state keeps one buffer per tensor, over batch sizes that grow and shrink
    the buffers."""
    net = Network()
    x = net.add_input("x", [-1, 4, 6])
    a = net.add_activation(x, "Relu", name="a")
    shape = net.add_constant("shape", np.array([0, 24], np.int64))
    r = net.add_node("Reshape", "r", [a, shape], {}, ["r_out"])[0]       # a dies here: in place
    s = net.add_activation(r, "Sigmoid", name="s")
    f = net.add_node("Flatten", "f", [s], {"axis": 1}, ["f_out"])[0]     # s is read again below
    u = net.add_node("Unsqueeze", "u", [f, net.add_constant("axes", np.array([1], np.int64))], {}, ["u_out"])[0]
    q = net.add_node("Squeeze", "q", [u, net.add_constant("axes1", np.array([1], np.int64))], {}, ["q_out"])[0]
    t = net.add_activation(q, "Tanh", name="t")
    t2 = net.add_activation(t, "Sigmoid", name="t2")  # takes a freed buffer: must not be s's
    out = net.add_elementwise(t2, s, "Add", name="sum")
    net.mark_output(out)
    reference = Executor(net)
    ctx = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32", optimize=False)).create_execution_context()
    rng = np.random.default_rng(8)
    for batch in (1, 5, 2, 7):
        xs = rng.standard_normal((batch, 4, 6)).astype(np.float32) * 2
        got, want = ctx.run({"x": xs}), reference.run({"x": xs})
        assert set(got) == set(want) and len(want) == 1
        for name in want:
            assert np.array_equal(got[name], want[name]), batch
