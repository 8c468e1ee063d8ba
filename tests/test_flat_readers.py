"""Which int8 tensors the accuracy check and ``int8rt compare`` measure as
their float readers see them (python/int8rt/accuracy/taps.py,
``flat_floors`` / ``flat_ceilings``): a tensor held on [v, T] with a zero
point, read through a Dequantize by a float region flat below v (and above
T), clips nothing that region computes. Until 2026-12-05 (ux13) the rule
knew only a single Relu / HardSwish / HardSigmoid reader; a Clip, or a
region of several ops (Keras' and Paddle's decomposed HardSigmoid: Add 3,
Clip 0..6, Div 6, or Mul 1/6, Add 0.5, Clip 0..1) or a decomposed HardSwish
(x * relu6(x + 3) / 6, x read twice), was measured raw and warned of
clipping that changes nothing.

The networks are lowered networks as taps reads them (tensors, nodes,
outputs, constants): conv c (int8, scale 0.05, zero point -78: held on
[-2.5, 10.25]) -> Dequantize -> the float ops under test. The bounds
expected are worked out by hand from the ONNX definitions beside each case."""
from __future__ import annotations

import math

import numpy as np
import pytest

from int8rt.accuracy.taps import flat_ceilings, flat_floors

FLOOR, CEILING = -2.5, 10.25  # the grid: (-128 + 78) * 0.05, (127 + 78) * 0.05


class _Lowered:
    """``ops``: (op, [input names], attrs) applied in order from "c" (the
    dequantized float tensor); an input name "k=<value>" is a scalar
    constant. The last op's output is the network output."""

    def __init__(self, ops: list[tuple[str, list[str], dict]], zero_point: int = -78) -> None:
        self._tensors: list[dict] = []
        self._data: dict[int, np.ndarray] = {}
        ids: dict[str, int] = {}

        def tensor(name: str, dtype: str = "float32") -> int:
            if name not in ids:
                ids[name] = len(self._tensors)
                constant = name.startswith("k=")
                self._tensors.append({"name": name, "dtype": dtype, "is_constant": constant})
                if constant:
                    self._data[ids[name]] = np.array(float(name[2:]), np.float32)
            return ids[name]

        x, q = tensor("x"), tensor("c::int8", "int8")
        self._nodes = [
            {"name": "conv", "op": "int8rt.QConv", "inputs": [x], "outputs": [q],
             "attrs": {"out_scale": 0.05, "out_zero_point": zero_point}},
            {"name": "c::dequantize", "op": "int8rt.Dequantize", "inputs": [q], "outputs": [tensor("c")],
             "attrs": {"scale": 0.05, "zero_point": zero_point}}]
        last = "c"
        for i, (op, inputs, attrs) in enumerate(ops):
            out = f"t{i}"
            self._nodes.append({"name": f"n{i}", "op": op, "inputs": [tensor(n) for n in inputs],
                                "outputs": [tensor(out)], "attrs": attrs})
            last = out
        self._outputs = [ids[last]]

    def tensors(self):
        return self._tensors

    def tensor(self, t: int):
        return self._tensors[t]

    def nodes(self):
        return self._nodes

    def outputs(self):
        return self._outputs

    def constant_data(self, t: int):
        return self._data[t]


def _bounds(ops) -> tuple[float, float]:
    net = _Lowered(ops)
    return flat_floors(net).get("c", -math.inf), flat_ceilings(net).get("c", math.inf)


