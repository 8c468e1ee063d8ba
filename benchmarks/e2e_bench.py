"""End-to-end inference: int8rt INT8 and FP32 vs ONNX Runtime INT8 and FP32
vs OpenVINO INT8 (NNCF) and FP32 vs PyTorch int8, at batch 1 and 8, 1 and 2
threads, in one process, implementations alternating, medians and ratios.

Networks (--models):
  resnet18, resnet50, mobilenet_v2  ResNet-18-like, ResNet-50-like and
      MobileNetV2-like (benchmarks/e2e_models.py, seeded random weights;
      ResNet-50's BatchNorm statistics from 16 synthetic images), exported
      with torch.onnx.export(dynamo=False), opset 17, dynamic batch
  mobilenet_v3, efficientnet_b0, efficientnet_lite0  MobileNetV3-Large,
      EfficientNet-B0 and EfficientNet-Lite0 as torchvision / timm define
      them (benchmarks/e2e_mobile_models.py; BatchNorm statistics from data),
      exported the same way
  digits      the bundled digits CNN (python/int8rt/data)
  ppocr_det   PP-OCRv4 text detector at 3x320x320 (rapidocr-onnxruntime wheel,
              realnets/ocr_models.static_input_model: static image shape)
  ppocr_rec   PP-OCRv4 text recogniser at 3x48x320 (same wheel)
  bert_base, minilm  BERT-base (HuggingFace BertModel(BertConfig()), random
              weights, random token ids) and all-MiniLM-L6-v2 (real weights and
              sentences) at sequence 128 (benchmarks/e2e_feeds.py, as
              bert_peers_bench.py makes them): two inputs, input_ids and
              attention_mask; OpenVINO compiled for the timed static shape,
              NNCF with model_type=TRANSFORMER; no PyTorch row
  lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large, fcn_resnet50
              torchvision's segmentation networks (realnets/seg_models.py:
              random weights, BatchNorm statistics from photographs),
              exported with torch.onnx (dynamic batch, height and width, the
              output upsampled to the input's run-time size), timed at
              --size x --size; calibrated and timed on photographs from
              scikit-image's wheel (OpenVINO compiled for the timed shape)

Implementations (all calibrated on the same batches: 4 x 8 seeded Gaussian
images for the random networks, the 256 bundled calibration images for the
digits CNN, 4 x 8 rendered text lines / text pages for PP-OCR, 8 x 4
sequences for the encoders):
  int8rt int8   build_engine + IInt8EntropyCalibrator2 (TensorRT's default;
                --calibrator entropy, the default) or IInt8AutoCalibrator
                (what the README recommends; --calibrator auto)
  int8rt fp32   build_engine(precision="fp32")
  ORT fp32      InferenceSession (realnets/engines.ort_session: ORT_ENABLE_ALL
                by default, intra_op_num_threads = threads, spinning off)
  ORT int8      realnets/engines.ort_quantize: quant_pre_process, then
                quantize_static QDQ, per_channel=True, MinMax calibration,
                uint8 activations / int8 weights (its defaults); run as ORT fp32
  OV fp32       OpenVINO CPU plugin (realnets/openvino_engines.py): the ONNX
                model read by OpenVINO, reshaped to the static batch and
                compiled with INFERENCE_NUM_THREADS = threads,
                PERFORMANCE_HINT = LATENCY and INFERENCE_PRECISION_HINT = f32
                (OpenVINO's default on a CPU with AVX512-BF16 is bf16)
  OV int8       nncf.quantize with its defaults (preset PERFORMANCE, fast bias
                correction) on the same calibration samples, compiled as OV
                fp32 but with OpenVINO's default precision hint (what a user
                gets: bf16 for the layers NNCF leaves in float, on this CPU)
  torch int8    torch.ao.quantization FX (prepare_fx / convert_fx) with
                get_default_qconfig_mapping("x86"), engine "x86", channels_last
                input; PT2E + X86InductorQuantizer is absent from torch 2.13's
                torch.ao (moved to torchao, not installed). Networks that exist
                only as ONNX (digits, PP-OCR) have no PyTorch row.
A peer that is not installed is skipped with the reason printed. --ov-extra
adds OpenVINO FP32 with its default precision hint and OpenVINO INT8 with
the f32 hint. Each row also reports the output's relative L2 error against
ORT fp32 (and held-out top-1 for the digits CNN), so a fast wrong engine shows.
Accuracy beside speed: per network, once, every implementation's output on
the evaluation inputs (the timed feed at the largest --batches, e.g. 8
images or sequences) against ORT fp32's: relative L2 and centred cosine
(int8rt.accuracy.metrics; each side minus its mean over the samples, so a
constant output scores 0), written to --json for e2e_summary.py.

--sweep-threads 1 2 (at --sweep-batch, default 8) then times the
implementations at every thread count, all alternating in one process, each
call by the wall clock and the process CPU time at once (e2e_threads.py says
why both, and how the peers' spinning workers are kept out of the windows);
the load is printed before and after each sweep. --sweep-only skips the
1-thread rows.

--profile RUNS then prints, per network and batch, int8rt INT8's per-layer
profile beside OpenVINO INT8's (PERF_COUNT; node types from
compiled_model.get_runtime_model()), grouped by layer kind
(realnets/profile_kinds.py), 1 thread.

Peers' worker threads spin for a while after their runs (PyTorch's OpenMP,
OpenVINO's TBB), so with several threads int8rt runs next to a busy core in
the table rows. Per network and batch a last line therefore times int8rt
INT8 alone, its thread counts alternating, no peer running in between: the
like-for-like answer to "is 2 threads faster than 1".

--models-dir DIR keeps the ONNX files and the peers' quantized models (ORT
INT8, NNCF's OpenVINO IR; keyed by a hash of the ONNX file) in DIR, so a
second pass skips their builds (int8rt's engines are built every run);
--json PATH writes every median for benchmarks/e2e_summary.py, which merges
passes into one table of goal ratios.

Usage: PYTHONPATH=python python3 benchmarks/e2e_bench.py [--models resnet18
       mobilenet_v2 digits resnet50 ppocr_det ppocr_rec bert_base minilm] [--impls ...]
       [--batches 1 8] [--threads 1 2] [--size 224] [--rounds 7]
       [--min-time 0.5] [--ov-extra] [--profile RUNS] [--isa-cap avxvnni] [--cpu-time]
       [--models-dir /tmp/e2eall] [--json pass1.json] [--sweep-threads 1 2] [--sweep-batch 8] [--sweep-only]
Needs: pip install int8rt[bench,peers] torch==2.13.0; PP-OCR:
       pip install --no-deps rapidocr-onnxruntime==1.4.4
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional

# Helper threads of the libraries loaded here must not spin beside the timed
# engines: torch's OpenMP workers (torch exports the networks in this
# process; a perf run of ResNet-50 FP32 found ~20% of the samples in them)
# and numpy's OpenBLAS server (seen in perf). Only the PyTorch rows use them.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import add_isa_cap_and_cpu_time_args, isa_cap, load_line, machine_line, time_alternating  # noqa: E402
import e2e_feeds as F  # noqa: E402
import e2e_threads as T  # noqa: E402
from e2e_subjects import SEG_MODELS, Subject, digits, export, subject  # noqa: E402,F401 - importers use them
from realnets import engines as E  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402
from int8rt.accuracy import metrics as M  # noqa: E402

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3", "efficientnet_b0", "efficientnet_lite0",
          "convnext_tiny", "vit_tiny", "digits", "ppocr_det", "ppocr_rec"] + list(F.ENCODERS) + list(SEG_MODELS)
IMPLS = ["int8rt int8", "int8rt fp32", "ORT int8", "ORT fp32", "OV int8", "OV fp32", "torch int8"]


class _Feeds:
    """Hands out a fixed list of feeds ({input name: batch}) or, for a
    one-input network, of arrays; mixed into a calibrator class."""

    def __init__(self, batches: list) -> None:
        super().__init__()
        self.batches = iter(batches)
        first = batches[0]
        self.size = len(next(iter(first.values())) if isinstance(first, dict) else first)

    def get_batch_size(self) -> int:
        return self.size

    def get_batch(self, names: list) -> Optional[list]:
        b = next(self.batches, None)
        if b is None:
            return None
        return [b[n] for n in names] if isinstance(b, dict) else [b]


class Calibrator(_Feeds, int8rt.IInt8EntropyCalibrator2):
    """TensorRT's default calibrator on the feeds (--calibrator entropy)."""


