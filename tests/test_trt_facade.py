"""int8rt.trt: TensorRT-style INT8 build scripts (TensorRT 10 and 8 calls)
run against the facade and give exactly what int8rt.build_engine gives with
the same calibrator; what int8rt lacks raises NotSupportedError."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402
import int8rt.trt as trt  # noqa: E402  (was: import tensorrt as trt)
from int8rt.quickstart import DATA_PATH, MODEL_PATH  # noqa: E402

# ---------------------------------------------------------------------------
# A TensorRT INT8 build script as people write it; only the import differs.
# (With TensorRT, get_batch copies to the device and returns [int(pointer)],
# and execute_v2 takes device pointers; on int8rt both are host arrays.)
# ---------------------------------------------------------------------------
TRT_LOGGER = trt.Logger(trt.Logger.WARNING)


class DigitsCalibrator(trt.IInt8EntropyCalibrator2):
    def __init__(self, data, batch_size, cache_file):
        trt.IInt8EntropyCalibrator2.__init__(self)
        self.data, self.batch_size, self.cache_file, self.index = data, batch_size, cache_file, 0

    def get_batch_size(self):
        return self.batch_size

    def get_batch(self, names):
        if self.index + self.batch_size > len(self.data):
            return None
        batch = np.ascontiguousarray(self.data[self.index:self.index + self.batch_size])
        self.index += self.batch_size
        return [batch]

    def read_calibration_cache(self):
        if os.path.exists(self.cache_file):
            with open(self.cache_file, "rb") as f:
                return f.read()
        return None

    def write_calibration_cache(self, cache):
        with open(self.cache_file, "wb") as f:
            f.write(cache)


def build_int8_engine_trt10(onnx_path, calibrator, engine_path):
    builder = trt.Builder(TRT_LOGGER)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, TRT_LOGGER)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            raise RuntimeError("; ".join(parser.get_error(i).desc() for i in range(parser.num_errors)))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    config.set_flag(trt.BuilderFlag.INT8)
    config.int8_calibrator = calibrator
    inp = network.get_input(0)
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (1, *inp.shape[1:]), (32, *inp.shape[1:]), (1024, *inp.shape[1:]))
    config.add_optimization_profile(profile)
    config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    with open(engine_path, "wb") as f:
        f.write(serialized)


def infer_trt10(engine_path, x):
    runtime = trt.Runtime(TRT_LOGGER)
    with open(engine_path, "rb") as f:
        engine = runtime.deserialize_cuda_engine(f.read())
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    context.set_input_shape(inputs[0], x.shape)
    out = np.empty(context.get_tensor_shape(outputs[0]), dtype=trt.nptype(engine.get_tensor_dtype(outputs[0])))
    assert context.execute_v2([x, out])
    return out


def build_and_infer_trt8(onnx_path, calibrator, x):
    builder = trt.Builder(TRT_LOGGER)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, TRT_LOGGER)
    assert parser.parse_from_file(str(onnx_path))
    config = builder.create_builder_config()
    config.max_workspace_size = 1 << 28
    config.flags = 1 << int(trt.BuilderFlag.INT8)
    config.int8_calibrator = calibrator
    engine = builder.build_engine(network, config)
    context = engine.create_execution_context()
    bindings = []
    for i in range(engine.num_bindings):
        if engine.binding_is_input(i):
            context.set_binding_shape(i, x.shape)
            bindings.append(x)
        else:
            shape = context.get_binding_shape(i)
            bindings.append(np.empty(trt.volume(shape), trt.nptype(engine.get_binding_dtype(i))).reshape(shape))
    context.execute_v2(bindings)
    return bindings[1]
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return np.load(DATA_PATH)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """int8rt.build_engine with the same calibrator, its logits and cache."""
    cache = tmp_path_factory.mktemp("ref") / "ref.cache"
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(
        calibrator=DigitsCalibrator(data["calib"], 32, str(cache))))
    return engine.run({"input": data["test_x"]})["logits"], cache.read_bytes()


def test_trt10_script_matches_build_engine(tmp_path, data, reference):
    cache, engine_path = tmp_path / "digits.cache", tmp_path / "digits.engine"
    build_int8_engine_trt10(MODEL_PATH, DigitsCalibrator(data["calib"], 32, str(cache)), engine_path)
    assert cache.read_bytes() == reference[1]
    out = infer_trt10(engine_path, data["test_x"])
    assert np.array_equal(out, reference[0])  # same scales, same engine: bit-identical
    loaded = int8rt.Engine.load(engine_path)  # the serialized network is an int8rt engine file
    assert loaded.precision == "int8" and np.array_equal(loaded.run({"input": data["test_x"]})["logits"], out)
    # The cache now present skips calibration on a rebuild, as in TensorRT.
    again = DigitsCalibrator(data["calib"], 32, str(cache))
    build_int8_engine_trt10(MODEL_PATH, again, tmp_path / "again.engine")
    assert again.index == 0 and np.array_equal(infer_trt10(tmp_path / "again.engine", data["test_x"]), out)


def test_trt8_script_matches_build_engine(tmp_path, data, reference):
    out = build_and_infer_trt8(MODEL_PATH, DigitsCalibrator(data["calib"], 32, str(tmp_path / "c")), data["test_x"])
    assert np.array_equal(out, reference[0])


def test_fp32_build_and_run_dict(data):
    builder = trt.Builder(TRT_LOGGER)
    network = builder.create_network()
    assert trt.OnnxParser(network, TRT_LOGGER).parse_from_file(str(MODEL_PATH))
    assert network.num_inputs == 1 and network.num_outputs == 1 and network.num_layers > 0
    assert network.get_input(0).shape == (-1, 1, 8, 8) and network.get_output(0).name == "logits"
    assert isinstance(network.native, int8rt.Network) and network.find_tensor("logits") >= 0  # delegation
    engine = builder.build_engine(network, builder.create_builder_config())
    assert isinstance(engine, int8rt.Engine) and engine.precision == "fp32"
    ref = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32")).run({"input": data["test_x"]})
    assert np.array_equal(engine.create_execution_context().run({"input": data["test_x"]})["logits"], ref["logits"])


def test_config_flags():
    config = trt.Builder(TRT_LOGGER).create_builder_config()
    assert config.get_flag(trt.BuilderFlag.TF32) and not config.get_flag(trt.BuilderFlag.INT8)  # TensorRT default
    config.set_flag(trt.BuilderFlag.INT8)
    assert config.flags == (1 << 1) | (1 << 6)
    config.clear_flag(trt.BuilderFlag.TF32)
    assert config.flags == 2 and config.get_flag(trt.BuilderFlag.INT8)
    with pytest.raises(int8rt.NotSupportedError, match="FP16.*float32"):
        config.set_flag(trt.BuilderFlag.FP16)
    with pytest.raises(int8rt.NotSupportedError, match="FP16"):
        config.flags = (1 << int(trt.BuilderFlag.FP16)) | (1 << int(trt.BuilderFlag.INT8))
    with pytest.raises(int8rt.NotSupportedError, match="REFIT"):
        config.set_flag(trt.BuilderFlag.REFIT)
    assert config.flags == 2  # unchanged by the refused calls
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 123)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 123


def test_not_supported_and_errors(data, tmp_path):
    builder = trt.Builder(TRT_LOGGER)
    with pytest.raises(int8rt.NotSupportedError, match="EXPLICIT_BATCH"):
        builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    with pytest.raises(int8rt.NotSupportedError, match="implicit batch"):
        builder.max_batch_size = 8
    network = builder.create_network()
    parser = trt.OnnxParser(network, TRT_LOGGER)
    assert parser.parse_from_file(str(MODEL_PATH))
    with pytest.raises(int8rt.NotSupportedError, match="empty network"):
        parser.parse(MODEL_PATH.read_bytes())
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.INT8)
    with pytest.raises(int8rt.InvalidArgumentError, match="int8_calibrator"):
        builder.build_serialized_network(network, config)
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 1, 16, 16), (1, 1, 16, 16), (1, 1, 16, 16))
    fp32 = builder.create_builder_config()
    fp32.add_optimization_profile(profile)
    with pytest.raises(int8rt.InvalidArgumentError, match="dimension 2 is static \\(8\\), so min, opt and max must all be 8"):
        builder.build_engine(network, fp32)
    with pytest.raises(int8rt.FormatError):
        trt.Runtime(TRT_LOGGER).deserialize_cuda_engine(b"not an engine")

    engine = builder.build_engine(network, builder.create_builder_config())
    ctx = engine.create_execution_context()
    x = data["test_x"][:4]
    with pytest.raises(int8rt.InvalidArgumentError, match="takes 2 arrays"):
        ctx.execute_v2([x])
    with pytest.raises(int8rt.NotSupportedError, match="device memory"):
        ctx.execute_v2([12345, 67890])
    with pytest.raises(int8rt.InvalidArgumentError, match="logits.*\\[4, 10\\]"):
        ctx.execute_v2([x, np.empty((3, 10), np.float32)])
    for call in (ctx.execute_async_v3, ctx.execute_async_v2, ctx.set_tensor_address):
        with pytest.raises(int8rt.NotSupportedError, match="device memory"):
            call(0)
    with pytest.raises(int8rt.InvalidArgumentError, match="takes \\[-1, 1, 8, 8\\]"):
        ctx.set_input_shape("input", (4, 1, 9, 8))


def test_parser_errors(tmp_path):
    from onnx import TensorProto, helper

    network = trt.Builder(TRT_LOGGER).create_network()
    parser = trt.OnnxParser(network, TRT_LOGGER)
    assert not parser.parse(b"garbage")
    assert parser.num_errors == 1 and parser.get_error(0).code() == trt.ErrorCode.MODEL_DESERIALIZE_FAILED
    assert "not an ONNX model" in parser.get_error(0).desc()
    assert not parser.parse_from_file(str(tmp_path / "missing.onnx"))
    assert "does not exist" in parser.get_error(1).desc()
    parser.clear_errors()
    graph = helper.make_graph([helper.make_node("Shrink", ["x"], ["y"], name="the_shrink")],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert not parser.parse(model.SerializeToString())
    err = parser.get_error(0)
    assert err.code() == trt.ErrorCode.UNSUPPORTED_NODE and "the_shrink" in err.desc() and "Shrink" in err.desc()
    assert network.num_layers == 0  # nothing half-imported


def test_reexports():
    assert trt.IInt8EntropyCalibrator2 is int8rt.IInt8EntropyCalibrator2
    assert trt.IInt8MinMaxCalibrator is int8rt.IInt8MinMaxCalibrator
    assert trt.CalibrationAlgoType.ENTROPY_CALIBRATION_2 == 2
    assert trt.Logger.WARNING == trt.Logger.Severity.WARNING == 2
    assert trt.init_libnvinfer_plugins(TRT_LOGGER, "")
    assert trt.volume((2, 3, 4)) == 24 and trt.nptype(trt.DataType.FLOAT) is np.float32
    assert int8rt.trt is trt
