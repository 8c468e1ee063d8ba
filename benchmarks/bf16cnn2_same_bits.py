"""Writes one tree's BF16 (AMX, channel-blocked) ResNet-50 and MobileNetV2
outputs at a batch, or compares two such files bit for bit (RESULTS.md
section 202: a kernel change that keeps the AMX order must keep the bits).

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16cnn2_same_bits.py write OUT.npz [--batch 3]
                   python3 <tree>/benchmarks/bf16cnn2_same_bits.py compare A.npz B.npz
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def write(out: str, batch: int) -> None:
    import int8rt
    from amxbf16_nets import build
    from bf16_nets_bench import cnn

    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    got = {}
    for name in ("resnet50", "mobilenet_v2"):
        net = cnn(name, tmp)
        engine = build(net.path, "amx", True)
        got[name] = engine.create_execution_context().run(net.feed(batch, 3))["logits"]
    np.savez(out, **got)
    print(f"{os.path.dirname(int8rt.__file__)}: {', '.join(f'{k} {v.shape}' for k, v in got.items())} -> {out}")


def compare(a: str, b: str) -> None:
    x, y = np.load(a), np.load(b)
    for name in x.files:
        same = x[name].dtype == y[name].dtype and np.array_equal(x[name].view(np.uint32), y[name].view(np.uint32))
        print(f"{name}: {x[name].shape} {'same bits' if same else 'DIFFERENT'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["write", "compare"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--batch", type=int, default=3)
    args = ap.parse_args()
    if args.mode == "write":
        write(args.files[0], args.batch)
    else:
        compare(args.files[0], args.files[1])


if __name__ == "__main__":
    main()
