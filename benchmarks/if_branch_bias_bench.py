"""Silero VAD unbound: bias correction inside its If branch, off and on
(RESULTS_accuracy.md, acc22).

Silero VAD with ``sr`` a 0-d int64 input is one Equal + If whose 16 kHz
branch holds every int8 layer (RESULTS.md §98). Bias correction now measures
and folds the shifts of that branch's int8 convs (accuracy/branch_bias.py).
On issue11_verify's Silero row (realnets/issue11_rows.py: real speech in
streaming chunks, each fed the state ONNX Runtime FP32 carried there), this
builds int8rt minmax and auto with ``bias_correction`` False / True (and
auto's own decision, None), and ONNX Runtime quant_pre_process +
quantize_static on the same calibration data (wheelnets_bench.ort_int8),
and prints the row's metric (centred cosine of p(speech), decision
agreement at 0.5) against ORT FP32 and against ORT quantize_static's
outputs, the QuantizeLinear nodes ORT wrote (top level, then-branch),
the layers corrected (top level / If
branches, from auto's report), the mean |shift| folded and the build's process CPU
seconds, and auto's held-out errors with and without the correction. Accuracy only, no timing of runs.

    PYTHONPATH=python python benchmarks/if_branch_bias_bench.py [--dir /tmp/if_branch_bias] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402


class _Shifts(logging.Handler):
    """Keeps the last "bias correction: N layers, mean |shift| S" the build logged."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        m = re.match(r"bias correction: (\d+) layers, mean \|shift\| (\S+)", record.getMessage())
        if m:
            self.last = {"layers": int(m.group(1)), "mean_abs_shift": float(m.group(2))}


def main() -> int:
    import onnx

    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from wheelnets_bench import ort_int8

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/if_branch_bias")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line())
    int8rt.set_num_threads(1)
    shifts = _Shifts()
    log = logging.getLogger("int8rt")
    log.addHandler(shifts)
    log.setLevel(logging.INFO)
    row = ROWS["silero_vad"](args.dir)
    refs = [ort_session(row.path).run([row.output], f)[0] for f in row.evaluation]
    res: dict = {}
    outs: dict = {}
    for method, settings in (("minmax", (False, True)), ("auto", (False, True, None))):
        for correction in settings:
            shifts.last = {}
            t0 = time.process_time()
            engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(
                calibrator=make_calibrator(row.calib, algorithm=method), accuracy_check=False,
                bias_correction=correction))
            seconds = time.process_time() - t0
            ctx = engine.create_execution_context()
            key = f"int8rt {method}, bias correction {({None: 'auto', True: 'on', False: 'off'})[correction]}"
            choice = engine.build_report().auto_choice or {}
            outs[key] = [ctx.run(f)[row.output] for f in row.evaluation]
            res[key] = {**row.metric(outs[key], refs, row.evaluation),
                        "build_cpu_s": round(seconds, 2), "corrected": dict(shifts.last),
                        "decision": choice.get("bias_correction"), "layers": choice.get("bias_correction_layers"),
                        "held_out_rel_l2": {k: v for k, v in choice.get("errors", {}).items()
                                            if k.startswith("bias correction")}}
    qdq = ort_int8(row.path, row.calib, 0)[0]
    ort8 = ort_session(qdq)
    ort_outs = [ort8.run([row.output], f)[0] for f in row.evaluation]
    graph = onnx.load_from_string(qdq).graph
    branch = next(a.g for n in graph.node if n.op_type == "If" for a in n.attribute if a.name == "then_branch")
    res["ORT quantize_static"] = {**row.metric(ort_outs, refs, row.evaluation),
                                  "QuantizeLinear top level": sum(n.op_type == "QuantizeLinear" for n in graph.node),
                                  "QuantizeLinear then-branch": sum(n.op_type == "QuantizeLinear" for n in branch.node)}
    for key, o in outs.items():
        res[key]["vs ORT quantize_static"] = row.metric(o, ort_outs, row.evaluation)
    print(machine_line())
    for k, v in res.items():
        print(f"{k}: " + ", ".join(f"{m} {x:.6f}" if isinstance(x, float) else f"{m} {x}" for m, x in v.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
