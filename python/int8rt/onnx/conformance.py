"""ONNX's operator conformance cases through int8rt's FP32 engine.

``python -m int8rt.onnx.conformance`` runs the node test cases that ship
inside the ``onnx`` wheel (``onnx.backend.test.case.node.collect_testcases``:
a model, its inputs and the expected outputs computed by ONNX's reference
implementation) through :mod:`int8rt.onnx.backend`, compares the outputs
with each case's own ``rtol`` / ``atol`` (as ONNX's backend test runner
does), and prints passes per operator: for the operators the importer
claims (``SUPPORTED_OPS``), for the operators common exports contain
(``COMMON_EXPORT_OPS``), or for every operator (``--all``).

A case is attributed to its operator: the op of a one-node graph, else (the
``_expanded`` cases, written as a function body) the ONNX operator whose
snake_case name begins the case's name, else "(unattributed)".
"""
from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np

from .ops import SUPPORTED_OPS

__all__ = ["COMMON_EXPORT_OPS", "CaseResult", "collect_cases", "run_case", "run_cases", "summarize", "update_ratchet",
           "main"]

# Operators found in CNN, detector, OCR, segmentation, audio and transformer
# exports (torch.onnx, paddle2onnx, tf2onnx): the denominator of the coverage
# goal. Ordered by family.
COMMON_EXPORT_OPS = frozenset([
    # convolution, normalisation, pooling
    "Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "GroupNormalization",
    "LayerNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpNormalization",
    # dense
    "Gemm", "MatMul", "Einsum",
    # element-wise arithmetic and math
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Sin", "Cos",
    "Sign", "Floor", "Ceil", "Round", "Mod", "Min", "Max", "Sum", "Mean", "Erf",
    # activations
    "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Softplus",
    "Mish", "Elu", "Selu", "Softmax", "LogSoftmax",
    # comparison and logic
    "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Not", "Where", "IsNaN", "IsInf",
    # reductions and indexing
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ArgMax", "ArgMin", "TopK",
    "CumSum", "Gather", "GatherElements", "ScatterND", "ScatterElements", "Trilu",
    # shape and data movement
    "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Squeeze", "Unsqueeze", "Pad", "Expand",
    "Tile", "Shape", "Size", "Range", "ConstantOfShape", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth",
    "Identity", "Dropout", "Constant", "Cast",
    # recurrent
    "LSTM", "GRU", "RNN",
    # quantization
    "QuantizeLinear", "DequantizeLinear",
])


@dataclass
class CaseResult:
    """One conformance case: its name, operator, whether it passed, and why not."""

    name: str
    op: str
    passed: bool
    reason: str = ""


@dataclass
class OpSummary:
    op: str
    passed: int = 0
    total: int = 0
    failures: list[CaseResult] = field(default_factory=list)


def _snake(op: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])", "_", op).lower()


_SCHEMA_NAMES: dict[str, str] = {}


def _op_for_name(case_name: str) -> Optional[str]:
    """The ONNX operator whose snake_case name is the longest prefix of the case name."""
    if not _SCHEMA_NAMES:
        import onnx.defs
        for schema in onnx.defs.get_all_schemas_with_history():
            if not schema.domain:
                _SCHEMA_NAMES[_snake(schema.name)] = schema.name
                _SCHEMA_NAMES.setdefault(schema.name.lower(), schema.name)
    name = case_name[len("test_"):] if case_name.startswith("test_") else case_name
    best = None
    for snake, op in _SCHEMA_NAMES.items():
        if (name == snake or name.startswith(snake + "_")) and (best is None or len(snake) > len(best[0])):
            best = (snake, op)
    return best[1] if best else None


def case_op(case: object) -> str:
    """The operator a case tests (see the module docstring)."""
    nodes = case.model.graph.node  # type: ignore[attr-defined]
    if len(nodes) == 1:
        return nodes[0].op_type
    return _op_for_name(case.name) or "(unattributed)"  # type: ignore[attr-defined]


def collect_cases(ops: Optional[Iterable[str]] = None) -> list[object]:
    """ONNX's node test cases (optionally only those of `ops`), name order."""
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators' own numpy overflow warnings
        cases = collect_testcases(None)
    wanted = None if ops is None else set(ops)
    out = [c for c in cases if wanted is None or case_op(c) in wanted]
    return sorted(out, key=lambda c: c.name)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def _array(x: object) -> object:
    """A case's value as numpy: some cases (Cast's) give TensorProtos, as ONNX's runner reads them from files."""
    import onnx
    from onnx import numpy_helper
    return numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x


