"""CUDA DP4A kernels: bit-exact check against the reference kernels, then
timing (CUDA events, median) with int8 TOPS and the fraction of the measured
DP4A peak per layer; builds benchmarks/cuda/cuda_bench_main.cu with nvcc for
this machine's GPU. Where PyTorch with CUDA is installed it then times
torch.nn.functional.conv2d in FP32 and FP16 (cuDNN, channels_last, benchmark
mode) on the same conv layers and prints the ratios (the int8 kernel's time
/ cuDNN's; < 1: int8rt faster).

Refuses cleanly (exit status 2, "no CUDA GPU available ...") on a machine
without a GPU or driver, and without nvcc.

Usage: PYTHONPATH=python python3 benchmarks/cuda_bench.py [--runs 21] [--check-only]
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import cuda_env  # noqa: E402

CONV_LINE = re.compile(r"# conv C(\d+) H(\d+) W(\d+) K(\d+) R(\d+) S(\d+) stride(\d+) pad(\d+) groups(\d+) batch(\d+)")
TIME_LINE = re.compile(r"^(.*?)\s+batch \d+\s+bit-exact\s+([\d.]+) ms")


def torch_conv_ms(shape: tuple[int, ...], dtype_name: str, runs: int) -> float:
    """Median ms of one cuDNN conv2d of this shape (CUDA events)."""
    import torch

    C, H, W, K, R, S, stride, pad, groups, batch = shape
    dtype = getattr(torch, dtype_name)
    x = torch.randn(batch, C, H, W, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
    w = torch.randn(K, C // groups, R, S, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
    b = torch.randn(K, device="cuda", dtype=dtype)
    f = torch.nn.functional.conv2d
    for _ in range(3):
        f(x, w, b, stride, pad, 1, groups)
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.relu(f(x, w, b, stride, pad, 1, groups))
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def compare_with_torch(output: str, runs: int) -> None:
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: no cuDNN comparison")
        return
    if not torch.cuda.is_available():
        print("PyTorch has no CUDA here: no cuDNN comparison")
        return
    torch.backends.cudnn.benchmark = True
    lines = output.splitlines()
    print(f"\n{'layer':28s} {'int8rt ms':>10s} {'cuDNN fp32':>11s} {'cuDNN fp16':>11s} {'vs fp32':>8s} {'vs fp16':>8s}")
    for i, line in enumerate(lines):
        m = CONV_LINE.match(line)
        t = TIME_LINE.match(lines[i - 1]) if i > 0 else None
        if not m or not t:
            continue
        shape = tuple(int(v) for v in m.groups())
        ours = float(t.group(2))
        f32, f16 = torch_conv_ms(shape, "float32", runs), torch_conv_ms(shape, "float16", runs)
        print(f"{t.group(1).strip():28s} {ours:10.3f} {f32:11.3f} {f16:11.3f} {ours / f32:7.2f}x {ours / f16:7.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--check-only", action="store_true", help="check results, skip the timing")
    args = ap.parse_args()
    ok, why = cuda_env.gpu_status()
    if not ok:
        print(f"cuda_bench: {why}", file=sys.stderr)
        return 2
    if cuda_env.find_nvcc() is None:
        print("cuda_bench: nvcc not found (install the CUDA toolkit)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        exe = cuda_env.build_driver(Path(tmp))
        cmd = [str(exe), "--runs", str(args.runs)] + (["--check-only"] if args.check_only else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(r.stdout, end="")
        print(r.stderr, end="", file=sys.stderr)
        if r.returncode == 0 and not args.check_only:
            compare_with_torch(r.stdout, args.runs)
        return r.returncode


if __name__ == "__main__":
    sys.exit(main())
