"""A Conv whose output is a network output (MTCNN PNet's conv4_2 bbox
regression) or only leaves the network through data movement (PNet's conv4_1
-> Transpose / Flatten -> logits) writes float32 from its accumulators:
int8rt.QConv without an output scale, then a float32 Transpose to NCHW
(lower_int8_conv_head.cc, the rule Lowerer::leaves_as_float_only that a Gemm
head asks too: test_int8_gemm_head.py). RESULTS_accuracy.md acc56, acc64.

PNet's pattern in small: x [n, 3, h, w] -> Conv (c1) -> PRelu (per channel,
folded into c1's epilogue) -> Conv (head, 1 x 1 to 2 channels) -> by case:
a Transpose to NHWC and a Reshape (PNet's logits), the head's output as the
network output, or a head whose output an int8 Conv also reads (kept int8;
behind the moves: "shared", as the output itself: "direct_shared").
Checked: the plan (no Dequantize after the head, the moves in float32), the
bytes on every tier this CPU runs == the reference tier's, the logits off
the head's int8 grid and closer to FP32 than the int8 head's (moves and
direct), and the shared heads keep int8. Also a dynamic input size, and
PESTO's 1-D head (Conv1d -> Squeeze, run as Unsqueeze -> Conv -> Squeeze)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

RNG = np.random.default_rng(56)
F32 = np.float32
W = {"w1": (RNG.standard_normal((8, 3, 3, 3)) * 0.3).astype(F32), "b1": (RNG.standard_normal(8) * 0.1).astype(F32),
     "s1": RNG.uniform(-0.1, 0.6, (8, 1, 1)).astype(F32),
     "w2": (RNG.standard_normal((2, 8, 1, 1)) * 0.4).astype(F32), "b2": np.array([0.3, -0.2], F32),
     "w3": (RNG.standard_normal((4, 2, 3, 3)) * 0.4).astype(F32), "shape": np.array([0, -1, 2], np.int64)}
CALIB = {"x": RNG.standard_normal((32, 3, 12, 12)).astype(F32)}
X = RNG.standard_normal((5, 3, 12, 12)).astype(F32)
TIERS = ["ref", "avx2", "avxvnni", "avx512vnni", "amx"]


def _model(head: str, dynamic: bool = False) -> bytes:
    """c1 -> PRelu -> head conv (output y), then by ``head``: "moves" (y ->
    Transpose -> Reshape -> logits [n, h*w, 2]), "direct" (y is the output,
    named logits), "shared" ("moves", and y -> Conv c3 -> second output z),
    "direct_shared" ("direct", and logits -> Conv c3 -> z)."""
    direct = head.startswith("direct")
    y = "logits" if direct else "y"
    hw = ["h", "w"] if dynamic else [12, 12]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h1"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("PRelu", ["h1", "s1"], ["p1"], name="prelu1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], [y], name="head")]
    logits = ["n", 2, *hw] if direct else ["n", "p", 2]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, logits)]
    if not direct:
        nodes += [helper.make_node("Transpose", ["y"], ["yt"], perm=[0, 2, 3, 1], name="transpose"),
                  helper.make_node("Reshape", ["yt", "shape"], ["logits"], name="reshape")]
    if head.endswith("shared"):
        nodes.append(helper.make_node("Conv", [y, "w3"], ["z"], pads=[1, 1, 1, 1], name="c3"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 4, *hw]))
    keep = {"w1", "b1", "s1", "w2", "b2"} | ({"shape"} if not direct else set()) | (
        {"w3"} if head.endswith("shared") else set())
    inits = [numpy_helper.from_array(v, k) for k, v in W.items() if k in keep]
    graph = helper.make_graph(nodes, "conv_head",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, *hw])], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


_CACHES: dict[tuple[str, bool], str] = {}


@pytest.fixture(scope="module", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One calibration cache per model, written by its first build: the
    FP32 calibration run's kernels differ per tier (its amax in the last
    bit), so every tier's engine is built on the same scales."""
    d = tmp_path_factory.mktemp("conv_head_caches")
    for head in ("moves", "direct", "shared", "direct_shared"):
        for dynamic in (False, True):
            _CACHES[(head, dynamic)] = str(d / f"{head}_{int(dynamic)}.cache")


