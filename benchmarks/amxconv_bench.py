"""ResNet-50's spatial int8 convs (every 3x3 shape, strides 1 and 2, and the
7x7/2 stem) at batch 1 and 8: int8rt per ISA cap against PyTorch's oneDNN
quantized conv, ONNX Runtime's QLinearConv and OpenVINO's int8 conv (a
one-conv QDQ model, u8 input and output), in one process, alternating,
medians (x86_kernels_bench.time_alternating); %peak against the measured
AMX tdpbusd peak (benchmarks/amx_peak.cc) times threads.

OpenVINO: an ONNX model u8 NCHW input -> DequantizeLinear -> Conv (int8
weights per channel through DequantizeLinear, fp32 bias) -> QuantizeLinear
-> u8 output, compiled with INFERENCE_NUM_THREADS = threads, LATENCY hint;
its low-precision transformations run it as one int8 conv (the kernel name
is printed: brgconv_avx512_amx_I8 on an AMX machine). int8rt: one
PackedConv2d (int8 NHWC in and out, scale/bias epilogue clamped to [0,127]).

Usage: PYTHONPATH=python python3 benchmarks/amxconv_bench.py [--threads 1 2]
       [--batches 1 8] [--tiers amx avx512vnni] [--min-time 0.2] [--only NAME...]
"""
from __future__ import annotations

import argparse
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import int8rt
from bench_util import machine_line
from int8rt._testing import kernels as K
from x86_kernels_bench import measure_amx_peak, set_threads, time_alternating

# name: (C, H(=W), K, R(=S), stride)
LAYERS: Dict[str, Tuple[int, int, int, int, int]] = {
    "3x3 64->64 @56": (64, 56, 64, 3, 1),
    "3x3 128->128 s2 @56": (128, 56, 128, 3, 2),
    "3x3 128->128 @28": (128, 28, 128, 3, 1),
    "3x3 256->256 s2 @28": (256, 28, 256, 3, 2),
    "3x3 256->256 @14": (256, 14, 256, 3, 1),
    "3x3 512->512 s2 @14": (512, 14, 512, 3, 2),
    "3x3 512->512 @7": (512, 7, 512, 3, 1),
    "7x7 3->64 s2 @224": (3, 224, 64, 7, 2),
}


def macs(dims: Tuple[int, ...], batch: int) -> int:
    c, h, k, r, s = dims
    oh = (h + 2 * (r // 2) - r) // s + 1
    return batch * oh * oh * k * c * r * r


def ours(dims, batch, rng, tier) -> Tuple[Callable[[], object], str]:
    c, h, k, r, s = dims
    x = rng.integers(0, 128, (batch, h, h, c), dtype=np.int8)
    w = rng.integers(-128, 128, (k, c, r, r), dtype=np.int8)
    p = r // 2
    int8rt.set_max_isa(tier)
    try:
        packed = K.PackedConv2d(w, h, h, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32),
                                lo=0.0, hi=127.0, stride=(s, s), pads=(p, p, p, p), groups=1)
    finally:
        int8rt.set_max_isa(None)
    return (lambda: packed.run(x)), f"int8rt {tier or 'best'} {packed.kernel}"


def qdq_model(dims, batch, rng) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    c, h, k, r, s = dims
    p = r // 2
    oh = (h + 2 * p - r) // s + 1
    w = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
    inits = [numpy_helper.from_array(w, "Wq"),
             numpy_helper.from_array(np.full(k, 0.01, np.float32), "w_s"),
             numpy_helper.from_array(np.zeros(k, np.int8), "w_z"),
             numpy_helper.from_array(np.array(0.02, np.float32), "x_s"),
             numpy_helper.from_array(np.array(0, np.uint8), "x_z"),
             numpy_helper.from_array(np.array(0.5, np.float32), "y_s"),
             numpy_helper.from_array(np.array(0, np.uint8), "y_z"),
             numpy_helper.from_array(np.zeros(k, np.float32), "B")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "x_s", "x_z"], ["xf"]),
             helper.make_node("DequantizeLinear", ["Wq", "w_s", "w_z"], ["Wf"], axis=0),
             helper.make_node("Conv", ["xf", "Wf", "B"], ["yf"], kernel_shape=[r, r], strides=[s, s],
                              pads=[p, p, p, p]),
             helper.make_node("QuantizeLinear", ["yf", "y_s", "y_z"], ["y"])]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.UINT8, [batch, c, h, h])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [batch, k, oh, oh])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def openvino(dims, batch, rng, threads) -> Optional[Tuple[Callable[[], object], str]]:
    try:
        import openvino as ov
    except ImportError:
        return None
    from realnets import openvino_engines as O
    compiled = O.compile_model(O.load(qdq_model(dims, batch, rng)), threads)
    kern = [kv for kv in O.kernels(compiled).split(", ") if kv.startswith("Convolution")]
    req = compiled.create_infer_request()
    c, h = dims[0], dims[1]
    x = rng.integers(0, 128, (batch, c, h, h), dtype=np.uint8)
    return (lambda: req.infer({0: x}, share_inputs=True)), "OV " + (kern[0].split(":")[1].split(" ")[0] if kern else "?")


