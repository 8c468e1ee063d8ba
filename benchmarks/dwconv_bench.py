"""int8rt's depthwise int8 conv kernel on MobileNetV2's depthwise shapes, plus
one unchanged 1x1 igemm layer as a control, 1 thread, medians in us.

For comparing two builds: install each into its own folder and run this
script once per build, the processes alternating (a, b, a, b), then compare
the depthwise rows through the control row (load moves both alike). Peers are
in x86_kernels_bench.py; this script only times int8rt, so a run takes
seconds.

Usage: PYTHONPATH=python python3 benchmarks/dwconv_bench.py [--rounds 400]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from bench_util import load_line, time_alternating  # noqa: E402
from int8rt._testing import kernels as K  # noqa: E402

# (channels, height = width, stride); 3x3, pads 1, depthwise.
DW_SHAPES = [(144, 56, 1), (96, 112, 2), (32, 112, 1), (384, 14, 1), (960, 7, 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=400)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    impls: Dict[str, Callable[[], object]] = {}
    for c, h, stride in DW_SHAPES:
        x = rng.integers(-128, 128, (1, h, h, c), dtype=np.int8)
        w = rng.integers(-128, 128, (c, 1, 3, 3), dtype=np.int8)
        p = K.PackedConv2d(w, h, h, np.full(c, 1e-4, np.float32), np.zeros(c, np.float32),
                           lo=0.0, hi=127.0, stride=(stride, stride), pads=(1, 1, 1, 1), groups=c)
        impls[f"dw3x3 {c} @{h} s{stride} ({p.kernel})"] = lambda p=p, x=x: p.run(x)
    x = rng.integers(-128, 128, (1, 56, 56, 144), dtype=np.int8)
    w = rng.integers(-128, 128, (24, 144, 1, 1), dtype=np.int8)
    p = K.PackedConv2d(w, 56, 56, np.full(24, 1e-4, np.float32), np.zeros(24, np.float32),
                       lo=0.0, hi=127.0)
    impls[f"control 1x1 144->24 @56 ({p.kernel})"] = lambda: p.run(x)
    med = time_alternating(impls, args.rounds)
    print(f"int8rt {int8rt.__file__}, 1 thread, {load_line()}")
    for name, sec in med.items():
        print(f"  {name:60s} {sec * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
