"""RESULTS.md section 279: which networks' BF16 engines (``BuilderConfig(precision="fp32", bf16=True)``) the
change to grouped convs leaves as they were: each ONNX file built under the base tree's python/ and this tree's
(one subprocess each), engine.layers() compared as (op, precision, detail) rows and the build report's
channel-blocked lines; prints "same" or the rows that differ.

Usage: python benchmarks/gconv27_same_layers.py --base /tmp/gconv27/base_python [--tree <this tree's python/>] \
           /tmp/det24/models/resnet50.onnx /tmp/det24/models/mobilenet_v2.onnx ...
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = """
import contextlib, io, json, sys
import int8rt
with contextlib.redirect_stdout(io.StringIO()):
    e = int8rt.build_engine(sys.argv[1], int8rt.BuilderConfig(precision="fp32", bf16=True))
print(json.dumps({"layers": [[la["op"], la["precision"], la["detail"]] for la in e.layers()],
                  "report": [line for line in e.report() if "channel-blocked" in line]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the base tree's python/ directory")
    ap.add_argument("--tree", default=os.path.join(os.path.dirname(HERE), "python"))
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    print("command:", " ".join(sys.argv))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    for path in a.models:
        got = {}
        for label, tree in (("base", a.base), ("gconv27", a.tree)):
            out = subprocess.run([sys.executable, "-c", CHILD, path], env=dict(os.environ, PYTHONPATH=tree),
                                 capture_output=True, text=True, check=True).stdout
            got[label] = json.loads(out.strip().splitlines()[-1])
        b, n = got["base"], got["gconv27"]
        name = os.path.basename(path)
        if b == n:
            print(f"{name}: same ({len(b['layers'])} layers; {'; '.join(b['report'])})")
            continue
        print(f"{name}: DIFFERENT ({len(b['layers'])} -> {len(n['layers'])} layers)")
        print("  base report:    " + "; ".join(b["report"]))
        print("  gconv27 report: " + "; ".join(n["report"]))
        for i, (x, y) in enumerate(zip(b["layers"], n["layers"])):
            if x != y:
                print(f"  layer {i}: {x} -> {y}")


if __name__ == "__main__":
    main()
