"""acc54: what the int8 rounding of MTCNN's Gemm -> PRelu pre-activation costs in int8rt's engine (RNet / ONet).

acc50 folded Conv -> PRelu into the conv's int8 epilogue; the dense layer's
Gemm -> PRelu (RNet's dense4 -> prelu4, ONet's dense5 -> prelu5) still runs
``QGemm -> Dequantize -> PRelu (float32) -> Quantize``: the Gemm's output,
the pre-activation, is rounded to symmetric int8 before the activation. Before
folding it the same way, this measures what that rounding costs, per draw
(benchmarks/calib15_mtcnn.py's model, data and draws; relative L2 of the face
/ non-face logits against int8rt's FP32 engine on the 100 evaluation crops):

- ``int8``: the engine as built (the Gemm's output rounded);
- ``gemm_f32_out``: the same calibration cache with the Gemm output's line
  removed, so that tensor has no int8 scale and the QGemm writes float32 from
  its accumulators (Lowerer::lower_gemm's ``int8_out``): exactly the folded
  PReLU's numerics up to float rounding (the pre-activation never rounded,
  the PReLU output quantized at its calibrated scale); the plan is checked to
  have no Dequantize of that tensor. Single methods only (auto writes no
  cache that replays its choices);
- ``gemm_fp32``: the Gemm kept in float32 (``layer_precisions``): its input,
  weights and output unrounded, an upper bound on any fold's gain; auto too.

``--each-layer METHOD``: where the rest of the error is instead: each Conv /
Gemm kept in float32 in turn (its folded PRelu then runs in float32 with it),
mean relative L2 over the draws against the all-int8 engine's.

Usage: PYTHONPATH=python python benchmarks/gemmprelu12_probe.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl
       [--nets rnet,onet] [--draws 1,2,3,4] [--methods minmax,percentile,mse,auto] [--each-layer auto]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy_bench as AB  # noqa: E402
import calib15_mtcnn as M  # noqa: E402


def gemm_prelu_outputs(model: bytes) -> dict[str, str]:
    """{Gemm / MatMul node name: its output tensor} for each one whose output a PRelu reads."""
    g = onnx.load_from_string(model).graph
    prelu_inputs = {n.input[0] for n in g.node if n.op_type == "PRelu"}
    return {n.name: n.output[0] for n in g.node if n.op_type in ("Gemm", "MatMul") and n.output[0] in prelu_inputs}


def build(model: bytes, calib: np.ndarray, method: str, cache: str | None = None, fp32_layers=()):
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    calibrator = make_calibrator({AB.E._input_name(model): calib}, algorithm=method, batch_size=16, cache_file=cache)
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                           layer_precisions={n: "fp32" for n in fp32_layers} or None))


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def probe(wheel: str, net: str, draw: int, methods: list[str]) -> dict[str, dict[str, float]]:
    """{method: {variant: relative L2}} for one stage and draw (module docstring)."""
    import int8rt

    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, draw)
    xs = M.stage_inputs(x, M.SIZES[net])
    model = M.mtcnn_model(wheel, net)
    pairs = gemm_prelu_outputs(model)
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    ref = AB.E.run_batched(AB.E.int8rt_runner(fp32), xs[evaluation])

    def err(engine) -> float:
        return rel_l2(AB.E.run_batched(AB.E.int8rt_runner(engine), xs[evaluation]), ref)

    out: dict[str, dict[str, float]] = {}
    for method in methods:
        row: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as d:
            cache = None if method == "auto" else os.path.join(d, "full.cache")
            row["int8"] = err(build(model, xs[calib], method, cache))
            if cache is not None:
                with open(cache) as f:
                    lines = f.read().splitlines(True)
                kept = [line for line in lines if line.split(":")[0] not in set(pairs.values())]
                assert len(kept) == len(lines) - len(pairs), "the Gemm outputs are not all in the cache"
                partial = os.path.join(d, "no_gemm_out.cache")
                with open(partial, "w") as f:
                    f.writelines(kept)
                engine = build(model, xs[calib], method, partial)
                names = {layer["name"] for layer in engine.layers()}
                assert not any(f"{t}::dequantize" in names for t in pairs.values()), "the QGemm still writes int8"
                row["gemm_f32_out"] = err(engine)
        row["gemm_fp32"] = err(build(model, xs[calib], method, fp32_layers=pairs))
        out[method] = row
        print(f"{net} draw {draw} {method:10s} " + " ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    return out


def each_layer(wheel: str, net: str, draws: list[int], method: str) -> None:
    """Prints the mean relative L2 over ``draws`` with each Conv / Gemm kept in float32 in turn."""
    import int8rt

    x, labels = M.lfw_subset()
    xs = M.stage_inputs(x, M.SIZES[net])
    model = M.mtcnn_model(wheel, net)
    layers = [n.name for n in onnx.load_from_string(model).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    errs: dict[str, list[float]] = {}
    for draw in draws:
        calib, evaluation = M.split(labels, draw)
        ref = AB.E.run_batched(AB.E.int8rt_runner(fp32), xs[evaluation])
        for kept in [None, *layers]:
            engine = build(model, xs[calib], method, fp32_layers=[kept] if kept else ())
            errs.setdefault(kept or "(all int8)", []).append(
                rel_l2(AB.E.run_batched(AB.E.int8rt_runner(engine), xs[evaluation]), ref))
    base = float(np.mean(errs["(all int8)"]))
    print(f"{net} {method}: relative L2 with one layer in float32, draws {draws}, mean, change")
    for name, vals in errs.items():
        print(f"  {name:22s} " + " ".join(f"{v:.4f}" for v in vals) + f"  mean {np.mean(vals):.4f}"
              f"  change {np.mean(vals) - base:+.4f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="rnet,onet")
    ap.add_argument("--draws", default="1,2,3,4")
    ap.add_argument("--methods", default="minmax,percentile,mse,auto")
    ap.add_argument("--each-layer", metavar="METHOD", help="the per-layer float32 probe for METHOD instead")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    draws = [int(d) for d in args.draws.split(",")]
    methods = args.methods.split(",")
    if args.each_layer:
        for net in args.nets.split(","):
            each_layer(args.wheel, net, draws, args.each_layer)
        return 0
    for net in args.nets.split(","):
        rows = [probe(args.wheel, net, d, methods) for d in draws]
        print(f"{net}: relative L2, draws {draws}, mean; change = variant - int8")
        for method in methods:
            for variant in rows[0][method]:
                vals = [r[method][variant] for r in rows]
                base = [r[method]["int8"] for r in rows]
                delta = "" if variant == "int8" else f"  change {np.mean(vals) - np.mean(base):+.4f}"
                print(f"  {method:10s} {variant:13s} " + " ".join(f"{v:.4f}" for v in vals) +
                      f"  mean {np.mean(vals):.4f}{delta}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