class AutoCalibrator(_Feeds, int8rt.IInt8AutoCalibrator):
    """The calibrator int8rt's README recommends, on the same feeds
    (--calibrator auto)."""


CALIBRATORS = {"entropy": Calibrator, "auto": AutoCalibrator}
CALIBRATOR_NAMES = {"entropy": "IInt8EntropyCalibrator2", "auto": "IInt8AutoCalibrator"}


def build(s: Subject, tmp: Path, impls: Optional[List[str]] = None, calibrator: str = "entropy") -> None:
    """Builds every implementation once (those in `impls`, default all;
    int8rt int8 with CALIBRATORS[calibrator]); a failure is recorded with its
    exact message."""
    want = set(impls or IMPLS)
    if "int8rt int8" in want:
        try:
            t0 = time.perf_counter()
            s.engines["int8rt int8"] = int8rt.build_engine(
                s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=CALIBRATORS[calibrator](s.calib_feeds)))
            s.build_s["int8rt int8"] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - reported in the table, e.g. NotSupportedError
            s.errors["int8rt int8"] = f"{type(e).__name__}: {e}"
    if "int8rt fp32" in want:
        try:
            s.engines["int8rt fp32"] = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="fp32"))
        except Exception as e:  # noqa: BLE001
            s.errors["int8rt fp32"] = f"{type(e).__name__}: {e}"
    single = s.feed_fn is None
    calib = np.concatenate([f[s.input_name] for f in s.calib_feeds]) if single else F.single_rows(s.calib_feeds)
    key = hashlib.sha1(s.onnx_path.read_bytes()).hexdigest()[:12]
    ort_cached, ov_cached = tmp / f"{s.name}.{key}.ort_int8.onnx", tmp / f"{s.name}.{key}.ov_int8.xml"
    if "ORT int8" in want and ort_cached.exists():
        s.ort_int8 = ort_cached.read_bytes()
        print(f"{s.name}: ORT int8 model read from {ort_cached}")
    elif "ORT int8" in want:
        try:
            t0 = time.perf_counter()
            s.ort_int8 = (E.ort_quantize(s.onnx_path.read_bytes(), calib, "minmax",
                                            batch=len(s.calib_feeds[0][s.input_name]))[0]
                          if single else F.ort_static_int8(str(s.onnx_path), s.calib_feeds, str(tmp)))
            s.build_s["ORT int8"] = time.perf_counter() - t0
            ort_cached.write_bytes(s.ort_int8)
        except Exception as e:  # noqa: BLE001
            s.errors["ORT int8"] = f"{type(e).__name__}: {e}"
    ov_want = [k for k in ("OV fp32", "OV int8") if k in want]
    reason = O.available(need_nncf="OV int8" in want) if ov_want else None
    for key in ov_want:
        if reason is not None:
            s.errors[key] = reason
            continue
        try:
            if key == "OV fp32":
                s.ov_models["fp32"] = O.load(s.onnx_path)
            elif ov_cached.exists():
                s.ov_models["int8"] = O.load(ov_cached)
                print(f"{s.name}: OV int8 model read from {ov_cached}")
            else:
                s.ov_models["int8"], s.build_s["OV int8"] = O.nncf_int8(s.onnx_path, calib, **s.nncf_options)
                import openvino
                openvino.save_model(s.ov_models["int8"], str(ov_cached), compress_to_fp16=False)
        except Exception as e:  # noqa: BLE001
            s.errors[key] = f"{type(e).__name__}: {e}"[:300]
    if "torch int8" not in want:
        return
    if s.torch_model is not None:
        try:
            s.torch_int8 = torch_fx_int8(s.torch_model, [f[s.input_name] for f in s.calib_feeds])
        except Exception as e:  # noqa: BLE001
            s.errors["torch int8"] = f"{type(e).__name__}: {e}"
    else:
        s.errors["torch int8"] = "not measured: this network exists only as ONNX"


