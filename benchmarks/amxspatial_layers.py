"""The spatial convs (R x S > 1, one group) of an int8rt INT8 engine, timed
layer by layer: thread CPU time of ExecutionContext.profile, 1 thread,
medians of 5 rounds of 3 runs, at batch 1 and 8, with the kernel each chose.

`build` calibrates e2e_bench.py's network (IInt8AutoCalibrator) and saves
the engine file; `profile LABEL` loads that file (the packed weights are
derived at load, so two builds of the library, each on its own PYTHONPATH,
run the same engine: a before / after of a kernel change) and prints one
line per spatial conv and their sum.

Usage: PYTHONPATH=python python benchmarks/amxspatial_layers.py build resnet50 --models-dir DIR --engine F
       PYTHONPATH=<a build> python benchmarks/amxspatial_layers.py profile before resnet50 --models-dir DIR --engine F
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_bench as B  # noqa: E402  (sets the thread-library environment first)
import int8rt  # noqa: E402
import onnx  # noqa: E402


def spatial_convs(path: Path) -> dict:
    m = onnx.load(str(path), load_external_data=False)
    out = {}
    for n in m.graph.node:
        if n.op_type != "Conv":
            continue
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        ks = list(a.get("kernel_shape", [1, 1]))
        if ks[0] * ks[1] > 1 and a.get("group", 1) == 1:
            out[n.name] = f"{ks[0]}x{ks[1]}/{list(a.get('strides', [1, 1]))[0]}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["build", "profile"])
    ap.add_argument("words", nargs="+", help="build: MODEL; profile: LABEL MODEL")
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--engine", type=Path, required=True)
    args = ap.parse_args()
    label, name = ("", args.words[0]) if args.phase == "build" else (args.words[0], args.words[1])
    s = B.subject(name, 224, args.models_dir)
    if args.phase == "build":
        B.build(s, args.models_dir, impls=["int8rt int8"], calibrator="auto")
        s.engines["int8rt int8"].save(str(args.engine))
        return
    spatial = spatial_convs(s.onnx_path)
    int8rt.set_num_threads(1)
    ctx = int8rt.Engine.load(str(args.engine)).create_execution_context()
    for batch in (1, 8):
        x = s.feed(batch)
        rounds = [ctx.profile(x, 3, clock="thread_cpu") for _ in range(5)]
        total = 0.0
        for i, layer in enumerate(rounds[0]):
            if layer["name"] not in spatial:
                continue
            ms = statistics.median(r[i]["ms"] for r in rounds)
            total += ms
            print(f"{label} {name} b{batch} {layer['name']} {spatial[layer['name']]} {ms:.3f} ms [{layer['detail']}]")
        print(f"{label} {name} b{batch} spatial total {total:.3f} ms")


if __name__ == "__main__":
    main()
