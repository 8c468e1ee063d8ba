"""How often the exactness rules of the faster AVX2 s8 x s8 loops break on real
networks' weights and activations (benchmarks/RESULTS.md section 74).

The AVX2 sign tile (x86/avx2/igemm_6x16c4s.cc) is exact for any int8 input
and weights in [-127, 127]. The loops that would beat it
(benchmarks/avx2_s8s8_loops.c) are exact only under a rule:

  shift    x + 128 as u8 against s8 weights, vpmaddubsw pair sums: every
           pair of weights (2q, 2q + 1 of one output channel) needs its
           positives <= 128 and its negatives >= -128 (255 * 128 = 32640)
  sgnpair  the sign loop over two groups added in int16: every four weights
           of one lane (pair position p of groups 2m and 2m + 1) needs
           sum |w| <= 255 (|x| reaches 128)

A broken pair / four must go to a residual group (x86/packing_pairs.cc's
mechanism), which costs a whole group step for its block of 8 channels, so
the figure that matters is the share of (block, step) with any break.
The data-dependent alternative (check each tile of 6 pixels at run time and
take the faster loop where its inputs allow) needs max |x| over the tile's
reduction <= 63 (x + 64 in [0, 127]: the plain u8 loop, exact for any
weights) or <= 32767 // S4 (S4: the layer's largest four-sum, sgnpair with
no residual): the script counts such tiles with the activation grid set at
the tensor's |x| maximum (the coarsest grid any calibrator picks, so the most
favourable case; entropy thresholds clip and make |q| larger).

Weights: every Conv2d of e2e_bench's networks (benchmarks/e2e_models.py,
seeded random weights), quantized per output channel to 127 at the channel's
|w| maximum as int8rt's builder does (BatchNorm folding scales whole output
channels, so the int8 codes are the same up to rounding). Convs reading
signed inputs are found with a forward pass on e2e_bench's Gaussian input.
Only 1x1 convs are counted for the weight rules (their reduction order is
the input channel order; the 3x3 stems' merged-tap order differs).

--onnx PATH ... surveys trained weights instead (weights only, every dense conv
with at least 8 input channels per group, each filter tap's reduction over the
input channels on its own, as the igemm packing orders it; a Conv's weight may
be an initializer or a Constant node, as in PaddlePaddle's exports).

Usage: python benchmarks/s8s8_rules.py [--models mobilenet_v2 efficientnet_lite0] [--onnx model.onnx ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

TILE_ROWS = 6  # the AVX2 igemm tile's pixel rows


def quantize_per_channel(w: np.ndarray) -> np.ndarray:
    """int8 codes of w [K, ...] with one symmetric scale per output channel (amax -> 127)."""
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(1, keepdims=True)
    amax[amax == 0] = 1.0
    return np.clip(np.rint(flat / amax * 127), -127, 127).astype(np.int64)


def pair_rule(wq: np.ndarray) -> Tuple[float, float]:
    """(share of broken weight pairs, share of (block of 8, group of 4) steps with one) for the shift loop."""
    K, C = wq.shape
    C4 = (C + 3) // 4 * 4
    w = np.zeros((K + (-K) % 8, C4), np.int64)
    w[:K, :C] = wq
    pairs = w.reshape(w.shape[0], C4 // 2, 2)
    pos = np.where(pairs > 0, pairs, 0).sum(2)
    neg = np.where(pairs < 0, pairs, 0).sum(2)
    broken = (pos > 128) | (neg < -128)
    steps = broken.reshape(w.shape[0] // 8, 8, C4 // 4, 2).any(axis=(1, 3))
    return float(broken[:K].mean()), float(steps.mean())


def four_rule(wq: np.ndarray) -> Tuple[float, float, int]:
    """(share of broken fours, share of (block, pair of groups) steps with one, largest four-sum) for sgnpair."""
    K, C = wq.shape
    C8 = (C + 7) // 8 * 8
    a = np.zeros((K + (-K) % 8, C8), np.int64)
    a[:K, :C] = np.abs(wq)
    # lane p of pair step m: inputs 8m + 2p, 8m + 2p + 1 (group 2m) and 8m + 4 + 2p, 8m + 5 + 2p (group 2m + 1)
    g = a.reshape(a.shape[0], C8 // 8, 2, 2, 2)  # [k][m][group in pair][p][element]
    fours = g.sum(axis=(2, 4))  # [k][m][p]
    broken = fours > 255
    steps = broken.reshape(a.shape[0] // 8, 8, C8 // 8, 2).any(axis=(1, 3))
    return float(broken[:K].mean()), float(steps.mean()), int(fours.max())


def tile_max_abs(x: np.ndarray) -> np.ndarray:
    """max |q| per tile of TILE_ROWS consecutive pixels of x [N, C, H, W] quantized at its |x| maximum."""
    q = np.clip(np.rint(x / np.abs(x).max() * 127), -128, 127)
    rows = q.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
    n = rows.shape[0] // TILE_ROWS * TILE_ROWS
    return np.abs(rows[:n]).reshape(-1, TILE_ROWS * x.shape[1]).max(1)


def survey(name: str) -> List[Dict[str, object]]:
    """One row per 1x1 dense conv of the network whose input has negative values."""
    import torch
    from e2e_models import make_model
    model = make_model(name)
    inputs: Dict[str, np.ndarray] = {}
    hooks = []
    for layer, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, layer=layer: inputs.__setitem__(layer, inp[0].detach().numpy())))
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    out = []
    for layer, m in model.named_modules():
        if not isinstance(m, torch.nn.Conv2d) or m.groups != 1 or m.kernel_size != (1, 1):
            continue
        xin = inputs[layer]
        if xin.min() >= 0:
            continue
        wq = quantize_per_channel(m.weight.detach().numpy())
        pb, ps = pair_rule(wq)
        fb, fs, s4 = four_rule(wq)
        tmax = tile_max_abs(xin)
        out.append({"layer": layer, "C": m.in_channels, "K": m.out_channels, "pairs_broken": pb,
                    "pair_steps": ps, "fours_broken": fb, "four_steps": fs, "s4max": s4,
                    "tiles_u8": float((tmax <= 63).mean()),
                    "tiles_sgnpair": float((tmax * s4 <= 32767).mean())})
    return out


def max_pair(wq: np.ndarray) -> np.ndarray:
    """Per weight pair (2q, 2q + 1 of one output channel) of wq [K, C]: max(positives, -negatives)."""
    K, C = wq.shape
    pairs = wq[:, :C // 2 * 2].reshape(K, C // 2, 2)
    return np.maximum(np.where(pairs > 0, pairs, 0).sum(2), -np.where(pairs < 0, pairs, 0).sum(2))


def survey_onnx(path: str) -> Tuple[int, float, float, float, float]:
    """(dense convs counted, share of shift steps hit, share of sgnpair steps hit, both weighted by weight
    count; the median over convs of the largest pair sum max(positives, -negatives), and the share of
    pairs above 242): the last two say how far inputs in [-m, 127] could be shifted by m into the u8
    loop with no residual (m <= 32767 // largest pair - 127: 13 at 233, 8 at 242)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    hits, weights, largest, above = [], [], [], []
    for n in model.graph.node:
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w = consts.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if w is None or w.ndim != 4 or group != 1 or w.shape[1] < 8:
            continue
        K, C, R, S = w.shape
        wq = quantize_per_channel(w).reshape(K, C, R, S)
        taps = [(pair_rule(wq[:, :, r, c])[1], four_rule(wq[:, :, r, c])[1]) for r in range(R) for c in range(S)]
        hits.append(np.mean(taps, axis=0))
        weights.append(w.size)
        pairs = np.concatenate([max_pair(wq[:, :, r, c]).ravel() for r in range(R) for c in range(S)])
        largest.append(int(pairs.max()))
        above.append(float((pairs > 242).mean()))
    if not hits:
        return 0, float("nan"), float("nan"), float("nan"), float("nan")
    h, wt = np.array(hits), np.array(weights, float)[:, None]
    shift, pair = (h * wt).sum(0) / wt.sum()
    return len(hits), float(shift), float(pair), float(np.median(largest)), float(np.mean(above))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=["mobilenet_v2", "efficientnet_lite0"])
    ap.add_argument("--onnx", nargs="*", default=[], help="trained models: weight rules only")
    args = ap.parse_args()
    for path in args.onnx:
        n, shift, pair, largest, above = survey_onnx(path)
        print(f"{Path(path).name}: {n} dense convs; (block, step)s hit, weighted by weight count: "
              f"shift {shift:.3f}, sgnpair {pair:.3f}; largest pair sum, median over convs {largest:.0f}, "
              f"pairs above 242 {above:.4f}")
    for name in args.models:
        rows = survey(name)
        print(f"{name}: {len(rows)} 1x1 convs with signed inputs")
        print(f"  {'layer':28s} {'C':>4s} {'K':>4s}  shift: pairs  steps   sgnpair: fours  steps  S4max"
              f"   tiles: x+64 u8  sgnpair")
        for r in rows:
            print(f"  {r['layer']:28s} {r['C']:4d} {r['K']:4d}  {r['pairs_broken']:12.3f} {r['pair_steps']:6.2f}"
                  f"  {r['fours_broken']:15.3f} {r['four_steps']:6.2f} {r['s4max']:6d}"
                  f"  {r['tiles_u8']:15.2f} {r['tiles_sgnpair']:8.2f}")
        macs = np.array([r["C"] * r["K"] for r in rows], float)
        for key in ("pair_steps", "four_steps", "tiles_u8", "tiles_sgnpair"):
            v = np.array([r[key] for r in rows])
            print(f"  weighted by C*K: {key} {float((v * macs).sum() / macs.sum()):.3f}")


if __name__ == "__main__":
    main()
