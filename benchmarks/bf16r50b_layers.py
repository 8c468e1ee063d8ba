"""ResNet-50 BF16, 1 thread: int8rt's FP32 + bf16 engine (one channel-blocked
bfloat16 region, RESULTS.md §149) against OpenVINO bf16
(INFERENCE_PRECISION_HINT=bf16) layer by layer, on OpenVINO's own counters
(issue 13 §4, RESULTS.md §157).

The method is §112's (`r50i8_layers.py`, whose helpers this reuses):
OpenVINO's PERF_COUNT are running means since compilation, so each run's own
time is recovered (n · mean_n − (n − 1) · mean_(n−1)) on a model compiled
afresh every 8 runs; both engines are profiled on the wall clock in
alternating blocks and each layer's minimum over the runs is kept (load only
adds); int8rt's thread-CPU minimum is printed beside it. Layers are matched
by the ONNX node name both keep and summed by shape label (the residual Add
that both fuse into a bottleneck's last 1x1 is "+res"). The whole network
(process CPU medians, the two alternated call by call) before and after.

Usage: PYTHONPATH=python python benchmarks/bf16r50b_layers.py --batch 1 --rounds 24 --whole-rounds 7
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import int8rt  # noqa: E402
from bf16_layers_profile import export  # noqa: E402
from r50i8_layers import labels, profiles  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def bf16_r50_setup(batch: int):
    """ResNet-50 exported to a temporary folder, a random batch, int8rt's
    FP32 + bf16 engine and a context (its build report silenced), OpenVINO's
    model and a factory of bf16 infer requests with PERF_COUNT, 1 thread:
    (path, x, engine, ctx, model, compile_req). Shared with bf16cnn4_gap.py."""
    int8rt.set_num_threads(1)
    path = Path(tempfile.mkdtemp()) / "resnet50.onnx"
    export("resnet50", str(path))
    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    model = O.load(str(path))

    def compile_req():
        return O.compile_model(model, 1, "bf16", x.shape, perf_count=True).create_infer_request()

    return path, x, engine, ctx, model, compile_req


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=24, help="profiled runs per engine (minima per layer)")
    ap.add_argument("--whole-rounds", type=int, default=7, help="alternating whole-run rounds (medians)")
    args = ap.parse_args()
    path, x, engine, ctx, model, compile_req = bf16_r50_setup(args.batch)
    plain = O.runner(O.compile_model(model, 1, "bf16", x.shape))
    lab = labels(path, args.batch)
    load0 = os.getloadavg()[0]

    def whole():
        return bench_util.alternating_samples({"int8rt": lambda: ctx.run({"input": x}), "OV": lambda: plain(x)},
                                              args.whole_rounds, clock=time.process_time)

    before = whole()
    w, c, o, ov_type = profiles(ctx, "input", compile_req, x, args.rounds)
    after = whole()
    load1 = os.getloadavg()[0]

    # per shape label: layers, int8rt wall and thread-CPU minima, OpenVINO minima (ms, summed)
    rows: dict[str, list] = {}
    for layer, t in w.items():
        r = rows.setdefault(lab.get(layer, layer), [0, 0.0, 0.0, 0.0])
        r[0] += 1
        r[1] += min(t)
        r[2] += min(c[layer])
    unmatched = []
    for node, t in o.items():
        g = lab.get(node) or "OV only: " + ov_type[node].split(":")[0]
        if g.startswith("OV only"):
            unmatched.append(f"{node} [{ov_type[node]}] {min(t):.3f}")
        rows.setdefault(g, [0, 0.0, 0.0, 0.0])[3] += min(t)
    print(bench_util.machine_line())
    print(f"ResNet-50 BF16 batch {args.batch}, 1 thread; load {load0:.1f} -> {load1:.1f}; {args.rounds} profiled "
          f"runs per engine, minima per layer; int8rt {Path(int8rt.__file__).parent}")
    print("(rows by int8rt's thread-CPU time less OpenVINO's, largest first: OpenVINO's per-node times are wall "
          "time, so under load its figures are upper bounds and int8rt's wall column is the like-for-like one)")
    print("| layer (shape) | n | int8rt thread-CPU ms | int8rt wall ms | OpenVINO bf16 ms | OV / int8rt CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for g, (n, wall, cpu, ov) in sorted(rows.items(), key=lambda kv: kv[1][3] - kv[1][2]):
        print(f"| {g} | {n} | {cpu:.3f} | {wall:.3f} | {ov:.3f} | "
              f"{f'{ov / cpu:.3f}' if cpu > 0 and ov > 0 else '-'} |")
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    print(f"| **sum** | {total[0]} | {total[2]:.2f} | {total[1]:.2f} | {total[3]:.2f} | {total[3] / total[2]:.3f} |")
    whole = {k: [np.median(t["int8rt"]) * 1e3, np.median(t["OV"]) * 1e3] for k, t in (("before", before),
                                                                                      ("after", after))}
    print(f"whole runs (process CPU medians of {args.whole_rounds}, alternated call by call): " + "; ".join(
        f"{k} the profile int8rt {a:.2f} ms, OV bf16 {b:.2f} ms, OV / int8rt {b / a:.3f}" for k, (a, b) in whole.items()))
    print("OpenVINO nodes with no int8rt layer:", "; ".join(unmatched) or "none")


if __name__ == "__main__":
    main()
