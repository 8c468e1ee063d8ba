"""Col2Im (``torch.nn.functional.fold``) in its non-overlapping form, rewritten
as data movement before import.

MobileViT-v2 folds its patches back with ``F.fold(kernel_size=p, stride=p)``,
which the default exporter writes as ``Col2Im`` (opset 18). When the blocks
tile the image exactly (strides == block_shape, no pads, dilations 1, a
constant 2-D image_shape divisible by the block), every output pixel comes
from exactly one input element and no sums happen:

    in  [N, C*kh*kw, (H/kh)*(W/kw)]  (channel c*kh*kw + i*kw + j, block bh*(W/kw) + bw)
    out [N, C, H, W]                  out[n, c, bh*kh + i, bw*kw + j] = in[n, c*kh*kw + i*kw + j, bh*(W/kw) + bw]

which is Reshape [0, -1, kh, kw, H/kh, W/kw] -> Transpose (0, 1, 4, 2, 5, 3)
-> Reshape [0, -1, H, W]: three moves the engine (float and int8) already
runs. Any other Col2Im (overlapping blocks that sum) is left as it is and the
importer refuses it as an unsupported op.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["col2im_as_moves"]


def _constants(graph: onnx.GraphProto) -> Dict[str, np.ndarray]:
    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def _moves(node: onnx.NodeProto, consts: Dict[str, np.ndarray]) -> Optional[List[onnx.NodeProto]]:
    """The three nodes that replace ``node``, or None when it is not the non-overlapping form."""
    if len(node.input) != 3 or node.input[1] not in consts or node.input[2] not in consts:
        return None
    image, block = consts[node.input[1]].reshape(-1).tolist(), consts[node.input[2]].reshape(-1).tolist()
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if len(image) != 2 or len(block) != 2 or list(attrs.get("strides", [1, 1])) != block \
            or any(attrs.get("pads", [0] * 4)) or list(attrs.get("dilations", [1, 1])) != [1, 1] \
            or any(s % b for s, b in zip(image, block)):
        return None
    (h, w), (kh, kw) = image, block
    stem = node.name or node.output[0]
    first, moved = stem + "_blocks", stem + "_moved"
    shape1 = helper.make_node("Constant", [], [stem + "_shape1"], value=numpy_helper.from_array(
        np.array([0, -1, kh, kw, h // kh, w // kw], np.int64)))
    shape2 = helper.make_node("Constant", [], [stem + "_shape2"], value=numpy_helper.from_array(
        np.array([0, -1, h, w], np.int64)))
    return [shape1, shape2,
            helper.make_node("Reshape", [node.input[0], shape1.output[0]], [first], name=stem + "_reshape_blocks"),
            helper.make_node("Transpose", [first], [moved], name=stem + "_transpose", perm=[0, 1, 4, 2, 5, 3]),
            helper.make_node("Reshape", [moved, shape2.output[0]], list(node.output), name=stem + "_reshape_image")]


def col2im_as_moves(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` with every non-overlapping Col2Im of its main graph replaced by its
    three moves (module doc): a copy when one is replaced, ``proto`` itself otherwise."""
    if not any(n.op_type == "Col2Im" for n in proto.graph.node):
        return proto
    consts = _constants(proto.graph)
    nodes: List[onnx.NodeProto] = []
    changed = False
    for n in proto.graph.node:
        moves = _moves(n, consts) if n.op_type == "Col2Im" else None
        nodes.extend(moves if moves is not None else [n])
        changed = changed or moves is not None
    if not changed:
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy
