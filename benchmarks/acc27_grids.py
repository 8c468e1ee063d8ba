"""Which activation grid each int8 tensor gets in an engine built as
regnet20_draws.py builds it (issue 12, RESULTS_accuracy.md acc72): per tensor
symmetric (zero point 0), unsigned (zero point -128: [0, threshold]) or
lower-bounded (another zero point: [lo, threshold], lo < 0), with its
producer and readers, and the lowering's own notes on zero-point
activations (why a tensor stayed symmetric). Counts per producer kind.

Usage:
    PYTHONPATH=python:benchmarks python benchmarks/acc27_grids.py rexnet_100 --dir /tmp/acc27/models \
        --calib-seed 2 [--method auto] [--show 40]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realnets.new_families2  # noqa: E402,F401  (registers nets17's / nets20's networks)
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def grid_kind(zero_point: int) -> str:
    """The grid a tensor's zero point names (lower_int8_zero_points.cc)."""
    return "symmetric" if zero_point == 0 else "unsigned" if zero_point == -128 else "lower-bounded"


def net_parser(doc: str) -> argparse.ArgumentParser:
    """The acc27 scripts' common arguments: the network, its model folder, the sample count, the draw."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc27/models")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=2)
    return ap


def main() -> int:
    ap = net_parser(__doc__)
    ap.add_argument("--method", default="auto")
    ap.add_argument("--show", type=int, default=40, help="tensors listed one per line (the first N)")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    net, path = M.exported(args.name, args.dir)
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(net.feeds(args.n, args.calib_seed), algorithm=args.method, batch_size=8)
    engine = int8rt.build_engine(str(path), config)
    plan = engine.int8_plan()
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for k, t in enumerate(plan.tensors):
        kind = grid_kind(t.zero_point)
        by_kind[t.producer.split("_")[0] if t.producer else "(input)"][kind] += 1
        if k < args.show:
            print(f"  {t.tensor:28s} {kind:13s} zp {t.zero_point:5d} scale {t.scale:.5g} producer {t.producer!r} "
                  f"readers {list(t.readers)[:3]} channel_scales {len(t.channel_scales)}")
    total = collections.Counter(grid_kind(t.zero_point) for t in plan.tensors)
    print(f"\n{len(plan.tensors)} int8 tensors: {dict(total)}")
    for line in engine.report():
        if "activations" in line or "flat part" in line:
            print(f"  lowering: {line}")
    auto = engine.build_report().auto_choice or {}
    for key in ("label", "unsigned_activations", "equalize", "bias_correction", "input_floor"):
        if key in auto:
            print(f"  auto {key}: {auto[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
