"""int8 convolutions whose padding reads the input's zero point
(``kernels::ConvShape::pad_value``): unsigned activations and a
pre-quantized model's uint8 tensors pad with real 0, i.e. the zero point,
inside the conv kernels (no ``int8rt.QPad`` layer in front).

- The reference kernel (the spec) against an explicit pad: ``conv_s8_ref``
  with ``pad_value=z`` equals it on the input padded with ``z`` (NumPy) and
  no pads.
- Every x86 candidate runnable here (AVX2 ones forced by name) against the
  reference, ``==``: borders, asymmetric pads, pads wider than the window
  (output rows and columns that read padding only), strides, dilation,
  groups, depthwise (edge pixels, 4-pixel tiles, clipped rows), the
  merged-row stem, at the int8 forms of the uint8 zero points 0, 1, 128 and
  255 (-128, -127, 0, 127) and one between; and the largest accumulators.
  The AMX and AVX-VNNI twins and the CUDA kernels take the same sweep in
  tests/cpp (``PadValueEqualsReference``, ``ConvPadValueMatchesReference``).
- The engine: an unsigned build has no ``int8rt.QPad`` layer, and its outputs
  equal, bit for bit, the graph the lowering made before (each padded conv
  with a zero point behind an explicit ``int8rt.QPad`` of its zero point and
  pads 0), under every ISA tier this CPU runs.
"""
from __future__ import annotations

import zlib
from typing import Dict, List, Tuple

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt._testing import Executor
from int8rt._testing import kernels as K
from int8rt.network import Network, create_network
from np_kernels import first_mismatch

F32 = np.float32

# (C, H, W, K, R, S, stride, pads (t, l, b, r), dilation, groups)
Case = Tuple[int, int, int, int, int, int, Tuple[int, int], Tuple[int, int, int, int], Tuple[int, int], int]

ONE = (1, 1)
PAD1 = (1, 1, 1, 1)
# int8 forms (q - 128) of the uint8 zero points 0, 1, 255 and 128, and one between.
PAD_VALUES = [-128, -127, 127, 0, 45]


def cases() -> List[Case]:
    c: List[Case] = []
    # 3x3 pad 1 over channel counts around the reduction groups (c2 / c4) and
    # the merged-row threshold (C < 16).
    c += [(ch, 6, 5, k, 3, 3, ONE, PAD1, ONE, 1) for ch, k in ((1, 7), (3, 16), (4, 9), (5, 33), (15, 8),
                                                              (16, 17), (17, 24))]
    c += [
        (3, 23, 23, 64, 7, 7, (2, 2), (3, 3, 3, 3), ONE, 1),   # ResNet stem, reduced (merged rows)
        (3, 13, 13, 32, 3, 3, (2, 2), (0, 0, 1, 1), ONE, 1),   # MobileNet stem, TF-style "same"
        (5, 9, 8, 7, 3, 3, (2, 1), (0, 2, 1, 0), ONE, 1),      # asymmetric pads and strides
        (6, 9, 9, 4, 3, 2, (1, 2), (2, 0, 0, 1), (2, 2), 1),   # dilation 2, non-square
        (3, 8, 9, 5, 3, 3, ONE, PAD1, (2, 1), 1),              # merged rows, dilation_h 2
        (2, 7, 11, 17, 1, 5, (1, 3), (0, 4, 0, 1), ONE, 1),    # merged rows, wide pads
        (20, 9, 9, 17, 3, 3, ONE, PAD1, (2, 2), 1),            # dilation 2, many channels
        (12, 6, 6, 6, 3, 3, ONE, PAD1, ONE, 3),                # groups
        (20, 5, 6, 68, 3, 3, ONE, PAD1, ONE, 4),               # groups, Kg = 17
        (8, 7, 6, 16, 3, 3, (2, 2), (1, 0, 1, 2), ONE, 8),     # channel multiplier 2
        (5, 4, 4, 33, 1, 1, ONE, (1, 0, 0, 1), ONE, 1),        # padded 1x1
        (64, 4, 4, 13, 3, 3, ONE, PAD1, ONE, 1),               # long reduction
        (6, 3, 3, 5, 3, 3, ONE, (3, 3, 3, 3), ONE, 1),         # windows wholly in the padding
    ]
    # Depthwise: blocks of 8 / 16 and partial ones, stride 1 and 2.
    c += [(ch, 8, 7, ch, 3, 3, (s, s), PAD1, ONE, ch) for ch in (1, 8, 15, 17, 33, 65) for s in (1, 2)]
    # Rows wide enough for 4-pixel interior tiles (the shared-column kernels),
    # whose first and last output rows have clipped filter rows.
    c += [(ch, 5, 21, ch, 3, 3, (s, s), pad, ONE, ch) for ch in (17, 64) for s in (1, 2)
          for pad in (PAD1, (0, 0, 1, 1))]
    c += [
        (33, 7, 7, 33, 5, 5, ONE, (2, 2, 2, 2), ONE, 33),      # 4-pixel edge tiles (masked columns)
        (64, 8, 13, 64, 5, 5, (2, 2), (2, 2, 2, 2), ONE, 64),
        (20, 6, 5, 20, 5, 5, ONE, (2, 1, 2, 3), ONE, 20),
        (24, 6, 6, 24, 3, 3, (1, 2), (1, 2, 1, 2), (1, 2), 24),  # column dilation
        (9, 5, 6, 9, 3, 2, (1, 2), (0, 0, 2, 1), ONE, 9),
        (6, 3, 3, 6, 3, 3, ONE, (3, 2, 3, 2), ONE, 6),         # depthwise windows wholly in the padding
    ]
    # Row taps (AVX512-VNNI, conv_igemm.cc): their padding row of S*C values
    # (filter rows above and below the input), windows wholly in the padding
    # columns, a window wider than the input.
    c += [(16, 4, 3, 20, 3, 3, ONE, (3, 3, 3, 3), ONE, 1), (32, 5, 2, 65, 5, 5, (1, 2), (2, 2, 2, 2), ONE, 1)]
    return c


