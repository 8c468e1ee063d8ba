"""acc60 step 1: how much of MTCNN's INT8 error is the PReLU outputs' grid.

facenet-pytorch's trained PNet / RNet / ONet (benchmarks/calib15_mtcnn.py's
model, data and draws) run in float32 in torch with the tensors rounded as
int8rt's plan now rounds them (benchmarks/prelu12_fakequant.py's method):
weights per output channel, symmetric, amax / 127; the Conv pre-activations
not rounded (the PReLU folded into the conv's epilogue, acc50), the Linear
ones symmetric (acc54), the heads not rounded (acc54 / acc56), every layer
input symmetric over the calibration crops' max |x| (minmax). Only the PReLU
outputs (each later layer's input, after a MaxPool where there is one) change
grid between the rows:

- ``sym``: symmetric int8, max |x| / 127 (int8rt now);
- ``fine``: the same range on a grid twice as fine (a probe: no int8 grid);
- ``asym-conv``: the Conv PReLUs' outputs on 255 steps over [min, max] (the
  calibration crops' least value: ONNX Runtime's uint8 grid), the Linear
  PReLUs' symmetric;
- ``asym``: every PReLU output on [min, max];
- ``float-conv`` / ``float``: the Conv PReLUs' outputs (all PReLU outputs)
  not rounded.

Also prints, per PReLU output, the calibration min and max |x| and the step
ratio symmetric / [min, max] (2 max / (max - min)).

Usage: python benchmarks/przp12_prelu_grid_probe.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl [--draws 1,2,3,4]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as M  # noqa: E402
from prelu12_fakequant import fq, logits, print_per_draw, rounded_weights_and_ranges  # noqa: E402

SCHEMES = ["sym", "fine", "asym-conv", "asym", "float-conv", "float"]


def run(wheel: str, net: str, draw: int, verbose: bool) -> dict[str, float]:
    """Relative L2 of the face logits to float32 per scheme, on one draw."""
    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, draw)
    xs = M.stage_inputs(x, M.SIZES[net])
    model = M.mtcnn_stage(wheel, net)
    ref = logits(model, xs[evaluation])
    layers, stats = rounded_weights_and_ranges(model, xs[calib])
    children = [c for _, c in model.named_children()]
    feeds_prelu = {id(a) for a, b in zip(children, children[1:])
                   if isinstance(a, (torch.nn.Conv2d, torch.nn.Linear)) and isinstance(b, torch.nn.PReLU)}
    # Each later layer's input is the output of the PReLU after the layer before it in order.
    source = {id(b): a for a, b in zip(layers, layers[1:])}
    first = layers[0]
    if verbose:
        for m in layers[1:]:
            lo, hi = stats[(id(m), "in")]
            T = max(abs(lo), abs(hi))
            kind = type(source[id(m)]).__name__
            print(f"  {net} d{draw} PReLU after {kind:6s} -> {type(m).__name__:6s}: min {lo:8.4f} max|x| {T:8.4f} "
                  f"min/T {lo / T:6.3f} step ratio {2 * T / (T - min(lo, 0.0)):.2f}")
    out = {}
    for scheme in SCHEMES:
        def pre_hook(m, a, scheme=scheme):
            lo, hi = stats[(id(m), "in")]
            T = max(abs(lo), abs(hi))
            conv = isinstance(source.get(id(m)), torch.nn.Conv2d)
            if m is first or scheme == "sym" or (scheme in ("asym-conv", "float-conv") and not conv):
                return (fq(a[0], lo, hi, 254),)
            if scheme.startswith("float"):
                return None
            if scheme == "fine":
                s = T / 254.0
                return (torch.clamp(torch.round(a[0] / s), -254, 254) * s,)
            return (fq(a[0], min(lo, 0.0), T, 255),)

        def out_hook(m, a, o):
            lo, hi = stats[(id(m), "out")]
            if id(m) not in feeds_prelu or isinstance(m, torch.nn.Conv2d):
                return None  # the heads write float32; the conv's PReLU is in its epilogue
            return fq(o, lo, hi, 254)  # the Linear's pre-activation (acc54: rounded)

        hooks = [m.register_forward_pre_hook(pre_hook) for m in layers]
        hooks += [m.register_forward_hook(out_hook) for m in layers]
        y = logits(model, xs[evaluation])
        for h in hooks:
            h.remove()
        out[scheme] = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="pnet,rnet,onet")
    ap.add_argument("--draws", default="1,2,3,4")
    ap.add_argument("--stats", action="store_true", help="print each PReLU output's range on every draw")
    args = ap.parse_args()
    draws = [int(d) for d in args.draws.split(",")]
    for net in args.nets.split(","):
        print_per_draw(net, draws, [run(args.wheel, net, d, args.stats) for d in draws], 12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
