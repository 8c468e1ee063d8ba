"""Dynamic input dimensions beyond the batch (issue 11 §1): symbolic ONNX dims
import as -1, every run infers its shapes, int8 convs / pools / nearest
resizes adapt to each input size with their weights packed once, and
optimization profiles (``BuilderConfig.input_shapes``, the TensorRT facade,
the CLI's ``--shapes``) bound what a run accepts.

The strongest check is exact: an INT8 engine built once for any image size
gives, for every size, the bytes of an engine built for that size alone with
the same calibration cache (same scales, same kernels)."""
from __future__ import annotations

import copy
import pickle
import struct

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
from engine_bytes import HEADER, fnv1a64  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

SIZES = [(16, 24), (9, 13), (32, 8)]


def fpn_model(h: object = "H", w: object = "W") -> onnx.ModelProto:
    """A detector-like block on a [N, 3, H, W] image: strided conv, pool,
    nearest 2x upsampling back, a residual add and a global-pool gate."""
    rng = np.random.default_rng(7)
    inits = [init("w1", rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3),
             init("b1", rng.standard_normal(8).astype(np.float32) * 0.1),
             init("w2", rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2),
             init("w3", rng.standard_normal((8, 8, 1, 1)).astype(np.float32) * 0.3),
             init("scales", np.array([1, 1, 2, 2], np.float32)),
             init("zero", np.array([0, 0], np.int64)), init("hw_idx", np.array([2, 3], np.int64)),
             init("axes", np.array([2, 3], np.int64))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("MaxPool", ["r2"], ["p2"], name="pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Resize", ["p2", "", "scales"], ["up"], name="up", mode="nearest"),
             # Crop the upsampled map to r1's size: a Shape -> Gather -> Slice chain run per input.
             helper.make_node("Shape", ["r1"], ["shape_r1"], name="shape"),
             helper.make_node("Gather", ["shape_r1", "hw_idx"], ["hw_in"], name="hw"),
             helper.make_node("Slice", ["up", "zero", "hw_in", "axes"], ["upc"], name="crop"),
             helper.make_node("Add", ["r1", "upc"], ["s"], name="add"),
             helper.make_node("Conv", ["s", "w3"], ["y"], name="conv3")]
    return model(nodes, [fvi("x", ["N", 3, h, w])], [fvi("y", ["N", 8, h, w])], inits, opset=13)


def _calibration(sizes, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, (2, 3, h, w)).astype(np.float32)} for h, w in sizes]


@pytest.fixture(scope="module")
def dynamic_int8(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("dyn") / "calib.cache")
    calibrator = int8rt.make_calibrator(_calibration(SIZES), algorithm="minmax", cache_file=cache)
    engine = int8rt.build_engine(fpn_model(), int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False))
    return engine, cache


def test_symbolic_dims_import_as_dynamic():
    net = int8rt.onnx.import_model(fpn_model())
    assert net.tensor(net.inputs()[0])["shape"] == [-1, 3, -1, -1]


def test_fp32_engine_matches_onnxruntime_at_every_size():
    ort = pytest.importorskip("onnxruntime")
    m = fpn_model()
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    ctx = engine.create_execution_context()  # one context, shape changing between runs
    for h, w in SIZES + [(5, 7)]:
        x = np.random.default_rng(h * w).standard_normal((2, 3, h, w)).astype(np.float32)
        got = ctx.run({"x": x})["y"]
        want = sess.run(None, {"x": x})[0]
        assert got.shape == want.shape == (2, 8, h, w)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_int8_engine_equals_a_static_engine_per_size(dynamic_int8):
    engine, cache = dynamic_int8
    kinds = {layer["op"] for layer in engine.layers()}
    assert {"int8rt.QConv", "int8rt.QMaxPool", "int8rt.QResizeNearest"} <= kinds, kinds
    ctx = engine.create_execution_context()
    for h, w in SIZES + [(7, 11), (16, 24)]:
        static = int8rt.build_engine(fpn_model(h, w), int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(_calibration([(h, w)]), algorithm="minmax", cache_file=cache),
            accuracy_check=False))
        assert static.tensor_shape("x") == (-1, 3, h, w)
        x = np.random.default_rng(h + 100 * w).uniform(-1, 1, (3, 3, h, w)).astype(np.float32)
        got, want = ctx.run({"x": x})["y"], static.run({"x": x})["y"]
        assert np.array_equal(got, want), f"{h}x{w}: max |diff| {np.abs(got - want).max()}"


