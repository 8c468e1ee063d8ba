"""End-to-end INT8 engines on a GPU: int8rt with device="cuda" against the
same engine on the CPU and PyTorch's FP32 / FP16 (cuDNN) on the same GPU, in
one process, alternating, medians and ratios.

Every implementation takes and returns host (NumPy) arrays, so host<->device
copies are inside each timing (int8rt's engines take host arrays only; the
PyTorch rows copy the input to the GPU and the output back in the timed call).
The CUDA engine's outputs must equal the CPU engine's byte for byte (the CUDA
kernels equal the reference kernels); a mismatch is printed as MISMATCH.

Networks: ResNet-18-like and MobileNetV2-like (benchmarks/e2e_models.py, needs
torch) and the bundled digits CNN, calibrated as in e2e_bench.py.

Needs an int8rt built with the CUDA backend
(pip install . -C cmake.define.INT8RT_WITH_CUDA=on) and a GPU; otherwise it
prints why and exits with status 2. On a build with INT8RT_WITH_CUDA=emulated
it runs on the CPU emulator and says so: such timings mean nothing.

Usage: PYTHONPATH=python python3 benchmarks/cuda_engine_bench.py
       [--models resnet18 mobilenet_v2 digits] [--batches 1 8 32] [--size 224]
       [--rounds 11] [--min-time 0.5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from e2e_bench import Calibrator, Subject, digits, export  # noqa: E402


def torch_cuda_runners(s: Subject) -> Dict[str, Callable[[np.ndarray], np.ndarray]]:
    """PyTorch FP32 and FP16 on the GPU (cuDNN), host arrays in and out."""
    try:
        import torch
    except ImportError:
        return {}
    if s.torch_model is None or not torch.cuda.is_available():
        return {}
    torch.backends.cudnn.benchmark = True
    out: Dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name, dtype in (("torch fp32", torch.float32), ("torch fp16", torch.float16)):
        model = s.torch_model.to("cuda", dtype).eval()

        def run(x: np.ndarray, model=model, dtype=dtype) -> np.ndarray:
            with torch.inference_mode():
                y = model(torch.from_numpy(x).to("cuda", dtype, non_blocking=False))
                return y.float().cpu().numpy()
        out[name] = run
    return out


def bench(s: Subject, engines: Dict[str, int8rt.Engine], batch: int, rounds: int, min_time: float) -> None:
    if s.test is not None:
        x = np.ascontiguousarray(s.test[0][:batch])
    else:
        x = np.random.default_rng(1).standard_normal((batch,) + s.calib[0].shape[1:], dtype=np.float32)
    contexts = {name: e.create_execution_context() for name, e in engines.items()}
    out_name = engines["int8rt cuda int8"].output_names[0]
    run: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
        name: (lambda v, c=c: c.run({"input": v})[out_name]) for name, c in contexts.items()}
    run.update(torch_cuda_runners(s))
    same = run["int8rt cuda int8"](x).tobytes() == run["int8rt cpu int8"](x).tobytes()
    med = time_alternating({name: (lambda f=f: f(x)) for name, f in run.items()}, rounds, min_time)
    ours = med["int8rt cuda int8"]
    print(f"\n{s.name}  batch {batch}  ({load_line()})  cuda == cpu bytes: {'yes' if same else 'MISMATCH'}")
    print(f"  {'implementation':18s} {'median ms':>10s} {'vs int8rt cuda':>15s}")
    for name, sec in med.items():
        print(f"  {name:18s} {sec * 1e3:10.3f} {sec / ours:14.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2", "digits"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    status = int8rt.devices()["cuda"]
    if status != "available":
        print(f"cuda_engine_bench: {status}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        subjects = [digits() if m == "digits" else export(m, args.size, Path(tmp)) for m in args.models]
        print(machine_line())
        for s in subjects:
            engines = {f"int8rt {d} int8": int8rt.build_engine(
                s.onnx_path, int8rt.BuilderConfig(calibrator=Calibrator(s.calib), device=d)) for d in ("cuda", "cpu")}
            cuda = engines["int8rt cuda int8"]
            on_gpu = sum(layer["detail"].startswith("cuda ") for layer in cuda.layers())
            print(f"{s.name}: device {cuda.device_name}; {on_gpu}/{len(cuda.layers())} layers on the GPU")
            for batch in args.batches:
                bench(s, engines, batch, args.rounds, args.min_time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
