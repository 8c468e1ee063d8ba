"""Which int8 tensors carry the gap between two calibrators on a network of
nets17 (benchmarks/realnets/new_families2.py; issue 12, RESULTS_accuracy.md
acc66): threshold_group_ablation.py's method (the first calibrator's cache
with one group of tensors given the second's thresholds, one engine per
group; its groups: the input, the input's linear image, stages between
strided Convs, tensors by the op that makes them) on newnets_bench's feeds:
32 calibration crops of ``--calib-seed``, batches of 8, scored by centred
cosine against ONNX Runtime FP32 on the evaluation crops of every
``--eval-seeds`` pooled, and on the calibration crops.

Usage (from /tmp):
    PYTHONPATH=<wt>/python python3 <wt>/benchmarks/regnet20_groups.py regnet_x_400mf mse minmax \
        --dir /tmp/regnet20/models --calib-seed 2 --eval-seeds 1,4
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realnets.new_families2  # noqa: E402,F401  (registers nets17's networks)
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402
from realnets.issue11_rows import _split  # noqa: E402
from threshold_group_ablation import _cache, _engine, _groups  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("base", help="the calibrator whose cache is changed (mse)")
    ap.add_argument("other", help="the calibrator whose thresholds a group gets (minmax)")
    ap.add_argument("--dir", default="/tmp/regnet20/models")
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seeds", default="1,4")
    ap.add_argument("--only", default="", help="comma-separated group names to score (default: all)")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy.metrics import centred_cosine

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    net, path = M.exported(args.name, args.dir)
    evaluation = [f for s in args.eval_seeds.split(",") for f in _split(net.feeds(32, int(s)), 8)]
    row = SimpleNamespace(path=str(path), calib=_split(net.feeds(32, args.calib_seed), 8), evaluation=evaluation)
    fp32 = M.ort_session(row.path)
    refs = {k: np.concatenate([fp32.run(None, f)[0] for f in v])
            for k, v in (("evaluation", row.evaluation), ("calibration", row.calib))}
    with tempfile.TemporaryDirectory() as folder:
        header, base = _cache(row, args.base, folder)
        _, other = _cache(row, args.other, folder)

        def score(scales: dict[str, str]) -> str:
            ctx = _engine(row, args.base, header, scales, folder).create_execution_context()
            out = {k: np.concatenate([ctx.run(f)["out"] for f in v])
                   for k, v in (("evaluation", row.evaluation), ("calibration", row.calib))}
            return (f"evaluation ccos {centred_cosine(refs['evaluation'], out['evaluation']):.4f}; calibration ccos "
                    f"{centred_cosine(refs['calibration'], out['calibration']):.4f}")

        print(f"{args.base}: {score(base)}", flush=True)
        print(f"{args.other}: {score(other)}", flush=True)
        only = set(args.only.split(",")) - {""}
        for name, members in _groups(row, list(base)).items():
            if only and name not in only:
                continue
            print(f"{args.base} with {args.other} on {name} ({len(members)} tensors): "
                  f"{score({**base, **{n: other[n] for n in members}})}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
