"""acc64: MTCNN's stages with every output a detector reads, relative L2 to
FP32 per output, before / after a Conv that is itself a network output (PNet's
conv4_2 bbox regression) writes float32 from its accumulators.

calib15_mtcnn.py exports each stage with its face / non-face logits only; a
detector (facenet_pytorch's detect_face) also reads the box regression (PNet
conv4_2 [N, 4, h, w], RNet dense5_2 [N, 4], ONet dense6_2 [N, 4]) and ONet's
landmarks (dense6_3 [N, 10]). Here each stage is exported with all of them, the
softmax replaced by the identity (logits, as calib15_mtcnn), PNet's box output
as its conv writes it (no Flatten), so the conv is the output itself.

Data, draws and calibration: calib15_mtcnn.py's (scikit-image's lfw_subset, 24
faces + 24 non-faces per draw, draws 1-8; evaluation on the 100 odd crops),
accuracy_bench.int8rt_build (batch 16, the builder's defaults per method). The
reference is int8rt's FP32 engine. Per draw, method and output: the relative L2
||int8 - fp32|| / ||fp32|| over the evaluation crops, and "all" (the outputs
concatenated, each divided by its FP32 norm first, so each counts alike).

"After" in RESULTS_accuracy.md acc64 is the build of commit 2c9b0f1c (the rule on;
left off on the branch: acc64 says why), "before" main's.

Usage:
  PYTHONPATH=<build>/python python benchmarks/head17_mtcnn_heads.py --wheel W --json OUT.json [--nets pnet]
      [--draws 1,2] [--methods entropy,minmax,percentile,mse,auto] [--save-engines DIR]
  python benchmarks/head17_mtcnn_heads.py --compare BEFORE.json AFTER.json
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as M

OUTPUTS = {"pnet": ("bbox", "logits"), "rnet": ("bbox", "logits"), "onet": ("bbox", "landmarks", "logits")}
METHODS = ("entropy", "entropy_legacy", "minmax", "percentile", "mse", "auto")


def stage_model(wheel: str, net: str, size: int | None = None) -> bytes:
    """The stage's ONNX with every output (OUTPUTS[net]); the logits flattened
    as calib15_mtcnn exports them, the other outputs as the stage returns them.
    ``size``: the input's height and width (the stage's own by default; PNet
    runs any, a detector's image pyramid)."""
    import torch

    model = M.mtcnn_stage(wheel, net)

    class All(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            out = self.m(x)  # (box regression[, landmarks], face logits)
            return (*out[:-1], out[-1].flatten(1))

    size = size or M.SIZES[net]
    names = list(OUTPUTS[net])
    buf = io.BytesIO()
    torch.onnx.export(All(), torch.zeros(1, 3, size, size), buf, input_names=["x"], output_names=names,
                      dynamic_axes={"x": {0: "n"}, **{o: {0: "n"} for o in names}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def relative_l2(got: dict[str, np.ndarray], ref: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, float]:
    """Per output ||got - ref|| / ||ref||, and "all": each output's error over its
    FP32 norm, the outputs' squares summed (the root of their mean)."""
    row = {}
    for o in names:
        row[o] = float(np.linalg.norm(got[o].astype(np.float64) - ref[o]) / np.linalg.norm(ref[o].astype(np.float64)))
    row["all"] = float(np.sqrt(np.mean([row[o] ** 2 for o in names])))
    return row


def measure(args: argparse.Namespace) -> dict:
    import accuracy_bench as AB
    import int8rt

    int8rt.set_num_threads(1)
    x, labels = M.lfw_subset()
    results: dict = {"int8rt": int8rt.__file__, "rows": []}
    for net in args.nets.split(","):
        model = stage_model(args.wheel, net)
        xs = M.stage_inputs(x, M.SIZES[net])
        fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
        for draw in map(int, args.draws.split(",")):
            calib, evaluation = M.split(labels, draw)
            ref = fp32.run({"x": xs[evaluation]})
            for method in args.methods.split(","):
                engine, secs, _ = AB.int8rt_build(model, xs[calib], method, check=False)
                got = engine.run({"x": xs[evaluation]})
                row = {"net": net, "draw": draw, "method": method, **relative_l2(got, ref, OUTPUTS[net]),
                       "calib_s": secs, "plan": sorted(layer["name"] for layer in engine.layers()
                                                       if layer["name"].endswith(("::dequantize", "::to_nchw")))}
                if args.save_engines:
                    os.makedirs(args.save_engines, exist_ok=True)
                    engine.save(os.path.join(args.save_engines, f"{net}_d{draw}_{method}.i8rt"))
                print(json.dumps(row), flush=True)
                results["rows"].append(row)
    return results


def compare(before_path: str, after_path: str) -> None:
    """Paired after - before per (net, method, output) over the draws: mean ± standard error, and the means."""
    def rows(path: str) -> dict:
        with open(path) as f:
            return {(r["net"], r["method"], r["draw"]): r for r in json.load(f)["rows"]}
    before, after = rows(before_path), rows(after_path)
    keys = sorted({(n, m) for n, m, _ in before} & {(n, m) for n, m, _ in after},
                  key=lambda k: (list(OUTPUTS).index(k[0]), METHODS.index(k[1]) if k[1] in METHODS else 99))
    print("| net | method | output | before (mean) | after (mean) | after - before ± SE | draws lower / equal / higher |")
    print("|---|---|---|---|---|---|---|")
    for net, method in keys:
        draws = sorted(d for n, m, d in before if (n, m) == (net, method) and (n, m, d) in after)
        for o in (*OUTPUTS[net], "all"):
            b = np.array([before[(net, method, d)][o] for d in draws])
            a = np.array([after[(net, method, d)][o] for d in draws])
            diff = a - b
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            counts = f"{int((diff < 0).sum())} / {int((diff == 0).sum())} / {int((diff > 0).sum())}"
            print(f"| {net} | {method} | {o} | {b.mean():.4f} | {a.mean():.4f} | {diff.mean():+.4f} ± {se:.4f} | "
                  f"{counts} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", default="/tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("--nets", default="pnet,rnet,onet")
    ap.add_argument("--draws", default=",".join(map(str, M.DRAWS)))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json")
    ap.add_argument("--save-engines", help="write each engine here (for the per-layer timing)")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return 0
    results = measure(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
