"""u8 codes on the AVX-VNNI tier (RESULTS.md section 150): under INT8RT_MAX_ISA=avxvnni the igemm conv
reads u8-coded inputs (q + 128) with its unshifted vpdpbusd tile against compensated weights and writes and
adds u8 codes through the AVX2 epilogue's xors, so an engine loaded under that cap holds the same tensors as
u8 codes as on the AVX512-VNNI tier, and every output is the same bytes as with every tensor int8-coded
(INT8RT_U8_CODES=0) and as the AVX512-VNNI engine's (test_u8_codes.py: the reference's). Needs a CPU with
AVX-VNNI (this one has it); the kernel twins of tests/cpp/test_x86_twin_u8_codes.cc run the same tile
elsewhere. Models and fixtures: test_u8_codes.py."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
import test_u8_codes as T
from test_u8_codes import F32, MODELS, U8_IN, U8_OUT, U8_RES, _details, _reload, _run, amx_cpu, vnni_cpu

RNG = np.random.default_rng(150)

pytestmark = pytest.mark.skipif(not int8rt.kernels.isa_info()["avxvnni"]["enabled"],
                                reason="CPU lacks AVX-VNNI (or the tier is capped off)")


@pytest.fixture(scope="module", params=sorted(MODELS))
def built(request) -> tuple[str, bytes, int8rt.Engine]:
    """test_u8_codes.py's engines, its random generator left as it was (its expectations follow its draws)."""
    state = T.RNG.bit_generator.state
    try:
        engine = T._build(request.param)
    finally:
        T.RNG.bit_generator.state = state
    return request.param, engine.serialize(), engine


def _counts(engine: int8rt.Engine) -> tuple[int, int, int]:
    """(convs reading u8 codes as input, as residual, convs writing them)."""
    return tuple(sum(tag in d for d in _details(engine)) for tag in (U8_IN, U8_RES, U8_OUT))


@pytest.mark.parametrize("batch", [1, 3])
def test_avxvnni_cap_takes_u8_codes_same_bytes(built, monkeypatch, batch) -> None:
    name, data, engine = built
    vnni = _reload(data, monkeypatch, INT8RT_MAX_ISA="avxvnni")
    details = _details(vnni)
    assert all("avxvnni" in d for d in details), details
    assert _counts(vnni)[0] > 0, details
    if vnni_cpu():  # the same tensors as on the AVX512-VNNI tier (AMX keeps int8 codes where it runs both ends)
        tier = _reload(data, monkeypatch, INT8RT_MAX_ISA="avx512vnni") if amx_cpu() else engine
        assert _counts(vnni) == _counts(tier), (details, _details(tier))
    s8 = _reload(data, monkeypatch, INT8RT_MAX_ISA="avxvnni", INT8RT_U8_CODES="0")
    assert _counts(s8) == (0, 0, 0), _details(s8)
    x = RNG.standard_normal((batch, 3, MODELS[name][1], MODELS[name][1])).astype(F32)
    got = _run(vnni, x)
    np.testing.assert_array_equal(got, _run(s8, x))
    np.testing.assert_array_equal(got, _run(engine, x))
    np.testing.assert_array_equal(got, _run(vnni, x, threads=2))
