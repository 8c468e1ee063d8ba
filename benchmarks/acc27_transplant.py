"""acc72 (issue 12): how much of ONNX Runtime Percentile's lead on rexnet_100 is its uint8 grid, on int8rt's grids.

acc24_ort_ranges.py put ORT Percentile's ranges into an int8rt cache (threshold max(|lo|, |hi|)) and built the
engine with unsigned_activations off; this builds the same transplant in each of int8rt's activation forms, so the
ranges are ORT's and only the grid differs:
  sym          unsigned_activations and asymmetric_activations off: every tensor on the symmetric int8 grid
  lowerbound   asymmetric on (the default): table outputs (SiLU: lo -0.28) on [lo, threshold]
  lb+unsigned  asymmetric and unsigned on: ReLU / ReLU6 / sigmoid outputs on [0, threshold] as well
against ORT Percentile itself (uint8 asymmetric on every activation) and ORT Percentile ActivationSymmetric.
No corrections (no bias correction / equalization: a cache build). Centred cosine against ORT FP32 per evaluation
seed (newnets_bench.metrics), the int8 tensors per grid kind of each engine.

Usage:
    PYTHONPATH=python:benchmarks python benchmarks/acc27_transplant.py rexnet_100 --dir /tmp/acc27/models \
        --calib-seed 2 --eval-seeds 1,3
"""
from __future__ import annotations

import collections
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
import realnets.new_families2  # noqa: E402,F401  (registers nets17's / nets20's networks)
from acc24_ort_ranges import activation_ranges, ort_model  # noqa: E402
from acc27_grids import grid_kind, net_parser  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402

FORMS = {"sym": dict(unsigned_activations=False, asymmetric_activations=False),
         "lowerbound": dict(unsigned_activations=False, asymmetric_activations=True),
         "lb+unsigned": dict(unsigned_activations=True, asymmetric_activations=True)}


def main() -> int:
    ap = net_parser(__doc__)
    ap.add_argument("--eval-seeds", default="1,3")
    ap.add_argument("--work", default="/tmp/acc27/work")
    args = ap.parse_args()
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    import int8rt
    from int8rt.calib.cache import read_cache, write_cache
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    logging.getLogger("int8rt").setLevel(logging.ERROR)
    os.makedirs(args.work, exist_ok=True)
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.n, args.calib_seed)
    seeds = [int(s) for s in args.eval_seeds.split(",")]
    evals = {s: net.feeds(args.n, s) for s in seeds}
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in evals.items()}

    def show(label: str, run, extra: str = "") -> None:
        cc = [B.metrics(net, B.run_all(run, evals[s], 4), refs[s])["ccos"] for s in seeds]
        print(f"  {label:34s} " + "  ".join(f"eval {s} {c:.4f}" for s, c in zip(seeds, cc)) + extra, flush=True)

    one = str(B.one_file(path))
    print(f"calibration seed {args.calib_seed}:")
    pct = None
    for label, sym in (("ORT Percentile (uint8 asym.)", False), ("ORT Percentile ActivationSymmetric", True)):
        q = ort_model(one, calib, "Percentile", sym)
        pct = pct or activation_ranges(q)
        qs = M.ort_session(q)
        show(label, lambda f: qs.run(None, f)[0])
    cache = os.path.join(args.work, f"{args.name}_{args.calib_seed}_minmax.cache")
    for p in (cache, cache + ".channels.json"):
        if os.path.exists(p):
            os.remove(p)

    def build(form: dict, cache_file: str):
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, **form)
        config.calibrator = make_calibrator(calib, algorithm="minmax", batch_size=8, cache_file=cache_file)
        return int8rt.build_engine(str(path), config)

    build(FORMS["sym"], cache)  # writes int8rt's own minmax cache: the tensors ORT does not name keep it
    base = read_cache(open(cache, "rb").read())[2]
    moved = {k: max(abs(pct[k][0]), abs(pct[k][1])) / 127.0 for k in base if k in pct}
    transplanted = os.path.join(args.work, f"{args.name}_{args.calib_seed}_ortpct.cache")
    with open(transplanted, "wb") as f:
        f.write(write_cache({**base, **moved}, "minmax"))
    print(f"  int8rt with ORT Percentile's ranges ({len(moved)} of {len(base)} cache entries; minmax elsewhere):")
    for label, form in FORMS.items():
        engine = build(form, transplanted)
        kinds = collections.Counter(grid_kind(t.zero_point) for t in engine.int8_plan().tensors)
        ctx = engine.create_execution_context()
        show(f"int8rt {label}", lambda f: ctx.run(f)["out"], f"   grids {dict(sorted(kinds.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
