"""The layers of 24 output channels per group on the AVX512-VNNI tier per
int8rt tree (RESULTS.md section 251): PP-OCR det's 3 x 3 96 -> 24 convs (the
FPN and head convs at 10, 20, 40, 80 (x2) for a 320 input), EfficientNet-B0's
1x1 96 -> 24 and 144 -> 24 projections at 56 x 56. For each saved engine
(avx2e2e_ab.py --save's DIR/NET) and batch, the thread CPU time of each of
those layers (minimum over --rounds profiles of 2 runs, 1 thread), their sum
and the sum of every other layer (the same kernels in every tree: the load's
share). The trees alternate as worker processes (--trees: python/ folders,
their order reversed every other pass), --passes times; at the end per
layer the median over passes for each tree and its ratio to the first tree.

Usage: python benchmarks/vnni21_layers.py --dir /tmp/vnni21/eng \
           --trees /tmp/vnni21/base/python /tmp/vnni21/br/python [--models ppocr_det efficientnet_b0] \
           [--passes 5] [--batches 1 8]
"""
from __future__ import annotations

from pathlib import Path

from saved_engine_layers import compared_trees, floats_and_kernels, layer_minima, parse_args, tree_changes

FOCUS = {
    "ppocr_det": ("p2o.Conv.49", "p2o.Conv.52", "p2o.Conv.55", "p2o.Conv.58", "p2o.Conv.61"),
    "efficientnet_b0": ("/features/features.2/body/body.3/body.3.0/Conv",
                        "/features/features.3/body/body.3/body.3.0/Conv"),
}


def worker(d: Path, batch: int, rounds: int) -> dict:
    """{layer: ms, layer + ' kernel': name, 'K=24': ms sum, 'other': ms sum} of one engine (d.name: the net)."""
    out: dict = {"K=24": 0.0, "other": 0.0}
    for layer, ms in layer_minima(d, batch, rounds):
        if layer["name"] in FOCUS[d.name]:
            out[layer["name"]] = ms
            out[layer["name"] + " kernel"] = layer["detail"]
            out["K=24"] += ms
        else:
            out["other"] += ms
    return out


def main() -> None:
    args = parse_args(__doc__, "ppocr_det", 5, worker)
    if args is None:
        return
    for net, batch, first, tree, sums in compared_trees(__file__, args, lambda o: floats_and_kernels(o, unique=True)):
        print(f"{net} b{batch} medians over passes, {first} -> {tree}:", flush=True)
        for k, a, b, am, bm in tree_changes(sums, first, tree):
            print(f"  {k[-40:]:40s} {a:8.3f} -> {b:8.3f} ms  x{b / a:.3f}  (minima x{bm / am:.3f})", flush=True)


if __name__ == "__main__":
    main()
