"""The two AVX512-VNNI depthwise kernels, forced by name, on every 5x5
depthwise conv of EfficientNet-B0 / -Lite0 and MobileNetV3-Large (the pair
kernel takes filters 4 or more wide only; MobileNetV2's and the others' 3x3
depthwise convs go to the one-tap kernel either way), at batch 1 and 8: the
figures behind the pair / one-tap rule of avx512vnni/provider.cc (RESULTS.md
§165). Also prints which kernel the registry picks. One process, 1 thread,
kernels alternated call by call, process CPU time, medians; outputs compared
byte for byte.

    PYTHONPATH=python python benchmarks/dwsel_dw_bench.py > run1.txt   # and run2.txt ...
    python benchmarks/dwsel_dw_bench.py --summarize run*.txt        # medians over the runs
"""
from __future__ import annotations

import argparse
import sys
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402

# (channels, input H = W, stride, networks): the 5x5 depthwise convs at 224 x 224.
SHAPES = [(72, 56, 2, "V3"), (144, 56, 2, "B0 Lite0"), (120, 28, 1, "V3"), (240, 28, 1, "B0 Lite0"),
          (480, 14, 1, "B0 Lite0"), (672, 14, 1, "B0 Lite0"), (672, 14, 2, "B0 Lite0 V3"),
          (960, 7, 1, "V3"), (1152, 7, 1, "B0 Lite0")]
PAIRS, ONE_TAP = "conv_s8_dw_pairs_16c_avx512vnni", "conv_s8_dw_64c_avx512vnni"


def summarize(paths: List[str]) -> None:
    """Per shape and batch over the runs' tables: median one-tap / pairs ratio, its range, median ms."""
    runs: Dict[Tuple[int, ...], List[Tuple[float, float]]] = defaultdict(list)
    for path in paths:
        for line in Path(path).read_text().splitlines():
            cells = [x.strip() for x in line.split("|")]
            if len(cells) > 10 and cells[1].isdigit():
                runs[tuple(int(cells[i]) for i in (1, 2, 3, 5))].append((float(cells[6]), float(cells[7])))
    print(f"{len(paths)} runs; | C | H=W in | stride | batch | one-tap / pairs median [range] | pairs ms | one-tap ms |")
    for (c, hw, stride, b), v in runs.items():
        r = [o / p for p, o in v]
        print(f"| {c} | {hw} | {stride} | {b} | {statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}] | "
              f"{statistics.median(p for p, _ in v):.3f} | {statistics.median(o for _, o in v):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--summarize", nargs="+", metavar="RUN", help="earlier runs' output: medians over them")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(bench_util.machine_line())
    print("| C | H=W in | stride | nets | batch | pairs ms | one-tap ms | one-tap / pairs | registry picks | same bytes |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
    for c, hw, stride, nets in SHAPES:
        w = rng.integers(-127, 128, (c, 1, 5, 5), dtype=np.int8)
        scale = np.full(c, 1.0 / (40 * 25), np.float32)

        def packed(name: "str | None") -> "K.PackedConv2d":
            return K.PackedConv2d(w, hw, hw, scale, stride=(stride, stride), pads=(2,) * 4, groups=c, kernel=name)

        convs = {PAIRS: packed(PAIRS), ONE_TAP: packed(ONE_TAP)}
        picked = packed(None).kernel
        for b in args.batches:
            x = rng.integers(-128, 128, (b, hw, hw, c), dtype=np.int8)
            outs = [p.run(x) for p in convs.values()]
            t = bench_util.alternating_samples({n: (lambda p=p: p.run(x)) for n, p in convs.items()}, args.rounds,
                                               min_time=0.02 * args.rounds, clock=time.process_time)
            pm, om = (float(np.median(t[n])) * 1e3 for n in (PAIRS, ONE_TAP))
            same = all(np.array_equal(o, outs[0]) for o in outs)
            print(f"| {c} | {hw} | {stride} | {nets} | {b} | {pm:.3f} | {om:.3f} | {om / pm:.2f} | {picked} | {same} |",
                  flush=True)
    print(bench_util.load_line())


if __name__ == "__main__":
    main()
