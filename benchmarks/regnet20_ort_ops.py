"""Which ops of a nets17 network (benchmarks/realnets/new_families2.py) ONNX
Runtime's quantize_static model reads quantized: newnets_bench's ORT INT8
peer (wheelnets_bench.ort_int8: QDQ, per channel, MinMax) calibrated on 32
crops of one seed; per op type, how many have every activation input coming
from a DequantizeLinear, and how many read a float activation (a tensor ORT
left unquantized). acc66 (issue 12): is ORT's lead on dpn68 draw 5 a float
island?

Usage (from /tmp):
    PYTHONPATH=<wt>/python:<wt>/benchmarks python3 <wt>/benchmarks/regnet20_ort_ops.py dpn68 5 --dir /tmp/regnet20/models
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realnets.new_families2  # noqa: E402,F401  (registers nets17's networks)
from realnets import new_models as M  # noqa: E402
from wheelnets_bench import ort_int8  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("calib_seed", type=int)
    ap.add_argument("--dir", default="/tmp/regnet20/models")
    args = ap.parse_args()
    import onnx

    net, path = M.exported(args.name, args.dir)
    q, _, _ = ort_int8(str(path), net.feeds(32, args.calib_seed), 8)
    model = onnx.load_from_string(q) if isinstance(q, bytes) else onnx.load(q)
    made_by = {o: n.op_type for n in model.graph.node for o in n.output}
    constant = {i.name for i in model.graph.initializer} | {o for o, op in made_by.items() if op == "Constant"}
    quantized, floating = collections.Counter(), collections.Counter()
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant"):
            continue
        acts = [i for i in node.input if i and i not in constant]
        if acts:
            (quantized if all(made_by.get(i) == "DequantizeLinear" for i in acts) else floating)[node.op_type] += 1
    print(f"{args.name}, ORT QDQ calibrated on seed {args.calib_seed}: ops whose every activation input is dequantized "
          f"{dict(quantized)}; ops reading a float activation {dict(floating)}")
    print(f"the exported graph's ops: {dict(collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
