"""End-to-end inference: int8rt INT8 vs int8rt FP32 vs ONNX Runtime FP32 vs
ONNX Runtime INT8 vs PyTorch int8, at batch 1 and 8, 1 and 2 threads, in one
process, implementations alternating, medians and ratios.

Networks: a ResNet-18-like and a MobileNetV2-like (benchmarks/e2e_models.py,
seeded random weights, exported with torch.onnx.export(dynamo=False), opset
17, dynamic batch) and the bundled digits CNN (python/int8rt/data).

Implementations (all calibrated on the same batches: 4 x 8 seeded Gaussian
images for the random networks, the 256 bundled calibration images for the
digits CNN):
  int8rt int8   build_engine + IInt8EntropyCalibrator2
  int8rt fp32   build_engine(precision="fp32")
  ORT fp32      InferenceSession, ORT_ENABLE_ALL, intra_op_num_threads = threads
  ORT int8      quantize_static: QDQ, per_channel=True, MinMax calibration,
                uint8 activations / int8 weights (its defaults), then as ORT fp32
  torch int8    torch.ao.quantization FX (prepare_fx / convert_fx) with
                get_default_qconfig_mapping("x86"), engine "x86", channels_last
                input; PT2E + X86InductorQuantizer is absent from torch 2.13's
                torch.ao (moved to torchao, not installed). The digits CNN exists
                only as ONNX, so it has no PyTorch row.
Each row also reports the output's relative L2 error against ORT fp32 (and
held-out top-1 for the digits CNN), so a fast wrong engine shows.

Peers' worker threads spin for a while after their runs (ONNX Runtime's
intra-op pool, PyTorch's OpenMP), so with several threads int8rt runs next
to a busy core in the table rows. Per network and batch a last line
therefore times int8rt INT8 alone, its thread counts alternating, no peer
running in between: the like-for-like answer to "is 2 threads faster than 1".

Usage: PYTHONPATH=python python3 benchmarks/e2e_bench.py [--models resnet18
       mobilenet_v2 digits] [--batches 1 8] [--threads 1 2] [--size 224]
       [--rounds 7] [--min-time 0.5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402

DATA = HERE.parent / "python" / "int8rt" / "data"


class Calibrator(int8rt.IInt8EntropyCalibrator2):
    """Hands out a fixed list of batches."""

    def __init__(self, batches: List[np.ndarray]) -> None:
        super().__init__()
        self.batches = iter(batches)
        self.size = len(batches[0])

    def get_batch_size(self) -> int:
        return self.size

    def get_batch(self, names: list) -> Optional[list]:
        b = next(self.batches, None)
        return None if b is None else [b]


class Subject:
    """One network: its ONNX file, calibration batches, sample inputs and the
    implementations built from it (name -> (threads -> run function) or error)."""

    def __init__(self, name: str, onnx_path: Path, calib: List[np.ndarray],
                 torch_model: object = None, test: Optional[tuple] = None) -> None:
        self.name, self.onnx_path, self.calib = name, onnx_path, calib
        self.torch_model, self.test = torch_model, test
        self.engines: Dict[str, object] = {}
        self.errors: Dict[str, str] = {}
        self.ort_int8_path: Optional[Path] = None
        self.torch_int8: object = None


def export(name: str, size: int, tmp: Path) -> Subject:
    import torch
    from e2e_models import make_model
    model = make_model(name)
    path = tmp / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, size, size), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((8, 3, size, size), dtype=np.float32) for _ in range(4)]
    return Subject(name, path, calib, torch_model=model)


def digits() -> Subject:
    d = np.load(DATA / "digits.npz")
    calib = [d["calib"][i:i + 32] for i in range(0, len(d["calib"]), 32)]
    return Subject("digits_cnn", DATA / "digits_cnn.onnx", calib, test=(d["test_x"], d["test_y"]))


def build(s: Subject, tmp: Path) -> None:
    """Builds every implementation once; a failure is recorded with its exact message."""
    try:
        s.engines["int8rt int8"] = int8rt.build_engine(
            s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=Calibrator(s.calib)))
    except Exception as e:  # noqa: BLE001 - reported in the table, e.g. NotSupportedError
        s.errors["int8rt int8"] = f"{type(e).__name__}: {e}"
    try:
        s.engines["int8rt fp32"] = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="fp32"))
    except Exception as e:  # noqa: BLE001
        s.errors["int8rt fp32"] = f"{type(e).__name__}: {e}"
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(s.calib)

        def get_next(self) -> Optional[dict]:
            b = next(self.it, None)
            return None if b is None else {"input": b}
    s.ort_int8_path = tmp / f"{s.name}_ort_int8.onnx"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(s.onnx_path), str(s.ort_int8_path), Reader(),
                            quant_format=QuantFormat.QDQ, per_channel=True)
    except Exception as e:  # noqa: BLE001
        s.errors["ORT int8"] = f"{type(e).__name__}: {e}"
    if s.torch_model is not None:
        try:
            s.torch_int8 = torch_fx_int8(s.torch_model, s.calib)
        except Exception as e:  # noqa: BLE001
            s.errors["torch int8"] = f"{type(e).__name__}: {e}"
    else:
        s.errors["torch int8"] = "not measured: this network exists only as ONNX"


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


def runners(s: Subject, threads: int) -> Dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Per implementation: input array -> output array, set up for `threads`."""
    import onnxruntime as ort
    out: Dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name in ("int8rt int8", "int8rt fp32"):
        if name in s.engines:
            ctx = s.engines[name].create_execution_context()
            out[name] = lambda x, ctx=ctx: next(iter(ctx.run({"input": x}).values()))

    def session(path: Path) -> Callable[[np.ndarray], np.ndarray]:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return lambda x: sess.run(None, {"input": x})[0]
    out["ORT fp32"] = session(s.onnx_path)
    if "ORT int8" not in s.errors:
        out["ORT int8"] = session(s.ort_int8_path)
    if s.torch_int8 is not None:
        import torch
        qmodel = s.torch_int8

        def run_torch(x: np.ndarray) -> np.ndarray:
            torch.backends.quantized.engine = "x86"
            with torch.no_grad():
                t = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
                return qmodel(t).numpy()
        out["torch int8"] = run_torch
    return out


