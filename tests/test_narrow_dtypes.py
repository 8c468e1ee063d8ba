"""The storage dtypes (core/narrow_float.h): bfloat16, float8 e4m3fn /
e4m3fnuz / e5m2 / e5m2fnuz, float4 e2m1, int4, uint4, int2, uint2, held one
element per byte (two for bfloat16) as numpy's ml_dtypes holds them. Cast to
and from float32 against ml_dtypes (ONNX's reference), bit for bit: every code
of each format decoded, and a sweep of float32 values (halfway cases,
overflow, subnormals, Inf, NaN) encoded with saturate on (ONNX's default:
clip, then round) and off; data movement of a storage type."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import helper

import int8rt

FLOATS = {"bfloat16": 16, "float8_e4m3fn": 17, "float8_e4m3fnuz": 18, "float8_e5m2": 19, "float8_e5m2fnuz": 20,
          "float4_e2m1fn": 23}
INTS = {"uint4": 21, "int4": 22, "uint2": 25, "int2": 26}


def run(op: str, x: np.ndarray, elem_in: int, elem_out: int, attrs: dict | None = None, opset: int = 21) -> np.ndarray:
    node = helper.make_node(op, ["x"], ["y"], **(attrs or {}))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem_in, list(x.shape))],
                              [helper.make_tensor_value_info("y", elem_out, [f"d{i}" for i in range(x.ndim)])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    return engine.run({"x": x})["y"]


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype.itemsize == 2 else np.uint8)


@pytest.mark.parametrize("name", sorted(FLOATS))
def test_every_code_decodes_as_ml_dtypes(name: str) -> None:
    dtype = np.dtype(getattr(ml_dtypes, name))
    n = 1 << 16 if dtype.itemsize == 2 else (16 if name == "float4_e2m1fn" else 256)
    codes = np.arange(n, dtype=np.uint16 if dtype.itemsize == 2 else np.uint8).view(dtype)
    y = run("Cast", codes, FLOATS[name], 1, {"to": 1})
    expected = codes.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(y[~np.isnan(y)], expected[~np.isnan(expected)])
    np.testing.assert_array_equal(np.signbit(y[~np.isnan(y)]), np.signbit(expected[~np.isnan(expected)]))


def sweep() -> np.ndarray:
    rng = np.random.default_rng(3)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e6, -1e6, 448, 460, 464, 470, 480, 240, 250, 57344,
                        61440, 65536, 6, 5, 7, 2.5, 0.25, 0.75, 1e-7, -1e-7, 2.0 ** -9, 2.0 ** -10, 2.0 ** -17,
                        3.0e38, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8], np.float32)
    scaled = rng.standard_normal(400) * 10.0 ** rng.integers(-6, 6, 400)
    return np.concatenate([special, -special, scaled.astype(np.float32)])


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("name", sorted(FLOATS))
def test_float32_encodes_as_ml_dtypes(name: str, saturate: int) -> None:
    dtype = np.dtype(getattr(ml_dtypes, name))
    x = sweep()
    with np.errstate(all="ignore"):
        clip = saturate and name.startswith("float8")
        expected = (np.clip(x, float(ml_dtypes.finfo(dtype).min), float(ml_dtypes.finfo(dtype).max)) if clip else x).astype(dtype)
    y = run("Cast", x, 1, FLOATS[name], {"to": FLOATS[name], "saturate": saturate})
    assert y.dtype == dtype
    np.testing.assert_array_equal(bits(y), bits(expected), err_msg=f"{name} saturate={saturate}")


@pytest.mark.parametrize("name", sorted(INTS))
def test_narrow_integers_as_ml_dtypes(name: str) -> None:
    dtype = np.dtype(getattr(ml_dtypes, name))
    x = np.concatenate([np.arange(-20, 20, dtype=np.float32), np.array([2.5, -3.7, 1.9, np.nan], np.float32)])
    with np.errstate(all="ignore"):
        expected = x.astype(dtype)
    y = run("Cast", x, 1, INTS[name], {"to": INTS[name]})
    assert y.dtype == dtype
    np.testing.assert_array_equal(bits(y), bits(expected))
    back = run("Cast", expected, INTS[name], 3, {"to": 3})  # -> int8: the value
    np.testing.assert_array_equal(back, expected.astype(np.int8))


def test_storage_types_move() -> None:
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4).view(ml_dtypes.float8_e4m3fn)
    y = run("Transpose", x, FLOATS["float8_e4m3fn"], FLOATS["float8_e4m3fn"], {"perm": [2, 1, 0]})
    np.testing.assert_array_equal(bits(y), bits(x.transpose(2, 1, 0)))


def test_float8_e8m0_decodes_every_code() -> None:
    codes = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu)
    y = run("Cast", codes, 24, 1, {"to": 1})
    expected = codes.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(y[:255], expected[:255])


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_float8_e8m0_encodes_as_onnx_reference(round_mode: str, saturate: int) -> None:
    from onnx.numpy_helper import to_float8e8m0
    x = np.concatenate([sweep(), np.array([3.0e38, 1.5 * 2.0 ** 127, 1.75, 1.5, 1.25, 2.0 ** -127], np.float32)])
    expected = to_float8e8m0(x, saturate=bool(saturate), round_mode=round_mode)
    y = run("Cast", x, 1, 24, {"to": 24, "saturate": saturate, "round_mode": round_mode}, opset=25)  # round_mode: opset 25
    np.testing.assert_array_equal(bits(y), bits(expected), err_msg=f"round_mode={round_mode} saturate={saturate}")
