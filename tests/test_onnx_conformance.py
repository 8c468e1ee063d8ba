"""ONNX's own operator conformance cases (shipped in the onnx wheel) through
int8rt's FP32 engine via int8rt.onnx.backend: an external check of the
operators the importer claims. Every case that passed when
tests/data/onnx_conformance_passing.txt was written must still pass, and no
case may crash the process; `-m slow` runs every case of every operator."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import int8rt
from int8rt.onnx import SUPPORTED_OPS, backend, conformance

PASSING = Path(__file__).parent / "data" / "onnx_conformance_passing.txt"


def _baseline() -> set[str]:
    return {ln.strip() for ln in PASSING.read_text().splitlines() if ln.strip() and not ln.startswith("#")}


def _check(cases: list) -> None:
    results = conformance.run_cases(cases)
    baseline = _baseline()
    regressed = [f"{r.name}: {r.reason}" for r in results if r.name in baseline and not r.passed]
    assert not regressed, "conformance cases that passed before now fail:\n" + "\n".join(regressed)


def test_claimed_operators_keep_their_passing_cases() -> None:
    cases = conformance.collect_cases(SUPPORTED_OPS)
    assert {conformance.case_op(c) for c in cases} >= {"Conv", "Gemm", "MatMul", "Concat", "Transpose"}
    _check(cases)


@pytest.mark.slow
def test_every_case_runs_without_crashing() -> None:
    _check(conformance.collect_cases())


def test_backend_runs_a_model_and_refuses_what_it_cannot() -> None:
    g = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
                               [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
                               [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])])
    m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8)
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    (y,) = backend.run_model(m, [x])
    assert np.array_equal(y, np.maximum(x, 0))
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    m.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.STRING
    with pytest.raises(int8rt.NotSupportedError, match="graph input 'x' is STRING"):
        backend.prepare(m)


def test_cli_prints_per_operator_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.main(["--ops", "Relu", "Conv"]) == 0
    out = capsys.readouterr().out
    assert "Conv" in out and "Relu" in out and "cases passed" in out


def test_listed_conformance_exceptions_are_claimed_operators() -> None:
    from int8rt.onnx.ops import CONFORMANCE_EXCEPTIONS
    assert set(CONFORMANCE_EXCEPTIONS) <= SUPPORTED_OPS, set(CONFORMANCE_EXCEPTIONS) - SUPPORTED_OPS
    assert all(reason.strip() for reason in CONFORMANCE_EXCEPTIONS.values())
