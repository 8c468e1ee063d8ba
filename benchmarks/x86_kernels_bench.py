"""Throughput of int8rt's x86 int8 kernels against the machine's measured
VNNI peak and against the peers a user would pick instead, in one process.

Layers (batch 1 unless the group says): ResNet-50 convs (resnet; the other
stride-1 1x1s: resnet1x1), MobileNetV2 depthwise + pointwise, BERT GEMMs,
batch 8 (b8: ResNet-50 convs at 8 images, BERT GEMMs at 8 x 128 tokens),
and attention's products of two activations (BERT-base, ViT-B/16). For each layer and thread count (1 and 2) the implementations run
alternately (int8rt, ONNX Runtime QLinearConv / QLinearMatMul, PyTorch
quantized conv / linear on the x86 and oneDNN engines), each call timed on
its own; the table reports medians, GOPS (2 * multiply-adds / s), the
fraction of the measured peak (peak per core x threads) and int8rt's
speed-up over each peer (peer median / int8rt median). Weights are packed
once before timing for every implementation; activations are NHWC int8 for
int8rt (64-byte aligned, as the engine's tensors are), as each peer prefers
otherwise (see `peer notes`).

The peak: benchmarks/vnni_peak.cc (a loop of independent vpdpbusd zmm) is
built with g++ into a temporary folder and run; it prints GOPS per core.
Where the CPU has AMX, benchmarks/amx_peak.cc (independent tdpbusd into 4
tiles) likewise gives the AMX peak, and %peak is against it; a machine
without AMX says so and runs the rest (its AMX kernels ran only under
emulation, in tests/cpp/test_x86_twin_kernels.cc).

--tiers runs int8rt once per ISA cap (e.g. --tiers amx avx512vnni on an AMX
machine), each layer packed under that cap, alternating with the rest.

Groups resnet1x1_b8 (all twelve stride-1 1x1s at batch 8), proj (the
strided 1x1 projections at batch 1 and 8) and bert_b8 (BERT-base's GEMMs
alone at 8 x 128 tokens) are issue 13's GEMM-shaped rows; --peers picks
peers, --cpu-time times each call in the calling thread's CPU time (1
thread), which a busy shared machine's preemption does not inflate.

Usage: PYTHONPATH=python python3 benchmarks/x86_kernels_bench.py [--threads 1 2]
       [--min-time 0.3] [--layers resnet resnet1x1 b8 resnet1x1_b8 proj bert bert_b8 mobilenet attention]
       [--no-peers | --peers ort torch-x86 torch-onednn] [--cpu-time] [--tiers ...]
"""
from __future__ import annotations

