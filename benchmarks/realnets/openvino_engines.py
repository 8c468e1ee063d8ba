"""OpenVINO as a peer: FP32 and NNCF INT8 models of an ONNX network, each as a
``run(x) -> output`` callable, and OpenVINO's per-layer profile.

- ``load(model)``: the ONNX model (a path or bytes) read by OpenVINO
  (``ov.Core.read_model``, its ONNX frontend).
- ``nncf_int8(model, calib)``: ``nncf.quantize`` with its defaults (preset
  None = PERFORMANCE for CNNs: symmetric int8 weights per channel and
  activations per tensor; fast bias correction on; ``subset_size`` set to the
  number of calibration samples so NNCF sees all of them), fed the
  calibration samples one at a time (batch 1 items; NNCF's statistics
  assume that).
- ``compile_model(model, threads, precision, batch)``: CPU plugin with
  ``INFERENCE_NUM_THREADS`` = threads, ``PERFORMANCE_HINT`` = LATENCY (one
  stream) and, if given, ``INFERENCE_PRECISION_HINT``. On a CPU with
  AVX512-BF16 (Zen 4 included) OpenVINO's *default* precision hint is bf16:
  an "FP32" model then runs its float layers in bf16. ``batch`` reshapes the
  input to a static batch before compiling (the shape a latency user would
  compile for); None keeps the batch dynamic.
- ``kernels(compiled)``: the kernel of each executed node, counted.
- ``run_times(request, x, runs)``: each run's own ``PERF_COUNT`` time per
  executed node. OpenVINO's CPU plugin reports per node the running mean
  over every run since the model was compiled, not the last run's time
  (RESULTS.md §112), so a run's own time is recovered as
  ``n * mean_n - (n - 1) * mean_(n-1)`` on an infer request of a model
  compiled afresh (n small: the reported microseconds give it to within n
  microseconds; the first, cold run only seeds the difference).
- ``profile(compile_fn, x, runs)``: per executed node of a model compiled by
  ``compile_fn()`` (afresh, ``perf_count=True``), the median of those runs'
  own times, with its node type (``layerType`` of
  ``compiled_model.get_runtime_model()``), exec type (the kernel, e.g.
  ``brgconv_avx512_core_vnni_I8``) and runtime precision.

Nothing here is imported unless openvino is installed; ``available()``
says whether it is (and why not).
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import time
from typing import Callable, Optional, Sequence, Union

import numpy as np

Runner = Callable[[np.ndarray], np.ndarray]


def available(need_nncf: bool = True) -> Optional[str]:
    """None when openvino (and nncf) can be imported, else the reason."""
    missing = [m for m in (("openvino", "nncf") if need_nncf else ("openvino",))
               if importlib.util.find_spec(m) is None]
    return f"not installed: {', '.join(missing)} (pip install int8rt[peers])" if missing else None


def versions() -> str:
    import openvino as ov

    out = f"openvino {ov.get_version()}"
    if importlib.util.find_spec("nncf") is not None:
        import nncf

        out += f", nncf {nncf.__version__}"
    return out


def load(model: Union[str, bytes]):
    """The ONNX model (path or serialized bytes) as an ``openvino.Model``."""
    import openvino as ov

    core = ov.Core()
    if isinstance(model, (bytes, bytearray)):
        return core.read_model(model=bytes(model), weights=b"")
    return core.read_model(str(model))


def nncf_int8(model: Union[str, bytes], calib: Union[np.ndarray, list], *, bias_correction: bool = True,
              **options):
    """NNCF's default post-training INT8 of the ONNX model on ``calib``
    (N samples, first axis; or a list of feeds, {input name: array}, one per
    item); ``bias_correction=False`` turns its (fast) bias correction off;
    ``options`` go to ``nncf.quantize`` (``model_type=...``). Returns
    (openvino.Model, seconds)."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    nncf.set_log_level(logging.ERROR)
    t0 = time.perf_counter()
    ov_model = load(model)
    items = (list(calib) if isinstance(calib, list) else
             [np.ascontiguousarray(calib[i:i + 1]) for i in range(len(calib))])
    if not bias_correction:
        options["advanced_parameters"] = AdvancedQuantizationParameters(disable_bias_correction=True)
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars
        q = nncf.quantize(ov_model, nncf.Dataset(items), subset_size=len(items), **options)
    return q, time.perf_counter() - t0