def test_describe_says_which_layers_take_any_size(dynamic_int8):
    engine, _ = dynamic_int8
    conv = next(layer for layer in engine.layers() if layer["op"] == "int8rt.QConv")
    resize = next(layer for layer in engine.layers() if layer["op"] == "int8rt.QResizeNearest")
    assert "any input size" in conv["detail"] and "per input size" in resize["detail"]


def test_too_small_an_input_is_a_clear_error():
    # 1x1 input: the 3x3 pool after the stride-2 conv still has an output,
    # but a conv without padding on a 2x2 input has none.
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="valid3x3")]
    m = model(nodes, [fvi("x", ["N", 1, "H", "W"])], [fvi("y", ["N", 1, "H2", "W2"])],
              [init("w", np.ones((1, 1, 3, 3), np.float32))])
    calibrator = _calibration([(8, 8)])
    for b in calibrator:
        b["x"] = b["x"][:, :1]
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False))
    assert engine.run({"x": np.ones((1, 1, 5, 6), np.float32)})["y"].shape == (1, 1, 3, 4)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"valid3x3.*\[1, 2, 2, 1\]"):
        engine.run({"x": np.ones((1, 1, 2, 2), np.float32)})


def test_profile_bounds_every_run_and_survives_save(tmp_path):
    config = int8rt.BuilderConfig(precision="fp32", input_shapes={"x": ((1, 3, 8, 8), (1, 3, 16, 16), (4, 3, 32, 32))})
    engine = int8rt.build_engine(fpn_model(), config)
    assert engine.shape_range("x") == ((1, 3, 8, 8), (1, 3, 16, 16), (4, 3, 32, 32))
    engine.run({"x": np.zeros((4, 3, 32, 8), np.float32)})
    with pytest.raises(int8rt.InvalidArgumentError,
                       match=r"input 'x': shape 1x3x33x8 is outside the engine's optimization profile "
                             r"\(min 1x3x8x8, max 4x3x32x32\) in dimension 2"):
        engine.run({"x": np.zeros((1, 3, 33, 8), np.float32)})
    path = tmp_path / "e.engine"
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert loaded.shape_range("x") == engine.shape_range("x")
    with pytest.raises(int8rt.InvalidArgumentError, match="outside the engine's optimization profile"):
        loaded.run({"x": np.zeros((5, 3, 8, 8), np.float32)})
    # The profile's probes fix which intermediate dims follow the input.
    assert loaded.tensor_shape("y") == (-1, 8, -1, -1)


def test_profile_errors_name_the_input_and_dimension():
    with pytest.raises(int8rt.InvalidArgumentError, match=r"input 'x'.*dimension 1 is static \(3\)"):
        int8rt.build_engine(fpn_model(), int8rt.BuilderConfig(precision="fp32", input_shapes={
            "x": ((1, 4, 8, 8), (1, 4, 8, 8), (1, 4, 8, 8))}))
    with pytest.raises(int8rt.InvalidArgumentError, match=r"dimension 2 needs 1 <= min <= opt <= max, got 8, 4, 9"):
        int8rt.build_engine(fpn_model(), int8rt.BuilderConfig(precision="fp32", input_shapes={
            "x": ((1, 3, 8, 8), (1, 3, 4, 8), (1, 3, 9, 8))}))
    with pytest.raises(int8rt.InvalidArgumentError, match="no input of that name"):
        int8rt.build_engine(fpn_model(), int8rt.BuilderConfig(precision="fp32", input_shapes={"y": (1, 8, 8, 8)}))