def add_tiers(s: Subject, tiers: List[str]) -> None:
    """The built INT8 engine loaded once per ISA cap: layer kernels are chosen
    at load, so engine 'int8rt int8@<tier>' keeps that tier's kernels after
    the cap is lifted, and the tiers alternate in one process. Not so for
    products of two activations (QMatMul / QAttention, engine/ops/int8/
    int8_products.cc), whose GEMM kernel is chosen at their first run under
    the cap then in force: for such networks run one process per cap."""
    e = s.engines.get("int8rt int8")
    if e is None or not tiers:
        return
    data = e.serialize()
    for tier in tiers:
        int8rt.set_max_isa(tier)
        try:
            s.engines[f"int8rt int8@{tier}"] = int8rt.Engine.deserialize(data)
        finally:
            int8rt.set_max_isa(None)
        kinds = Counter(layer["detail"].split(" ")[0] for layer in s.engines[f"int8rt int8@{tier}"].layers()
                        if layer["precision"] == "int8")
        print(f"{s.name}: int8 kernels under cap {tier}: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))


def torch_fx_int8(model: object, calib: List[np.ndarray]) -> object:
    import copy
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "x86"
    example = (torch.from_numpy(calib[0]),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("x86"), example)
        with torch.no_grad():
            for b in calib:
                prepared(torch.from_numpy(b))
        return convert_fx(prepared)


def runners(s: Subject, threads: int, batch: int, ov_extra: bool = False,
            ov_int8_precision: Optional[str] = None) -> Dict[str, F.FeedRunner]:
    """Per implementation: feed (or, for a one-input network, its array) ->
    output array, set up for `threads`
    (OpenVINO models compiled for the timed feed's static shapes; OV int8 with
    precision hint `ov_int8_precision`, None for OpenVINO's default)."""
    out: Dict[str, F.FeedRunner] = {}
    for name in s.engines:  # "int8rt int8", "int8rt fp32", "int8rt int8@<tier>"
        out[name] = F.int8rt_runner(s.engines[name])
    out["ORT fp32"] = F.ort_runner(E.ort_session(s.onnx_path.read_bytes(), threads))
    if s.ort_int8 is not None:
        out["ORT int8"] = F.ort_runner(E.ort_session(s.ort_int8, threads))
    ov = [("OV fp32", "fp32", "f32"), ("OV int8", "int8", ov_int8_precision)]
    if ov_extra:
        ov += [("OV fp32 default", "fp32", None), ("OV int8 f32", "int8", "f32")]
    for name, key, precision in ov:
        if key in s.ov_models:
            try:
                compiled = O.compile_model(F.ov_static(s.ov_models[key], s.feed(batch)), threads, precision)
            except Exception as e:  # noqa: BLE001
                s.errors[name] = f"{type(e).__name__}: {e}"[:300]
                continue
            s.ov_settings[name] = f"{O.describe(compiled)}; kernels: {O.kernels(compiled)}"
            out[name] = F.ov_runner(compiled)
    if s.torch_int8 is not None:
        import torch
        qmodel = s.torch_int8

        def run_torch(feed: F.Feed) -> np.ndarray:
            torch.backends.quantized.engine = "x86"
            with torch.no_grad():
                t = torch.from_numpy(feed[s.input_name]).contiguous(memory_format=torch.channels_last)
                return qmodel(t).numpy()
        out["torch int8"] = run_torch
    return {name: F.array_or_feed(f, s.input_name) for name, f in out.items()}


def set_threads(n: int) -> None:
    int8rt.set_num_threads(n)
    if "torch" in sys.modules:  # only when a torch network or row is in the run
        sys.modules["torch"].set_num_threads(n)


def bench(s: Subject, batch: int, threads: int, rounds: int, min_time: float,
          ov_extra: bool = False, ov_int8_precision: Optional[str] = None,
          cpu_time: bool = False) -> Dict[str, float]:
    set_threads(threads)
    x = s.feed(batch)
    run = runners(s, threads, batch, ov_extra, ov_int8_precision)
    ref = run["ORT fp32"](x)
    impls = {name: (lambda f=f: f(x)) for name, f in run.items()}
    med = time_alternating(impls, rounds, min_time, clock=time.process_time if cpu_time else time.perf_counter)
    print(f"\n{s.name}  batch {batch}  threads {threads}  ({load_line()})")
    unit = "median CPU ms" if cpu_time else "median ms"
    print(f"  {'implementation':16s} {unit:>13s} {'vs int8rt int8':>15s} {'rel L2 err':>11s} extra")
    ours = med.get("int8rt int8")
    for name, sec in med.items():
        y = run[name](x)
        err = float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30))
        extra = ""
        if s.test is not None:
            full = np.concatenate([run[name]({s.input_name: np.ascontiguousarray(s.test[0][i:i + batch])})
                                   for i in range(0, len(s.test[0]) // batch * batch, batch)])
            extra = f"top-1 {np.mean(np.argmax(full, 1) == s.test[1][:len(full)]) * 100:5.2f}% (held-out)"
        ratio = f"{sec / ours:14.2f}x" if ours else "-"
        print(f"  {name:16s} {sec * 1e3:13.3f} {ratio:>15s} {err:11.2e} {extra}")
    for name, msg in s.errors.items():
        print(f"  {name:16s} FAILED/absent: {msg}")
    for name, settings in s.ov_settings.items():
        print(f"  {name:16s} {settings}")
    if ours and "int8rt fp32" in med:
        print(f"  int8rt int8 speed-up over int8rt fp32: {med['int8rt fp32'] / ours:.2f}x"
              f" (goal >= 3x); over ORT fp32: {med['ORT fp32'] / ours:.2f}x")
    return med


def bench_threads_alone(s: Subject, batch: int, threads: List[int], rounds: int,
                        min_time: float) -> None:
    """int8rt int8 only, one thread count after the other in turn (medians)."""
    e = s.engines.get("int8rt int8")
    if e is None or len(threads) < 2:
        return
    ctx = e.create_execution_context()
    x = s.feed(batch)

    def run_with(n: int) -> Callable[[], object]:
        def f() -> object:
            int8rt.set_num_threads(n)
            return ctx.run(x)
        return f
    med = time_alternating({n: run_with(n) for n in threads}, rounds * 4, min_time)
    base = med[threads[0]]
    print(f"\n{s.name}  batch {batch}  int8rt int8 alone, threads alternating ({load_line()}): " +
          ", ".join(f"{n} threads {sec * 1e3:.3f} ms ({sec / base:.2f}x)" for n, sec in med.items()))


def accuracy(s: Subject, batch: int) -> Dict[str, Dict[str, float]]:
    """Every implementation's output on the feed at `batch` (the evaluation
    inputs) against ORT fp32's: relative L2 and centred cosine, 1 thread."""
    set_threads(1)
    x = s.feed(batch)
    run = runners(s, 1, batch)
    ref = run["ORT fp32"](x)
    out = {}
    for name, f in run.items():
        y = f(x)
        out[name] = {"rel_l2": M.relative_l2(ref, y), "centred_cos": M.centred_cosine(ref, y)}
    print(f"{s.name}: accuracy against ORT fp32 on the batch-{batch} evaluation feed (rel L2 / centred cosine): "
          + ", ".join(f"{n} {a['rel_l2']:.4f} / {a['centred_cos']:.5f}" for n, a in out.items()))
    return out


def bench_sweep(s: Subject, batch: int, threads: List[int], impls: List[str], rounds: int,
                min_time: float) -> dict:
    """`impls` at `batch` with every thread count, all alternating, wall and
    process CPU time per call (e2e_threads.py); printed and returned for --json."""
    x = s.feed(batch)
    fns, before, keys = {}, {}, {}
    for n in threads:
        run = runners(s, n, batch)
        for name in impls:
            if name in run:
                key = f"{name} @{n}"
                keys[key] = (name, n)
                fns[key] = lambda f=run[name]: f(x)
                if name.startswith("int8rt"):  # int8rt's thread count is process-wide
                    before[key] = lambda n=n: int8rt.set_num_threads(n)
    load_before = load_line()
    med = T.time_two_clocks(fns, rounds, min_time, before)
    load_after = load_line()
    set_threads(1)
    by = {keys[k]: v for k, v in med.items()}
    print(f"\n{s.name}  batch {batch}  threads {' / '.join(map(str, threads))} alternating, wall and process CPU "
          f"medians ({load_before} before; {load_after} after)")
    print("\n".join(T.sweep_table(by, threads)))
    return {"network": s.name, "batch": batch, "load_before": load_before, "load_after": load_after,
            "medians": {name: {str(n): {"wall_s": w, "cpu_s": c} for (nm, n), (w, c) in by.items() if nm == name}
                        for name in dict.fromkeys(nm for nm, _ in by)}}


def describe(s: Subject) -> None:
    e = s.engines.get("int8rt int8")
    if e is not None:
        kinds = Counter(f"{layer['precision']}:{layer['detail'].split(' ')[0]}"
                        if layer["precision"] != "convert" else "convert" for layer in e.layers())
        print(f"{s.name}: int8rt int8 engine layers: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
        floats = Counter(layer["op"] for layer in e.layers() if layer["precision"] != "int8")
        print(f"{s.name}: int8rt int8 engine's layers not in int8, by op: "
              + ", ".join(f"{k} x{n}" for k, n in sorted(floats.items())))
    if s.build_s:
        print(f"{s.name}: INT8 build seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s.build_s.items()))


def profile_against_openvino(s: Subject, batch: int, runs: int, ov_int8_precision: Optional[str] = None,
                             cpu_time: bool = False) -> None:
    """int8rt INT8's per-layer profile beside OpenVINO INT8's (NNCF model,
    PERF_COUNT), 1 thread, grouped by layer kind (realnets/profile_kinds.py).
    The two profilers alternate, `runs` rounds of 2 runs each; per layer the
    minimum and the median over rounds, each summed by kind. int8rt's layers
    are timed on the wall clock, or with `cpu_time` on the calling thread's
    CPU clock (1 thread: the layer's own work, not time spent descheduled on
    a loaded machine); OpenVINO's PERF_COUNT times are wall time either way
    (its per-node cpu_time is the same figure), so on a loaded machine read
    OpenVINO's side through the minimum over rounds."""
    e, model = s.engines.get("int8rt int8"), s.ov_models.get("int8")
    if e is None or model is None or s.feed_fn is not None:
        print(f"\n{s.name}  batch {batch}: profile skipped (int8rt int8 or OV int8 missing, or several inputs: "
              "bert_peers_bench.py --profile profiles the encoders)")
        return
    set_threads(1)
    x = s.feed(batch)[s.input_name]
    def compile_fn():  # afresh per round: OpenVINO's PERF_COUNT are running means (openvino_engines.run_times)
        return O.compile_model(model, 1, ov_int8_precision, x.shape, perf_count=True)
    compiled = compile_fn()
    ctx = e.create_execution_context()
    ours_all, ov_all = [], []
    for _ in range(runs):
        ours_all.append(ctx.profile({s.input_name: x}, 2, clock="thread_cpu" if cpu_time else "wall"))
        ov_all.append(O.profile(compile_fn, x, 2))
    clocks = "int8rt thread CPU, OV wall" if cpu_time else "wall clocks"
    print(f"\n{s.name}  batch {batch}  1 thread: per-layer profiles ({clocks}), {runs} alternating rounds of 2 runs "
          f"({load_line()}); OV {O.describe(compiled)}")
    print("per layer the minimum over rounds:")
    print("\n".join(P.compare_table(P.merge_profiles(ours_all, np.min), P.merge_profiles(ov_all, np.min))))
    ours, ov = P.merge_profiles(ours_all), P.merge_profiles(ov_all)
    print("per layer the median over rounds:")
    print("\n".join(P.compare_table(ours, ov)))
    print("  int8rt INT8 slowest layers:")
    print("\n".join(P.slowest_int8rt(ours, 8, 8)))
    print("  OpenVINO INT8 slowest nodes:")
    print("\n".join(P.slowest_openvino(ov, 8, 8)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2", "digits"],
                    help=f"from {', '.join(MODELS)}")
    ap.add_argument("--impls", nargs="+", default=IMPLS, choices=IMPLS, metavar="IMPL",
                    help=f"implementations to build and time, from: {', '.join(map(repr, IMPLS))} "
                         "(BF16 engines: bf16conv_nets.py, bf16gemm_e2e.py)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--size", type=int, default=224, help="input height = width (random networks)")
    ap.add_argument("--rounds", type=int, default=7, help="minimum alternating rounds")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each implementation runs at least")
    ap.add_argument("--ov-extra", action="store_true",
                    help="also OpenVINO FP32 with its default precision hint and INT8 with the f32 hint")
    ap.add_argument("--profile", type=int, default=0, metavar="RUNS",
                    help="after timing, profile int8rt INT8 and OpenVINO INT8 per layer kind (RUNS runs each)")
    ap.add_argument("--no-threads-alone", action="store_true", help="skip the int8rt-alone thread comparison")
    ap.add_argument("--tiers", nargs="+", default=[], choices=list(int8rt.kernels.ISA_NAMES),
                    help="also time the INT8 engine with its kernels chosen under each ISA cap "
                         "(rows 'int8rt int8@<tier>', loaded from the same engine bytes)")
    ap.add_argument("--models-dir", type=Path, default=None,
                    help="keep the ONNX files and the peers' quantized models here (default: a temporary directory)")
    ap.add_argument("--calibrator", choices=sorted(CALIBRATORS), default="entropy",
                    help="int8rt int8's calibrator: entropy = IInt8EntropyCalibrator2 (TensorRT's default), "
                         "auto = IInt8AutoCalibrator (the README's recommendation)")
    ap.add_argument("--json", type=Path, default=None, help="write every median here (benchmarks/e2e_summary.py)")
    ap.add_argument("--sweep-threads", type=int, nargs="+", default=[],
                    help="also time the implementations at --sweep-batch with each of these thread counts, "
                         "alternating, wall and CPU time (e2e_threads.py)")
    ap.add_argument("--sweep-batch", type=int, default=8, help="the batch of --sweep-threads")
    ap.add_argument("--sweep-only", action="store_true", help="skip the rows (--batches x --threads)")
    add_isa_cap_and_cpu_time_args(ap)
    args = ap.parse_args()
    if args.cpu_time and args.threads != [1]:
        ap.error("--cpu-time measures 1-thread runs only: pass --threads 1")
    cap_line = isa_cap(args.isa_cap) if args.isa_cap else None  # before openvino loads
    ov_int8_precision = "f32" if args.isa_cap else None
    import onnxruntime
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's pre-processing advice
    onnxruntime.set_default_logger_severity(3)
    print(machine_line())
    peers = [f"onnxruntime {onnxruntime.__version__}"]
    if "torch int8" in args.impls:
        import torch
        peers.append(f"torch {torch.__version__}")
    reason = O.available()
    peers.append(O.versions() if reason is None else f"OpenVINO/NNCF {reason}")
    print(f"int8rt {int8rt.__version__} (ISA {int8rt.get_max_isa()}), {', '.join(peers)}, input {args.size}x{args.size}"
          " (random networks)")
    print(f"int8rt int8 calibrator: {CALIBRATOR_NAMES[args.calibrator]} (--calibrator {args.calibrator})")
    if cap_line:
        print(cap_line)
    summary, loads, accuracies, sweeps = [], [], {}, []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.models_dir or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        for name in args.models:
            s = subject(name, args.size, tmp)
            if s is None:
                continue
            set_threads(2)
            build(s, tmp, args.impls, args.calibrator)
            add_tiers(s, args.tiers)
            describe(s)
            accuracies[s.name] = accuracy(s, max(args.batches))
            for batch in [] if args.sweep_only else args.batches:
                for threads in args.threads:
                    med = bench(s, batch, threads, args.rounds, args.min_time, args.ov_extra, ov_int8_precision,
                                args.cpu_time)
                    summary.append((s.name, batch, threads, med))
                    loads.append(load_line())
                    if args.json:
                        write_json(args.json, summary, loads, args, accuracies, sweeps)
                if not args.no_threads_alone:
                    bench_threads_alone(s, batch, args.threads, args.rounds, args.min_time)
            if args.sweep_threads:
                sweeps.append(bench_sweep(s, args.sweep_batch, args.sweep_threads, args.impls, args.rounds,
                                          args.min_time))
            if args.json:
                write_json(args.json, summary, loads, args, accuracies, sweeps)
            if args.profile:
                for batch in args.batches:
                    profile_against_openvino(s, batch, args.profile, ov_int8_precision, args.cpu_time)
    print_summary(summary)
    print(f"\nend: {load_line()}")


def write_json(path: Path, summary: list, loads: List[str], args: argparse.Namespace,
               accuracies: Optional[dict] = None, sweeps: Optional[list] = None) -> None:
    """Every median so far (seconds), with the command, machine and the load
    after each row; each network's accuracy (accuracy()) and thread sweeps
    (bench_sweep())."""
    path.write_text(json.dumps({"argv": sys.argv, "machine": machine_line(), "cpu_time": bool(args.cpu_time),
                                "calibrator": args.calibrator,
                                "rows": [{"network": n, "batch": b, "threads": t, "median_s": m, "load": ld}
                                         for (n, b, t, m), ld in zip(summary, loads)],
                                "accuracy": accuracies or {}, "sweeps": sweeps or []}, indent=1))


def print_summary(summary: list) -> None:
    """One markdown table of every median (ms), ratios to int8rt INT8 in brackets."""
    tiers = sorted({n for *_, m in summary for n in m if n.startswith("int8rt int8@")})
    names = [n for n in IMPLS + tiers + ["OV fp32 default", "OV int8 f32"] if any(n in m for *_, m in summary)]
    print("\n| network | batch | threads | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for net, batch, threads, med in summary:
        ours = med.get("int8rt int8")
        cells = []
        for n in names:
            if n not in med:
                cells.append("-")
            elif n == "int8rt int8" or not ours:
                cells.append(f"{med[n] * 1e3:.3g}")
            else:
                cells.append(f"{med[n] * 1e3:.3g} ({med[n] / ours:.2f}x)")
        print(f"| {net} | {batch} | {threads} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
