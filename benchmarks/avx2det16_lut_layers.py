"""PP-OCR's int8 table layers per tree (RESULTS.md section 236): for each
saved engine (avx2e2e_ab.py --save's DIR/NET) and batch, the thread CPU time
(minimum over --rounds profiles of 2 runs, 1 thread) of its int8rt.QLut
layers summed by form, per-channel tables (lookup_channels_s8) and one
table (lookup_s8), beside the sum of every other layer (the same kernels in
both trees: the load's share). The trees alternate as worker processes
(--trees: python/ folders, their order reversed every other pass), --passes
times; at the end the median over passes of each tree's sums and their ratio.

Usage: python benchmarks/avx2det16_lut_layers.py --dir /tmp/avx2det16/eng \
           --trees /tmp/avx2det16/base/python python --models ppocr_det ppocr_rec [--passes 3]
"""
from __future__ import annotations

from pathlib import Path

from saved_engine_layers import compared_trees, layer_minima, parse_args, tree_changes

FORMS = ("per-channel", "one table", "other")


def worker(d: Path, batch: int, rounds: int) -> dict:
    """{form: ms sum, form + ' n': layers} of one engine on this tree."""
    out = {f: 0.0 for f in FORMS} | {f + " n": 0 for f in FORMS}
    for layer, ms in layer_minima(d, batch, rounds):
        form = "other"
        if layer["op"] == "int8rt.QLut":
            form = "per-channel" if "per-channel lookup" in layer["detail"] else "one table"
        out[form] += ms
        out[form + " n"] += 1
    return out


def main() -> None:
    args = parse_args(__doc__, "ppocr_det", 3, worker)
    if args is None:
        return
    for net, batch, first, tree, sums in compared_trees(__file__, args, lambda o: ", ".join(
            f"{f} {o[f]:.3f} ms ({o[f + ' n']})" for f in FORMS)):
        cells = [f"{f} {a:.3f} -> {b:.3f} ms (x{b / a:.2f})" if a else f"{f} -"
                 for f, a, b, _, _ in tree_changes(sums, first, tree, list(FORMS))]
        print(f"{net} b{batch} medians, {first} -> {tree}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
