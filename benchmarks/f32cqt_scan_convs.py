"""§230: which Convs of the given ONNX models take the float32 depthwise
kernel's single-channel rule (C == M == group == 1) or are depthwise with C
not a multiple of 8 (the AVX2 tier's planes outside a group of 8, now on its
phase walk when their output rows are 8+ pixels wide).

Usage: python benchmarks/f32cqt_scan_convs.py /tmp/lead/e2emodels/*.onnx
"""
from __future__ import annotations

import sys

import onnx
from onnx import helper, shape_inference


def scan(path: str) -> list[tuple]:
    """(node name, C, M, group, kernel, strides) of each such Conv."""
    m = shape_inference.infer_shapes(onnx.load(path))
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    hits = []
    for n in m.graph.node:
        ws = inits.get(n.input[1]) if n.op_type == "Conv" else None
        if ws is None:
            continue
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        g = a.get("group", 1)
        if ws[1] == 1 and ws[0] == g and (g == 1 or g % 8 != 0):
            hits.append((n.name[:40], g, ws[0], g, ws[2:], a.get("strides")))
    return hits


def main() -> int:
    for path in sys.argv[1:]:
        hits = scan(path)
        print(f"{path}: {len(hits)} {hits[:4]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
