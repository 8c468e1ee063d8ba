"""End to end: the bundled digits CNN through import, calibration, INT8
lowering, engine files and execution contexts."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from int8rt.quickstart import DATA_PATH, MODEL_PATH

DATA = np.load(DATA_PATH)
CALIB, TEST_X, TEST_Y = DATA["calib"], DATA["test_x"], DATA["test_y"]


class DigitsCalibrator(int8rt.IInt8EntropyCalibrator2):
    def __init__(self, cache: Optional[bytes] = None, batch: int = 64) -> None:
        super().__init__()
        self.offset, self.batch, self.cache, self.calls = 0, batch, cache, 0

    def get_batch_size(self) -> int:
        return self.batch

    def get_batch(self, names: list[str]):
        self.calls += 1
        if self.offset >= len(CALIB):
            return None
        out = [CALIB[self.offset:self.offset + self.batch]]
        self.offset += self.batch
        return out

    def read_calibration_cache(self) -> Optional[bytes]:
        return self.cache

    def write_calibration_cache(self, cache: bytes) -> None:
        self.cache = cache


@pytest.fixture(scope="module")
def fp32_engine() -> int8rt.Engine:
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))


@pytest.fixture(scope="module")
def int8_build() -> tuple[int8rt.Engine, DigitsCalibrator]:
    cal = DigitsCalibrator()
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal)), cal


def top1(engine: int8rt.Engine) -> float:
    logits = engine.create_execution_context().run({"input": TEST_X})["logits"]
    return float(np.mean(np.argmax(logits, axis=1) == TEST_Y) * 100)


def test_int8_accuracy_within_half_a_point_of_fp32(fp32_engine, int8_build) -> None:
    engine, _ = int8_build
    fp32, int8 = top1(fp32_engine), top1(engine)
    assert fp32 >= 95.0
    assert int8 >= fp32 - 0.5, f"INT8 top-1 {int8:.2f}% vs FP32 {fp32:.2f}%"
    assert sum(1 for layer in engine.layers() if layer["precision"] == "int8") >= 7


def test_fp32_engine_matches_onnxruntime(fp32_engine) -> None:
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(MODEL_PATH), providers=["CPUExecutionProvider"])
    expected = sess.run(None, {"input": TEST_X[:128]})[0]
    got = fp32_engine.run({"input": TEST_X[:128]})["logits"]
    # Float rounding only: summation order differs between the two runtimes.
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


ELTWISE_OPS = {"int8rt.Quantize", "int8rt.Dequantize", "int8rt.QMaxPool", "int8rt.QAdd",
               "int8rt.QGlobalAveragePool"}


def test_engine_equals_reference_kernels_exactly(int8_build) -> None:
    engine, _ = int8_build
    data = engine.serialize()
    int8rt.set_max_isa("ref")
    try:
        ref_engine = int8rt.Engine.deserialize(data)
        # the detail: the kernel's name, then notes in brackets ("(input >= 0)")
        assert all(layer["detail"].split(" ")[0].endswith("_ref") for layer in ref_engine.layers()
                   if layer["op"] in ("int8rt.QConv", "int8rt.QGemm"))
        # Quantize / Dequantize (NCHW <-> NHWC and flat), QMaxPool, QAdd and
        # QGlobalAveragePool run the element-wise kernels: reference ones here.
        eltwise = [layer for layer in ref_engine.layers() if layer["op"] in ELTWISE_OPS]
        # (the digits engine ends in an int8 Flatten + float-output Gemm, so it
        # has no Dequantize layer, and its residual Add is fused into a conv's
        # epilogue, so no QAdd; the others must all be there)
        assert {layer["op"] for layer in eltwise} >= ELTWISE_OPS - {"int8rt.Dequantize", "int8rt.QAdd"}
        fused = [n for n in ref_engine._native.network().nodes() if n["op"] == "int8rt.QConv" and len(n["inputs"]) == 4]
        assert len(fused) == 1 and fused[0]["attrs"]["residual_scale"] > 0  # the residual rides in the epilogue
        assert all(layer["detail"].endswith("_s8_ref") for layer in eltwise)
        ref = ref_engine.run({"input": TEST_X[:96]})["logits"]
    finally:
        int8rt.set_max_isa(None)
    fast_engine = int8rt.Engine.deserialize(data)
    # Each element-wise layer runs the kernel the registry chooses for its op.
    registry_op = {"int8rt.Quantize": "quantize_s8", "int8rt.Dequantize": "dequantize_s8",
                   "int8rt.QMaxPool": "maxpool_s8", "int8rt.QAdd": "add_s8",
                   "int8rt.QGlobalAveragePool": "global_avgpool_s8"}
    for layer in fast_engine.layers():
        if layer["op"] in ELTWISE_OPS:
            assert layer["detail"].endswith(K.choose_eltwise_s8(registry_op[layer["op"]])), layer
    fast = fast_engine.run({"input": TEST_X[:96]})["logits"]
    assert np.array_equal(fast, ref)


def test_calibration_cache_is_tensorrt_format_and_skips_calibration(int8_build) -> None:
    engine, cal = int8_build
    algorithm, version, scales = int8rt.calib.read_cache(cal.cache)
    assert algorithm == "EntropyCalibration2"
    assert "input" in scales and "logits" in scales
    again = DigitsCalibrator(cache=cal.cache)
    rebuilt = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=again))
    assert again.calls == 0  # the cache was used, as in TensorRT
    assert np.array_equal(rebuilt.run({"input": TEST_X[:32]})["logits"], engine.run({"input": TEST_X[:32]})["logits"])


def test_save_load_round_trip(tmp_path: Path, int8_build) -> None:
    engine, _ = int8_build
    path = tmp_path / "digits.i8rt"
    engine.save(path)
    assert not list(tmp_path.glob("*.tmp.*"))
    loaded = int8rt.Engine.load(path)
    assert loaded.input_names == ["input"] and loaded.output_names == ["logits"]
    assert loaded.tensor_shape("input") == (-1, 1, 8, 8)
    a = engine.run({"input": TEST_X[:10]})["logits"]
    b = loaded.run({"input": TEST_X[:10]})["logits"]
    assert np.array_equal(a, b)
    assert loaded.scales() == engine.scales()


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_bad_engine_files_are_refused(tmp_path: Path, int8_build, damage: str) -> None:
    engine, _ = int8_build
    data = bytearray(engine.serialize())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "foreign":
        data = bytearray(b"\x08\x01\x12\x04onnx" + bytes(100))
    else:
        data = bytearray()
    path = tmp_path / "bad.i8rt"
    path.write_bytes(bytes(data))
    with pytest.raises(int8rt.FormatError, match="bad.i8rt"):
        int8rt.Engine.load(path)


def test_failed_save_leaves_nothing(tmp_path: Path, int8_build) -> None:
    engine, _ = int8_build
    target = tmp_path / "missing-dir" / "x.i8rt"
    with pytest.raises(int8rt.Error):
        engine.save(target)
    assert not target.exists() and not list(tmp_path.rglob("*.tmp.*"))


def test_dynamic_batch_and_input_errors(int8_build) -> None:
    engine, _ = int8_build
    ctx = engine.create_execution_context()
    full = ctx.run({"input": TEST_X[:7]})["logits"]
    for n in (1, 3, 7):
        assert np.array_equal(ctx.run({"input": TEST_X[:n]})["logits"], full[:n])
    with pytest.raises(int8rt.InvalidArgumentError, match="unknown input 'image'"):
        ctx.run({"image": TEST_X[:1]})
    with pytest.raises(int8rt.InvalidArgumentError, match="missing input 'input'"):
        ctx.run({})
    with pytest.raises(int8rt.InvalidArgumentError, match="float32"):
        ctx.run({"input": TEST_X[:1].astype(np.float64)})
    with pytest.raises(int8rt.InvalidArgumentError, match="expected shape"):
        ctx.run({"input": np.zeros((1, 1, 9, 8), np.float32)})


def test_contexts_run_concurrently(int8_build) -> None:
    engine, _ = int8_build
    expected = engine.run({"input": TEST_X[:40]})["logits"]
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            ctx = engine.create_execution_context()
            for _ in range(5):
                results.append(ctx.run({"input": TEST_X[:40]})["logits"])
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20 and all(np.array_equal(r, expected) for r in results)


def test_layer_precision_override_keeps_layer_fp32() -> None:
    network = int8rt.onnx.import_model(MODEL_PATH)
    gemm = next(n["name"] for n in network.nodes() if n["op"] == "Gemm")
    cal = DigitsCalibrator()
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal, layer_precisions={gemm: "fp32"}))
    by_name = {layer["name"]: layer for layer in engine.layers()}
    assert by_name[gemm]["precision"] == "fp32"
    assert any("kept in float32 (requested)" in line for line in engine.report())


def test_int8_build_without_calibrator_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="calibrator"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="int8"))


def test_calibrator_exception_propagates() -> None:
    class Broken(DigitsCalibrator):
        def get_batch(self, names):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=Broken()))


def test_int8_consumers_use_the_scale_their_int8_input_carries(int8_build) -> None:
    """A max-pool keeps its input's scale; the conv reading the pool's int8
    output must requantize with that scale, not the pool output's calibrated one."""
    engine, _ = int8_build
    net = engine._native.network()
    nodes = net.nodes()
    producer = {out: node for node in nodes for out in node["outputs"]}
    carried: dict[int, float] = {}
    for node in nodes:
        op, attrs = node["op"], node["attrs"]
        if op == "int8rt.Quantize":
            carried[node["outputs"][0]] = attrs["scale"]
        elif op in ("int8rt.QMaxPool", "int8rt.QFlatten"):  # scale-preserving
            carried[node["outputs"][0]] = carried[node["inputs"][0]]
        elif op in ("int8rt.QConv", "int8rt.QGemm", "int8rt.QAveragePool", "int8rt.QGlobalAveragePool",
                    "int8rt.QAdd", "int8rt.QConcat"):
            out_scale = attrs.get("out_scale", 0.0)
            if out_scale:
                carried[node["outputs"][0]] = out_scale
    checked = 0
    for node in nodes:
        if node["op"] in ("int8rt.QConv", "int8rt.QGemm"):
            assert node["attrs"]["in_scale"] == carried[node["inputs"][0]], node["name"]
            checked += 1
            if producer[node["inputs"][0]]["op"] == "int8rt.QMaxPool":
                checked += 100
    assert checked > 100  # the digits CNN has a conv right after its max-pool


