"""Loop and Scan decided at run time, and the engine file and pickles of
networks with subgraphs (csrc/engine/ops/control_flow.h,
python/int8rt/onnx/_subgraphs.py): each engine is compared with ONNX Runtime
running the unchanged model, or with PyTorch for its own exports."""
from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import int8rt
import int8rt.onnx
from engine_bytes import HEADER, fnv1a64
from onnx_models import fvi, init, model

ort = pytest.importorskip("onnxruntime")
RNG = np.random.default_rng(23)


def _ort(m: onnx.ModelProto, feeds: dict) -> list:
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _fp32(m) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))


def _check(engine: int8rt.Engine, m: onnx.ModelProto, feeds: dict) -> None:
    got = engine.run(feeds)
    for vi, want in zip(m.graph.output, _ort(m, feeds)):
        assert got[vi.name].shape == want.shape, (vi.name, got[vi.name].shape, want.shape)
        np.testing.assert_allclose(got[vi.name], want, rtol=1e-6, atol=1e-6, err_msg=vi.name)


def loop_model() -> onnx.ModelProto:
    """A recurrence h = tanh(h * w + x[i]) over at most n steps of x, stopping
    once sum(h) exceeds the run-time input `limit` (captured by the body, as
    are x and the initializer w); outputs the last h, the iteration count and
    every h stacked."""
    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         helper.make_node("Mul", ["h", "w"], ["hw"]),
         helper.make_node("Add", ["hw", "xi"], ["pre"]),
         helper.make_node("Tanh", ["pre"], ["h_out"]),
         helper.make_node("ReduceSum", ["h_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["go_on"]),
         helper.make_node("Add", ["k", "one"], ["k_out"]),
         helper.make_node("Identity", ["h_out"], ["piece"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("k", TensorProto.INT64, None)],
        [helper.make_tensor_value_info("go_on", TensorProto.BOOL, []), fvi("h_out", None),
         helper.make_tensor_value_info("k_out", TensorProto.INT64, None), fvi("piece", None)])
    nodes = [helper.make_node("Loop", ["n", "start", "h0", "k0"], ["h_last", "steps", "all_h"], body=body)]
    inputs = [fvi("x", ["T", 4]), helper.make_tensor_value_info("n", TensorProto.INT64, []),
              helper.make_tensor_value_info("start", TensorProto.BOOL, []), fvi("limit", [])]
    inits = [init("w", RNG.standard_normal(4).astype(np.float32)), init("h0", np.zeros(4, np.float32)),
             init("k0", np.array(0, np.int64)), init("one", np.array(1, np.int64))]
    outputs = [fvi("h_last", [4]), helper.make_tensor_value_info("steps", TensorProto.INT64, []),
               fvi("all_h", [None, 4])]
    return model(nodes, inputs, outputs, inits)


@pytest.mark.parametrize("n, limit, start", [(5, 100.0, True), (5, 0.0, True), (6, 1.0, True), (0, 100.0, True),
                                             (3, 100.0, False)])
def test_loop_runs_its_body_while_the_run_says(n: int, limit: float, start: bool) -> None:
    m = loop_model()
    onnx.checker.check_model(m)
    network = int8rt.onnx.import_model(m)
    loop = next(node for node in network.nodes() if node["op"] == "Loop")
    assert loop["attrs"]["int8rt_captures"] == 2  # x and limit; w and one are copied into the body
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    feeds = {"x": x, "n": np.array(n, np.int64), "start": np.array(start), "limit": np.array(limit, np.float32)}
    engine = _fp32(network)
    if n and start:
        _check(engine, m, feeds)
        return
    # No iteration: ONNX Runtime gives the stacked output the shape [0] (it warns that
    # it cannot tell the pieces' shape); int8rt infers the body's piece [4], as declared.
    got = engine.run(feeds)
    assert got["all_h"].shape == (0, 4)
    np.testing.assert_array_equal(got["h_last"], np.zeros(4, np.float32))
    assert got["steps"] == 0


def scan_model() -> onnx.ModelProto:
    """A running sum over axis 1 of xs [B, T, 3], read backwards, each step
    scaled by the run-time input `gain` (captured); the sums stacked along
    axis 0 in reverse, and the last state."""
    body = helper.make_graph(
        [helper.make_node("Mul", ["xt", "gain"], ["scaled"]),
         helper.make_node("Add", ["s", "scaled"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["piece"])],
        "body", [fvi("s", [None, 3]), fvi("xt", [None, 3])], [fvi("s_out", [None, 3]), fvi("piece", [None, 3])])
    nodes = [helper.make_node("Scan", ["s0", "xs"], ["s_last", "sums"], body=body, num_scan_inputs=1,
                              scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[-1],
                              scan_output_directions=[1])]
    return model(nodes, [fvi("s0", ["B", 3]), fvi("xs", ["B", "T", 3]), fvi("gain", [])],
                 [fvi("s_last", ["B", 3]), fvi("sums", ["B", 3, "T"])])


@pytest.mark.parametrize("b, t", [(2, 5), (1, 1), (3, 0)])
def test_scan_slices_and_stacks_along_its_axes(b: int, t: int) -> None:
    m = scan_model()
    onnx.checker.check_model(m)
    engine = _fp32(int8rt.onnx.import_model(m))
    feeds = {"s0": RNG.standard_normal((b, 3)).astype(np.float32),
             "xs": RNG.standard_normal((b, t, 3)).astype(np.float32), "gain": np.array(0.5, np.float32)}
    if t:
        _check(engine, m, feeds)
        return
    got = engine.run(feeds)  # no step (ONNX Runtime 1.2x stops the process on this one: SIGFPE)
    np.testing.assert_array_equal(got["s_last"], feeds["s0"])
    assert got["sums"].shape == (b, 3, 0)


def nested_model() -> onnx.ModelProto:
    """A Loop whose body holds an If on the parity of the iteration: odd steps
    add the outer input `x`, even ones subtract `y` (two scopes out)."""
    then = helper.make_graph([helper.make_node("Add", ["acc", "x"], ["r1"])], "odd", [], [fvi("r1", None)])
    other = helper.make_graph([helper.make_node("Sub", ["acc", "y"], ["r2"])], "even", [], [fvi("r2", None)])
    body = helper.make_graph(
        [helper.make_node("Mod", ["i", "two"], ["parity"]),
         helper.make_node("Equal", ["parity", "one"], ["odd"]),
         helper.make_node("If", ["odd"], ["acc_out"], then_branch=then, else_branch=other),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []), fvi("acc", None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), fvi("acc_out", None)])
    nodes = [helper.make_node("Loop", ["n", "", "acc0"], ["acc_last"], body=body)]
    return model(nodes, [fvi("x", ["N", 2]), fvi("y", ["N", 2]), fvi("acc0", ["N", 2]),
                         helper.make_tensor_value_info("n", TensorProto.INT64, [])],
                 [fvi("acc_last", ["N", 2])],
                 [init("two", np.array(2, np.int64)), init("one", np.array(1, np.int64))])


def test_an_if_inside_a_loop_reads_values_two_scopes_out() -> None:
    m = nested_model()
    onnx.checker.check_model(m)
    engine = _fp32(int8rt.onnx.import_model(m))
    for n in (0, 1, 4, 7):
        feeds = {k: RNG.standard_normal((3, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
        feeds["n"] = np.array(n, np.int64)
        _check(engine, m, feeds)


def test_engine_files_keep_subgraphs_and_earlier_formats_refuse_them() -> None:
    m = nested_model()
    engine = _fp32(int8rt.onnx.import_model(m))
    data = engine.serialize()
    assert struct.unpack("<I", data[8:12])[0] == 3
    feeds = {k: RNG.standard_normal((2, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
    feeds["n"] = np.array(5, np.int64)
    got = int8rt.Engine.deserialize(data).run(feeds)["acc_last"]
    np.testing.assert_array_equal(got, engine.run(feeds)["acc_last"])
    payload = data[HEADER:]
    as_v2 = data[:8] + struct.pack("<IIQQ", 2, 0, len(payload), fnv1a64(payload)) + payload
    with pytest.raises(int8rt.FormatError, match="unknown attribute kind 5 .*format 2"):
        int8rt.Engine.deserialize(as_v2)


def test_networks_with_subgraphs_pickle_and_show_them() -> None:
    network = int8rt.onnx.import_model(nested_model())
    loop = next(node for node in network.nodes() if node["op"] == "Loop")
    body = loop["attrs"]["body"]
    assert isinstance(body, int8rt._core.Network)
    assert [node["op"] for node in body.nodes()] == ["Mod", "Equal", "If", "Identity"]
    again = pickle.loads(pickle.dumps(network))
    feeds = {k: RNG.standard_normal((1, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
    feeds["n"] = np.array(3, np.int64)
    np.testing.assert_array_equal(_fp32(again).run(feeds)["acc_last"], _fp32(network).run(feeds)["acc_last"])


def test_a_loop_with_neither_count_nor_condition_is_refused() -> None:
    m = nested_model()
    m.graph.node[0].input[0] = ""
    del m.graph.input[3]
    with pytest.raises(int8rt.InvalidArgumentError, match="neither a trip count M nor a condition"):
        _fp32(int8rt.onnx.import_model(m))


def test_graph_passes_fold_and_fuse_inside_the_branches() -> None:
    """optimize_subgraphs: a branch's Conv -> BatchNormalization -> Relu becomes
    one Conv (BN folded, Relu fused) as it would at the top level; results
    unchanged (within the BN fold's rounding)."""
    c = 4
    then = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mu", "var"], ["b"]),
         helper.make_node("Relu", ["b"], ["r"])], "conv_bn_relu", [], [fvi("r", None)],
        [init("gamma", RNG.uniform(0.5, 1.5, c).astype(np.float32)),
         init("beta", RNG.standard_normal(c).astype(np.float32)),
         init("mu", RNG.standard_normal(c).astype(np.float32)), init("var", RNG.uniform(0.5, 2, c).astype(np.float32))])
    other = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["e"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                              "conv", [], [fvi("e", None)])
    m = model([helper.make_node("If", ["flag"], ["y"], then_branch=then, else_branch=other)],
              [fvi("x", ["N", c, 6, 6]), helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
              [fvi("y", ["N", c, 6, 6])], [init("w", RNG.standard_normal((c, c, 3, 3)).astype(np.float32) * 0.3)])
    engine = _fp32(int8rt.onnx.import_model(m))
    assert engine.layers()[-1]["detail"] == "if: then 1 layers, else 1"
    assert any("then_branch: " in line and "BatchNormalization" in line for line in engine.report()), engine.report()
    x = RNG.standard_normal((2, c, 6, 6)).astype(np.float32)
    for flag in (True, False):
        feeds = {"x": x, "flag": np.array(flag)}
        np.testing.assert_allclose(engine.run(feeds)["y"], _ort(m, feeds)[0], rtol=1e-5, atol=1e-5)


def test_an_int8_engine_keeps_the_if_in_float_between_int8_convolutions() -> None:
    """Conv -> If (relu when the mean is positive, else negate) -> Conv: the
    convolutions are lowered to int8 around the If, which reads and writes
    float32 (its captured input is dequantized for it)."""
    from int8rt.data_calibrator import make_calibrator
    then = helper.make_graph([helper.make_node("Relu", ["c1"], ["t"])], "pos", [], [fvi("t", None)])
    other = helper.make_graph([helper.make_node("Neg", ["c1"], ["e"])], "neg", [], [fvi("e", None)])
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c1"], ["mean"], keepdims=0),
             helper.make_node("Greater", ["mean", "zero"], ["positive"]),
             helper.make_node("If", ["positive"], ["g"], then_branch=then, else_branch=other),
             helper.make_node("Conv", ["g", "w2"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    m = model(nodes, [fvi("x", ["N", 4, 8, 8])], [fvi("y", ["N", 8, 8, 8])],
              [init("w1", RNG.standard_normal((8, 4, 3, 3)).astype(np.float32) * 0.3),
               init("w2", RNG.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.3),
               init("zero", np.array(0.0, np.float32))])
    sign = _sign_of_sum(m, "w1")
    calib = np.concatenate([RNG.standard_normal((8, 4, 8, 8)) + 2.0 * sign,
                            RNG.standard_normal((8, 4, 8, 8)) - 2.0 * sign]).astype(np.float32)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": calib}, algorithm="minmax", batch_size=8)))
    ops = [layer["op"] for layer in engine.layers()]
    assert ops.count("int8rt.QConv") == 2 and "If" in ops, ops
    fp32 = _fp32(m)
    for shift in (2.0, -2.0):  # the mean of the first convolution is about shift * sum(w1): both branches
        x = (RNG.standard_normal((4, 4, 8, 8)) + shift * sign).astype(np.float32)
        want, got = fp32.run({"x": x})["y"], engine.run({"x": x})["y"]
        a, b = (got - got.mean(0)).ravel(), (want - want.mean(0)).ravel()
        cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        assert cosine > 0.98, (shift, cosine)


def _sign_of_sum(m: onnx.ModelProto, name: str) -> float:
    from onnx import numpy_helper
    return float(np.sign(numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == name)).sum()))


# ---- PyTorch exports ------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


class _Gate(torch.nn.Module):
    """Data-dependent control flow as TorchScript writes it: a branch on the
    input's values and a loop over a run-time count."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        h = self.proj(x)
        if h.mean() > 0:
            h = torch.relu(h) * 2.0
        else:
            h = torch.tanh(h) - 1.0
        for _ in range(steps):
            h = torch.sigmoid(self.proj(h)) + x
        return h


def test_torchscript_branch_and_loop_run_as_exported() -> None:
    torch.manual_seed(0)
    module = torch.jit.script(_Gate().eval())
    buffer = io.BytesIO()
    torch.onnx.export(module, (torch.randn(2, 4), 2), buffer, dynamo=False, input_names=["x", "steps"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}})
    m = onnx.load_from_string(buffer.getvalue())
    assert {"If", "Loop"} <= {n.op_type for n in m.graph.node}
    engine = _fp32(int8rt.onnx.import_model(m))
    for sign, n, steps in ((1.0, 3, 0), (-1.0, 2, 3), (1.0, 1, 1)):
        x = torch.randn(n, 4) + sign * 3.0
        want = module(x, steps).detach().numpy()
        got = engine.run({"x": x.numpy(), "steps": np.array(steps, np.int64)})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_torch_cond_export_runs_the_branch_the_data_picks() -> None:
    class Cond(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cond(x.sum() > 0, lambda t: torch.relu(t) * 2.0, lambda t: t.abs() - 1.0, (x,))

    exported = torch.onnx.export(Cond(), (torch.randn(2, 3),), dynamo=True, verbose=False)
    m = exported.model_proto
    assert "If" in [n.op_type for n in m.graph.node]
    engine = _fp32(int8rt.onnx.import_model(m))
    for sign in (1.0, -1.0):
        x = torch.randn(2, 3) + sign * 2.0
        np.testing.assert_allclose(engine.run({m.graph.input[0].name: x.numpy()})[m.graph.output[0].name],
                                   Cond()(x).numpy(), rtol=1e-6, atol=1e-6)


def test_a_branch_that_refuses_the_calibration_shapes_does_not_stop_the_build() -> None:
    """Silero VAD's If picks a 16 kHz or an 8 kHz body by the sample rate; the
    8 kHz body cannot take a 16 kHz chunk. Calibrated on data that always
    takes the then branch, the INT8 build does not infer the else branch's
    shapes as if it could run; a run that does take it is refused by name."""
    from int8rt.data_calibrator import make_calibrator
    then = helper.make_graph([helper.make_node("Relu", ["c1"], ["t"])], "fits", [], [fvi("t", None)])
    other = helper.make_graph([helper.make_node("MatMul", ["c1", "w_other"], ["e"], name="other_matmul")], "refuses",
                              [], [fvi("e", None)])
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c1"], ["mean"], keepdims=0),
             helper.make_node("Greater", ["mean", "zero"], ["positive"]),
             helper.make_node("If", ["positive"], ["g"], name="pick", then_branch=then, else_branch=other),
             helper.make_node("Conv", ["g", "w2"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    m = model(nodes, [fvi("x", ["N", 4, 8, 8])], [fvi("y", ["N", 8, 8, 8])],
              [init("w1", RNG.standard_normal((8, 4, 3, 3)).astype(np.float32) * 0.3),
               init("w2", RNG.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.3),
               init("w_other", np.ones((5, 3), np.float32)), init("zero", np.array(0.0, np.float32))])
    sign = _sign_of_sum(m, "w1")
    calib = (RNG.standard_normal((16, 4, 8, 8)) + 2.0 * sign).astype(np.float32)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": calib}, algorithm="minmax", batch_size=8)))
    x = (RNG.standard_normal((4, 4, 8, 8)) + 2.0 * sign).astype(np.float32)
    want, got = _fp32(m).run({"x": x})["y"], engine.run({"x": x})["y"]
    a, b = (got - got.mean(0)).ravel(), (want - want.mean(0)).ravel()
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.98
    with pytest.raises(int8rt.InvalidArgumentError, match=r"node 'pick' \(If\): else_branch: node 'other_matmul'"):
        engine.run({"x": (RNG.standard_normal((4, 4, 8, 8)) - 2.0 * sign).astype(np.float32)})