def test_network_passed_in_is_not_changed_and_pickles_its_ranges():
    net = int8rt.onnx.import_model(fpn_model())
    int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32", input_shapes={"x": (2, 3, 8, 8)}))
    assert net.shape_range("x") is None
    net.set_shape_range("x", [1, 3, 4, 4], [1, 3, 8, 8], [2, 3, 16, 16])
    assert pickle.loads(pickle.dumps(net)).shape_range("x") == ([1, 3, 4, 4], [1, 3, 8, 8], [2, 3, 16, 16])
    assert copy.deepcopy(net).shape_range("x") == net.shape_range("x")


def test_format_1_engine_files_still_load():
    engine = int8rt.build_engine(fpn_model(8, 8), int8rt.BuilderConfig(precision="fp32"))
    data = engine.serialize()
    payload = data[HEADER:]
    assert payload.endswith(struct.pack("<Q", 0))  # format 2: no shape ranges
    old = payload[:-8]
    v1 = data[:8] + struct.pack("<IIQQ", 1, 0, len(old), fnv1a64(old)) + old
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(int8rt.Engine.deserialize(v1).run({"x": x})["y"], engine.run({"x": x})["y"])


def test_trt_facade_profiles_and_shapes_per_run():
    from int8rt import trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network()
    assert trt.OnnxParser(network, logger).parse(fpn_model().SerializeToString())
    config = builder.create_builder_config()
    for lo, hi in (((1, 3, 8, 8), (2, 3, 16, 16)), ((1, 3, 4, 4), (1, 3, 12, 40))):
        profile = builder.create_optimization_profile()
        profile.set_shape("x", lo, (1, 3, 8, 8), hi)
        config.add_optimization_profile(profile)
    engine = builder.build_engine(network, config)
    assert engine.get_tensor_profile_shape("x", 0) == [(1, 3, 4, 4), (1, 3, 8, 8), (2, 3, 16, 40)]
    ctx = engine.create_execution_context()
    for shape in ((1, 3, 12, 40), (2, 3, 6, 6)):
        assert ctx.set_input_shape("x", shape)
        assert ctx.get_tensor_shape("y") == (shape[0], 8, *shape[2:])
        x = np.ones(shape, np.float32)
        out = np.empty(ctx.get_tensor_shape("y"), np.float32)
        assert ctx.execute_v2([x, out])
        np.testing.assert_array_equal(out, engine.run({"x": x})["y"])
    with pytest.raises(int8rt.InvalidArgumentError, match=r"outside the engine's optimization profile"):
        ctx.set_input_shape("x", (1, 3, 17, 8))


def test_cli_shapes_flags(tmp_path, capsys):
    from int8rt import cli

    path = tmp_path / "m.onnx"
    onnx.save(fpn_model(), path)
    out = tmp_path / "m.engine"
    assert cli.main(["build", str(path), "-o", str(out), "--precision", "fp32", "-q",
                     "--min-shapes", "x:1x3x4x4", "--opt-shapes", "x:1x3x8x8", "--maxShapes", "x:2x3x64x64"]) == 0
    assert int8rt.Engine.load(out).shape_range("x") == ((1, 3, 4, 4), (1, 3, 8, 8), (2, 3, 64, 64))
    assert cli.main(["inspect", str(out)]) == 0
    assert "profile min (1, 3, 4, 4), opt (1, 3, 8, 8), max (2, 3, 64, 64)" in capsys.readouterr().out
    assert cli.main(["build", str(path), "-o", str(out), "--precision", "fp32", "-q", "--shapes", "x:1x3x8x8"]) == 0
    assert int8rt.Engine.load(out).shape_range("x") == ((1, 3, 8, 8),) * 3
    assert cli.main(["build", str(path), "-o", str(out), "--precision", "fp32", "-q", "--min-shapes", "x:1x3x4x4"]) == 1
    assert "input 'x' needs --opt-shapes, --max-shapes too" in capsys.readouterr().err
    assert cli.main(["build", str(path), "-o", str(out), "--precision", "fp32", "-q", "--shapes", "x:1x3xeight"]) == 1
    assert "--shapes: 'x:1x3xeight' is not NAME:DxDx..." in capsys.readouterr().err


