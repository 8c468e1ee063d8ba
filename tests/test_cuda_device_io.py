"""Device arrays in and out of an engine on CUDA: ExecutionContext.run with
``__cuda_array_interface__`` inputs, DeviceArray outputs or caller-given
outputs, output_shapes, and the errors for mixed, wrong-dtype or
non-contiguous arrays. Results must equal the host path byte for byte.

Runs wherever device "cuda" is usable: on a GPU with a CUDA build of
int8rt, and in a package built with INT8RT_WITH_CUDA=emulated
(tests/test_cuda_emulated_package.py runs this file there). Elsewhere the
module is skipped; tests/test_device_selection.py covers CPU-only builds.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.quickstart import DATA_PATH, MODEL_PATH

if int8rt.devices()["cuda"] != "available":
    pytest.skip("no usable CUDA device: " + int8rt.devices()["cuda"], allow_module_level=True)

DATA = np.load(DATA_PATH)


class Calibrator(int8rt.IInt8MinMaxCalibrator):
    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def get_batch_size(self) -> int:
        return len(DATA["calib"])

    def get_batch(self, names):
        if self.done:
            return None
        self.done = True
        return [DATA["calib"]]


@pytest.fixture(scope="module")
def engine() -> int8rt.Engine:
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=Calibrator(), device="cuda"))


class HostMemoryAsDevice:
    """A __cuda_array_interface__ over host memory: valid device memory only
    for the CPU emulator, whose device memory is host memory."""

    def __init__(self, a: np.ndarray, typestr: str = "<f4", strides=None) -> None:
        self.a = a
        self.__cuda_array_interface__ = {"shape": a.shape, "typestr": typestr, "data": (a.ctypes.data, False),
                                         "strides": strides, "version": 3}


def test_device_arrays_in_device_arrays_out(engine: int8rt.Engine) -> None:
    x = DATA["test_x"][:5]
    want = engine.run({"input": x})["logits"]
    ctx = engine.create_execution_context()
    assert ctx.output_shapes({"input": x.shape}) == {"logits": want.shape}
    d_x = engine.device_array(x.shape)
    d_x.copy_from(x)
    out = ctx.run({"input": d_x})
    assert isinstance(out["logits"], int8rt.DeviceArray) and out["logits"].shape == want.shape
    assert out["logits"].numpy().tobytes() == want.tobytes()
    given = {"logits": engine.device_array(want.shape)}
    assert ctx.run({"input": d_x}, outputs=given)["logits"] is given["logits"]
    assert given["logits"].numpy().tobytes() == want.tobytes()


def test_bad_device_inputs_are_clear_errors(engine: int8rt.Engine) -> None:
    ctx = engine.create_execution_context()
    x = DATA["test_x"][:2]
    d_x = engine.device_array(x.shape)
    with pytest.raises(int8rt.InvalidArgumentError, match="all host arrays or all device arrays"):
        ctx.run({"input": d_x, "other": x})
    with pytest.raises(int8rt.InvalidArgumentError, match="expected shape"):
        ctx.run({"input": d_x}, outputs={"logits": engine.device_array((2, 11))})
    with pytest.raises(int8rt.InvalidArgumentError, match="shape"):
        d_x.copy_from(x[:1])


def test_foreign_device_arrays_emulator_only(engine: int8rt.Engine) -> None:
    if "SIMT emulation" not in engine.device_name:
        pytest.skip("host memory is device memory only under the emulator")
    x = np.ascontiguousarray(DATA["test_x"][:3])
    want = engine.run({"input": x})["logits"]
    y = np.zeros_like(want)
    engine.create_execution_context().run({"input": HostMemoryAsDevice(x)}, outputs={"logits": HostMemoryAsDevice(y)})
    assert y.tobytes() == want.tobytes()
    with pytest.raises(int8rt.InvalidArgumentError, match="float32"):
        engine.run({"input": HostMemoryAsDevice(x.astype(np.float64), typestr="<f8")})
    wide = np.zeros((3, 1, 8, 16), np.float32)[..., ::2]
    with pytest.raises(int8rt.InvalidArgumentError, match="C-contiguous"):
        engine.run({"input": HostMemoryAsDevice(wide, strides=wide.strides)})
