"""BF16 engines on AMX-BF16 against OpenVINO bf16 (issue 13 §4, RESULTS.md
section 169): int8rt's FP32 + bf16 engine (``bf16=True``, channel-blocked
regions as built by default) of ResNet-50 / MobileNetV2 (e2e_models.py,
224 x 224, random weights) built twice in one process, under the cap "amx"
(nchw16c_bf16_amx, gemm_bf16_32x32_amx: TDPBF16PS) and under "avx512bf16"
(the VDPBF16PS kernels), beside OpenVINO with INFERENCE_PRECISION_HINT=bf16
(its brgconv_avx512_amx kernels here) compiled for the batch. 1 thread;
implementations alternated (bf16_nets_bench.alternating_wall_and_cpu),
medians of process CPU time and of wall time per call, and the ratios.
Accuracy: each output's relative L2 error against int8rt FP32's on the
timed batch, so a kernel that sums wrongly shows.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/amxbf16_nets.py
       [--nets resnet50 mobilenet_v2] [--batches 1 8] [--rounds 7] [--min-time 1]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_nets_bench import alternating_wall_and_cpu, cnn, rel_l2  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def build(path: Path, cap: str | None, bf16: bool):
    int8rt.set_max_isa(cap)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=bf16))
    finally:
        int8rt.set_max_isa(None)


def kernels_of(engine) -> str:
    """The blocked BF16 convs' kernels and the NCHW BF16 layers' (layer details' last word), counted."""
    seen: dict = {}
    for la in engine.layers():
        if la["precision"] == "bf16" and la["op"].removeprefix("int8rt.").startswith(("Conv", "Gemm", "MatMul")):
            k = la["detail"].split()[-1]
            seen[k] = seen.get(k, 0) + 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(seen.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(O.versions())
    tmp = Path(tempfile.mkdtemp())
    for name in args.nets:
        net = cnn(name, tmp)
        engines = {"int8rt bf16 amx": build(net.path, "amx", True),
                   "int8rt bf16 avx512bf16": build(net.path, "avx512bf16", True)}
        fp32 = build(net.path, None, False)
        for label, e in engines.items():
            print(f"{name} {label}: {kernels_of(e)}")
        model = O.load(net.path)
        for batch in args.batches:
            feed = net.feed(batch, 3)
            runs = {label: (lambda c=e.create_execution_context(): c.run(feed)["logits"])
                    for label, e in engines.items()}
            compiled = O.compile_model(model, 1, "bf16", batch)
            if batch == args.batches[0]:
                print(f"{name}: OV bf16 compiled with {O.describe(compiled)}")
            req = compiled.create_infer_request()

            def ov(req=req) -> np.ndarray:
                req.infer(feed, share_inputs=True)
                return req.get_output_tensor(0).data.copy()
            runs["OV bf16"] = ov
            want = fp32.create_execution_context().run(feed)["logits"]
            errs = {n: rel_l2([r()], [want]) for n, r in runs.items()}
            print(f"\n{name}, batch {batch}, 1 thread; {load_line()}")
            times = alternating_wall_and_cpu(runs, args.rounds, args.min_time)
            print(f"(after: {load_line()})")
            ov_w, ov_c = times["OV bf16"]
            amx_w, amx_c = times["int8rt bf16 amx"]
            print("| implementation | rel. L2 vs int8rt FP32 | median CPU ms | OV CPU / this | amx CPU / this | "
                  "median wall ms | OV wall / this |")
            print("|---|---|---|---|---|---|---|")
            for n, (w, c) in times.items():
                print(f"| {n} | {errs[n]:.2e} | {c * 1e3:.2f} | {ov_c / c:.2f} | {amx_c / c:.2f} | {w * 1e3:.2f} | "
                      f"{ov_w / w:.2f} |", flush=True)


if __name__ == "__main__":
    main()