def _build(head: str, max_isa: str | None = None, dynamic: bool = False) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=16,
                                        cache_file=_CACHES.get((head, dynamic)))
    return int8rt.build_engine(_model(head, dynamic), int8rt.BuilderConfig(calibrator=calibrator,
                                                                           accuracy_check=False, max_isa=max_isa))


def _layers(engine: int8rt.Engine) -> dict[str, dict[str, str]]:
    return {layer["name"]: layer for layer in engine.layers()}


def _dequantized(layers: dict[str, dict[str, str]]) -> list[str]:
    return [n for n in layers if n.endswith("::dequantize")]


def _differ(got: np.ndarray, want: np.ndarray, what: str) -> str:
    bad = np.flatnonzero(got.ravel() != want.ravel())
    if bad.size == 0:
        return ""
    i = bad[0]
    return f"{what}: {bad.size} of {got.size} differ, first at {i}: {got.ravel()[i]} != {want.ravel()[i]}"


@pytest.fixture(scope="module")
def moves_engine(_cache_dir: None) -> int8rt.Engine:
    return _build("moves")


@pytest.fixture(scope="module")
def ref_bytes() -> np.ndarray:
    return _build("moves", max_isa="ref").run({"x": X})["logits"]


def test_head_conv_writes_float32(moves_engine: int8rt.Engine) -> None:
    layers = _layers(moves_engine)
    assert layers["head"]["op"] == "int8rt.QConv", layers["head"]
    assert not _dequantized(layers), list(layers)
    assert layers["transpose"]["precision"] == "fp32", layers["transpose"]
    assert layers["reshape"]["precision"] == "fp32", layers["reshape"]


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_gives_the_reference_bytes(tier: str, ref_bytes: np.ndarray) -> None:
    """Each tier up to this CPU's (a higher cap runs the same best tier)."""
    got = _build("moves", max_isa=tier).run({"x": X})["logits"]
    assert got.dtype == F32 and got.shape == (5, 144, 2)
    msg = _differ(got, ref_bytes, tier)
    assert not msg, msg


@pytest.fixture(scope="module")
def direct_ref_bytes() -> np.ndarray:
    return _build("direct", max_isa="ref").run({"x": X})["logits"]


@pytest.mark.parametrize("tier", TIERS)
def test_head_as_the_network_output_writes_float32(tier: str, direct_ref_bytes: np.ndarray) -> None:
    """The head's output itself the network output (PNet's conv4_2): the
    QConv writes float32 and its Transpose to NCHW gives the output, no
    Dequantize; each tier's bytes == the reference tier's."""
    engine = _build("direct", max_isa=tier)
    layers = _layers(engine)
    assert layers["head"]["op"] == "int8rt.QConv" and "head::to_nchw" in layers, list(layers)
    assert not _dequantized(layers), list(layers)
    got = engine.run({"x": X})["logits"]
    assert got.dtype == F32 and got.shape == (5, 2, 12, 12)
    msg = _differ(got, direct_ref_bytes, tier)
    assert not msg, msg


def test_head_as_the_network_output_gets_closer_than_the_int8_head() -> None:
    """Off the int8 grid and closer to FP32 than the same head kept int8 (an
    int8 Conv also reads it: QConv -> Dequantize, the form before acc64)."""
    got = _build("direct").run({"x": X})["logits"]
    fp32 = int8rt.build_engine(_model("direct"), int8rt.BuilderConfig(precision="fp32")).run({"x": X})["logits"]
    int8_engine = _build("direct_shared")
    layers = _layers(int8_engine)
    assert "logits::dequantize" in layers and "head::to_nchw" not in layers, list(layers)
    int8_head = int8_engine.run({"x": X})["logits"]
    step = {t.tensor: t.scale for t in int8_engine.int8_plan().tensors}["logits"]  # the int8 head's grid
    assert np.all(np.abs(int8_head / step - np.rint(int8_head / step)) < 1e-3)
    assert np.mean(np.abs(got / step - np.rint(got / step)) > 1e-3) > 0.5
    err = float(np.linalg.norm(got - fp32)) / float(np.linalg.norm(fp32))
    err_int8 = float(np.linalg.norm(int8_head - fp32)) / float(np.linalg.norm(fp32))
    assert err < err_int8, (err, err_int8)