def test_profile_times_every_layer_in_run_order(int8_build) -> None:
    engine, _ = int8_build
    ctx = engine.create_execution_context()
    prof = ctx.profile({"input": TEST_X[:4]}, runs=3)
    assert [p["name"] for p in prof] == [layer["name"] for layer in engine.layers()]
    assert all(p["ms"] >= 0.0 for p in prof) and sum(p["ms"] for p in prof) > 0.0
    assert {p["precision"] for p in prof} >= {"int8", "convert"}
    with pytest.raises(int8rt.InvalidArgumentError, match="runs"):
        ctx.profile({"input": TEST_X[:4]}, runs=0)
    with pytest.raises(int8rt.InvalidArgumentError, match="missing input"):
        ctx.profile({}, runs=1)


def test_profile_on_the_thread_cpu_clock(int8_build) -> None:
    """clock="thread_cpu": the calling thread's CPU time per layer (with one
    thread, all of the work), so one run's layers add up to at most the
    thread's CPU time across the call; an unknown clock is refused."""
    import time
    engine, _ = int8_build
    ctx = engine.create_execution_context()
    threads = int8rt.get_num_threads()
    int8rt.set_num_threads(1)
    try:
        t0 = time.thread_time()
        prof = ctx.profile({"input": TEST_X[:4]}, runs=1, clock="thread_cpu")
        spent_ms = (time.thread_time() - t0) * 1e3
    finally:
        int8rt.set_num_threads(threads)
    assert [p["name"] for p in prof] == [layer["name"] for layer in engine.layers()]
    assert all(p["ms"] >= 0.0 for p in prof) and 0.0 < sum(p["ms"] for p in prof) <= spent_ms
    with pytest.raises(int8rt.InvalidArgumentError, match="clock"):
        ctx.profile({"input": TEST_X[:4]}, runs=1, clock="cpu")
