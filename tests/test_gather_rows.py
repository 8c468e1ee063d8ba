"""Gather's copy (csrc/engine/ops/gather.cc, also int8rt.QGather's): rows of 1, 2, 4 and 8 bytes copied as one
integer each with running counters, other sizes by memcpy (RESULTS.md §269: ConvBERT's unfold gathers single
int8 elements). Every case == numpy.take: rows of 1, 2, 4, 8 bytes and of 5, 10, 16, 20, 40, every axis, scalar,
1-D and 2-D indices with negatives and repeats, outer extents 1 and > 1 (batch 1 and 3), 1 and 2 threads, and
runs long enough that the two threads' chunks start inside an index row."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import int8rt
from onnx_models import init, model

DTYPES = {np.int8: TensorProto.INT8, np.int16: TensorProto.INT16, np.float16: TensorProto.FLOAT16,
          np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64}


def _engine(dtype, shape, axis: int, idx: np.ndarray):
    out = list(shape[:axis]) + list(idx.shape) + list(shape[axis + 1:])
    m = model([helper.make_node("Gather", ["x", "i"], ["y"], name="gather", axis=axis)],
              [helper.make_tensor_value_info("x", DTYPES[dtype], ["N"] + list(shape[1:]))],
              [helper.make_tensor_value_info("y", DTYPES[dtype], ["N"] + out[1:] if axis > 0 else out)],
              [init("i", idx)])
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))


def _data(dtype, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype in (np.float16, np.float32):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    x.flat[:2] = (info.min, info.max)  # the ends of the range
    return x


CASES = [  # (data shape without the batch, axis counted with the batch, indices)
    ((9, 1), 1, np.array([[0, 8, -1], [3, 3, -9]], np.int64)),   # a row of one element (unfold's axis 2)
    ((9, 1), 2, np.zeros((1, 4), np.int64)),                      # the last axis of size 1 (unfold's axis 4)
    ((5, 2), 1, np.array([4, -5, 2], np.int64)),                  # rows of two elements
    ((5, 3), 2, np.array([[2, 0], [1, -1]], np.int64)),           # the last axis, rows of one element
    ((7, 5), 1, np.array(6, np.int64)),                           # a scalar index: the axis goes
    ((4, 6, 2), 2, np.array([5, 0, 5], np.int32)),                # int32 indices, rows of two
]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda t: t.__name__)
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("threads", [1, 2])
def test_gather_equals_numpy_take(dtype, case, threads):
    shape, axis, idx = CASES[case]
    int8rt.set_num_threads(threads)
    try:
        ctx = _engine(dtype, (1,) + shape, axis, idx).create_execution_context()
        for n in (1, 3):
            x = _data(dtype, (n,) + shape, n + case)
            got, want = ctx.run({"x": x})["y"], np.take(x, idx, axis=axis)
            assert got.dtype == want.dtype and got.shape == want.shape, (got.shape, want.shape)
            assert got.tobytes() == want.tobytes(), (dtype.__name__, case, n, threads)
    finally:
        int8rt.set_num_threads(1)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.float32, np.int64], ids=lambda t: t.__name__)
def test_long_gathers_split_between_threads_inside_an_index_row(dtype):
    # 3 * 12000 outer rows x 7 indices: more rows than one chunk of the 1-byte copy (65536), and 7 does not
    # divide a chunk, so the second thread starts inside an index row
    idx = np.array([6, 0, 3, -1, 2, 2, 5], np.int64)
    int8rt.set_num_threads(2)
    try:
        ctx = _engine(dtype, (1, 12000, 7), 2, idx).create_execution_context()
        x = _data(dtype, (3, 12000, 7), 4)
        assert ctx.run({"x": x})["y"].tobytes() == np.take(x, idx, axis=2).tobytes()
    finally:
        int8rt.set_num_threads(1)
