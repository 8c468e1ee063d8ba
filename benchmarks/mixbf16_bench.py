"""acc39: automatic mixed precision's float layers in BF16 against FP32, the same set.

Builds MODEL through ``int8rt build`` (in this process, as acc35 / acc37 ran it: auto calibrator on CALIB.npz,
``--accuracy-target TARGET``), catching the build's own mixed-engine builder (mixed.bf16_trial's ``build``) so
that the chosen set is built twice exactly as the build makes it: every float layer FP32 (``--accuracy-fp32``'s
engine) and those with a BF16 kernel that pays in BF16 (BF16-kept), beside what the build shipped where it kept
only some in BF16. Prints what the build chose (its report lines), each engine's
score on EVAL.npz (lowest centred cosine over the outputs against the float32 engine, chunks of BATCH: samples
the build never saw), then the FP32-kept, the BF16-kept and the float32 engine run alternated on the first
BATCH samples of EVAL.npz: median process CPU ms (all of an engine's threads; the machine is shared).
Usage: python benchmarks/mixbf16_bench.py MODEL.onnx CALIB.npz EVAL.npz TARGET [--batch 8] [--runs 9] [--save DIR]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_util import machine_line, time_alternating

import int8rt
from int8rt.accuracy import mixed
from int8rt.cli import main as cli


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("calib")
    ap.add_argument("eval")
    ap.add_argument("target", type=float)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--save", metavar="DIR", help="write the engines here (DIR/NAME.i8rt), to time them again apart "
                    "(benchmarks/acc37_mixed_cost.py)")
    args = ap.parse_args()
    caught = {}
    trial = mixed.bf16_trial

    def catching(build, nodes, *rest):
        caught.update(build=build, nodes=set(nodes))
        return trial(build, nodes, *rest)

    mixed.bf16_trial = catching
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "e.i8rt"
        assert cli(["build", args.model, "--calib-data", args.calib, "--accuracy-target", str(args.target),
                    "-o", str(out), "--quiet"]) == 0
        shipped = int8rt.Engine.load(out)
    print(f"build: {time.perf_counter() - t0:.0f} s wall")
    report = shipped.build_report()
    for line in report.format().splitlines():
        if "mixed precision" in line or line.startswith("    ") and ("sensitivity" in line or "BF16" in line
                                                                       or "FP32" in line or "chosen by" in line):
            print(line)
    if "build" not in caught:
        print("no float layer chosen: nothing to compare")
        return
    build, nodes = caught["build"], caught["nodes"]
    engines = {"FP32-kept": build(nodes), "BF16-kept": build(nodes, nodes)}
    partial = report.mixed_precision["bf16_layers"] and report.mixed_precision["bf16_note"]
    if partial:  # the build shipped some of them BF16, the most sensitive FP32
        engines["shipped"] = shipped._native
    engines["float32"] = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32"))._native
    for name, e in engines.items():
        if args.save and name != "float32":
            Path(args.save).mkdir(parents=True, exist_ok=True)
            int8rt.Engine(e).save(Path(args.save) / f"{name}.i8rt")
        precisions = [layer["precision"] for layer in e.layers()]
        print(f"{name}: layers int8 {precisions.count('int8')}, bf16 {precisions.count('bf16')}, "
              f"fp32 {precisions.count('fp32')}")
    z = np.load(args.eval)
    data = {k: z[k] for k in z.files}
    reference = mixed._outputs(engines["float32"], data, args.batch)
    for name in [n for n in engines if n != "float32"]:
        score = mixed.default_metric(reference, mixed._outputs(engines[name], data, args.batch))
        print(f"{name}: score on {len(next(iter(data.values())))} evaluation samples {score:.4f}")
    feed = {k: np.ascontiguousarray(v[:args.batch]) for k, v in data.items()}
    contexts = {name: e.create_execution_context() for name, e in engines.items()}
    ms = {name: 1e3 * s for name, s in time_alternating({name: (lambda c=ctx: c.run(feed)) for name, ctx in
                                                         contexts.items()}, args.runs, clock=time.process_time).items()}
    print(machine_line())
    for name, t in ms.items():
        print(f"{name}: {t:.1f} ms process CPU (median of {args.runs}, batch {args.batch}), "
              f"{t / ms['FP32-kept']:.2f} x FP32-kept")

if __name__ == "__main__":
    main()