def test_output_shapes_evaluate_shape_tensors_before_any_run():
    # The crop's size comes from a Shape -> Gather chain: output_shapes must
    # compute it, not read whatever the context's buffers hold.
    engine = int8rt.build_engine(fpn_model(), int8rt.BuilderConfig(
        precision="fp32", input_shapes={"x": ((1, 3, 4, 4), (1, 3, 8, 8), (2, 3, 64, 64))}))
    ctx = engine.create_execution_context()
    for shape in ((1, 3, 12, 40), (2, 3, 6, 6), (1, 3, 64, 5)):
        assert ctx.output_shapes({"x": shape})["y"] == (shape[0], 8, *shape[2:])
    with pytest.raises(int8rt.InvalidArgumentError, match="missing input 'x'"):
        ctx.output_shapes({})


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
def test_same_auto_pad_over_dynamic_sizes(mode):
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="same_s1", auto_pad=mode),
             helper.make_node("Conv", ["c1", "w2"], ["y"], name="same_s2", auto_pad=mode, strides=[2, 2]),
             helper.make_node("MaxPool", ["y", ], ["p"], name="pool_s2", auto_pad=mode, kernel_shape=[3, 3],
                              strides=[2, 2])]
    inits = [init("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             init("w2", rng.standard_normal((4, 4, 4, 4)).astype(np.float32))]
    m = model(nodes, [fvi("x", ["N", 3, "H", "W"])], [fvi("p", ["N", 4, "A", "B"])], inits)
    net = int8rt.onnx.import_model(m)
    attrs = {n["name"]: n["attrs"] for n in net.nodes()}
    assert attrs["same_s1"]["pads"] == [1, 1, 1, 1] and "auto_pad" not in attrs["same_s1"]  # stride 1: any size
    assert attrs["same_s2"]["auto_pad"] == mode  # stride 2: resolved per run
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32", optimize=False))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for h, w in ((9, 14), (16, 7)):
        x = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        want = sess.run(None, {"x": x})[0]
        got = engine.run({"x": x})["p"]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_maps_that_no_longer_line_up_are_a_clear_error_in_fp32_and_int8():
    # PP-OCR det's FPN at a size that is not a multiple of its stride: the 2x
    # upsampled map and the lateral one differ by a pixel. ONNX Runtime
    # refuses such an input at the Add; so do both int8rt engines, naming it.
    rng = np.random.default_rng(11)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="lateral", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2"], ["c2"], name="down", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Resize", ["c2", "", "scales"], ["up"], name="up", mode="nearest"),
             helper.make_node("Add", ["c1", "up"], ["y"], name="fpn_add")]
    m = model(nodes, [fvi("x", ["N", 3, "H", "W"])], [fvi("y", ["N", 8, "H2", "W2"])],
              [init("w1", rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3),
               init("w2", rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.3),
               init("scales", np.array([1, 1, 2, 2], np.float32))], opset=13)
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    int8 = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(
        _calibration([(8, 8), (16, 12)]), algorithm="minmax"), accuracy_check=False))
    for engine in (fp32, int8):
        assert engine.run({"x": np.ones((1, 3, 8, 12), np.float32)})["y"].shape == (1, 8, 8, 12)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"fpn_add.*\[1, 8, 9, 13\] and \[1, 8, 10, 14\]"):
        fp32.run({"x": np.ones((1, 3, 9, 13), np.float32)})
    with pytest.raises(int8rt.InvalidArgumentError, match=r"fpn_add.*QAdd needs two int8 tensors of the same shape, "
                                                          r"got \[.*\] and \[.*\]"):
        int8.run({"x": np.ones((1, 3, 9, 13), np.float32)})


