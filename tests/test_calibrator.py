"""TensorRT-style calibrators driven by int8rt.calib.calibrate and
CalibrationSession: a calibrator class ported from TensorRT code (only the
import changed), the cache written and reused (get_batch never called on the
second run), a mismatched cache ignored with a warning, user exceptions
propagating, and clear errors for malformed batches."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

import int8rt
from int8rt.calib import CalibrationSession, Collector, calibrate, read_cache

BATCH = 4
RNG_SEED = 123


def make_data(n_batches: int = 5, seed: int = RNG_SEED) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((BATCH, 3, 8, 8)).astype(np.float32) for _ in range(n_batches)]


WEIGHTS = np.random.default_rng(9).standard_normal((3, 5)).astype(np.float32)


def forward(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A two-layer numpy 'network' that reports its activations by name."""
    x = inputs["input.1"]
    conv = np.einsum("bchw,co->bohw", x, WEIGHTS)
    return {"/conv1/Conv_output_0": conv, "/relu/Relu_output_0": np.maximum(conv, 0)}


# ---- a calibrator as written for TensorRT; only `import tensorrt as trt` changed ----
trt = int8rt


class ImageBatchCalibrator(trt.IInt8EntropyCalibrator2):
    def __init__(self, batches: list[np.ndarray], cache_file: Path) -> None:
        # Whenever you specify a custom constructor for a TensorRT class,
        # you MUST call the constructor of the parent explicitly.
        trt.IInt8EntropyCalibrator2.__init__(self)
        self.batches = batches
        self.index = 0
        self.cache_file = cache_file
        self.get_batch_calls = 0
        self.written: list[bytes] = []

    def get_batch_size(self) -> int:
        return BATCH

    def get_batch(self, names: list[str]) -> Optional[list[np.ndarray]]:
        self.get_batch_calls += 1
        if self.index >= len(self.batches):
            return None
        batch = self.batches[self.index]
        self.index += 1
        return [batch]

    def read_calibration_cache(self) -> Optional[bytes]:
        if os.path.exists(self.cache_file):
            with open(self.cache_file, "rb") as f:
                return f.read()
        return None

    def write_calibration_cache(self, cache: bytes) -> None:
        self.written.append(cache)
        with open(self.cache_file, "wb") as f:
            f.write(cache)


def expected_scales(batches: list[np.ndarray], method: str, **options: Any) -> dict[str, float]:
    col = Collector(method, **options)
    for b in batches:
        col.observe({"input.1": b, **forward({"input.1": b})})
    return col.scales()


def test_port_calibrates_then_reuses_cache(tmp_path: Path) -> None:
    data = make_data()
    cache_file = tmp_path / "calib.cache"
    first = ImageBatchCalibrator(data, cache_file)
    r1 = calibrate(first, forward, input_names=["input.1"])
    assert not r1.from_cache and r1.num_batches == len(data)
    assert first.get_batch_calls == len(data) + 1  # the last call returned None
    assert list(r1.scales) == ["input.1", "/conv1/Conv_output_0", "/relu/Relu_output_0"]
    assert r1.scales == expected_scales(data, "entropy")
    assert first.written == [r1.cache] and cache_file.read_bytes() == r1.cache
    assert r1.cache.startswith(b"TRT-8601-EntropyCalibration2\n")
    assert read_cache(r1.cache)[2] == r1.scales
    assert r1.algorithm == "EntropyCalibration2"

    second = ImageBatchCalibrator(data, cache_file)
    r2 = calibrate(second, forward, input_names=["input.1"])
    assert r2.from_cache and r2.num_batches == 0
    assert second.get_batch_calls == 0  # as TensorRT: a matching cache skips calibration
    assert second.written == []
    assert r2.scales == r1.scales and r2.cache == r1.cache
    for name, s in r2.scales.items():
        assert r2.amaxes[name] == float(np.float32(s) * np.float32(127))


def test_mismatched_cache_is_ignored_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = make_data(3)
    cache_file = tmp_path / "calib.cache"
    cache_file.write_bytes(int8rt.calib.write_cache({"input.1": 0.01}, "minmax"))
    cal = ImageBatchCalibrator(data, cache_file)
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        r = calibrate(cal, forward, input_names=["input.1"])
    warnings = [rec for rec in caplog.records if rec.name == "int8rt" and rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "MinMaxCalibration" in msg and "EntropyCalibration2" in msg and "ImageBatchCalibrator" in msg
    assert not r.from_cache and cal.get_batch_calls == len(data) + 1
    assert read_cache(cache_file)[0] == "EntropyCalibration2"  # rewritten


def test_empty_cache_means_calibrate(tmp_path: Path) -> None:
    cache_file = tmp_path / "calib.cache"
    cache_file.write_bytes(b"")
    cal = ImageBatchCalibrator(make_data(2), cache_file)
    r = calibrate(cal, forward, input_names=["input.1"])
    assert not r.from_cache and r.num_batches == 2 and cache_file.read_bytes() == r.cache


def test_cache_of_wrong_type() -> None:
    class Odd(int8rt.EntropyCalibrator2):
        def read_calibration_cache(self) -> Any:
            return 42

    with pytest.raises(TypeError, match=r"read_calibration_cache\(\) must return bytes or None, got int"):
        CalibrationSession(Odd())


def test_malformed_cache_is_an_error(tmp_path: Path) -> None:
    cache_file = tmp_path / "calib.cache"
    cache_file.write_bytes(b"TRT-8601-EntropyCalibration2\ninput.1 3c010204\n")
    with pytest.raises(int8rt.FormatError, match=r"read_calibration_cache\(\) returned a malformed cache: .*line 2"):
        calibrate(ImageBatchCalibrator(make_data(1), cache_file), forward, input_names=["input.1"])


@pytest.mark.parametrize("cls,method,options", [
    (int8rt.MinMaxCalibrator, "minmax", {}),
    (int8rt.EntropyCalibrator, "entropy_legacy", {}),
    (int8rt.MSECalibrator, "mse", {}),
    (int8rt.LegacyCalibrator, "percentile", {"percentile": 99.99}),
])
def test_each_algorithm(cls: type, method: str, options: dict) -> None:
    data = make_data(3)

    class Cal(cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(num_bins=1024, policy="power_of_two")
            self.it = iter(data)

        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> Any:
            b = next(self.it, None)
            return None if b is None else [b]

    r = calibrate(Cal(), forward, input_names=["input.1"])
    assert r.scales == expected_scales(data, method, num_bins=1024, policy="power_of_two", **options)
    assert r.algorithm == int8rt.calib.cache_algorithm_name(method)
    assert r.cache.startswith(f"TRT-8601-{r.algorithm}\n".encode())


def test_minmax_scale_is_the_max() -> None:
    data = make_data(2)
    session = CalibrationSession(_Simple(int8rt.MinMaxCalibrator, data))
    for b in data:
        session.observe({"input.1": b})
    r = session.finish()
    top = np.float32(max(np.abs(b).max() for b in data))
    assert r.amaxes["input.1"] == float(top)
    assert r.scales["input.1"] == float(top / np.float32(127))


def test_legacy_quantile_and_regression_cutoff(caplog: pytest.LogCaptureFixture) -> None:
    data = make_data(2)

    class Legacy(int8rt.LegacyCalibrator):
        def __init__(self) -> None:
            super().__init__()
            self.it = iter(data)

        def get_quantile(self) -> float:
            return 0.999

        def get_regression_cutoff(self) -> float:
            return 0.5

        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> Any:
            b = next(self.it, None)
            return None if b is None else [b]

    with caplog.at_level(logging.WARNING, logger="int8rt"):
        r = calibrate(Legacy(), forward, input_names=["input.1"])
    assert r.scales == expected_scales(data, "percentile", percentile=99.9)
    assert any("regression" in rec.getMessage() for rec in caplog.records)
    assert r.cache.startswith(b"TRT-8601-LegacyCalibration\n")


def test_percentile_quantile_as_an_option() -> None:
    """make_calibrator(algorithm="percentile", quantile=q) keeps q of |x| (the
    option int8rt adds to TensorRT's argument-less class); a subclass's
    get_quantile() still wins; a quantile outside (0, 1] is refused."""
    data = make_data(3)
    arrays = {"input.1": np.concatenate(data)}
    for quantile, percent in ((0.99999, 99.999), (0.99, 99.0)):
        cal = int8rt.make_calibrator(arrays, algorithm="percentile", batch_size=BATCH, quantile=quantile)
        r = calibrate(cal, forward, input_names=["input.1"])
        assert r.scales == expected_scales(data, "percentile", percentile=percent)
    default = calibrate(int8rt.make_calibrator(arrays, algorithm="percentile", batch_size=BATCH), forward,
                        input_names=["input.1"])
    assert default.scales == expected_scales(data, "percentile", percentile=99.99)
    assert default.scales != expected_scales(data, "percentile", percentile=99.0)

    class Fixed(int8rt.LegacyCalibrator):
        def get_quantile(self) -> float:
            return 0.999

    assert Fixed(quantile=0.5).get_quantile() == 0.999
    for bad in (0.0, 1.5, float("nan"), "high"):
        with pytest.raises(int8rt.InvalidArgumentError, match="expected a value in"):
            int8rt.make_calibrator(arrays, algorithm="percentile", quantile=bad)


class _Simple:
    """Factory: a calibrator of class `base` serving `batches` (list or dict form)."""

    def __new__(cls, base: type, batches: list, *, as_dict: bool = False, batch_size: int = BATCH,
                names: tuple = ("input.1",)) -> Any:
        class Cal(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                super().__init__()
                self.it = iter(batches)

            def get_batch_size(self) -> int:
                return batch_size

            def get_batch(self, want: list[str]) -> Any:
                b = next(self.it, None)
                if b is None:
                    return None
                items = b if isinstance(b, (list, tuple)) else [b]
                return dict(zip(names, items)) if as_dict else list(items)

        return Cal()


def test_dict_batches_equal_list_batches() -> None:
    data = make_data(3)
    r_list = calibrate(_Simple(int8rt.EntropyCalibrator2, data), forward, input_names=["input.1"])
    r_dict = calibrate(_Simple(int8rt.EntropyCalibrator2, data, as_dict=True), forward,
                       input_names=["input.1"])
    assert r_dict.scales == r_list.scales and r_dict.cache == r_list.cache


def test_integer_inputs_are_passed_not_observed() -> None:
    rng = np.random.default_rng(3)
    batches = [(rng.integers(0, 10, (BATCH, 7)), rng.standard_normal((BATCH, 7)).astype(np.float32))
               for _ in range(2)]
    seen = []

    def fwd(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen.append(inputs["ids"].dtype)
        return {"emb": inputs["ids"].astype(np.float32) * inputs["mask"]}

    cal = _Simple(int8rt.MinMaxCalibrator, batches, names=("ids", "mask"))
    r = calibrate(cal, fwd, input_names=["ids", "mask"])
    assert list(r.scales) == ["mask", "emb"] and seen == [np.dtype(np.int64)] * 2


def test_user_exceptions_propagate_with_traceback() -> None:
    class Broken(int8rt.EntropyCalibrator2):
        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> Any:
            raise OSError("calibration images not found")

    with pytest.raises(OSError, match="calibration images not found") as info:
        calibrate(Broken(), forward, input_names=["input.1"])
    assert any(entry.name == "get_batch" for entry in info.traceback)

    def bad_forward(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise KeyError("layer3")

    with pytest.raises(KeyError, match="layer3") as info2:
        calibrate(_Simple(int8rt.EntropyCalibrator2, make_data(1)), bad_forward, input_names=["input.1"])
    assert any(entry.name == "bad_forward" for entry in info2.traceback)


@pytest.mark.parametrize("batches,names,batch_size,match", [
    ([[np.zeros((4, 3), np.float32)] * 2], ("input.1",), 4, r"returned 2 arrays for 1 inputs \(input.1\)"),
    ([np.array([["a"]] * 4)], ("input.1",), 4, r"input 'input.1': dtype <U1 is not numeric"),
    ([np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float64)], ("input.1",), 4,
     r"batch 2, input 'input.1': dtype float64, but the first batch had dtype float32"),
    ([np.zeros((4, 3), np.float32), np.zeros((4, 3, 1), np.float32)], ("input.1",), 4,
     r"batch 2, input 'input.1': rank 3 .* first batch had rank 2"),
    ([np.zeros((3, 3), np.float32)], ("input.1",), 4, r"input 'input.1': first axis is 3 .* get_batch_size\(\) is 4"),
    ([12345678], ("input.1",), 4, r"device pointer"),
    ([np.zeros((4, 3), np.float32)], ("input.1",), 0, r"get_batch_size\(\) returned 0"),
])
def test_malformed_batches(batches: list, names: tuple, batch_size: int, match: str) -> None:
    cal = _Simple(int8rt.EntropyCalibrator2, batches, batch_size=batch_size, names=names)
    with pytest.raises(int8rt.InvalidArgumentError, match=match):
        calibrate(cal, lambda inputs: {}, input_names=list(names))


def test_dict_batch_errors() -> None:
    class Cal(int8rt.MinMaxCalibrator):
        def __init__(self, batch: dict) -> None:
            super().__init__()
            self.batch = batch

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> Any:
            return self.batch

    x = np.zeros((2, 3), np.float32)
    with pytest.raises(int8rt.InvalidArgumentError, match="no array for input 'mask'"):
        calibrate(Cal({"ids": x}), lambda i: {}, input_names=["ids", "mask"])
    with pytest.raises(int8rt.InvalidArgumentError, match="unknown input 'idz'"):
        calibrate(Cal({"idz": x, "mask": x}), lambda i: {}, input_names=["ids", "mask"])
    with pytest.raises(int8rt.InvalidArgumentError, match="got ndarray"):
        calibrate(Cal(x), lambda i: {}, input_names=["ids"])  # type: ignore[arg-type]


def test_explicit_batch_size_one_does_not_check_first_axis() -> None:
    data = make_data(2)
    r = calibrate(_Simple(int8rt.MinMaxCalibrator, data, batch_size=1), forward, input_names=["input.1"])
    assert r.num_batches == 2


def test_zero_batches_is_an_error() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="returned no batch on its first call"):
        calibrate(_Simple(int8rt.EntropyCalibrator2, []), forward, input_names=["input.1"])


def test_nan_activation_names_tensor() -> None:
    def nan_forward(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = forward(inputs)
        out["/relu/Relu_output_0"][0, 0, 0, 0] = np.nan
        return out

    with pytest.raises(int8rt.InvalidArgumentError, match=r"tensor '/relu/Relu_output_0'"):
        calibrate(_Simple(int8rt.EntropyCalibrator2, make_data(1)), nan_forward, input_names=["input.1"])


def test_forgotten_super_init_is_a_clear_type_error() -> None:
    class Forgetful(int8rt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            self.data = make_data(1)

        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> Any:
            return None

    with pytest.raises(TypeError, match=r"Forgetful.__init__ did not call super\(\).__init__\(\)"):
        calibrate(Forgetful(), forward, input_names=["input.1"])
    with pytest.raises(TypeError, match="did not call super"):
        CalibrationSession(Forgetful())


def test_not_a_calibrator() -> None:
    class FromTensorRT:  # e.g. a class still deriving from tensorrt's base
        def get_batch(self, names: list[str]) -> None:
            return None

    with pytest.raises(TypeError, match="importing the base class from int8rt"):
        calibrate(FromTensorRT(), forward, input_names=["input.1"])  # type: ignore[arg-type]


def test_base_class_without_algorithm() -> None:
    class Bare(int8rt.IInt8Calibrator):
        pass

    with pytest.raises(NotImplementedError, match="IInt8EntropyCalibrator2"):
        CalibrationSession(Bare())


def test_bad_options_fail_at_construction() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="policy"):
        int8rt.EntropyCalibrator2(policy="grow")


def test_two_pass_needs_a_session() -> None:
    data = make_data(3)

    class TwoPass(int8rt.EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__(policy="two_pass")

        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> Any:
            return None

    with pytest.raises(int8rt.InvalidArgumentError, match="two_pass"):
        calibrate(TwoPass(), forward, input_names=["input.1"])
    session = CalibrationSession(TwoPass())
    for b in data:
        session.observe_range({"input.1": b})
    for b in data:
        session.observe({"input.1": b})
    col = Collector("entropy", policy="two_pass")
    for b in data:
        col.observe_range({"input.1": b})
    for b in data:
        col.observe({"input.1": b})
    assert session.finish().scales == col.scales()


def test_session_push_mode_equals_calibrate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = make_data(4)
    cache_file = tmp_path / "c.cache"
    cal = ImageBatchCalibrator([], cache_file)
    session = CalibrationSession(cal)
    assert not session.from_cache
    for b in data:  # activations captured elsewhere (hooks, ONNX Runtime outputs...)
        session.observe({"input.1": b, **forward({"input.1": b})})
    r = session.finish()
    assert r.scales == expected_scales(data, "entropy") and r.num_batches == 4
    assert cal.written == [r.cache] and cal.get_batch_calls == 0
    assert session.finish() is r and cal.written == [r.cache]  # finish is idempotent
    with pytest.raises(int8rt.InvalidArgumentError, match="finished"):
        session.observe({"input.1": data[0]})

    again = CalibrationSession(ImageBatchCalibrator([], cache_file))
    assert again.from_cache and again.collector is None
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        again.observe({"input.1": data[0]})
        again.observe({"input.1": data[0]})
    assert sum("ignored" in rec.getMessage() for rec in caplog.records) == 1
    assert again.finish().scales == r.scales


def test_session_observe_with_feeds_the_collector() -> None:
    data = make_data(3)
    session = CalibrationSession(_Simple(int8rt.EntropyCalibrator2, []))
    for b in data:  # the engine builder's path: a feed streams into the collector itself
        session.observe_with(lambda collector, b=b: collector.observe({"input.1": b, **forward({"input.1": b})}))
    r = session.finish()
    assert r.num_batches == 3 and r.scales == expected_scales(data, "entropy")


def test_session_without_data_is_an_error() -> None:
    session = CalibrationSession(_Simple(int8rt.EntropyCalibrator2, []))
    with pytest.raises(int8rt.InvalidArgumentError, match="no data was observed"):
        session.finish()


def test_algo_type_values_match_tensorrt() -> None:
    t = int8rt.CalibrationAlgoType
    assert (int(t.LEGACY_CALIBRATION), int(t.ENTROPY_CALIBRATION), int(t.ENTROPY_CALIBRATION_2),
            int(t.MINMAX_CALIBRATION)) == (0, 1, 2, 3)
    assert int8rt.EntropyCalibrator2 is int8rt.IInt8EntropyCalibrator2
    assert int8rt.IInt8LegacyCalibrator().get_quantile() == 0.9999
    assert int8rt.IInt8LegacyCalibrator().get_regression_cutoff() == 1.0
    assert int8rt.IInt8LegacyCalibrator().get_algorithm() == t.LEGACY_CALIBRATION
    assert t.ENTROPY_CALIBRATION_2.cache_name == "EntropyCalibration2"
    assert t.LEGACY_CALIBRATION.cache_name == "LegacyCalibration"


def test_array_calibrator_with_fewer_samples_than_a_batch() -> None:
    from int8rt.data_calibrator import make_calibrator
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    calib = np.load(DATA_PATH)["calib"][:5]
    cal = make_calibrator({"input": calib}, algorithm="minmax", batch_size=32)
    assert cal.get_batch_size() == 5
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal))
    assert engine.precision == "int8"