def case_id(case: Case) -> str:
    c, h, w, k, r, s, st, p, d, g = case
    return f"C{c}H{h}W{w}K{k}_{r}x{s}_s{st[0]}{st[1]}_p{''.join(map(str, p))}_d{d[0]}{d[1]}_g{g}"


def conv(x: np.ndarray, w: np.ndarray, scale: np.ndarray, bias=None, *, case: Case, kernel: str,
         pad_value: int, **kw) -> np.ndarray:
    _, _, _, _, _, _, stride, pads, dil, groups = case
    return K.conv2d_s8(x, w, scale, bias, stride=stride, pads=pads, dilation=dil, groups=groups, kernel=kernel,
                       pad_value=pad_value, **kw)


def runnable_kernels(case: Case, out: str) -> List[str]:
    """The non-reference candidates that accept ``case`` and that this CPU runs under the cap."""
    c, h, w, k, r, s, stride, pads, dil, groups = case
    info = int8rt.kernels.isa_info()
    rows = K.conv_candidates(c, h, w, k, r, s, stride, pads, dil, groups, out)
    return [name for name, isa, reason in rows if isa != "ref" and info[isa]["enabled"] and reason == ""]


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    msg = first_mismatch(got, want)
    assert msg is None, f"{what}: {msg}"


