"""acc72 (issue 12): auto's activation grid against ONNX Runtime's uint8 one, tensor by tensor, on a nets20 network.

For each int8 tensor of auto's engine (built as regnet20_draws.py builds it): the grid it gets (symmetric /
unsigned / lower-bounded: zero point 0 / -128 / other; benchmarks/acc27_grids.py), its step (the plan's scale),
and beside it ORT quantize_static's (Percentile and MinMax, QDQ, uint8 asymmetric activations, as
acc24_ort_ranges.py builds them) range [lo, hi] and step (hi - lo) / 255. ORT MinMax's lo is the calibration
draw's least value (or 0), so it also says which symmetric tensors are one-sided on the draw and how fine a grid
with that calibrated lower bound would be at auto's own threshold: (T - max(lo, -T)) / 255 against T / 127.
Summary: per grid kind and per producer kind, the median of int8rt step / ORT Percentile step.

Usage:
    PYTHONPATH=python:benchmarks python benchmarks/acc27_steps.py rexnet_100 --dir /tmp/acc27/models --calib-seed 2
"""
from __future__ import annotations

import collections
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
import realnets.new_families2  # noqa: E402,F401  (registers nets17's / nets20's networks)
from acc24_ort_ranges import activation_ranges, ort_model  # noqa: E402
from acc27_grids import grid_kind, net_parser  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = net_parser(__doc__)
    ap.add_argument("--show", type=int, default=30, help="list the SHOW tensors with the largest step ratio")
    args = ap.parse_args()
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    logging.getLogger("int8rt").setLevel(logging.ERROR)
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.n, args.calib_seed)
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
    engine = int8rt.build_engine(str(path), config)
    tensors = engine.int8_plan().tensors
    one = str(B.one_file(path))
    pct = activation_ranges(ort_model(one, calib, "Percentile", False))
    mm = activation_ranges(ort_model(one, calib, "MinMax", False))
    rows = []
    for t in tensors:
        if t.tensor not in pct or t.channel_scales:
            continue
        lo_i, hi_i = (-128 - t.zero_point) * t.scale, (127 - t.zero_point) * t.scale
        lo_p, hi_p = pct[t.tensor]
        step_p = (hi_p - lo_p) / 255
        lo_m, hi_m = mm.get(t.tensor, (float("nan"), float("nan")))
        kind = grid_kind(t.zero_point)
        # the grid a calibrated lower bound would give at auto's threshold (symmetric tensors only)
        thr = 127 * t.scale if kind == "symmetric" else float("nan")
        bounded = (thr - max(lo_m, -thr)) / 255 if kind == "symmetric" else t.scale
        rows.append((t.tensor, kind, t.producer, t.scale, lo_i, hi_i, step_p, lo_p, hi_p, lo_m, hi_m, bounded))
    print(f"\n{len(rows)} int8 tensors named by ORT (of {len(tensors)}); int8rt step / ORT Percentile step:")
    groups: dict[str, list[float]] = collections.defaultdict(list)
    for r in rows:
        groups[r[1]].append(r[3] / r[6])
    for kind, v in sorted(groups.items()):
        print(f"  {kind:13s} {len(v):4d} tensors: median {np.median(v):.3f}, share above 1.3: "
              f"{np.mean(np.array(v) > 1.3):.3f}")
    sym = [r for r in rows if r[1] == "symmetric"]
    one_sided = [r for r in sym if r[9] > -0.25 * r[10]]
    gain = np.array([r[3] / r[11] for r in sym])
    print(f"symmetric tensors one-sided on the draw (least value above -0.25 of the greatest): {len(one_sided)} "
          f"of {len(sym)}; a calibrated lower bound at auto's thresholds would make their step finer by "
          f"(median over all symmetric) {np.median(gain):.3f}x, above 1.3x on {np.mean(gain > 1.3):.3f}")
    by_op: dict[str, list[float]] = collections.defaultdict(list)
    for r in sym:
        by_op[r[2].split("_")[1] if r[2].count("_") >= 2 else r[2]].append(r[3] / r[11])
    for op, v in sorted(by_op.items(), key=lambda kv: -len(kv[1])):
        print(f"  symmetric, producer {op:10s} {len(v):4d}: calibrated-bound step gain median {np.median(v):.3f}")
    print(f"\nthe {args.show} tensors with the largest int8rt / ORT Percentile step ratio:")
    for r in sorted(rows, key=lambda r: -r[3] / r[6])[:args.show]:
        print(f"  {r[0]:22s} {r[1]:13s} {r[2]:28s} int8rt [{r[4]:.3g}, {r[5]:.3g}] step {r[3]:.4g} | ORT pct "
              f"[{r[7]:.3g}, {r[8]:.3g}] step {r[6]:.4g} ratio {r[3] / r[6]:.2f} | draw [{r[9]:.3g}, {r[10]:.3g}]"
              f" bounded step {r[11]:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
