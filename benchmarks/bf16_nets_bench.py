"""Whole networks with BF16 layers (issue 13 §4, issue 14 §3): int8rt FP32,
FP32 with every float Conv / Gemm / MatMul in BF16 (``bf16=True``), INT8
and INT8 whose fallback float layers run in BF16, against ONNX Runtime FP32
and OpenVINO FP32 (``INFERENCE_PRECISION_HINT=f32``) and BF16
(``INFERENCE_PRECISION_HINT=bf16``, where this CPU's plugin accepts it), and
PyTorch eager under bf16 autocast ("torch bf16", the module the ONNX file
was exported from).

Networks: ResNet-50 and MobileNetV2 as e2e_bench.py makes them
(benchmarks/e2e_models.py, random weights, BatchNorm statistics measured,
224x224), and the small HuggingFace BERT encoder of transformer_bench.py
(4 layers, 256 wide, 4 heads, sequence 128, padded token batches).

Accuracy: the centred cosine (cosine after subtracting the mean output over
the evaluation inputs) of each implementation's output against int8rt
FP32's, on 4 evaluation batches of 4 samples, and the relative L2 error
(random-weight CNNs are ill-conditioned: their logits vary little between
inputs, so the centred cosine magnifies any rounding). Latency: batch 1 and
8, 1 thread, one process, implementations alternated, medians of the
process CPU time and of the wall time per call (on an oversubscribed
machine the CPU time is the one that measures the work). The layer counts
say how many layers each int8rt engine runs in bf16 / int8 / fp32;
--profile adds each int8rt engine's per-op profile (sums of per-layer
medians, which on a loaded machine approach CPU time).

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_nets_bench.py
       [--nets resnet50 mobilenet_v2 bert] [--rounds 5] [--batches 1 8] [--impls NAME ...]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import statistics
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from transformer_bench import centred_cosine, export_bert, token_batches  # noqa: E402

Feed = Dict[str, np.ndarray]
Run = Callable[[Feed], np.ndarray]


class Net:
    """One network: ONNX path, calibration feeds, a feed maker per batch, and
    the PyTorch module the ONNX file was exported from (called with the
    feed's tensors as keywords, returning the output tensor)."""

    def __init__(self, name: str, path: Path, calib: List[Feed], feed: Callable[[int, int], Feed],
                 module: Callable[..., object]) -> None:
        self.name, self.path, self.calib, self.feed, self.module = name, path, calib, feed, module


def torch_bf16(module: Callable[..., object]) -> Run:
    """PyTorch's CPU BF16 as users run it: eager, bf16 autocast (oneDNN's
    BF16 convolutions and GEMMs), no_grad."""
    import torch

    def run(feed: Feed) -> np.ndarray:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(**{k: torch.from_numpy(v) for k, v in feed.items()})
        return out.float().numpy()
    return run


def cnn(name: str, tmp: Path) -> Net:
    import torch
    from e2e_models import make_model

    model = make_model(name)
    path = tmp / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(path), dynamo=False, input_names=["input"],
                          output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    rng = np.random.default_rng(0)
    calib = [{"input": rng.standard_normal((8, 3, 224, 224), dtype=np.float32)} for _ in range(4)]

    def feed(batch: int, seed: int) -> Feed:
        return {"input": np.random.default_rng(seed).standard_normal((batch, 3, 224, 224), dtype=np.float32)}
    return Net(name, path, calib, feed, lambda input: model(input))


def bert(tmp: Path, seq: int) -> Net:
    vocab = 8000
    path = tmp / "bert.onnx"
    model = export_bert(str(path), False, vocab)
    return Net("bert_small", path, token_batches(16, 8, seq, vocab, seed=1),
               lambda batch, seed: token_batches(1, batch, seq, vocab, seed=seed)[0],
               lambda **feed: model(**feed).last_hidden_state)


def int8rt_engines(net: Net, only: List[str] | None = None) -> Dict[str, object]:
    """The four int8rt engines, or with `only` those of them named there
    plus the "int8rt FP32" yardstick (no INT8 calibration when none is named)."""
    def calibrator(batches: List[Feed]):
        first = next(iter(batches[0].values()))
        if len(batches[0]) > 1:
            return batches  # a list of feeds: the builder's own calibrator (multi-input)

        class Calib(int8rt.IInt8EntropyCalibrator2):
            def __init__(self) -> None:
                super().__init__()
                self.it = iter(batches)

            def get_batch_size(self) -> int:
                return len(first)

            def get_batch(self, names):
                b = next(self.it, None)
                return None if b is None else [next(iter(b.values()))]
        return Calib()

    out = {}
    for label, precision, bf16 in (("int8rt FP32", "fp32", False), ("int8rt FP32+bf16", "fp32", True),
                                   ("int8rt INT8", "int8", False), ("int8rt INT8+bf16", "int8", True)):
        if only is not None and label != "int8rt FP32" and label not in only:
            continue
        cfg = int8rt.BuilderConfig(precision=precision, bf16=bf16)
        if precision == "int8":
            cfg = int8rt.BuilderConfig(precision="int8", bf16=bf16, calibrator=calibrator(net.calib))
        with contextlib.redirect_stdout(io.StringIO()):
            out[label] = int8rt.build_engine(str(net.path), cfg)
    return out


def runners(net: Net, engines: Dict[str, object], batch: int) -> Dict[str, Run]:
    import onnxruntime as ort

    runs: Dict[str, Run] = {}
    for name, e in engines.items():
        out = e.output_names[0]
        runs[name] = lambda feed, c=e.create_execution_context(), out=out: c.run(feed)[out]
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    s = ort.InferenceSession(str(net.path), so, providers=["CPUExecutionProvider"])
    runs["ORT FP32"] = lambda feed, s=s: s.run(None, feed)[0]
    runs["torch bf16"] = torch_bf16(net.module)
    if O.available(need_nncf=False) is None:
        model = O.load(net.path)
        for name, precision in (("OV FP32", "f32"), ("OV bf16", "bf16")):
            try:
                compiled = O.compile_model(model, 1, precision, batch if len(net.calib[0]) == 1 else None)
            except Exception as e:  # noqa: BLE001 - reported, e.g. a precision the CPU lacks
                print(f"{net.name}: {name} not compiled: {type(e).__name__}: {str(e)[:200]}")
                continue
            if batch == 1:
                print(f"{net.name}: {name} compiled with {O.describe(compiled)}")
            req = compiled.create_infer_request()

            def run(feed: Feed, req=req) -> np.ndarray:
                req.infer(feed, share_inputs=True)
                return req.get_output_tensor(0).data.copy()
            runs[name] = run
    return runs


def alternating_wall_and_cpu(impls: Dict[str, Callable[[], object]], rounds: int,
                             min_time: float) -> Dict[str, tuple]:
    """(median wall seconds, median process CPU seconds) per call of each
    implementation, called in turn (a, b, c, a, ...) for at least `rounds`
    rounds and until each has run `min_time` wall seconds. On an
    oversubscribed machine wall time mostly measures the scheduler (a
    seconds-long run is preempted many times); the process CPU time of a
    1-thread run is its own work (all of the process's threads count, so a
    peer's spinning workers would too)."""
    for f in impls.values():
        f()
    wall: Dict[str, List[float]] = {n: [] for n in impls}
    cpu: Dict[str, List[float]] = {n: [] for n in impls}
    done = 0
    while done < rounds or min(sum(v) for v in wall.values()) < min_time:
        for n, f in impls.items():
            w0, c0 = time.perf_counter(), time.process_time()
            f()
            cpu[n].append(time.process_time() - c0)
            wall[n].append(time.perf_counter() - w0)
        done += 1
    return {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in impls}


def rel_l2(got: List[np.ndarray], ref: List[np.ndarray]) -> float:
    g, r = np.stack(got).astype(np.float64), np.stack(ref).astype(np.float64)
    return float(np.linalg.norm(g - r) / np.linalg.norm(r))


def counts(engine) -> str:
    c = Counter(la["precision"] for la in engine.layers())
    # the blocked layers' ops too (int8rt.ConvBf16x16c, ...): the op name without int8rt.'s prefix
    heavy = Counter(la["precision"] for la in engine.layers()
                    if la["op"].removeprefix("int8rt.").startswith(("Conv", "Gemm", "MatMul")))
    return (f"{c.get('int8', 0)} int8 / {c.get('bf16', 0)} bf16 / {c.get('fp32', 0)} fp32 layers "
            f"(float Conv/Gemm/MatMul: {heavy.get('bf16', 0)} bf16, {heavy.get('fp32', 0)} fp32)")


def profile_table(net: Net, engines: Dict[str, object], batch: int, runs: int) -> None:
    """ExecutionContext.profile medians summed per (op, precision), the int8rt engines side by side."""
    feed = net.feed(batch, 3)
    sums: Dict[str, Counter] = {}
    for label, e in engines.items():
        c: Counter = Counter()
        for la in e.create_execution_context().profile(feed, runs):
            c[f"{la['op']} {la['precision']}"] += la["ms"]
        sums[label] = c
    keys = sorted({k for c in sums.values() for k in c}, key=lambda k: -max(c[k] for c in sums.values()))
    print(f"\n{net.name}, batch {batch}: profile medians summed per op and precision, ms ({load_line()})")
    print("| op precision | " + " | ".join(sums) + " |")
    print("|---" * (len(sums) + 1) + "|")
    for k in keys[:12]:
        print(f"| {k} | " + " | ".join(f"{c[k]:.2f}" if k in c else "" for c in sums.values()) + " |")
    print("| total | " + " | ".join(f"{sum(c.values()):.2f}" for c in sums.values()) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2", "bert"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each implementation runs at least")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--impls", nargs="+", default=None, metavar="NAME",
                    help="build and time only these implementations (names as in the tables: 'int8rt FP32' is "
                         "always kept as the yardstick), e.g. 'int8rt FP32+bf16' 'OV bf16'")
    ap.add_argument("--profile", type=int, default=0, metavar="RUNS",
                    help="also print the int8rt engines' per-op profile at the largest batch")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    import torch
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    print(machine_line())
    if O.available(need_nncf=False) is None:
        print(O.versions())
    for name in args.nets:
        net = bert(tmp, args.seq) if name == "bert" else cnn(name, tmp)
        engines = int8rt_engines(net, args.impls)
        for label, e in engines.items():
            print(f"{net.name} {label}: {counts(e)}")
        if args.profile:
            profile_table(net, engines, max(args.batches), args.profile)
        evals = [net.feed(4, 100 + i) for i in range(4)]
        cos: Dict[str, float] = {}
        l2: Dict[str, float] = {}
        for batch in args.batches:
            runs = runners(net, engines, batch)
            if args.impls:
                runs = {n: r for n, r in runs.items() if n == "int8rt FP32" or n in args.impls}
            ref = [runs["int8rt FP32"](f) for f in evals]
            for n, r in runs.items():
                static = n.startswith("OV") and len(net.calib[0]) == 1  # compiled for this batch
                if not static:
                    got = [r(f) for f in evals]
                elif batch == 1:
                    got = [np.concatenate([r({k: v[i:i + 1] for k, v in f.items()}) for i in range(4)])
                           for f in evals]
                else:
                    continue
                cos[n], l2[n] = centred_cosine(got, ref), rel_l2(got, ref)
            feed = net.feed(batch, 3)
            print(f"\n{net.name}, batch {batch}, 1 thread; {load_line()}")
            times = alternating_wall_and_cpu({n: (lambda r=r: r(feed)) for n, r in runs.items()}, args.rounds,
                                             args.min_time)
            print(f"(after: {load_line()})")
            base_w, base_c = times["int8rt FP32"]
            print("| implementation | 1 - centred cosine vs int8rt FP32 | relative L2 vs int8rt FP32 | "
                  "median CPU ms | int8rt FP32 CPU / this | median wall ms | int8rt FP32 wall / this |")
            print("|---|---|---|---|---|---|---|")
            for n, (w, c) in times.items():
                acc = f"{1 - cos[n]:.2e} | {l2[n]:.2e}" if n in cos else "- | -"
                print(f"| {n} | {acc} | {c * 1e3:.2f} | {base_c / c:.2f}x | {w * 1e3:.2f} | {base_w / w:.2f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