@pytest.mark.parametrize("ops, floor, ceiling", [
    # the grid's bottom counts as flat where every reader is constant below a point at or above it
    # (constant below -2 >= -2.5); below -3 is not enough (values in [-3, -2.5) pass the Clip)
    # Clip(-2, 8) (opset 11+, bounds as inputs): flat below -2 and above 8
    ([("Clip", ["c", "k=-2", "k=8"], {})], FLOOR, CEILING),
    # opset 6 Clip (attributes), flat below -3 and above 6: only the top is flat
    ([("Clip", ["c"], {"min": -3.0, "max": 6.0})], -math.inf, CEILING),
    # Keras' HardSigmoid, relu6(x + 3) / 6: flat below -3 (the bottom counts) and above 3
    ([("Add", ["c", "k=3"], {}), ("Clip", ["t0", "k=0", "k=6"], {}), ("Div", ["t1", "k=6"], {})],
     -math.inf, CEILING),
    # fluid's hard_sigmoid, clip(0.2 x + 0.5, 0, 1), the Clip fused into the Add by the graph passes
    # (int8rt_activation): flat below -2.5 and above 2.5
    ([("Mul", ["c", "k=0.2"], {}),
      ("Add", ["t0", "k=0.5"], {"int8rt_activation": "Clip", "int8rt_clip_min": 0.0, "int8rt_clip_max": 1.0})],
     FLOOR, CEILING),
    # a constant first: 3 - x then Relu: flat above 3 (not below): the top's clipping does not count
    ([("Sub", ["k=3", "c"], {}), ("Relu", ["t0"], {})], -math.inf, CEILING),
    # Relu then a Clip at 4: flat below 0 and, through the Relu, above 4
    ([("Relu", ["c"], {}), ("Clip", ["t0", "k=0", "k=4"], {})], FLOOR, CEILING),
    # Relu then Clip at 20: not flat above 10.25
    ([("Relu", ["c"], {}), ("Clip", ["t0", "k=0", "k=20"], {})], FLOOR, math.inf),
    # x * clip(x + 3, 0, 6) / 6 (a decomposed HardSwish) reads x twice: not followed, both ends count
    ([("Add", ["c", "k=3"], {}), ("Clip", ["t0", "k=0", "k=6"], {}), ("Mul", ["c", "t1"], {})], -math.inf, math.inf),
    # a Sigmoid after Clip(-2, 100): the Sigmoid is read by the output, not flat: only the Clip's bottom holds
    ([("Clip", ["c", "k=-2", "k=100"], {}), ("Sigmoid", ["t0"], {})], FLOOR, math.inf),
    # a network output right after an Add: flat nowhere
    ([("Add", ["c", "k=3"], {})], -math.inf, math.inf),
    # Max(x, -1) = clip(x, -1, inf), the scalar first or second: flat below -1 (>= -2.5), not above
    ([("Max", ["c", "k=-1"], {})], FLOOR, math.inf),
    ([("Max", ["k=-1", "c"], {})], FLOOR, math.inf),
    # Max(x, -3): values in [-3, -2.5) pass it: not flat at the bottom
    ([("Max", ["c", "k=-3"], {})], -math.inf, math.inf),
    # Min(Max(x, 0), 6), relu6 as some exporters write it: flat below 0 and above 6
    ([("Max", ["c", "k=0"], {}), ("Min", ["t0", "k=6"], {})], FLOOR, CEILING),
    # ThresholdedRelu(alpha 1): 0 for x <= 1, x above: flat below 1 only
    ([("ThresholdedRelu", ["c"], {"alpha": 1.0})], FLOOR, math.inf),
    # ThresholdedRelu(alpha -3) passes x > -3: values in (-3, -2.5) pass: not flat at the bottom
    ([("ThresholdedRelu", ["c"], {"alpha": -3.0})], -math.inf, math.inf),
    # 2 x + 1 then ThresholdedRelu(alpha 0): 0 for x <= -0.5
    ([("Mul", ["c", "k=2"], {}), ("Add", ["t0", "k=1"], {}), ("ThresholdedRelu", ["t1"], {"alpha": 0.0})],
     FLOOR, math.inf),
    # Sigmoid / Softplus right behind the Dequantize: strictly increasing by their definitions, every value
    # the grid clips changes their output: measured raw (this is right, not a gap)
    ([("Sigmoid", ["c"], {})], -math.inf, math.inf),
    ([("Softplus", ["c"], {})], -math.inf, math.inf),
    # Softplus of Clip(-2, 8): constant where the Clip is, both ends
    ([("Clip", ["c", "k=-2", "k=8"], {}), ("Softplus", ["t0"], {})], FLOOR, CEILING),
])
def test_flat_bounds_follow_the_float_region(ops, floor, ceiling) -> None:
    got_floor, got_ceiling = _bounds(ops)
    assert got_floor == pytest.approx(floor) and got_ceiling == pytest.approx(ceiling)


def _read_twice(clip_min: float) -> _Lowered:
    """c read by a Relu (flat below 0) and by Clip(clip_min, 11), both network outputs."""
    net = _Lowered([("Relu", ["c"], {})])
    out = len(net._tensors)
    net._tensors.append({"name": "t1", "dtype": "float32", "is_constant": False})
    net._nodes.append({"name": "n1", "op": "Clip", "inputs": [2], "outputs": [out],
                       "attrs": {"min": clip_min, "max": 11.0}})
    net._outputs = [3, out]
    return net


def test_a_tensor_read_twice_is_flat_only_where_both_readers_are() -> None:
    assert flat_floors(_read_twice(-1.0)) == {"c": pytest.approx(FLOOR)}  # both constant below -1 >= -2.5
    assert flat_floors(_read_twice(-3.0)) == {}  # the Clip passes [-3, -2.5)
    assert flat_ceilings(_read_twice(-1.0)) == {}  # the Relu is not flat above


def test_a_decomposed_hardswish_is_flat_below_minus_3() -> None:
    """x * relu6(x + 3) / 6 (HardSwish as TensorFlow and older exports write
    it) is 0 below -3: on a grid whose bottom is -3 ((-128 + 68) * 0.05) the
    bottom's clipping does not count, on one whose bottom is -2.5 it does;
    the product is not flat above. x * sigmoid(x) (SiLU) is flat nowhere."""
    hardswish = [("Add", ["c", "k=3"], {}), ("Clip", ["t0", "k=0", "k=6"], {}), ("Mul", ["c", "t1"], {}),
                 ("Div", ["t2", "k=6"], {})]
    at_3 = _Lowered(hardswish, zero_point=-68)
    assert flat_floors(at_3) == {"c": pytest.approx(-3.0)} and flat_ceilings(at_3) == {}
    assert flat_floors(_Lowered(hardswish)) == {}  # bottom -2.5: values in [-3, -2.5) reach the product
    fused = [("Add", ["c", "k=3"], {"int8rt_activation": "Clip", "int8rt_clip_min": 0.0, "int8rt_clip_max": 6.0}),
             ("Mul", ["t0", "c"], {}), ("Mul", ["t1", "k=0.16666667"], {})]  # the operands the other way round
    assert flat_floors(_Lowered(fused, zero_point=-68)) == {"c": pytest.approx(-3.0)}
    silu = [("Sigmoid", ["c"], {}), ("Mul", ["c", "t0"], {})]
    assert flat_floors(_Lowered(silu, zero_point=-68)) == {} and flat_ceilings(_Lowered(silu, zero_point=-68)) == {}
    # the HardSwish op itself: 0 below -3
    assert flat_floors(_Lowered([("HardSwish", ["c"], {})], zero_point=-68)) == {"c": pytest.approx(-3.0)}