def set_threads(n: int) -> None:
    int8rt.set_num_threads(n)
    import torch
    torch.set_num_threads(n)


def bench(s: Subject, batch: int, threads: int, rounds: int, min_time: float) -> None:
    set_threads(threads)
    if s.test is not None:
        x = s.test[0][:batch]
    else:
        x = np.random.default_rng(1).standard_normal((batch,) + s.calib[0].shape[1:], dtype=np.float32)
    run = runners(s, threads)
    ref = run["ORT fp32"](x)
    impls = {name: (lambda f=f: f(x)) for name, f in run.items()}
    med = time_alternating(impls, rounds, min_time)
    print(f"\n{s.name}  batch {batch}  threads {threads}  ({load_line()})")
    print(f"  {'implementation':14s} {'median ms':>10s} {'vs int8rt int8':>15s} {'rel L2 err':>11s} extra")
    ours = med.get("int8rt int8")
    for name, sec in med.items():
        y = run[name](x)
        err = float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30))
        extra = ""
        if s.test is not None:
            full = run[name](s.test[0])
            extra = f"top-1 {np.mean(np.argmax(full, 1) == s.test[1]) * 100:5.2f}% (held-out)"
        ratio = f"{sec / ours:14.2f}x" if ours else "-"
        print(f"  {name:14s} {sec * 1e3:10.3f} {ratio:>15s} {err:11.2e} {extra}")
    for name, msg in s.errors.items():
        print(f"  {name:14s} FAILED/absent: {msg}")
    if ours and "int8rt fp32" in med:
        print(f"  int8rt int8 speed-up over int8rt fp32: {med['int8rt fp32'] / ours:.2f}x"
              f" (goal >= 3x); over ORT fp32: {med['ORT fp32'] / ours:.2f}x")


def bench_threads_alone(s: Subject, batch: int, threads: List[int], rounds: int,
                        min_time: float) -> None:
    """int8rt int8 only, one thread count after the other in turn (medians)."""
    e = s.engines.get("int8rt int8")
    if e is None or len(threads) < 2:
        return
    ctx = e.create_execution_context()
    if s.test is not None:
        x = s.test[0][:batch]
    else:
        x = np.random.default_rng(1).standard_normal((batch,) + s.calib[0].shape[1:], dtype=np.float32)

    def run_with(n: int) -> Callable[[], object]:
        def f() -> object:
            int8rt.set_num_threads(n)
            return ctx.run({"input": x})
        return f
    med = time_alternating({n: run_with(n) for n in threads}, rounds * 4, min_time)
    base = med[threads[0]]
    print(f"\n{s.name}  batch {batch}  int8rt int8 alone, threads alternating ({load_line()}): " +
          ", ".join(f"{n} threads {sec * 1e3:.3f} ms ({sec / base:.2f}x)" for n, sec in med.items()))


def describe(s: Subject) -> None:
    e = s.engines.get("int8rt int8")
    if e is None:
        return
    kinds = Counter(f"{layer['precision']}:{layer['detail'].split(' ')[0]}"
                    if layer["precision"] != "convert" else "convert" for layer in e.layers())
    print(f"{s.name}: int8rt int8 engine layers: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2", "digits"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--size", type=int, default=224, help="input height = width (random networks)")
    ap.add_argument("--rounds", type=int, default=7, help="minimum alternating rounds")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each implementation runs at least")
    args = ap.parse_args()
    import onnxruntime
    import torch
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's pre-processing advice
    onnxruntime.set_default_logger_severity(3)
    print(machine_line())
    print(f"int8rt {int8rt.__version__} (ISA {int8rt.get_max_isa()}), onnxruntime "
          f"{onnxruntime.__version__}, torch {torch.__version__}, input {args.size}x{args.size}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in args.models:
            s = digits() if name == "digits" else export(name, args.size, tmp)
            set_threads(2)
            build(s, tmp)
            describe(s)
            for batch in args.batches:
                for threads in args.threads:
                    bench(s, batch, threads, args.rounds, args.min_time)
                bench_threads_alone(s, batch, args.threads, args.rounds, args.min_time)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
