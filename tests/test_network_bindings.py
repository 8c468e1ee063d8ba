"""_core.Network through int8rt.network: builders, attributes, constants, inspection, pickling; _testing.Executor."""
from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

import int8rt
from int8rt._testing import Executor
from int8rt.network import Network, create_network


def small_network() -> Network:
    rng = np.random.default_rng(7)
    net = create_network()
    x = net.add_input("x", [-1, 3, 6, 6])
    c = net.add_convolution(x, 4, [3, 3], rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                            rng.standard_normal(4).astype(np.float32), pads=[1, 1, 1, 1], name="conv")
    r = net.add_activation(c, "Relu", name="relu")
    p = net.add_pooling(r, "MaxPool", [2, 2], [2, 2], name="pool")
    q = net.add_pooling(r, "AveragePool", [2, 2], [2, 2], name="avg")
    s = net.add_elementwise(p, q, "Add", name="sum")
    cat = net.add_concatenation([s, p], axis=1, name="cat")
    f = net.add_node("Flatten", "flatten", [cat], {"axis": 1}, ["flat"])[0]
    y = net.add_fully_connected(f, 2, rng.standard_normal((2, 72)).astype(np.float32), None, name="fc")
    net.mark_output(y)
    return net


def test_builders_emit_onnx_nodes_with_attributes_and_weights():
    net = small_network()
    assert [n["op"] for n in net.nodes()] == ["Conv", "Relu", "MaxPool", "AveragePool", "Add", "Concat",
                                              "Flatten", "Gemm"]
    conv = net.node(0)
    assert conv["attrs"] == {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                             "dilations": [1, 1], "group": 1}
    w = net.tensor(conv["inputs"][1])
    assert w["is_constant"] and w["shape"] == [4, 3, 3, 3] and w["dtype"] == "float32"
    assert net.node(7)["attrs"] == {"transB": 1} and len(net.node(7)["inputs"]) == 2  # no bias given
    assert net.tensor(net.find_tensor("flat"))["producer"] == 6
    assert net.inputs() == [0] and net.find_tensor("nope") == -1
    net.validate()


def test_attribute_kinds_round_trip():
    net = Network()
    x = net.add_input("x", [1])
    attrs = {"i": 3, "b": True, "f": 0.25, "npf": np.float32(1.5), "npi": np.int64(-2), "s": "nearest",
             "ints": [1, -2], "floats": [0.5, 2], "empty": []}
    net.add_node("Foo", "foo", [x], attrs, ["y"])
    got = net.node(0)["attrs"]
    assert got == {"i": 3, "b": 1, "f": 0.25, "npf": 1.5, "npi": -2, "s": "nearest", "ints": [1, -2],
                   "floats": [0.5, 2.0], "empty": []}
    assert isinstance(got["floats"][1], float) and isinstance(got["ints"][0], int)
    with pytest.raises(int8rt.InvalidArgumentError, match="attribute 'bad'"):
        net.add_node("Foo", "foo2", [x], {"bad": {"a": 1}}, ["z"])


def test_constants_keep_dtype_and_data_and_refuse_other_dtypes():
    net = Network()
    data = {"f": np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2],  # strided: copied contiguous
            "l": np.array([[-(2**40), 5]], np.int64), "b": np.array([-128, 0, 127], np.int8),
            "scalar": np.array(2.5, np.float32)}
    for name, arr in data.items():
        tid = net.add_constant(name, arr)
        got = net.constant_data(tid)
        assert got.dtype == arr.dtype and got.shape == arr.shape and np.array_equal(got, arr), name
        assert net.constant_data(name).tobytes() == np.ascontiguousarray(arr).tobytes()
    with pytest.raises(int8rt.InvalidArgumentError, match="constant 'd'.*float64"):
        net.add_constant("d", np.zeros(2))
    with pytest.raises(int8rt.InvalidArgumentError, match="not a constant"):
        x = net.add_input("x", [2])
        net.constant_data(x)
    with pytest.raises(int8rt.InvalidArgumentError, match="duplicate tensor name 'f'"):
        net.add_constant("f", np.zeros(1, np.float32))