def compile_model(model, threads: int, precision: Optional[str] = None,
                  batch: Union[int, Sequence[int], None] = None, perf_count: bool = False):
    """``model`` (an openvino.Model, copied before a reshape) compiled for the
    CPU; ``batch`` sets the input's first dim, or, as a whole shape, every dim
    (a network with a dynamic height and width timed at one size)."""
    import openvino as ov

    if batch is not None:
        model = model.clone()
        shape = model.inputs[0].get_partial_shape()
        if isinstance(batch, int):
            shape[0] = batch
        else:
            shape = ov.PartialShape([int(d) for d in batch])
        model.reshape({model.inputs[0].get_any_name(): shape})
    config = {"INFERENCE_NUM_THREADS": int(threads), "PERFORMANCE_HINT": "LATENCY",
              "PERF_COUNT": bool(perf_count)}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    return ov.Core().compile_model(model, "CPU", config)


def describe(compiled) -> str:
    """The settings the compiled model actually runs with."""
    keys = ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT")
    return ", ".join(f"{k}={compiled.get_property(k)}" for k in keys)


def kernels(compiled) -> str:
    """The kernels (primitiveType of the runtime graph) of every executed
    node that is not a constant or a layout no-op, counted per node type:
    which ISA OpenVINO really runs (``brgconv_avx2_1x1_I8``, ``jit_avx512_i8``)."""
    from collections import Counter

    skip = {"Const", "Input", "Parameter", "Output", "Result"}
    counts: Counter = Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        kind, prim = rt["layerType"].astype(str), rt["primitiveType"].astype(str)
        if kind not in skip and not prim.startswith("unknown"):
            counts[f"{kind}:{prim}"] += 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))


def runner(compiled) -> Runner:
    """x -> the first output (a copy), through one infer request."""
    req = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        req.infer({0: x}, share_inputs=True)
        return req.get_output_tensor(0).data.copy()
    return run


def run_times(request, x: Union[np.ndarray, dict], runs: int) -> tuple[dict[str, list[float]], dict[str, tuple[str, str]]]:
    """Runs ``request`` (an infer request of a model compiled afresh with
    ``perf_count=True`` and not run yet) ``runs + 1`` times on ``x`` (the
    array of a one-input model, or a feed {input name: array}); per
    executed node, the list of the last ``runs`` runs' own times in ms
    (module docstring: the plugin reports running means) and its (node
    type, exec type)."""
    times: dict[str, list[float]] = {}
    info: dict[str, tuple[str, str]] = {}
    prev: dict[str, float] = {}
    for n in range(1, runs + 2):
        request.infer(x if isinstance(x, dict) else {0: x}, share_inputs=True)
        for p in request.get_profiling_info():
            if p.status != p.Status.EXECUTED:
                continue
            mean = p.real_time.total_seconds() * 1e3
            if n > 1 and p.node_name in prev:  # (a node first executed in a later run has no running mean yet)
                times.setdefault(p.node_name, []).append(n * mean - (n - 1) * prev[p.node_name])
            prev[p.node_name] = mean
            info[p.node_name] = (p.node_type, p.exec_type)
    return times, info


def profile(compile_fn: Callable[[], object], x: np.ndarray, runs: int = 8) -> list[dict]:
    """One dict per executed node of the model ``compile_fn()`` compiles
    (afresh, with ``perf_count=True``), in execution order: ``name``,
    ``type`` (the runtime graph's layerType), ``exec`` (kernel),
    ``precision`` (runtimePrecision) and ``ms`` (the median of ``runs``
    runs' own real times, :func:`run_times`)."""
    compiled = compile_fn()
    rt = {op.get_friendly_name(): op.get_rt_info() for op in compiled.get_runtime_model().get_ordered_ops()}
    times, info = run_times(compiled.create_infer_request(), x, runs)
    out = []
    for name, t in times.items():
        r = rt.get(name, {})
        prec = str(r["runtimePrecision"].astype(str)) if "runtimePrecision" in r else ""
        out.append({"name": name, "type": info[name][0], "exec": info[name][1], "precision": prec,
                    "ms": float(np.median(t))})
    return out
