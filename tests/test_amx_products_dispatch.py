"""Which gemm_s8 kernel runs the products of two int8 activations
(int8rt.QAttention's Q K^T and P V, int8rt.QMatMul), and where that is said
(issue 13, item 5; benchmarks/RESULTS.md section 131).

Each product's kernel is the registry's walk over the gemm_s8 family for its
(N, K), AMX first: INT8RT_LOG=dispatch prints the walk with every declined
candidate's reason, and the layer's detail (what ``int8rt inspect`` prints)
names both products' kernels once the layer has run. Where the CPU lacks
AMX the AMX candidate is passed over as "CPU lacks amx"; where it has AMX
it is chosen for these shapes, and capped at avx512vnni it is passed over
as above the cap. The AMX kernel's arithmetic on these products is tested
under the emulation header, against the reference, in
tests/cpp/test_x86_twin_kernels.cc (X86Twins.ActivationProductsEqualReference)."""
from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402

from test_int8_matmul import attention_engine  # noqa: E402

AMX_GEMM = "gemm_s8_32x32c4_amx"
DISPATCH = re.compile(r"^int8rt dispatch: gemm_s8 \[(?P<problem>[^\]]*)\] -> (?P<kernel>\w+) \((?P<isa>\w+)\)"
                      r"(?:; passed over: (?P<passed>.*))?$")
# q [1, 2, 40, 64], k [1, 2, 40, 64] (untransposed), v [1, 2, 40, 64]: scores N 40, K 64;
# context N 64, K 40. Both fill AMX tiles well enough (utilisation 83% and 62%).
SHAPES = ((1, 2, 40, 64), (1, 2, 40, 64), (1, 2, 40, 64))
ATTRS = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "probs_scale": 1 / 127, "k_transposed": 1,
         "out_scale": 0.045}


def run_attention_logged(monkeypatch, capfd, max_isa: str | None) -> tuple[list[re.Match], str]:
    """Builds and runs the attention engine with the dispatch log on; returns
    the gemm_s8 lines of the log and the attention layer's detail."""
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    if max_isa:
        monkeypatch.setenv("INT8RT_MAX_ISA", max_isa)
    engine = attention_engine(SHAPES, ATTRS, True)
    rng = np.random.default_rng(3)
    feeds = {n: rng.integers(-128, 128, s, dtype=np.int8) for n, s in zip("qkv", SHAPES)}
    engine.create_execution_context().run(feeds)
    lines = [m for m in map(DISPATCH.match, capfd.readouterr().err.splitlines()) if m]
    detail = next(layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QAttention")
    return lines, detail


def amx_state() -> tuple[bool, bool]:
    info = int8rt.kernels.isa_info()["amx"]
    return bool(info["compiled"]), bool(info["cpu"])


def test_attention_products_walk_amx_first_and_the_layer_names_them(monkeypatch, capfd) -> None:
    compiled, cpu = amx_state()
    # A process-wide INT8RT_MAX_ISA below amx (the suite run under each cap) passes AMX over with the cap.
    enabled = int8rt.kernels.isa_info()["amx"]["enabled"]
    lines, detail = run_attention_logged(monkeypatch, capfd, None)
    assert len(lines) == 2, lines  # one choice per product shape: scores (N 40, K 64), context (N 64, K 40)
    for m in lines:
        passed = m.group("passed") or ""
        if compiled and cpu and enabled:
            assert m.group("kernel") == AMX_GEMM and m.group("isa") == "amx", m.group(0)
        elif compiled and cpu:
            assert f"{AMX_GEMM}: ISA amx above cap {int8rt.kernels.get_max_isa()}" in passed, m.group(0)
        elif compiled:
            assert f"{AMX_GEMM}: CPU lacks amx" in passed, m.group(0)
            assert m.group("kernel") != AMX_GEMM
    scores, context = (m.group("kernel") for m in lines)
    assert f"on {scores} (scores), {context} (context)" in detail, detail


def test_amx_capped_below_is_passed_over_with_the_cap(monkeypatch, capfd) -> None:
    compiled, cpu = amx_state()
    if not compiled:
        pytest.skip("library built without the AMX kernels")
    lines, _ = run_attention_logged(monkeypatch, capfd, "avx512vnni")
    assert len(lines) == 2, lines
    reason = "ISA amx above cap avx512vnni" if cpu else "CPU lacks amx"
    for m in lines:
        assert f"{AMX_GEMM}: {reason}" in (m.group("passed") or ""), m.group(0)
        assert m.group("isa") != "amx"


def test_layer_detail_before_a_run_says_when_kernels_are_chosen() -> None:
    engine = attention_engine(SHAPES, ATTRS, True)
    detail = next(layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QAttention")
    assert "chosen per sequence length at the first run" in detail, detail
