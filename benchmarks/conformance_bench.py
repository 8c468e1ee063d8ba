"""ONNX node conformance: int8rt's FP32 engine vs ONNX Runtime on the same
cases, same comparison (each case's rtol/atol), one process.

    PYTHONPATH=python python benchmarks/conformance_bench.py

Prints passes for the operators of common exports
(int8rt.onnx.conformance.COMMON_EXPORT_OPS), the operators int8rt claims,
and all cases."""
from __future__ import annotations

import warnings

import numpy as np

from int8rt.onnx import SUPPORTED_OPS, conformance


def ort_passes(case: object) -> bool:
    import onnxruntime.backend as ort_backend
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = ort_backend.prepare(case.model, "CPU")
            for inputs, expected in case.data_sets:
                got = rep.run(list(inputs))
                for g, e in zip(got, expected):
                    np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=case.rtol, atol=case.atol)
    except Exception:  # noqa: BLE001 - a refusal or a mismatch is a failure
        return False
    return True


def main() -> None:
    cases = conformance.collect_cases()
    ours = {r.name: r.passed for r in conformance.run_cases(cases)}
    theirs = {c.name: ort_passes(c) for c in cases}
    groups = {"common export ops": conformance.COMMON_EXPORT_OPS, "ops int8rt claims": SUPPORTED_OPS,
              "all cases": None}
    print(f"{'cases':22s} {'n':>5s} {'int8rt':>7s} {'ORT':>7s}")
    for title, ops in groups.items():
        sel = [c.name for c in cases if ops is None or conformance.case_op(c) in ops]
        a, b = sum(ours[n] for n in sel), sum(theirs[n] for n in sel)
        print(f"{title:22s} {len(sel):5d} {a:7d} {b:7d}   ({100 * a / len(sel):.1f}% vs {100 * b / len(sel):.1f}%)")


if __name__ == "__main__":
    main()