def ort(dims, batch, rng, threads) -> Optional[Tuple[Callable[[], object], str]]:
    try:
        import onnxruntime as rt
    except ImportError:
        return None
    so = rt.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = rt.InferenceSession(qdq_model(dims, batch, rng), so, providers=["CPUExecutionProvider"])
    c, h = dims[0], dims[1]
    x = rng.integers(0, 128, (batch, c, h, h), dtype=np.uint8)
    return (lambda: sess.run(None, {"x": x})), "ORT QDQ"


def torch_onednn(dims, batch, rng) -> Optional[Tuple[Callable[[], object], str]]:
    try:
        import torch
        import torch.ao.nn.quantized as nnq
    except ImportError:
        return None
    if "onednn" not in torch.backends.quantized.supported_engines:
        return None
    torch.backends.quantized.engine = "onednn"
    c, h, k, r, s = dims
    mod = nnq.Conv2d(c, k, r, stride=s, padding=r // 2)
    wf = torch.from_numpy(rng.uniform(-1, 1, (k, c, r, r)).astype(np.float32))
    qw = torch.quantize_per_channel(wf, torch.full((k,), 1 / 127.0), torch.zeros(k, dtype=torch.long), 0,
                                    torch.qint8)
    mod.set_weight_bias(qw, None)
    mod.scale, mod.zero_point = 0.5, 0
    xf = torch.from_numpy(rng.uniform(0, 1, (batch, c, h, h)).astype(np.float32))
    qx = torch.quantize_per_tensor(xf, 1 / 127.0, 0, torch.quint8).contiguous(memory_format=torch.channels_last)

    def run() -> object:
        with torch.no_grad():
            return mod(qx)
    return run, "torch onednn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--tiers", nargs="+", default=["amx", "avx512vnni"])
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--only", nargs="+", default=None, help="layer names (default: all)")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    print(machine_line())
    peak, note = measure_amx_peak()
    print(note)
    rows: List[str] = []
    for threads in args.threads:
        set_threads(threads)
        for batch in args.batches:
            for name, dims in LAYERS.items():
                if args.only and name not in args.only:
                    continue
                rng = np.random.default_rng(0)
                impls: Dict[str, Callable[[], object]] = {}
                for tier in args.tiers:
                    f, label = ours(dims, batch, rng, tier)
                    impls[label] = f
                first = next(iter(impls))
                if not args.no_peers:
                    for made in (torch_onednn(dims, batch, rng), openvino(dims, batch, rng, threads),
                                 ort(dims, batch, rng, threads)):
                        if made is not None:
                            impls[made[1]] = made[0]
                med = time_alternating(impls, args.min_time)
                base = med[first]
                for label, t in med.items():
                    gops = 2.0 * macs(dims, batch) / t / 1e9
                    frac = f"{100 * gops / (peak * threads):5.1f}" if peak else "  -"
                    ratio = "" if label == first else f"{t / base:6.2f}x"
                    line = f"| {threads} | {batch} | {name} | {label} | {t * 1e3:.3f} | {frac} | {ratio} |"
                    rows.append(line)
                    print(line, flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