def test_logits_leave_the_int8_grid_and_get_closer(moves_engine: int8rt.Engine) -> None:
    got = moves_engine.run({"x": X})["logits"]
    fp32 = int8rt.build_engine(_model("moves"), int8rt.BuilderConfig(precision="fp32")).run({"x": X})["logits"]
    step = float(np.abs(fp32).max()) / 127.0
    assert np.mean(np.abs(got / step - np.rint(got / step)) > 1e-3) > 0.5
    # the int8 head (the shared case keeps y int8) rounds the logits once more
    int8_head = _build("shared").run({"x": X})["logits"]
    err = float(np.linalg.norm(got - fp32)) / float(np.linalg.norm(fp32))
    err_int8 = float(np.linalg.norm(int8_head - fp32)) / float(np.linalg.norm(fp32))
    assert err < err_int8, (err, err_int8)


def test_head_with_an_int8_reader_keeps_int8() -> None:
    """y also feeds c3 (int8): the head writes int8 and the moves move int8 bytes."""
    layers = _layers(_build("shared"))
    assert layers["c3"]["op"] == "int8rt.QConv", layers["c3"]
    assert layers["transpose"]["precision"] == "int8", layers["transpose"]
    assert _dequantized(layers), list(layers)


@pytest.mark.parametrize("tier", ["ref", None])
def test_dynamic_input_size(tier: str | None) -> None:
    """A head conv whose input size is dynamic writes float32 at every size, == the reference tier's."""
    engine = _build("moves", max_isa=tier, dynamic=True)
    ref = _build("moves", max_isa="ref", dynamic=True)
    for hw in [(12, 12), (9, 17)]:
        x = RNG.standard_normal((2, 3, *hw)).astype(F32)
        got = engine.run({"x": x})["logits"]
        assert got.shape == (2, hw[0] * hw[1], 2)
        msg = _differ(got, ref.run({"x": x})["logits"], f"{tier} at {hw}")
        assert not msg, msg
    # (c1's PRelu is not folded at a dynamic size: h1 is dequantized for it)
    assert not {"y::dequantize", "logits::dequantize"} & set(_layers(engine)), list(_layers(engine))


W1D = {"v1": (RNG.standard_normal((6, 4, 3)) * 0.4).astype(F32), "v2": (RNG.standard_normal((1, 6, 5)) * 0.4).astype(F32),
       "axes": np.array([1], np.int64)}
X1D = {"x": RNG.standard_normal((32, 4, 16)).astype(F32)}


def _conv1d_model() -> bytes:
    """PESTO's output layer in small: x [n, 4, 16] -> Conv1d (k 3) -> Relu -> Conv1d (k 5, one channel) -> Squeeze
    -> logits [n, 12]. The import runs a 1-D Conv as Unsqueeze -> 2-D Conv -> Squeeze."""
    w = W1D
    nodes = [helper.make_node("Conv", ["x", "v1"], ["a"], pads=[1, 1], name="c1"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "v2"], ["y"], name="head"),
             helper.make_node("Squeeze", ["y", "axes"], ["logits"], name="squeeze")]
    graph = helper.make_graph(nodes, "conv1d_head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 12])],
                              [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_conv1d_head_writes_float32(tmp_path) -> None:
    """A 1-D head conv behind a Squeeze (PESTO's fc): float32 on the native tier, == the reference tier's."""
    data, x = X1D, X1D["x"][:3] + 0.25
    cache = str(tmp_path / "conv1d.cache")
    got = {}
    for tier in ("ref", None):
        cal = int8rt.make_calibrator(data, algorithm="minmax", batch_size=16, cache_file=cache)
        engine = int8rt.build_engine(_conv1d_model(), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                           max_isa=tier))
        layers = _layers(engine)
        assert layers["head"]["op"] == "int8rt.QConv" and "head::to_nchw" in layers, list(layers)
        assert not {"y::dequantize", "logits::dequantize"} & set(layers), list(layers)
        got[tier] = engine.run({"x": x})["logits"]
    msg = _differ(got[None], got["ref"], "native vs ref (1-D)")
    assert not msg, msg