import argparse
import warnings
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import int8rt
from bench_util import machine_line  # benchmarks/ is on sys.path when run as a script
from int8rt._testing import kernels as K

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # "conv", "gemm" or "bmm" (a batch of products of two activations)
    # conv: C, H(=W), K, R(=S), stride, groups; gemm: M, N, K; bmm: heads, M, N, K, B given as [N][K]
    dims: Tuple[int, ...]
    batch: int = 1  # conv images (a GEMM's batch is in its M)

    def macs(self) -> int:
        if self.kind == "gemm":
            m, n, k = self.dims
            return m * n * k
        if self.kind == "bmm":
            h, m, n, k, _ = self.dims
            return h * m * n * k
        c, h, k, r, stride, groups = self.dims
        oh = (h + 2 * (r // 2) - r) // stride + 1
        return self.batch * oh * oh * k * (c // groups) * r * r


def aligned_array(shape: Tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised C-contiguous array whose data is 64-byte aligned, as
    the engine's tensors are (engine/value.cc): NumPy's own are aligned to
    16 only, and AMX tile rows that straddle cache lines run slower."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + 64, np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + nbytes].view(dtype).reshape(shape)


def aligned_copy(a: np.ndarray) -> np.ndarray:
    out = aligned_array(a.shape, a.dtype.type)
    out[...] = a
    return out


LAYERS = {
    "resnet": [
        Layer("rn50 3x3 64->64 @56", "conv", (64, 56, 64, 3, 1, 1)),
        Layer("rn50 1x1 256->64 @56", "conv", (256, 56, 64, 1, 1, 1)),
        Layer("rn50 3x3 256->256 @14", "conv", (256, 14, 256, 3, 1, 1)),
        Layer("rn50 1x1 1024->256 @14", "conv", (1024, 14, 256, 1, 1, 1)),
        Layer("rn50 7x7 3->64 s2 @224", "conv", (3, 224, 64, 7, 2, 1)),
    ],
    # ResNet-50's other stride-1 1x1 convs (read in place by the AMX driver).
    "resnet1x1": [
        Layer("rn50 1x1 64->64 @56", "conv", (64, 56, 64, 1, 1, 1)),
        Layer("rn50 1x1 64->256 @56", "conv", (64, 56, 256, 1, 1, 1)),
        Layer("rn50 1x1 256->128 @56", "conv", (256, 56, 128, 1, 1, 1)),
        Layer("rn50 1x1 128->512 @28", "conv", (128, 28, 512, 1, 1, 1)),
        Layer("rn50 1x1 512->128 @28", "conv", (512, 28, 128, 1, 1, 1)),
        Layer("rn50 1x1 512->256 @28", "conv", (512, 28, 256, 1, 1, 1)),
        Layer("rn50 1x1 256->1024 @14", "conv", (256, 14, 1024, 1, 1, 1)),
        Layer("rn50 1x1 1024->512 @14", "conv", (1024, 14, 512, 1, 1, 1)),
        Layer("rn50 1x1 512->2048 @7", "conv", (512, 7, 2048, 1, 1, 1)),
        Layer("rn50 1x1 2048->512 @7", "conv", (2048, 7, 512, 1, 1, 1)),
    ],
    # Batch 8: the ResNet-50 convs above and BERT-base's GEMMs at 8 x 128 tokens.
    "b8": [
        Layer("rn50 3x3 64->64 @56 b8", "conv", (64, 56, 64, 3, 1, 1), 8),
        Layer("rn50 1x1 256->64 @56 b8", "conv", (256, 56, 64, 1, 1, 1), 8),
        Layer("rn50 3x3 256->256 @14 b8", "conv", (256, 14, 256, 3, 1, 1), 8),
        Layer("rn50 1x1 1024->256 @14 b8", "conv", (1024, 14, 256, 1, 1, 1), 8),
        Layer("rn50 1x1 2048->512 @7 b8", "conv", (2048, 7, 512, 1, 1, 1), 8),
        Layer("bert gemm 1024x768x768", "gemm", (1024, 768, 768)),
        Layer("bert gemm 1024x3072x768", "gemm", (1024, 3072, 768)),
        Layer("bert gemm 1024x768x3072", "gemm", (1024, 768, 3072)),
    ],
    # gemm13 (RESULTS.md section 192): all twelve stride-1 1x1s of ResNet-50 at batch 8, and its
    # strided 1x1 projections (gathered by the AMX driver) at batch 1 and 8.
    "resnet1x1_b8": [
        Layer(f"rn50 1x1 {c}->{k} @{h} b8", "conv", (c, h, k, 1, 1, 1), 8)
        for c, k, h in [(64, 64, 56), (64, 256, 56), (256, 64, 56), (256, 128, 56), (128, 512, 28),
                        (512, 128, 28), (512, 256, 28), (256, 1024, 14), (1024, 256, 14), (1024, 512, 14),
                        (512, 2048, 7), (2048, 512, 7)]
    ],
    "proj": [
        Layer(f"rn50 1x1/2 {c}->{k} @{h}" + (" b8" if b == 8 else ""), "conv", (c, h, k, 1, 2, 1), b)
        for b in (1, 8) for c, k, h in [(256, 512, 56), (512, 1024, 28), (1024, 2048, 14)]
    ],
    "bert_b8": [
        Layer("bert gemm 1024x768x768", "gemm", (1024, 768, 768)),
        Layer("bert gemm 1024x3072x768", "gemm", (1024, 3072, 768)),
        Layer("bert gemm 1024x768x3072", "gemm", (1024, 768, 3072)),
    ],
    "mobilenet": [
        Layer("mbv2 dw3x3 144 @56", "conv", (144, 56, 144, 3, 1, 144)),
        Layer("mbv2 1x1 144->24 @56", "conv", (144, 56, 24, 1, 1, 1)),
    ],
    "bert": [
        Layer("bert gemm 128x768x768", "gemm", (128, 768, 768)),
        Layer("bert gemm 128x3072x768", "gemm", (128, 3072, 768)),
        Layer("bert gemm 128x768x3072", "gemm", (128, 768, 3072)),
    ],
    # Attention's products (int8rt.QMatMul / QAttention: B packed on every run),
    # 12 heads of 64: BERT-base at 128 tokens, ViT-B/16 at 197.
    "attention": [
        Layer("bert attn QK^T 12x128x128x64", "bmm", (12, 128, 128, 64, 1)),
        Layer("bert attn PV 12x128x64x128", "bmm", (12, 128, 64, 128, 0)),
        Layer("vit attn QK^T 12x197x197x64", "bmm", (12, 197, 197, 64, 1)),
        Layer("vit attn PV 12x197x64x197", "bmm", (12, 197, 64, 197, 0)),
    ],
}


def measure_peak() -> Optional[float]:
    """GOPS of one core running vpdpbusd zmm back to back, or None."""
    gxx = shutil.which("g++")
    if gxx is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "vnni_peak"
        build = subprocess.run([gxx, "-O2", "-mavx512f", "-mavx512vnni", "-o", str(exe),
                                str(HERE / "vnni_peak.cc")], capture_output=True, text=True)
        if build.returncode != 0:
            return None
        out = subprocess.run([str(exe)], capture_output=True, text=True)
        return float(out.stdout.split()[0]) if out.returncode == 0 else None


def measure_amx_peak() -> Tuple[Optional[float], str]:
    """(GOPS of one core running tdpbusd back to back, note), None where the
    CPU, the OS or the compiler does not allow it."""
    if not int8rt.kernels.isa_info()["amx"]["cpu"]:
        return None, "no AMX on this machine (CPU or OS lacks AMX-INT8): AMX not measured"
    gxx = shutil.which("g++")
    if gxx is None:
        return None, "AMX peak not measured: no g++"
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "amx_peak"
        build = subprocess.run([gxx, "-O2", "-mamx-tile", "-mamx-int8", "-mamx-bf16", "-o", str(exe),
                                str(HERE / "amx_peak.cc")], capture_output=True, text=True)
        if build.returncode != 0:
            return None, "AMX peak not measured: g++ lacks -mamx-int8 / -mamx-bf16"
        out = subprocess.run([str(exe)], capture_output=True, text=True)
        if out.returncode != 0:
            return None, "AMX peak not measured: " + out.stdout.strip()
        gops = float(out.stdout.split()[0])
        return gops, f"measured tdpbusd peak: {gops:.1f} GOPS per core"


# ---- implementations: each returns a zero-argument callable running the layer ----

def int8rt_bmm(layer: Layer, rng: np.random.Generator) -> Tuple[Callable[[], object], str]:
    """An engine of one int8rt.QMatMul (int8 in and out), as attention runs its
    products: B packed per product by the gemm_s8 kernel the registry picks
    for (N, K); the name is that kernel, from the layer's detail after a run."""
    from int8rt import _core
    h, m, n, k, b_nk = layer.dims
    a = rng.integers(-128, 128, (h, m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (h, n, k) if b_nk else (h, k, n), dtype=np.int8)
    net = _core.Network()
    ia, ib = net.add_input("a", list(a.shape), "int8"), net.add_input("b", list(b.shape), "int8")
    attrs = {"a_scale": 0.02, "b_scale": 0.01, "out_scale": 0.5, "b_transposed": b_nk}
    net.mark_output(net.add_node("int8rt.QMatMul", "bmm", [ia, ib], attrs, ["y"])[0])
    engine = int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))
    ctx = engine.create_execution_context()
    feed = {"a": a, "b": b}
    ctx.run(feed)
    detail = next(layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QMatMul")
    return (lambda: ctx.run(feed)), detail.rsplit(" on ", 1)[-1]


def int8rt_impl(layer: Layer, rng: np.random.Generator) -> Tuple[Callable[[], object], str]:
    if layer.kind == "bmm":
        return int8rt_bmm(layer, rng)
    if layer.kind == "gemm":
        m, n, k = layer.dims
        a = aligned_copy(rng.integers(-128, 128, (m, k), dtype=np.int8))
        b = rng.integers(-128, 128, (n, k), dtype=np.int8)
        packed = K.PackedGemm(b, np.full(n, 1e-4, np.float32), lo=0.0, hi=127.0)
        return (lambda: packed.run(a)), packed.kernel
    c, h, k, r, stride, groups = layer.dims
    x = aligned_copy(rng.integers(-128, 128, (layer.batch, h, h, c), dtype=np.int8))
    w = rng.integers(-128, 128, (k, c // groups, r, r), dtype=np.int8)
    p = r // 2
    packed = K.PackedConv2d(w, h, h, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32),
                            lo=0.0, hi=127.0, stride=(stride, stride), pads=(p, p, p, p),
                            groups=groups)
    return (lambda: packed.run(x)), packed.kernel


def ort_impl(layer: Layer, rng: np.random.Generator, threads: int
             ) -> Optional[Tuple[Callable[[], object], str]]:
    """One-node QLinearConv / QLinearMatMul model with uint8 activations (zero
    point 128, the same values as int8 with zero point 0; ONNX Runtime's
    quantizer default and its fast u8s8 path; int8 activations measured 20x
    slower in QLinearMatMul) and int8 weights, per channel for the conv. ONNX
    Runtime makes its own layout choices (its NHWC transformer may rewrite
    the NCHW node)."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    if layer.kind == "bmm":  # both operands inputs; B as [K][N] (a Transpose before it left out)
        h, m, n, k, _ = layer.dims
        inits = [numpy_helper.from_array(np.array(v, t), name) for v, t, name in
                 [(0.02, np.float32, "a_s"), (128, np.uint8, "a_z"), (0.01, np.float32, "b_s"),
                  (0, np.int8, "b_z"), (0.5, np.float32, "y_s"), (128, np.uint8, "y_z")]]
        node = helper.make_node("QLinearMatMul", ["x", "a_s", "a_z", "w", "b_s", "b_z", "y_s", "y_z"], ["y"])
        x_info = helper.make_tensor_value_info("x", TensorProto.UINT8, [h, m, k])
        y_info = helper.make_tensor_value_info("y", TensorProto.UINT8, [h, m, n])
        inputs = [x_info, helper.make_tensor_value_info("w", TensorProto.INT8, [h, k, n])]
        feed = {"x": rng.integers(0, 256, (h, m, k), dtype=np.uint8),
                "w": rng.integers(-128, 128, (h, k, n), dtype=np.int8)}
    elif layer.kind == "gemm":
        m, n, k = layer.dims
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        inits = [numpy_helper.from_array(b, "B"),
                 numpy_helper.from_array(np.array(0.02, np.float32), "a_s"),
                 numpy_helper.from_array(np.array(128, np.uint8), "a_z"),
                 numpy_helper.from_array(np.array(0.01, np.float32), "b_s"),
                 numpy_helper.from_array(np.array(0, np.int8), "b_z"),
                 numpy_helper.from_array(np.array(0.5, np.float32), "y_s"),
                 numpy_helper.from_array(np.array(128, np.uint8), "y_z")]
        node = helper.make_node("QLinearMatMul", ["x", "a_s", "a_z", "B", "b_s", "b_z", "y_s",
                                                  "y_z"], ["y"])
        x_info = helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])
        y_info = helper.make_tensor_value_info("y", TensorProto.UINT8, [m, n])
        inputs = [x_info]
        feed = {"x": a}
    else:
        c, h, k, r, stride, groups = layer.dims
        p = r // 2
        x = rng.integers(0, 256, (layer.batch, c, h, h), dtype=np.uint8)
        w = rng.integers(-128, 128, (k, c // groups, r, r), dtype=np.int8)
        oh = (h + 2 * p - r) // stride + 1
        inits = [numpy_helper.from_array(w, "W"),
                 numpy_helper.from_array(np.array(0.02, np.float32), "x_s"),
                 numpy_helper.from_array(np.array(128, np.uint8), "x_z"),
                 numpy_helper.from_array(np.full(k, 0.01, np.float32), "w_s"),
                 numpy_helper.from_array(np.zeros(k, np.int8), "w_z"),
                 numpy_helper.from_array(np.array(0.5, np.float32), "y_s"),
                 numpy_helper.from_array(np.array(128, np.uint8), "y_z"),
                 numpy_helper.from_array(np.zeros(k, np.int32), "B")]
        node = helper.make_node("QLinearConv", ["x", "x_s", "x_z", "W", "w_s", "w_z", "y_s",
                                                "y_z", "B"], ["y"], kernel_shape=[r, r],
                                strides=[stride, stride], pads=[p, p, p, p], group=groups)
        x_info = helper.make_tensor_value_info("x", TensorProto.UINT8, [layer.batch, c, h, h])
        y_info = helper.make_tensor_value_info("y", TensorProto.UINT8, [layer.batch, k, oh, oh])
        inputs = [x_info]
        feed = {"x": x}
    graph = helper.make_graph([node], "layer", inputs, [y_info], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what ONNX Runtime releases of the last years all accept
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        sess = ort.InferenceSession(model.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - an unsupported combination is reported as absent
        return None
    return (lambda: sess.run(None, feed)), "ort " + ("QLinearConv" if layer.kind == "conv" else "QLinearMatMul")


def torch_impl(layer: Layer, rng: np.random.Generator, engine: str
               ) -> Optional[Tuple[Callable[[], object], str]]:
    """torch.ao quantized Conv2d / Linear (quint8 activations, per-channel qint8
    weights), channels_last input, on the given quantized engine."""
    try:
        import torch
        import torch.ao.nn.quantized as nnq
    except ImportError:
        return None
    if engine not in torch.backends.quantized.supported_engines or layer.kind == "bmm":
        return None  # (torch.ao has no quantized product of two activations)
    torch.backends.quantized.engine = engine
    if layer.kind == "gemm":
        m, n, k = layer.dims
        mod = nnq.Linear(k, n)
        wf = torch.from_numpy(rng.uniform(-1, 1, (n, k)).astype(np.float32))
        qw = torch.quantize_per_channel(wf, torch.full((n,), 1 / 127.0), torch.zeros(n,
                                        dtype=torch.long), 0, torch.qint8)
        mod.set_weight_bias(qw, None)
        mod.scale, mod.zero_point = 0.5, 128
        xf = torch.from_numpy(rng.uniform(-1, 1, (m, k)).astype(np.float32))
        qx = torch.quantize_per_tensor(xf, 1 / 64.0, 128, torch.quint8)
    else:
        c, h, k, r, stride, groups = layer.dims
        mod = nnq.Conv2d(c, k, r, stride=stride, padding=r // 2, groups=groups)
        wf = torch.from_numpy(rng.uniform(-1, 1, (k, c // groups, r, r)).astype(np.float32))
        qw = torch.quantize_per_channel(wf, torch.full((k,), 1 / 127.0), torch.zeros(k,
                                        dtype=torch.long), 0, torch.qint8)
        mod.set_weight_bias(qw, None)
        mod.scale, mod.zero_point = 0.5, 128
        xf = torch.from_numpy(rng.uniform(-1, 1, (layer.batch, c, h, h)).astype(np.float32))
        qx = torch.quantize_per_tensor(xf, 1 / 64.0, 128, torch.quint8).contiguous(
            memory_format=torch.channels_last)

    def run() -> object:
        torch.backends.quantized.engine = engine
        with torch.no_grad():
            return mod(qx)
    try:
        run()
    except Exception:  # noqa: BLE001 - engine/op combination unsupported: absent
        return None
    return run, f"torch {engine}"


def set_threads(n: int) -> None:
    int8rt.set_num_threads(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass


def time_alternating(impls: Dict[str, Callable[[], object]], min_time: float,
                     clock: Callable[[], float] = time.perf_counter) -> Dict[str, float]:
    """Median seconds per call, the implementations called in turn (clock:
    wall time, or the calling thread's CPU time with --cpu-time)."""
    for f in impls.values():
        f()
    samples: Dict[str, List[float]] = {name: [] for name in impls}
    spent = 0.0
    rounds = 0
    while spent < min_time * len(impls) or rounds < 15:
        for name, f in impls.items():
            t0 = clock()
            f()
            dt = clock() - t0
            samples[name].append(dt)
            spent += dt
        rounds += 1
        if rounds >= 2000:
            break
    return {name: statistics.median(v) for name, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per implementation")
    ap.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peers", nargs="+", default=["ort", "torch-x86", "torch-onednn"],
                    choices=["ort", "torch-x86", "torch-onednn"], help="which peers run (default: all)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time each call in the calling thread's CPU time (1 thread: every implementation "
                         "here computes on the calling thread), not wall time: preemption by other jobs "
                         "on a shared machine is left out")
    ap.add_argument("--tiers", nargs="+", default=[None],
                    choices=["amx", "avx512vnni", "avxvnni", "avx2", "ref"],
                    help="ISA caps to run int8rt under (default: the CPU's best)")
    args = ap.parse_args()
    # torch deprecates its quantized tensor constructors; the peer still runs.
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")

    print(machine_line())  # other jobs share the machine: the load average says how much
    peak = measure_peak()
    print(f"measured vpdpbusd zmm peak: {peak:.1f} GOPS per core" if peak
          else "peak: not measured (no g++ or no AVX512-VNNI)")
    amx_peak, amx_note = measure_amx_peak()
    print(amx_note)
    if amx_peak:
        peak = amx_peak  # %peak against the best unit the kernels can use
    print(f"int8rt ISA cap: {int8rt.get_max_isa()}")
    for threads in args.threads:
        set_threads(threads)
        print(f"\n== {threads} thread(s) ==")
        print(f"{'layer':26s} {'impl':34s} {'median ms':>10s} {'GOPS':>8s} {'%peak':>6s} "
              f"{'int8rt x':>9s}")
        for group in args.layers:
            for layer in LAYERS[group]:
                rng = np.random.default_rng(0)
                impls: Dict[str, Callable[[], object]] = {}
                ours_name = ""
                for tier in args.tiers:
                    int8rt.set_max_isa(tier)
                    try:
                        f, kname = int8rt_impl(layer, rng)
                    finally:
                        int8rt.set_max_isa(None)
                    impls[f"int8rt {kname}"] = f
                    ours_name = ours_name or f"int8rt {kname}"
                if not args.no_peers:
                    makers = {"ort": lambda: ort_impl(layer, rng, threads),
                              "torch-x86": lambda: torch_impl(layer, rng, "x86"),
                              "torch-onednn": lambda: torch_impl(layer, rng, "onednn")}
                    for peer in args.peers:
                        made = makers[peer]()
                        if made is not None:
                            impls[made[1]] = made[0]
                clock = time.thread_time if args.cpu_time else time.perf_counter
                med = time_alternating(impls, args.min_time, clock)
                ours = med[ours_name]
                for name, t in med.items():
                    gops = 2.0 * layer.macs() / t / 1e9
                    frac = f"{100 * gops / (peak * threads):5.1f}" if peak else "   - "
                    ratio = "" if name == ours_name else f"{t / ours:8.2f}x"
                    print(f"{layer.name:26s} {name:34s} {t * 1e3:10.3f} {gops:8.1f} {frac:>6s} "
                          f"{ratio:>9s}")
    print("\npeer notes: ONNX Runtime runs a one-node QLinearConv/QLinearMatMul model "
          "(uint8 NCHW input, zero point 128, int8 weights, ORT_ENABLE_ALL); PyTorch "
          "runs torch.ao.nn.quantized Conv2d/Linear on quint8 channels_last input. Attention "
          "products: int8rt runs an engine of one int8rt.QMatMul per call (B packed per product; "
          "QK^T reads K as [N][K]), ONNX Runtime a QLinearMatMul with both operands inputs and B "
          "given as [K][N] (the Transpose a graph would have before it left out).")


if __name__ == "__main__":
    main()
