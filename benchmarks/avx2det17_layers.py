"""PP-OCR det's two AVX2 gaps per tree (RESULTS.md section 242): for each
saved engine (avx2e2e_ab.py --save's DIR/NET) and batch, the thread CPU time
(minimum over --rounds profiles of 2 runs, 1 thread) of its int8rt.QConvTranspose
layers (the 2 x 2 / 2 upsamplings), of its 3 x 3 96 -> 24 convs (the FPN and
head convs, named by --fpn) and of every other layer (the same kernels in
both trees: the load's share), each transposed layer also on its own. The
trees alternate as worker processes (--trees: python/ folders, their order
reversed every other pass), --passes times; at the end the median over passes
of each tree's sums and their ratio.

Usage: python benchmarks/avx2det17_layers.py --dir /tmp/avx2det16/eng \
           --trees /tmp/avx2det17/base/python python [--passes 3] [--batches 1 8]
"""
from __future__ import annotations

from pathlib import Path

from saved_engine_layers import compared_trees, floats_and_kernels, layer_minima, parse_args, tree_changes

# PP-OCRv3/v4 det (ppocr_det.onnx): the 3 x 3 96 -> 24 convs at 10, 20, 40, 80 (x2) for a 320 input.
FPN = ("p2o.Conv.49", "p2o.Conv.52", "p2o.Conv.55", "p2o.Conv.58", "p2o.Conv.61")
FORMS = ("transpose", "3x3 96->24", "other")


def worker(d: Path, batch: int, rounds: int) -> dict:
    """{form: ms sum, form + ' n': layers, layer name: ms for the transposes} of one engine on this tree."""
    out: dict = {f: 0.0 for f in FORMS} | {f + " n": 0 for f in FORMS}
    for layer, ms in layer_minima(d, batch, rounds):
        form = "other"
        if layer["op"] == "int8rt.QConvTranspose":
            form = "transpose"
            out[layer["name"]] = ms
            out[layer["name"] + " kernel"] = layer["detail"]
        elif layer["name"] in FPN:
            form = "3x3 96->24"
        out[form] += ms
        out[form + " n"] += 1
    return out


def main() -> None:
    args = parse_args(__doc__, "ppocr_det", 3, worker)
    if args is None:
        return
    for net, batch, first, tree, sums in compared_trees(__file__, args, floats_and_kernels):
        cells = [f"{k} {a:.3f} -> {b:.3f} ms (x{b / a:.2f}; minima x{bm / am:.2f})"
                 for k, a, b, am, bm in tree_changes(sums, first, tree)]
        print(f"{net} b{batch} medians, {first} -> {tree}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