def test_validate_and_id_errors():
    net = Network()
    x = net.add_input("x", [-1, 2])
    net.add_node("Relu", "r", [x], {}, ["y"])
    with pytest.raises(int8rt.InvalidArgumentError, match="no outputs"):
        net.validate()
    with pytest.raises(int8rt.InvalidArgumentError, match="input tensor id 9"):
        net.add_node("Relu", "bad", [9], {}, ["z"])
    with pytest.raises(int8rt.InvalidArgumentError, match="node id 5"):
        net.node(5)
    with pytest.raises(int8rt.InvalidArgumentError, match="dimension 1 is 0; a dimension is a positive size or -1"):
        net.add_input("w", [2, 0])


def test_pickle_keeps_ids_names_constants_and_class():
    net = small_network()
    net.set_shape(net.find_tensor("flat"), [-1, 72])
    back = pickle.loads(pickle.dumps(net))
    assert type(back) is Network
    assert back.tensors() == net.tensors() and back.nodes() == net.nodes()
    assert back.inputs() == net.inputs() and back.outputs() == net.outputs()
    for t in net.tensors():
        if t["is_constant"]:
            assert np.array_equal(back.constant_data(t["name"]), net.constant_data(t["name"]))
    back.validate()
    # the restored network is a working network: new nodes get fresh, unique names
    extra = back.add_activation(back.outputs()[0], "Sigmoid")
    assert back.tensor(extra)["name"] not in [t["name"] for t in net.tensors()]


def test_executor_runs_float32_and_checks_inputs():
    net = Network()
    x = net.add_input("x", [-1, 4])
    a = net.add_activation(x, "LeakyRelu", alpha=0.25, name="leaky")
    b = net.add_activation(a, "Clip", alpha=-0.5, beta=1.0, name="clip")
    net.mark_output(a)
    net.mark_output(b)
    ex = Executor(net)
    rng = np.random.default_rng(3)
    for batch in (1, 5, 2):  # dynamic batch, storage reused across runs
        xs = rng.standard_normal((batch, 4)).astype(np.float32) * 2
        out = ex.run({"x": xs})
        leaky = np.where(xs >= 0, xs, np.float32(0.25) * xs)
        assert set(out) == {net.tensor(a)["name"], net.tensor(b)["name"]}
        assert np.array_equal(out[net.tensor(a)["name"]], leaky)  # one float multiply: exact
        assert np.array_equal(out[net.tensor(b)["name"]], np.clip(leaky, -0.5, 1.0))
    with pytest.raises(int8rt.InvalidArgumentError, match="missing input 'x'"):
        ex.run({})
    with pytest.raises(int8rt.InvalidArgumentError, match="'q' is not an input"):
        ex.run({"q": np.zeros((1, 4), np.float32)})
    with pytest.raises(int8rt.InvalidArgumentError, match="expected dtype float32"):
        ex.run({"x": np.zeros((1, 4))})
    with pytest.raises(int8rt.InvalidArgumentError, match="expected shape"):
        ex.run({"x": np.zeros((1, 5), np.float32)})


def test_executor_is_safe_to_share_between_threads():
    net = Network()
    x = net.add_input("x", [-1, 1000])
    net.mark_output(net.add_activation(x, "Relu", name="relu"))
    ex = Executor(net)
    rng = np.random.default_rng(11)
    data = [rng.standard_normal((3, 1000)).astype(np.float32) for _ in range(8)]
    failures = []

    def work(xs):
        for _ in range(20):
            if not np.array_equal(ex.run({"x": xs})[net.tensor(1)["name"]], np.maximum(xs, 0)):
                failures.append(1)

    threads = [threading.Thread(target=work, args=(d,)) for d in data]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_executor_refuses_ops_without_layers():
    net = Network()
    x = net.add_input("x", [1, 2])
    net.mark_output(net.add_node("NoSuchOp", "mystery", [x], {}, ["y"])[0])
    with pytest.raises(int8rt.NotSupportedError, match=r"'mystery' \(NoSuchOp\)"):
        Executor(net)
