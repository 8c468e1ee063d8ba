"""Hostile values in run-time tensors never crash the process (issue 9's rule,
for the shape and index ops of issue 11): indices out of range, shapes that
overflow int64 or ask for exabytes, negative or zero sizes and steps, NaN and
infinite scalars, integer division traps. Each case is one op whose shape or
index input is a graph input, so the value arrives only at run time; it must
raise a clear error naming the layer (or MemoryError for a legal request
too big to allocate), or, where the input is legal, give numpy's answer.

Found by a probe of 57 such cases (2026-12-03 night): all but two were
already refused; int64 Div of MIN by -1 killed the process with SIGFPE, and
Trilu with k near int64's limits overflowed i + k (wrong triangle).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

import int8rt

I64, F = T.INT64, T.FLOAT


def _vi(name: str, dtype: int, shape: Optional[Sequence]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _one_op(op: str, inputs: List[Tuple[str, int, Sequence]], outputs: List[Tuple[str, int]],
            **attrs: Any) -> onnx.ModelProto:
    """One `op` node over graph inputs `inputs` (name, dtype, shape); outputs of unknown shape
    (a symbolic dim per inferred rank, or rank 1 where inference cannot say)."""
    names = [n if n else "" for n, _, _ in inputs]
    node = helper.make_node(op, names, [n for n, _ in outputs], **attrs)
    g = helper.make_graph([node], "g", [_vi(n, t, s) for n, t, s in inputs if n],
                          [_vi(n, t, None) for n, t in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    inferred = onnx.shape_inference.infer_shapes(m)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for o in m.graph.output:
        v = known.get(o.name)
        if v is not None and v.type.tensor_type.HasField("shape"):
            o.type.tensor_type.shape.CopyFrom(v.type.tensor_type.shape)
        if not o.type.tensor_type.HasField("shape"):
            o.type.tensor_type.shape.dim.add().dim_param = "d0"
    return m


def _a(values: Any, dtype: Any = np.int64) -> np.ndarray:
    return np.array(values, dtype)


_X23 = np.arange(6, dtype=np.float32).reshape(2, 3)
_GATHER = _one_op("Gather", [("x", F, [4, 3]), ("i", I64, ["n"])], [("y", F)], axis=0)
_RANGE_F = _one_op("Range", [("a", F, []), ("b", F, []), ("c", F, [])], [("y", F)])
_CONST_OF_SHAPE = _one_op("ConstantOfShape", [("s", I64, [3])], [("y", F)])
_EXPAND = _one_op("Expand", [("x", F, [1]), ("s", I64, [3])], [("y", F)])
_RESHAPE = _one_op("Reshape", [("x", F, [2, 3]), ("s", I64, [2])], [("y", F)])
_TILE = _one_op("Tile", [("x", F, [2, 3]), ("r", I64, [2])], [("y", F)])
_TOPK = _one_op("TopK", [("x", F, [2, 5]), ("k", I64, [1])], [("v", F), ("i", I64)])
_SLICE = _one_op("Slice", [("x", F, [4, 6]), ("s", I64, [1]), ("e", I64, [1]), ("a", I64, [1]), ("p", I64, [1])],
                 [("y", F)])
_PAD = _one_op("Pad", [("x", F, [2, 3]), ("p", I64, [4])], [("y", F)])
_RESIZE_SCALES = _one_op("Resize", [("x", F, [1, 1, 2, 2]), ("", F, []), ("sc", F, [4])], [("y", F)])
_DIV64 = _one_op("Div", [("a", I64, [2]), ("b", I64, [2])], [("y", I64)])
_SPLIT = _one_op("Split", [("x", F, [4]), ("s", I64, [2])], [("y1", F), ("y2", F)], axis=0)
_UNSQUEEZE = _one_op("Unsqueeze", [("x", F, [2]), ("a", I64, [2])], [("y", F)])

# name: (model, feeds, expected error class, message pattern; None for MemoryError, whose text is the allocator's)
REFUSED: Dict[str, Tuple[onnx.ModelProto, Dict[str, np.ndarray], type, Optional[str]]] = {
    "gather_index_past_end": (_GATHER, {"x": np.ones((4, 3), np.float32), "i": _a([0, 7])},
                              int8rt.InvalidArgumentError, r"\(Gather\): index 7 is outside \[-4, 4\)"),
    "gather_index_before_start": (_GATHER, {"x": np.ones((4, 3), np.float32), "i": _a([-9])},
                                  int8rt.InvalidArgumentError, r"index -9 is outside"),
    "gather_elements": (_one_op("GatherElements", [("x", F, [2, 3]), ("i", I64, [2, 2])], [("y", F)], axis=1),
                        {"x": np.ones((2, 3), np.float32), "i": _a([[0, 5], [1, -7]])},
                        int8rt.InvalidArgumentError, r"\(GatherElements\): index"),
    "scatter_nd": (_one_op("ScatterND", [("x", F, [4]), ("i", I64, [1, 1]), ("u", F, [1])], [("y", F)]),
                   {"x": np.ones(4, np.float32), "i": _a([[99]]), "u": np.ones(1, np.float32)},
                   int8rt.InvalidArgumentError, r"\(ScatterND\): index 99"),
    "gather_nd": (_one_op("GatherND", [("x", F, [4, 3]), ("i", I64, [1, 2])], [("y", F)]),
                  {"x": np.ones((4, 3), np.float32), "i": _a([[2, 40]])},
                  int8rt.InvalidArgumentError, r"\(GatherND\): index 40"),
    "range_too_long": (_RANGE_F, {"a": _a(0, np.float32), "b": _a(1e15, np.float32), "c": _a(1, np.float32)},
                       int8rt.InvalidArgumentError, r"\(Range\): the range has .* too many"),
    "range_zero_step": (_RANGE_F, {"a": _a(0, np.float32), "b": _a(5, np.float32), "c": _a(0, np.float32)},
                        int8rt.InvalidArgumentError, r"delta non-zero"),
    "range_nan_limit": (_RANGE_F, {"a": _a(0, np.float32), "b": _a(np.nan, np.float32), "c": _a(1, np.float32)},
                        int8rt.InvalidArgumentError, r"must be finite"),
    "range_int64_span_overflows": (
        _one_op("Range", [("a", I64, []), ("b", I64, []), ("c", I64, [])], [("y", I64)]),
        {"a": _a(-2**62), "b": _a(2**62), "c": _a(1)}, int8rt.InvalidArgumentError, r"overflows int64"),
    "constant_of_shape_exabytes": (_CONST_OF_SHAPE, {"s": _a([10**6] * 3)}, MemoryError, None),
    "constant_of_shape_negative": (_CONST_OF_SHAPE, {"s": _a([-3, 2, 2])},
                                   int8rt.InvalidArgumentError, r"negative dimension"),
    "constant_of_shape_overflow": (_CONST_OF_SHAPE, {"s": _a([2**32, 2**32, 4])},
                                   int8rt.InvalidArgumentError, r"overflows int64"),
    "expand_overflow": (_EXPAND, {"x": np.ones(1, np.float32), "s": _a([2**31, 2**31, 4])},
                        int8rt.InvalidArgumentError, r"overflows int64"),
    "expand_negative": (_EXPAND, {"x": np.ones(1, np.float32), "s": _a([-2, 3, 4])},
                        int8rt.InvalidArgumentError, r"negative dimension"),
    "reshape_negative": (_RESHAPE, {"x": _X23, "s": _a([-5, 4])}, int8rt.InvalidArgumentError, r"negative dim"),
    "reshape_two_minus_ones": (_RESHAPE, {"x": _X23, "s": _a([-1, -1])}, int8rt.InvalidArgumentError,
                               r"more than one -1"),
    "reshape_element_count": (_RESHAPE, {"x": _X23, "s": _a([4, 4])}, int8rt.InvalidArgumentError,
                              r"cannot reshape \[2, 3\]"),
    "reshape_overflow": (_RESHAPE, {"x": _X23, "s": _a([2**62, 0])}, int8rt.InvalidArgumentError, r"overflows int64"),
    "tile_overflow": (_TILE, {"x": _X23, "r": _a([2**40, 2**40])}, int8rt.InvalidArgumentError, r"overflows int64"),
    "tile_negative": (_TILE, {"x": _X23, "r": _a([-1, 2])}, int8rt.InvalidArgumentError, r"negative entry"),
    "topk_k_too_big": (_TOPK, {"x": np.ones((2, 5), np.float32), "k": _a([9])}, int8rt.InvalidArgumentError,
                       r"\(TopK\): K \[9\]"),
    "topk_k_negative": (_TOPK, {"x": np.ones((2, 5), np.float32), "k": _a([-1])}, int8rt.InvalidArgumentError,
                        r"\(TopK\): K \[-1\]"),
    "slice_step_zero": (_SLICE, {"x": np.ones((4, 6), np.float32), "s": _a([0]), "e": _a([3]), "a": _a([1]),
                                 "p": _a([0])}, int8rt.InvalidArgumentError, r"step 0"),
    "slice_axis_out_of_range": (_SLICE, {"x": np.ones((4, 6), np.float32), "s": _a([0]), "e": _a([3]),
                                         "a": _a([7]), "p": _a([1])}, int8rt.InvalidArgumentError, r"axis 7"),
    "pad_exabytes": (_PAD, {"x": _X23, "p": _a([0, 2**40, 0, 2**40])}, MemoryError, None),
    "pad_crops_below_zero": (_PAD, {"x": _X23, "p": _a([0, -9, 0, 0])}, int8rt.InvalidArgumentError,
                             r"below 0"),
    "resize_sizes_overflow": (
        _one_op("Resize", [("x", F, [1, 1, 2, 2]), ("", F, []), ("", F, []), ("s", I64, [4])], [("y", F)]),
        {"x": np.ones((1, 1, 2, 2), np.float32), "s": _a([1, 1, 2**31, 2**31])},
        int8rt.InvalidArgumentError, r"overflows int64"),
    "resize_scales_nan": (_RESIZE_SCALES, {"x": np.ones((1, 1, 2, 2), np.float32),
                                           "sc": _a([1, 1, np.nan, -2], np.float32)},
                          int8rt.InvalidArgumentError, r"scales must be positive"),
    "resize_scales_inf": (_RESIZE_SCALES, {"x": np.ones((1, 1, 2, 2), np.float32),
                                           "sc": _a([1, 1, np.inf, 1e30], np.float32)},
                          int8rt.InvalidArgumentError, r"\(Resize\)"),
    "div_int64_by_zero": (_DIV64, {"a": _a([4, 5]), "b": _a([0, 1])}, int8rt.InvalidArgumentError,
                          r"integer division by zero"),
    "split_sizes_do_not_sum": (_SPLIT, {"x": np.ones(4, np.float32), "s": _a([3, 5])},
                               int8rt.InvalidArgumentError, r"does not cut"),
    "split_negative": (_SPLIT, {"x": np.ones(4, np.float32), "s": _a([-4, 8])},
                       int8rt.InvalidArgumentError, r"does not cut"),
    "unsqueeze_repeated_axis": (_UNSQUEEZE, {"x": np.ones(2, np.float32), "a": _a([0, 0])},
                                int8rt.InvalidArgumentError, r"axis 0 repeated"),
    "unsqueeze_axis_out_of_range": (_UNSQUEEZE, {"x": np.ones(2, np.float32), "a": _a([9, 0])},
                                    int8rt.InvalidArgumentError, r"axis 9 out of range"),
    "squeeze_dim_not_one": (_one_op("Squeeze", [("x", F, [2, 3]), ("a", I64, [1])], [("y", F)]),
                            {"x": _X23, "a": _a([1])}, int8rt.InvalidArgumentError, r"cannot squeeze axis 1"),
    "cumsum_axis_out_of_range": (_one_op("CumSum", [("x", F, [3]), ("a", I64, [])], [("y", F)]),
                                 {"x": np.ones(3, np.float32), "a": _a(5)}, int8rt.InvalidArgumentError,
                                 r"axis 5 out of range"),
    "reduce_axis_out_of_range": (_one_op("ReduceSum", [("x", F, [2, 3]), ("a", I64, [1])], [("y", F)]),
                                 {"x": _X23, "a": _a([4])}, int8rt.InvalidArgumentError, r"axis 4 out of range"),
    "matmul_inner_dims": (_one_op("MatMul", [("a", F, ["m", "k"]), ("b", F, ["k2", "n"])], [("y", F)]),
                          {"a": np.ones((2, 3), np.float32), "b": np.ones((4, 5), np.float32)},
                          int8rt.InvalidArgumentError, r"inner dimensions differ"),
    "add_no_broadcast": (_one_op("Add", [("a", F, ["m"]), ("b", F, ["n"])], [("y", F)]),
                         {"a": np.ones(3, np.float32), "b": np.ones(4, np.float32)},
                         int8rt.InvalidArgumentError, r"do not broadcast"),
    "maxpool_window_bigger_than_input": (
        _one_op("MaxPool", [("x", F, [1, 1, "h", "w"])], [("y", F)], kernel_shape=[5, 5]),
        {"x": np.ones((1, 1, 2, 2), np.float32)}, int8rt.InvalidArgumentError, r"smaller than the window"),
    "einsum_label_sizes": (_one_op("Einsum", [("a", F, ["m", "k"]), ("b", F, ["k2", "n"])], [("y", F)],
                                   equation="ij,jk->ik"),
                           {"a": np.ones((2, 3), np.float32), "b": np.ones((4, 5), np.float32)},
                           int8rt.InvalidArgumentError, r"axis 'j' has sizes 3 and 4"),
}


def _run(m: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    return int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run(feeds)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_runtime_value_is_a_clear_error(case: str) -> None:
    m, feeds, error, message = REFUSED[case]
    with pytest.raises(error, match=message):
        _run(m, feeds)


def test_int64_min_divided_by_minus_one_does_not_trap() -> None:
    # Was: SIGFPE (the process died). Integers wrap: MIN / -1 = MIN.
    y = _run(_DIV64, {"a": _a([-2**63, 7]), "b": _a([-1, -2])})["y"]
    assert y.tolist() == [-2**63, -3]


def test_legal_extremes_give_numpy_answers() -> None:
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    # int64 extremes in a Slice: numpy's clamping gives an empty slice here.
    y = _run(_SLICE, {"x": x, "s": _a([-2**63]), "e": _a([2**63 - 1]), "a": _a([1]), "p": _a([-2**63])})["y"]
    np.testing.assert_array_equal(y, x[:, -2**63:2**63 - 1:-2**63])
    y = _run(_SLICE, {"x": x, "s": _a([2**63 - 1]), "e": _a([-2**63]), "a": _a([1]), "p": _a([-2])})["y"]
    np.testing.assert_array_equal(y, x[:, 2**63 - 1:-2**63:-2])
    # Reflect pads longer than the dim keep reflecting (numpy's rule; ONNX Runtime refuses).
    reflect = _one_op("Pad", [("x", F, [2, 3]), ("p", I64, [4])], [("y", F)], mode="reflect")
    y = _run(reflect, {"x": _X23, "p": _a([0, 5, 0, 7])})["y"]
    np.testing.assert_array_equal(y, np.pad(_X23, ((0, 0), (5, 7)), mode="reflect"))
    # Trilu with k at int64's limits keeps everything / nothing.
    trilu = _one_op("Trilu", [("x", F, [3, 3]), ("k", I64, [])], [("y", F)])
    x33 = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    np.testing.assert_array_equal(_run(trilu, {"x": x33, "k": _a(-2**63)})["y"], x33)
    np.testing.assert_array_equal(_run(trilu, {"x": x33, "k": _a(2**63 - 1)})["y"], np.zeros_like(x33))
