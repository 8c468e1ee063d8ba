"""int8rt FP32 against ONNX Runtime FP32 on real networks, with both
engines' per-layer profiles grouped by op type (issue 14 §3).

Every calibration pass and every layer left in float runs on int8rt's FP32
engine, so its speed against the peer a user would pick instead (ONNX
Runtime's CPU provider, MLAS) matters. Networks: PP-OCRv4 det (3x320x320)
and rec (3x48x320) from the rapidocr wheel, the torch-defined MobileNetV2-
and ResNet-50-like networks of e2e_models.py, a ConvNeXt-like stage written
here (7x7 depthwise, LayerNorm over channels, 4x MLP with GELU) and a small
HuggingFace BERT (transformer_bench.export_bert). One thread; int8rt and ORT
alternate in one process, medians of wall-clock time and of the thread's
CPU time (the latter is the steadier figure on a shared machine).

--profile RUNS then prints, per network and batch, the time per op type of
int8rt (ExecutionContext.profile) beside ONNX Runtime's
(SessionOptions.enable_profiling, the "Node" events' op_name): per op type
the minimum over RUNS runs of the time its layers took in that run (a
shared machine's other jobs only ever add time).

usage: PYTHONPATH=python python3 benchmarks/fp32_peer_bench.py
       [--nets ppocr_det ppocr_rec mobilenet_v2 resnet50 convnext bert] [--batches 1 8]
       [--rounds 9] [--profile 5]
Run it from a scratch directory (ORT writes its profile JSON into cwd).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import machine_line  # noqa: E402

Feeds = Dict[str, np.ndarray]


def convnext_model() -> object:
    """A ConvNeXt-T-like stage at 56x56, 96 channels: stem (4x4/4 conv +
    LayerNorm over channels), three blocks of 7x7 depthwise conv, LayerNorm
    over channels (permute to NHWC), Linear 96->384, GELU, Linear 384->96,
    layer scale, residual; then a global pool and a classifier."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pw1, self.act, self.pw2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(torch.full((dim,), 0.5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.dw(x).permute(0, 2, 3, 1)
            y = self.gamma * self.pw2(self.act(self.pw1(self.norm(y))))
            return x + y.permute(0, 3, 1, 2)

    class Net(nn.Module):
        def __init__(self, dim: int = 96) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, dim, 4, stride=4)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.blocks = nn.Sequential(*[Block(dim) for _ in range(3)])
            self.head = nn.Linear(dim, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.norm(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return self.head(self.blocks(x).mean((2, 3)))

    torch.manual_seed(0)
    return Net().eval()


def export_torch(model: object, path: Path, size: int) -> None:
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, size, size), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def network(name: str, tmp: Path) -> Tuple[Path, Callable[[int], Feeds]]:
    """The ONNX file of `name` and a function batch -> seeded inputs."""
    rng = np.random.default_rng(3)
    if name.startswith("ppocr_"):
        from realnets.ocr_models import models_dir, rec_task, static_input_model
        folder = models_dir()
        if folder is None:
            raise RuntimeError("rapidocr-onnxruntime is not installed")
        if name == "ppocr_rec":
            task = rec_task(folder)
            chw, onnx_file = task.chw, task.onnx_file
        else:
            chw, onnx_file = (3, 320, 320), str(Path(folder) / "ch_PP-OCRv4_det_infer.onnx")
        model = static_input_model(onnx_file, chw)
        path = tmp / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        iname = model.graph.input[0].name
        return path, lambda b: {iname: rng.random((b,) + tuple(chw), dtype=np.float32)}
    if name == "bert":
        from transformer_bench import export_bert, token_batches
        path = tmp / "bert.onnx"
        export_bert(str(path), False, 8000)
        return path, lambda b: token_batches(1, b, 128, 8000, seed=3)[0]
    path = tmp / f"{name}.onnx"
    if name == "convnext":
        export_torch(convnext_model(), path, 224)
    else:
        from e2e_models import make_model
        export_torch(make_model(name), path, 224)
    return path, lambda b: {"input": rng.standard_normal((b, 3, 224, 224), dtype=np.float32)}


def alternating_wall_cpu(impls: Dict[str, Callable[[], object]], rounds: int,
                         warmup: int = 2) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Median wall-clock and median CPU time (this thread's, time.thread_time)
    in ms per call of each implementation, the implementations alternating
    within each round. Both engines run one thread, the calling one, so the
    CPU time is their work without the time other jobs on a shared machine
    held the core (cache pollution by those jobs still counts)."""
    for f in impls.values():
        for _ in range(warmup):
            f()
    wall: Dict[str, List[float]] = {k: [] for k in impls}
    cpu: Dict[str, List[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, f in impls.items():
            c0, t0 = time.thread_time(), time.perf_counter()
            f()
            wall[k].append((time.perf_counter() - t0) * 1e3)
            cpu[k].append((time.thread_time() - c0) * 1e3)
    return ({k: float(np.median(v)) for k, v in wall.items()}, {k: float(np.median(v)) for k, v in cpu.items()})


def ort_session(path: Path, profile: bool = False) -> object:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        opts.enable_profiling = True
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def int8rt_by_op(ctx: object, feeds: Feeds, runs: int) -> Dict[str, float]:
    """Per op type, the minimum over `runs` runs of its summed layer time (ms)."""
    per_run: List[Dict[str, float]] = []
    for _ in range(runs):
        per_run.append(defaultdict(float))
        for layer in ctx.profile(feeds, 1):
            per_run[-1][layer["op"]] += layer["ms"]
    ops = {op for r in per_run for op in r}
    return {op: float(np.min([r.get(op, 0.0) for r in per_run])) for op in ops}


def ort_by_op(path: Path, feeds: Feeds, runs: int) -> Dict[str, float]:
    """Per op type, the minimum over `runs` runs of its summed kernel time (ms)."""
    sess = ort_session(path, profile=True)
    for _ in range(2):
        sess.run(None, feeds)
    sess.end_profiling()
    sess = ort_session(path, profile=True)
    for _ in range(runs + 1):
        sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                   if e.get("cat") == "Session" and e.get("name") == "model_run")[1:]  # the first: warm-up
    per_run: List[Dict[str, float]] = [defaultdict(float) for _ in spans]
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            for i, (t0, t1) in enumerate(spans):  # the run whose span holds the node
                if t0 <= e["ts"] <= t1:
                    per_run[i][e["args"]["op_name"]] += e["dur"] / 1e3
                    break
    ops = {op for r in per_run for op in r}
    return {op: float(np.min([r.get(op, 0.0) for r in per_run])) for op in ops}


def print_profile(ours: Dict[str, float], theirs: Dict[str, float]) -> None:
    print("| op | int8rt ms | ORT ms | ORT op |")
    print("|---|---:|---:|---|")
    for op in sorted(set(ours) | set(theirs), key=lambda o: -max(ours.get(o, 0), theirs.get(o, 0))):
        a, b = ours.get(op), theirs.get(op)
        if max(a or 0, b or 0) < 0.05:
            continue
        print(f"| {op} | {'' if a is None else f'{a:.2f}'} | {'' if b is None else f'{b:.2f}'} | |")
    print(f"| total | {sum(ours.values()):.2f} | {sum(theirs.values()):.2f} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+",
                    default=["ppocr_det", "ppocr_rec", "mobilenet_v2", "resnet50", "convnext", "bert"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--profile", type=int, default=0, metavar="RUNS")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    print(machine_line())
    summary = []
    for name in args.nets:
        path, inputs = network(name, tmp)
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
        ctx = engine.create_execution_context()
        sess = ort_session(path)
        for b in args.batches:
            feeds = inputs(b)
            ref = sess.run(None, feeds)[0]
            got = list(ctx.run(feeds).values())[0]
            err = float(np.max(np.abs(got - ref)) / (np.max(np.abs(ref)) + 1e-30))
            wall, cpu = alternating_wall_cpu({"int8rt": lambda f=feeds: ctx.run(f),
                                              "ORT": lambda f=feeds: sess.run(None, f)}, args.rounds)
            ours, ort_ms = wall["int8rt"], wall["ORT"]
            summary.append((name, b, ours, ort_ms, cpu["int8rt"], cpu["ORT"]))
            print(f"{name} batch {b}: int8rt fp32 {ours:.2f} ms, ORT fp32 {ort_ms:.2f} ms, ratio {ours / ort_ms:.2f}; "
                  f"CPU time {cpu['int8rt']:.2f} / {cpu['ORT']:.2f} ms, ratio {cpu['int8rt'] / cpu['ORT']:.2f}; "
                  f"max |diff| / max |ORT| {err:.1e}", flush=True)
            if args.profile:
                cwd = os.getcwd()
                os.chdir(tmp)
                try:
                    print_profile(int8rt_by_op(ctx, feeds, args.profile), ort_by_op(path, feeds, args.profile))
                finally:
                    os.chdir(cwd)
    print("\n| network | batch | int8rt fp32 ms | ORT fp32 ms | int8rt / ORT | int8rt CPU ms | ORT CPU ms | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, b, ours, ort_ms, cpu_ours, cpu_ort in summary:
        print(f"| {name} | {b} | {ours:.2f} | {ort_ms:.2f} | {ours / ort_ms:.2f} | {cpu_ours:.2f} | {cpu_ort:.2f} | "
              f"{cpu_ours / cpu_ort:.2f} |")


if __name__ == "__main__":
    main()
