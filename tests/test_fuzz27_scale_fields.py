"""Forged scales of this session's int8 layers are refused at load, naming the layer (RESULTS.md §287).

The corpus seeds of int8rt.QAttention with CaiT's talking-heads mixes (cait27_heads_int8) and of int8rt.QLSTM
whose recurrent GEMM is int8 (lstmq27_h0_zero_int8, tools/make_fuzz_corpus.py) with one scale attribute set to a
value that is not a float32 scale: inf, NaN, a double past FLT_MAX, a double > 0 that rounds to float32 0, 0, a
negative one. Before §287 QAttention's probs_scale / out_scale of inf loaded and were refused only at run, by a
kernel's check that names no layer ("quantize_s8: scale must be finite and > 0, got inf"), and QLSTM's h_scale /
x_scale / w_scales / r_scales were refused at load by the requantization's check, naming no layer either. Now
contracts.cc's reader refuses each at load (FormatError "node '...' (op): <key> must be > 0 and finite as
float32"). Valid edits (another finite scale) still load and run.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import int8rt
from engine_bytes import frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from engine_mutation_campaign import run_once  # noqa: E402

CORPUS = Path(__file__).parent / "fuzz" / "corpus" / "engine_file"
FLOAT_KIND, FLOATS_KIND = 1, 4  # network_codec.cc's attribute kind bytes
NOT_SCALES = [float("inf"), float("nan"), 1e300, 1e-50, -1.0, 0.0]


def _key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


def _forge(seed: str, attr: str, value: float, index: int = 0, after: str = "") -> tuple[bytes, float]:
    """The seed's payload with float attribute `attr` (or element `index` of float-list attribute `attr`) set to
    `value`: the first occurrence after the key `after` (the node's earlier attribute, to pick the node); and the
    value it held."""
    data = (CORPUS / f"{seed}.payload").read_bytes()
    start = data.index(_key(after)) if after else 0
    at = data.index(_key(attr), start) + len(_key(attr))
    kind = data[at]
    if kind == FLOAT_KIND:
        pos = at + 1
    else:
        assert kind == FLOATS_KIND, f"{attr}: kind {kind}"
        (n,) = struct.unpack_from("<Q", data, at + 1)
        assert index < n
        pos = at + 9 + 8 * index
    return data[:pos] + struct.pack("<d", value) + data[pos + 8:], struct.unpack_from("<d", data, pos)[0]


def _load(payload: bytes) -> int8rt.Engine:
    return int8rt.Engine.deserialize(frame(payload, version=4))  # the current format (the head mixes need 4)


# (seed, attribute, element, the key before it in its node, the layer named in the refusal)
QATTENTION = "'scores\\+l_in\\+.*\\+context' \\(int8rt.QAttention\\)"
CASES = [
    ("cait27_heads_int8", "probs_scale", 0, "probs_head_mix", QATTENTION),
    ("cait27_heads_int8", "out_scale", 0, "k_transposed", QATTENTION),
    ("cait27_heads_int8", "q_scale", 0, "probs_scale", QATTENTION),
    ("lstmq27_h0_zero_int8", "h_scale", 0, "", "'LSTM_0' \\(int8rt.QLSTM\\)"),
    ("lstmq27_h0_zero_int8", "x_scale", 0, "", "'LSTM_0' \\(int8rt.QLSTM\\)"),
    ("lstmq27_h0_zero_int8", "w_scales", 3, "", "'LSTM_0' \\(int8rt.QLSTM\\)"),
    ("lstmq27_h0_zero_int8", "r_scales", 11, "", "'LSTM_0' \\(int8rt.QLSTM\\)"),
]


@pytest.mark.parametrize("seed,attr,index,after,layer,value", [
    (*case, v) for case in CASES for v in NOT_SCALES
    if not (v == 0.0 and case[1] in ("out_scale", "h_scale"))])  # 0: their float form, a valid value
def test_a_forged_scale_is_refused_at_load_naming_the_layer(seed, attr, index, after, layer, value) -> None:
    data, _ = _forge(seed, attr, value, index, after)
    key = f"{attr}\\[{index}\\]" if attr.endswith("scales") else attr
    with pytest.raises(int8rt.FormatError, match=f"node {layer}: {key} must be >=? 0 and finite as float32"):
        _load(data)


@pytest.mark.parametrize("seed,attr,index,after,layer", CASES)
def test_another_finite_scale_loads_and_runs(seed, attr, index, after, layer) -> None:
    """The forging hits a scale of the layer: the value it replaces is a float32 scale, and 1.5 times it loads
    and runs, as the seed does."""
    data, stored = _forge(seed, attr, 0.0, index, after)
    assert 0.0 < stored < 1.0, (attr, stored)
    run_once(_load((CORPUS / f"{seed}.payload").read_bytes()), np.random.default_rng(0))
    data, _ = _forge(seed, attr, 1.5 * stored, index, after)
    engine = _load(data)
    assert any(layer.split("(")[-1].rstrip(")\\") in la["op"] for la in engine.layers())
    run_once(engine, np.random.default_rng(0))
