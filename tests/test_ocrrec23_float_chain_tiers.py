"""A float conv's element-wise chain on the binary_f32 family's chain function
(kernels/ref/float_chain_loop.h; x86/float_chain_lanes.h on the avx2 / avx512
tiers: blocks of 4 vectors, then single vectors, then single elements, every
step in registers) on every tier this CPU has.

For each chain, the FP32 engine of conv -> chain (fused by fuse_float_chain)
is compared with == (bytes) against (a) the same network with z a network
output, where nothing fuses and each step runs as its own layer (the Add /
Sub / Mul / Div layers on binary_f32, the Clip / Relu layers), and (b) numpy
applying the steps in float32 to that z (clip_f32's rule written out), on
every tier, batch 1 and 3, 1 and 2 threads, output planes from 1 element to
over 64 lanes and not multiples of 16. The chains cover PP-OCRv4 rec's
hardswish-and-affine chain, every operand form (tc, ct, tz, zt, tt) of the
four ops, Relu / Clip with and without bounds, and steps that make +-inf,
NaN and -0 (division by zero, inf * 0, Relu of -0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

# A chain starts with a step the earlier passes leave (a lone Relu / Clip fuses as the conv's own
# activation, a lone constant Mul / Add folds into its weights). Steps: (op, operands, constant) for Add / Sub / Mul / Div; ("Clip", lo, hi) with None for an
# omitted bound; ("Relu",).
CHAINS = {
    "ppocr": [("Add", "tc", 3.0), ("Clip", 0.0, 6.0), ("Mul", "zt", None), ("Div", "tc", 6.0),
              ("Mul", "ct", 0.73045665), ("Add", "tc", -0.0857254)],
    "orders": [("Sub", "ct", 0.5), ("Div", "zt", None), ("Sub", "tz", None), ("Div", "ct", -1.75),
               ("Mul", "tt", None), ("Add", "zt", None), ("Sub", "zt", None), ("Div", "tz", None)],
    # z / 0 = +-inf (NaN at z == 0), clipped to -3.4e38 / 5, times 0: -0 / +0 / NaN; Relu keeps -0 and NaN;
    # 1 / t turns them into -inf / +inf / NaN; + z, Clip(-1, default), squared: 1 / inf / NaN
    "specials": [("Div", "tc", 0.0), ("Clip", None, 5.0), ("Mul", "tc", 0.0), ("Relu",), ("Div", "ct", 1.0),
                 ("Add", "tz", None), ("Clip", -1.0, None), ("Mul", "tt", None)],
    "clamps": [("Mul", "tz", None), ("Relu",), ("Clip", 0.25, 0.75), ("Sub", "tc", 0.5)],
    "one": [("Mul", "tt", None)],
}
# (batch, in channels, out channels, height, width): planes of 1, 15, 63, 221 and 64 elements.
SHAPES = [(1, 3, 5, 1, 1), (3, 4, 8, 3, 5), (1, 2, 17, 7, 9), (3, 3, 16, 13, 17), (1, 5, 20, 4, 16)]


def _model(path: Path, steps: list, shape: tuple, z_out: bool) -> Path:
    n, cin, cout, h, w = shape
    rng = np.random.default_rng(5)
    bias = rng.normal(0, 0.5, cout).astype(np.float32)
    bias[::3] = 0.0  # z == 0 where the input window is zero too: 0 / 0, and -0 after a Mul by 0
    inits = [numpy_helper.from_array(rng.normal(0, 0.6, (cout, cin, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(bias, "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["z"], name="conv", pads=[1, 1, 1, 1])]
    t = "z"
    for i, s in enumerate(steps):
        out = f"s{i}"
        if s[0] == "Relu":
            nodes.append(helper.make_node("Relu", [t], [out], name=out))
        elif s[0] == "Clip":
            ins = [t]
            for j, v in enumerate(s[1:]):
                name = f"c{i}_{j}" if v is not None else ""
                if v is not None:
                    inits.append(numpy_helper.from_array(np.array(v, np.float32), name))
                ins.append(name)
            nodes.append(helper.make_node("Clip", ins, [out], name=out))
        else:
            op, forms, c = s
            if c is not None:
                inits.append(numpy_helper.from_array(np.array(c, np.float32), f"c{i}"))
            ins = [{"t": t, "z": "z", "c": f"c{i}"}[f] for f in forms]
            nodes.append(helper.make_node(op, ins, [out], name=out))
        t = out
    nodes.append(helper.make_node("Identity", [t], ["y"], name="y"))
    vi = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, cout, h, w])]
    if z_out:
        vi.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, cout, h, w]))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                            [None, cin, h, w])], vi, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _clip(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    """kernels/ref/clip_f32.h: v = x < lo ? lo : x, then hi < v ? hi : v (NaN passes, -0 stays -0); an
    omitted bound is ONNX's default, the float32 range's end (so +-inf clamp to +-3.4e38)."""
    big = np.finfo(np.float32).max
    lo32, hi32 = np.float32(-big if lo is None else lo), np.float32(big if hi is None else hi)
    v = np.where(x < lo32, lo32, x)
    return np.where(hi32 < v, hi32, v)


def _numpy_chain(steps: list, z: np.ndarray) -> np.ndarray:
    ops = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
    t = z
    with np.errstate(all="ignore"):
        for s in steps:
            if s[0] == "Relu":
                t = _clip(t, 0.0, None)
            elif s[0] == "Clip":
                t = _clip(t, s[1], s[2])
            else:
                vals = {"t": t, "z": z, "c": np.float32(s[2]) if s[2] is not None else None}
                t = ops[s[0]](vals[s[1][0]], vals[s[1][1]]).astype(np.float32)
    return t


def _input(shape: tuple) -> np.ndarray:
    n, cin, _, h, w = shape
    x = np.random.default_rng(9).normal(0, 1.5, (n, cin, h, w)).astype(np.float32)
    x[:, :, : max(1, h // 2), : max(1, w // 2)] = 0.0  # a zero corner: z == bias there
    return x


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s}" for s in SHAPES])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_the_fused_chain_equals_its_layers_and_numpy_on_every_tier(tmp_path: Path, chain: str, shape: tuple,
                                                                   threads: int) -> None:
    steps = CHAINS[chain]
    fused_path = _model(tmp_path / "fused.onnx", steps, shape, z_out=False)
    plain_path = _model(tmp_path / "plain.onnx", steps, shape, z_out=True)
    x = _input(shape)
    cfg = int8rt.BuilderConfig(precision="fp32")
    saved = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        for isa in TIERS:
            int8rt.set_max_isa(isa)  # the layers choose their kernels when the engine is built
            try:
                fused = int8rt.build_engine(fused_path, cfg)
                plain = int8rt.build_engine(plain_path, cfg)
            finally:
                int8rt.set_max_isa(None)
            details = [layer["detail"] for layer in fused.layers()]
            assert any("+chain(" in d for d in details), (isa, details)
            assert not any("+chain(" in layer["detail"] for layer in plain.layers()), isa
            y = fused.create_execution_context().run({"x": x})["y"]
            ref = plain.create_execution_context().run({"x": x})
            want = _numpy_chain(steps, ref["z"])
            assert y.tobytes() == ref["y"].tobytes(), (isa, chain, shape, _first_diff(y, ref["y"]))
            assert y.tobytes() == want.tobytes(), (isa, chain, shape, _first_diff(y, want))
            if chain == "specials":  # inf reaches the output (Clip's default bound squared), NaN where z == 0 (0 / 0)
                assert np.isinf(y).any() and np.isnan(y).any() == (ref["z"] == 0).any()
    finally:
        int8rt.set_num_threads(saved)


def _first_diff(a: np.ndarray, b: np.ndarray) -> str:
    bad = np.flatnonzero(a.view(np.uint32).ravel() != b.view(np.uint32).ravel())
    if bad.size == 0:
        return "no difference"
    i = bad[0]
    return f"{bad.size} differ, first at {np.unravel_index(i, a.shape)}: {a.ravel()[i]!r} vs {b.ravel()[i]!r}"