def test_a_batch_shared_by_two_inputs_stays_dynamic_in_int8():
    # Silero VAD's chunk [N, T] and state [N, 4]: doubling either N alone, or
    # every dynamic dim (T cannot change: a Reshape fixes it), does not fit;
    # the two N together do. The INT8 engine keeps N dynamic and T at its
    # calibration size, as the float32 network allows.
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Reshape", ["x", "rows"], ["r"], name="rows4x4"),
             helper.make_node("MatMul", ["r", "w"], ["m"], name="mix"),
             helper.make_node("Unsqueeze", ["s", "axis2"], ["s3"], name="lift"),
             helper.make_node("Add", ["m", "s3"], ["y"], name="add_state")]
    m = model(nodes, [fvi("x", ["N", "T"]), fvi("s", ["N", 4])], [fvi("y", ["N", 4, 4])],
              [init("rows", np.array([0, 4, 4], np.int64)), init("axis2", np.array([2], np.int64)),
               init("w", rng.standard_normal((4, 4)).astype(np.float32))], opset=13)
    calib = [{"x": rng.standard_normal((8, 16)).astype(np.float32), "s": rng.standard_normal((8, 4)).astype(np.float32)}
             for _ in range(3)]
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(calib, algorithm="minmax"), accuracy_check=False))
    assert engine.tensor_shape("x") == (-1, 16) and engine.tensor_shape("s") == (-1, 4)
    feed = {"x": rng.standard_normal((3, 16)).astype(np.float32), "s": rng.standard_normal((3, 4)).astype(np.float32)}
    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run(feed)["y"]
    got = engine.run(feed)["y"]
    assert got.shape == (3, 4, 4)
    np.testing.assert_allclose(got, want, atol=0.05 * np.abs(want).max())


def test_a_dimension_cast_to_float_is_computed_at_run_time():
    """DeBERTa-v2's TorchScript export scales attention by sqrt(float(head size) * 3),
    the head size read with Shape where ONNX shape inference cannot size it: the
    float Cast of that shape entry used to be carried as an int64 shape value and
    the import failed (Mul: int64 != float32); it runs at run time now, every size
    matching ONNX Runtime."""
    ort = pytest.importorskip("onnxruntime")
    m = model([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "two"], ["d"], axis=0),
               helper.make_node("Cast", ["d"], ["df"], to=onnx.TensorProto.FLOAT),
               helper.make_node("Mul", ["df", "three"], ["m"]), helper.make_node("Sqrt", ["m"], ["r"]),
               helper.make_node("Div", ["x", "r"], ["y"])],
              [fvi("x", ["N", "S", "D"])], [fvi("y", ["N", "S", "D"])],
              [init("two", np.array(2, np.int64)), init("three", np.array(3.0, np.float32))])
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    ctx = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    for shape in [(2, 3, 8), (1, 4, 5)]:
        x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(ctx.run({"x": x})["y"], sess.run(None, {"x": x})[0])


def test_a_pointwise_conv_built_at_one_pixel_runs_other_sizes(tmp_path):
    """A dynamic-size 1x1 conv whose calibration images were 1 x 1 must not be
    bound to the one-pixel GEMV kernel (ConvShape::any_input_size): at 3 x 5
    it gives the bytes of an engine built for 3 x 5 (found on PP-OCR det)."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((24, 16, 1, 1)).astype(np.float32) * 0.3

    def pointwise(h: object, w_dim: object) -> onnx.ModelProto:
        nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="pw"), helper.make_node("Relu", ["c"], ["y"])]
        return model(nodes, [fvi("x", ["N", 16, h, w_dim])], [fvi("y", ["N", 24, h, w_dim])], [init("w", w)],
                     opset=13)

    one_pixel = [{"x": rng.uniform(-1, 1, (8, 16, 1, 1)).astype(np.float32)} for _ in range(3)]
    cache = str(tmp_path / "calib.cache")
    config = int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(one_pixel, algorithm="minmax", cache_file=cache),
                                  accuracy_check=False)
    engine = int8rt.build_engine(pointwise("H", "W"), config)
    assert any(layer["op"] == "int8rt.QConv" for layer in engine.layers())
    ctx = engine.create_execution_context()
    for h, wd in [(1, 1), (3, 5), (1, 1)]:
        x = rng.uniform(-1, 1, (2, 16, h, wd)).astype(np.float32)
        static = int8rt.build_engine(pointwise(h, wd), int8rt.BuilderConfig(  # the same scales, from the cache
            calibrator=int8rt.make_calibrator([{"x": x}], algorithm="minmax", cache_file=cache), accuracy_check=False))
        got, want = ctx.run({"x": x})["y"], static.run({"x": x})["y"]
        assert got.shape == (2, 24, h, wd) and np.array_equal(got, want), f"{h}x{wd}"