def run_case(case: object) -> CaseResult:
    """Runs every data set of one case; passes when all outputs match."""
    from .backend import Int8rtBackend
    op = case_op(case)
    try:
        rep = Int8rtBackend.prepare(case.model)  # type: ignore[attr-defined]
        for inputs, expected in case.data_sets:  # type: ignore[attr-defined]
            inputs, expected = [_array(x) for x in inputs], [_array(x) for x in expected]
            got = rep.run(inputs)
            if len(got) != len(expected):
                return CaseResult(case.name, op, False, f"{len(got)} outputs, expected {len(expected)}")
            for i, (g, e) in enumerate(zip(got, expected)):
                e = np.asarray(e)
                if g.shape != e.shape:
                    return CaseResult(case.name, op, False, f"output {i}: shape {g.shape}, expected {e.shape}")
                if e.dtype.kind == "V":  # ml_dtypes' storage types: same dtype, compared as float32 (as ONNX's runner)
                    if g.dtype != e.dtype:
                        return CaseResult(case.name, op, False, f"output {i}: dtype {g.dtype}, expected {e.dtype}")
                    g, e = g.astype(np.float32), e.astype(np.float32)
                np.testing.assert_allclose(g, e, rtol=case.rtol, atol=case.atol)  # type: ignore[attr-defined]
    except AssertionError as e:
        lines = [ln for ln in str(e).splitlines() if "Mismatched" in ln or "Max absolute" in ln]
        return CaseResult(case.name, op, False, "wrong values: " + "; ".join(ln.strip() for ln in lines))
    except Exception as e:  # noqa: BLE001 - every refusal is a recorded failure, not a crash of the run
        return CaseResult(case.name, op, False, _first_line(e))
    return CaseResult(case.name, op, True)


def run_cases(cases: Sequence[object]) -> list[CaseResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [run_case(c) for c in cases]


def summarize(results: Iterable[CaseResult]) -> dict[str, OpSummary]:
    by_op: dict[str, OpSummary] = defaultdict(lambda: OpSummary(""))
    for r in results:
        s = by_op[r.op]
        s.op = r.op
        s.total += 1
        if r.passed:
            s.passed += 1
        else:
            s.failures.append(r)
    return dict(sorted(by_op.items()))


def _report(title: str, summary: dict[str, OpSummary], ops: Iterable[str], verbose: bool) -> str:
    lines = [title]
    passed = total = 0
    for op in sorted(ops):
        s = summary.get(op)
        if s is None:
            lines.append(f"  {op:24s}  (no cases)")
            continue
        passed, total = passed + s.passed, total + s.total
        reason = "" if not s.failures else "  first failure: " + s.failures[0].name + ": " + s.failures[0].reason
        lines.append(f"  {op:24s} {s.passed:4d}/{s.total:<4d}{reason if verbose else ''}")
    pct = 100.0 * passed / total if total else 0.0
    lines.append(f"  total: {passed}/{total} cases passed ({pct:.1f}%)")
    return "\n".join(lines)


_RATCHET_HEADER = ("# ONNX node conformance cases int8rt's FP32 engine passes (python -m int8rt.onnx.conformance);\n"
                   "# tests/test_onnx_conformance.py fails if one of them stops passing. Regenerate when more pass.\n")


def update_ratchet(path: str, results: Iterable[CaseResult]) -> int:
    """Adds the passing cases of `results` to the ratchet file at `path` (kept
    sorted; lines already there stay, passing or not). Returns how many were added."""
    from pathlib import Path
    f = Path(path)
    lines = f.read_text().splitlines() if f.exists() else []
    known = {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}
    new = {r.name for r in results if r.passed} - known
    f.write_text(_RATCHET_HEADER + "".join(f"{name}\n" for name in sorted(known | new)))
    return len(new)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m int8rt.onnx.conformance", description=__doc__.split("\n\n")[0])
    p.add_argument("--all", action="store_true", help="every operator that has cases, not only common ones")
    p.add_argument("--ops", nargs="+", metavar="OP", help="only these operators")
    p.add_argument("--failures", action="store_true", help="list every failing case with its reason")
    p.add_argument("-q", "--quiet", action="store_true", help="totals only")
    p.add_argument("--update-ratchet", metavar="FILE",
                   help="add every case that passed to FILE (tests/data/onnx_conformance_passing.txt, which "
                        "tests/test_onnx_conformance.py keeps passing); never removes one. Use with --all")
    args = p.parse_args(argv)
    ops = set(args.ops) if args.ops else None if args.all else COMMON_EXPORT_OPS | SUPPORTED_OPS
    results = run_cases(collect_cases(ops))
    summary = summarize(results)
    verbose = not args.quiet
    shown = sorted(ops) if ops is not None else sorted(summary)
    print(_report("operators the importer claims (int8rt.onnx.SUPPORTED_OPS):", summary,
                  [o for o in shown if o in SUPPORTED_OPS], verbose))
    print(_report("operators of common exports not claimed:", summary,
                  [o for o in shown if o not in SUPPORTED_OPS and o in COMMON_EXPORT_OPS], verbose))
    if args.all:
        print(_report("other operators:", summary,
                      [o for o in shown if o not in SUPPORTED_OPS and o not in COMMON_EXPORT_OPS], verbose))
    common = [r for r in results if r.op in COMMON_EXPORT_OPS]
    n_pass = sum(r.passed for r in common)
    print(f"common export operators: {n_pass}/{len(common)} cases passed "
          f"({100.0 * n_pass / max(1, len(common)):.1f}%)")
    if args.update_ratchet:
        added = update_ratchet(args.update_ratchet, results)
        print(f"{args.update_ratchet}: {added} case(s) added")
    if args.failures:
        for r in results:
            if not r.passed:
                print(f"FAIL {r.op:20s} {r.name}: {r.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
