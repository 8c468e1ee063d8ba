"""acc56: which networks' plans the conv-head rule changes, read from their
ONNX graphs: a Conv / ConvTranspose (through a BatchNormalization, Relu or
Clip the passes fuse into it, when that reads it alone) whose output reaches
only network outputs, directly or through data movement (Flatten and the
int8 move ops: Lowerer::leaves_as_float_only). Such a Conv now writes
float32 from its accumulators; the Gemm / MatMul heads acc54 changed are
listed for comparison.

    python benchmarks/convhead12_scan.py --wheel /tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl \
        /tmp/lead/e2emodels/*.onnx [more.onnx ...]
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import onnx

MOVES = {"Flatten", "Transpose", "Slice", "Split", "Pad", "Reshape", "Squeeze", "Unsqueeze", "DepthToSpace",
         "SpaceToDepth", "Gather"}
FUSED = {"BatchNormalization", "Relu", "Clip"}


def heads(g: onnx.GraphProto, scope: str = "") -> list[str]:
    """'op name -> how it leaves' for each layer the rule makes write float32,
    If / Loop branches included (a branch's outputs are its graph's outputs).
    A 1-D Conv (3-D weights) whose output is itself an output counts: the
    import runs it as Unsqueeze -> 2-D Conv -> Squeeze, data movement."""
    found = []
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                found += heads(a.g, f"{scope}{n.name}/{a.name}/")
    outputs = {o.name for o in g.output}
    weights = {i.name: len(i.dims) for i in g.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)

    def leaves(t: str, path: list[str]) -> bool:
        rs = readers.get(t, [])
        if not rs:
            return t in outputs
        for r in rs:
            if r.op_type not in MOVES or not all(leaves(o, path + [r.op_type]) for o in r.output if o):
                return False
            path.append(r.op_type)
        return True

    for n in g.node:
        if n.op_type not in {"Conv", "ConvTranspose", "Gemm", "MatMul"}:
            continue
        y = n.output[0]
        while len(readers.get(y, [])) == 1 and readers[y][0].op_type in FUSED and y not in outputs:
            y = readers[y][0].output[0]
        path: list[str] = []
        if leaves(y, path):
            one_d = n.op_type == "Conv" and len(n.input) > 1 and weights.get(n.input[1]) == 3
            how = " -> ".join(dict.fromkeys(path)) or ("(the output; 1-D: Squeeze)" if one_d else "(the output)")
            found.append(f"{n.op_type} '{scope}{n.name}' -> {how}")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--wheel", help="facenet_pytorch wheel: scan MTCNN's three stages as calib15_mtcnn.py exports them")
    ap.add_argument("--openwakeword", help="openwakeword wheel: scan its bundled ONNX models")
    args = ap.parse_args()
    named: list[tuple[str, onnx.ModelProto]] = [(Path(p).name, onnx.load(p)) for p in args.models]
    if args.wheel:
        sys.path.insert(0, str(Path(__file__).parent))
        from calib15_mtcnn import mtcnn_model

        named += [(f"MTCNN {n}", onnx.load_from_string(mtcnn_model(args.wheel, n))) for n in ("pnet", "rnet", "onet")]
    if args.openwakeword:
        with zipfile.ZipFile(args.openwakeword) as z:
            named += [(Path(f).name, onnx.load_from_string(z.read(f))) for f in z.namelist() if f.endswith(".onnx")]
    for name, m in named:
        hs = heads(m.graph)
        print(f"{name}: " + ("; ".join(hs) if hs else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