@pytest.mark.parametrize("case", [cases()[i] for i in (0, 7, 10, 17, 19, 20, 25, 35)], ids=case_id)
def test_reference_pads_with_pad_value(case: Case) -> None:
    """conv_s8_ref with pad_value z == conv_s8_ref over the input padded with z (NumPy), no pads."""
    c, h, wd, k, r, s, stride, (pt, pl, pb, pr), dil, groups = case
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()))
    x = rng.integers(-128, 128, (2, h, wd, c), dtype=np.int8)
    w = rng.integers(-128, 128, (k, c // groups, r, s), dtype=np.int8)
    unpadded = (c, h + pt + pb, wd + pl + pr, k, r, s, stride, (0, 0, 0, 0), dil, groups)
    for z in PAD_VALUES:
        padded = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=z)
        want = conv(padded, w, np.ones(k, F32), case=unpadded, kernel="conv_s8_ref", pad_value=0, out_dtype="float32")
        got = conv(x, w, np.ones(k, F32), case=case, kernel="conv_s8_ref", pad_value=z, out_dtype="float32")
        check(got, want, f"conv_s8_ref {case_id(case)} pad_value={z}")


# Epilogues: (out_dtype, lo, hi, with a residual).
EPILOGUES = [("int8", None, None, False), ("int8", 0.0, 127.0, True), ("float32", None, None, False)]


@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_kernels_equal_reference_with_pad_value(case: Case) -> None:
    c, h, wd, k, r, s, stride, pads, dil, groups = case
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()) + 1)
    w = rng.integers(-128, 128, (k, c // groups, r, s), dtype=np.int8)
    x = rng.integers(-128, 128, (2, h, wd, c), dtype=np.int8)
    names = runnable_kernels(case, "int8")
    if not names:
        pytest.skip("no optimized conv kernel runs on this CPU")
    for z in PAD_VALUES:
        acc = conv(x, w, np.ones(k, F32), case=case, kernel="conv_s8_ref", pad_value=z, out_dtype="float32")
        # Scales mapping each channel's accumulators onto about [-140, 140]: outputs span int8.
        amax = np.abs(acc.reshape(-1, k)).max(axis=0).astype(np.float64) + 1.0
        scale = (rng.uniform(0.9, 1.1, k) * 127.0 / amax).astype(F32)
        bias = rng.uniform(-12, 12, k).astype(F32)
        residual = rng.integers(-128, 128, acc.shape, dtype=np.int8)
        for out, lo, hi, with_res in EPILOGUES:
            kw = dict(lo=lo, hi=hi, out_dtype=out)
            if with_res:
                kw.update(residual=residual, residual_scale=0.731)
            want = conv(x, w, scale, bias, case=case, kernel="conv_s8_ref", pad_value=z, **kw)
            for name in names:
                got = conv(x, w, scale, bias, case=case, kernel=name, pad_value=z, **kw)
                check(got, want, f"{name} {case_id(case)} pad_value={z} out={out} residual={with_res}")


@pytest.mark.parametrize("case", [
    (3, 9, 9, 64, 7, 7, (2, 2), (3, 3, 3, 3), ONE, 1),
    (64, 5, 5, 33, 3, 3, ONE, PAD1, ONE, 1),
    (33, 6, 6, 33, 3, 3, (2, 2), PAD1, ONE, 33),
    (80, 4, 17, 80, 3, 3, ONE, PAD1, ONE, 80),
], ids=case_id)
def test_pad_value_extreme_accumulators(case: Case) -> None:
    """Inputs, weights and pad value all at an int8 extreme: the largest accumulators, padding included."""
    c, h, wd, k, r, s, stride, pads, dil, groups = case
    names = runnable_kernels(case, "float32")
    if not names:
        pytest.skip("no optimized conv kernel runs on this CPU")
    for xv, wv, z in ((-128, -128, -128), (127, -128, 127), (-128, 127, 127)):
        x = np.full((2, h, wd, c), xv, np.int8)
        w = np.full((k, c // groups, r, s), wv, np.int8)
        want = conv(x, w, np.ones(k, F32), case=case, kernel="conv_s8_ref", pad_value=z, out_dtype="float32")
        for name in names:
            got = conv(x, w, np.ones(k, F32), case=case, kernel=name, pad_value=z, out_dtype="float32")
            check(got, want, f"{name} {case_id(case)} x={xv} w={wv} pad_value={z}")


# ---- the engine ----


def _block_model() -> bytes:
    """A MobileNetV2-like block after a ReLU stem: 1x1 expand + ReLU6, 3x3
    depthwise (pad 1) + ReLU6, 1x1 project, residual Add (output b); and from
    the stem a 3x3 stride-2 conv with asymmetric "same" pads + ReLU, then a
    dilated 3x3 (output y). The depthwise, stride-2 and dilated convs read
    non-negative, so unsigned, tensors through padding."""
    rng = np.random.default_rng(11)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)

    inits, nodes = [], []

    def conv_node(name: str, x: str, y: str, wt: np.ndarray, **attrs) -> None:
        inits.extend([numpy_helper.from_array(wt, name + "_w"),
                      numpy_helper.from_array(rng.uniform(0.05, 0.3, wt.shape[0]).astype(F32), name + "_b")])
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [y], name=name, **attrs))

    def clip(x: str, y: str, hi: float = 6.0) -> None:
        inits.extend([numpy_helper.from_array(np.array(0.0, F32), y + "_lo"),
                      numpy_helper.from_array(np.array(hi, F32), y + "_hi")])
        nodes.append(helper.make_node("Clip", [x, y + "_lo", y + "_hi"], [y], name=y))

    conv_node("stem", "x", "s0", w(16, 3, 3, 3), pads=[1, 1, 1, 1])
    nodes.append(helper.make_node("Relu", ["s0"], ["s"], name="stem_relu"))
    conv_node("expand", "s", "e0", w(48, 16, 1, 1))
    clip("e0", "e")
    conv_node("dw", "e", "d0", w(48, 1, 3, 3), pads=[1, 1, 1, 1], group=48)
    clip("d0", "d")
    conv_node("project", "d", "p", w(16, 48, 1, 1))
    nodes.append(helper.make_node("Add", ["p", "s"], ["b"], name="residual"))
    conv_node("down", "s", "g0", w(24, 16, 3, 3), strides=[2, 2], pads=[0, 0, 1, 1])
    nodes.append(helper.make_node("Relu", ["g0"], ["g"], name="down_relu"))
    conv_node("dilated", "g", "y", w(8, 24, 3, 3), pads=[2, 2, 2, 2], dilations=[2, 2])
    graph = helper.make_graph(nodes, "pad_value_block",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 6, 6]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 16, 12, 12])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build_unsigned(model: bytes) -> int8rt.Engine:
    rng = np.random.default_rng(3)
    calib = {"x": rng.uniform(-1, 1, (16, 3, 12, 12)).astype(F32)}
    cal = int8rt.make_calibrator(calib, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                           unsigned_activations=True))


def _explicit_qpad(net: Network) -> Tuple[Network, int]:
    """A copy of a lowered network in which every padded int8rt.QConv whose
    input has a zero point reads it through an int8rt.QPad of its zero point
    and has pads 0: the graph the lowering made before the kernels padded
    with the zero point. Returns the copy and how many QPads it added."""
    out = create_network()
    ids: Dict[int, int] = {}
    tensors = net.tensors()
    for i in net.inputs():
        t = tensors[i]
        ids[i] = out.add_input(t["name"], t["shape"], t["dtype"])
    for i, t in enumerate(tensors):
        if t["is_constant"]:
            ids[i] = out.add_constant(t["name"], net.constant_data(i))
    added = 0
    for node in net.nodes():
        inputs = [ids[t] if t >= 0 else -1 for t in node["inputs"]]
        attrs = dict(node["attrs"])
        pads = attrs.get("pads", [0, 0, 0, 0])
        if node["op"] == "int8rt.QConv" and attrs.get("in_zero_point", 0) != 0 and any(pads):
            # lower_int8_qdq.cc's pad_with_zero_point, as it was: NHWC pads [0, t, l, 0, 0, b, r, 0].
            name = node["name"] + "::pad_zero_point"
            p = out.add_constant(name + "::pads", np.array([0, pads[0], pads[1], 0, 0, pads[2], pads[3], 0],
                                                           np.int64))
            v = out.add_constant(name + "::zero_point", np.array(attrs["in_zero_point"], np.int8))
            shape = list(tensors[node["inputs"][0]]["shape"])  # NHWC
            inputs[0] = out.add_node("int8rt.QPad", name, [inputs[0], p, v], {"mode": "constant"},
                                     [name + "::padded"])[0]
            for d, (begin, end) in ((1, (pads[0], pads[2])), (2, (pads[1], pads[3]))):
                if shape[d] >= 0:
                    shape[d] += begin + end
            out.set_shape(inputs[0], shape)
            attrs["pads"] = [0, 0, 0, 0]
            added += 1
        outs = out.add_node(node["op"], node["name"], inputs, attrs, [tensors[t]["name"] for t in node["outputs"]])
        for t, o in zip(node["outputs"], outs):
            ids[t] = o
            if tensors[t]["shape"] is not None:
                out.set_shape(o, tensors[t]["shape"])
    for o in net.outputs():
        out.mark_output(ids[o])
    return out, added


def _tiers() -> List[str]:
    info = int8rt.kernels.isa_info()
    return [isa for isa in ("ref", "avx2", "avxvnni", "avx512vnni", "amx") if info[isa]["cpu"] and info[isa]["compiled"]]


@pytest.mark.parametrize("tier", _tiers())
def test_engine_pads_with_zero_point_bit_exact_with_explicit_qpad(tier: str) -> None:
    model = _block_model()
    x = {"x": np.random.default_rng(5).uniform(-1, 1, (2, 3, 12, 12)).astype(F32)}
    try:
        int8rt.set_max_isa(tier)
        engine = _build_unsigned(model)
        ops = [layer["op"] for layer in engine.layers()]
        assert "int8rt.QPad" not in ops, ops
        net = engine._native.network()
        padded = [n for n in net.nodes() if n["op"] == "int8rt.QConv" and any(n["attrs"].get("pads", [0]))]
        # The stem reads the symmetric quantized input; the other three unsigned tensors.
        assert sorted(n["attrs"].get("in_zero_point", 0) for n in padded) == [-128, -128, -128, 0], padded
        old, added = _explicit_qpad(net)
        assert added == 3
        got = engine.create_execution_context().run(x)
        new_run, old_run = Executor(net).run(x), Executor(old).run(x)
        for name in ("y", "b"):
            np.testing.assert_array_equal(new_run[name], got[name])
            assert np.array_equal(old_run[name].view(np.uint32), got[name].view(np.uint32)), \
                f"tier {tier}, output {name}: max |diff| {np.abs(old_run[name] - got[name]).max()}"
    finally:
        int8rt.set_max_isa(None)
