"""The device-array boundary of the bindings (csrc/python/cuda_array_interface.h),
in any build: ``_core.ExecutionContext.run_on_device`` takes the array objects
themselves, never bare addresses, and reads each one's
``__cuda_array_interface__`` before the engine is asked to run. On a CPU engine
a well-formed array therefore gets as far as the engine's own refusal
(NotSupportedError), and a malformed one is an InvalidArgumentError naming
the tensor. (Device arrays on a device: tests/test_cuda_device_io.py, on a
GPU or in the emulated package of tests/test_cuda_emulated_package.py.)"""
from __future__ import annotations

from typing import Any, Optional

import pytest

import int8rt
from int8rt.quickstart import MODEL_PATH


class Interface:
    """An object exposing the given interface dict (no memory behind it: the
    CPU engine refuses before any address is used)."""

    def __init__(self, shape: tuple[int, ...] = (1, 1, 8, 8), typestr: str = "<f4",
                 strides: Optional[tuple[int, ...]] = None, address: int = 4096) -> None:
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (address, False),
                                         "strides": strides, "version": 3}


@pytest.fixture(scope="module")
def native_context() -> Any:
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    return engine._native.create_execution_context()


def test_well_formed_arrays_reach_the_engine(native_context: Any) -> None:
    c_strides = (256, 256, 32, 4)
    with pytest.raises(int8rt.NotSupportedError):
        native_context.run_on_device({"input": Interface(strides=c_strides)}, {"logits": Interface((1, 10))})


@pytest.mark.parametrize("value, message", [
    (4096, r"'input': expected a device array \(__cuda_array_interface__\)"),
    (Interface(typestr="<f8"), r"'input': expected a float32 device array, got typestr '<f8'"),
    (Interface(strides=(256, 256, 64, 8)), r"'input': device array must be C-contiguous \(strides \(256, 256, 64, 8\)\)"),
    (Interface(address=0), r"'input': device array has a null pointer"),
    (Interface(shape=(1, -1, 8, 8)), r"'input': bad device array shape"),
])
def test_malformed_arrays_are_named_errors(native_context: Any, value: Any, message: str) -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=message):
        native_context.run_on_device({"input": value}, {})


def test_empty_array_may_have_a_null_pointer(native_context: Any) -> None:
    with pytest.raises(int8rt.NotSupportedError):
        native_context.run_on_device({"input": Interface(shape=(0, 1, 8, 8), address=0)}, {})
