"""acc27 (issue 12, RESULTS_accuracy.md acc72): auto's calibration + build
time and accuracy with its unsigned-form decision as it is (the finer grid
kept unless symmetric is clearly lower: unsigned_form.FormTrial.keep) and
as main had it (unsigned kept only where strictly lower: the property
patched in this process, the library unchanged), alternated in one process
(new, old, new, old, ...: medians and the ratio of process CPU time, one
int8rt thread), on one nets20 network and calibration draw
(benchmarks/newnets_methods.py's feeds, model and metrics: centred cosine
against ONNX Runtime FP32 on the evaluation seeds). acc23_calib_time.py's
layout.

Usage (from the worktree):
    PYTHONPATH=python:benchmarks python benchmarks/acc27_calib_time.py rexnet_100 \
        --dir /tmp/acc27/models --calib-seed 5 --eval-seeds 1,3 --repeats 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
import realnets.new_families2  # noqa: E402,F401 - adds nets20's networks to new_models.NETS
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def _main_rule(self) -> bool:
    """main's FormTrial.keep: the form tried only where strictly lower."""
    from int8rt.accuracy import decision_rule

    return self.tried is not None and decision_rule.keeps(self.tried, self.current, test="lower",
                                                          uncentred=self.uncentred)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name")
    ap.add_argument("--dir", default="/tmp/acc27/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=5)
    ap.add_argument("--eval-seeds", default="1,3")
    ap.add_argument("--repeats", type=int, default=2, help="builds per setting (alternated)")
    args = ap.parse_args()
    print("command: python " + " ".join(sys.argv))
    print(machine_line())
    import int8rt
    from int8rt.accuracy.unsigned_form import FormTrial
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.calib, args.calib_seed)
    sets = {int(s): net.feeds(args.eval, int(s)) for s in args.eval_seeds.split(",")}
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}
    rule = FormTrial.keep
    cpu: dict[str, list[float]] = {"new": [], "old": []}
    wall: dict[str, list[float]] = {"new": [], "old": []}
    for i in range(args.repeats):
        for setting in ("new", "old"):
            FormTrial.keep = rule if setting == "new" else property(_main_rule)
            config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
            config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
            c0, w0 = time.process_time(), time.perf_counter()
            engine = int8rt.build_engine(str(path), config)
            cpu[setting].append(time.process_time() - c0)
            wall[setting].append(time.perf_counter() - w0)
            ctx = engine.create_execution_context()
            ccos = {s: B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s])["ccos"]
                    for s, e in sets.items()}
            a = engine.build_report().auto_choice
            print(f"{args.name} rule {setting} build {i + 1}: cpu {cpu[setting][-1]:.1f} s, wall "
                  f"{wall[setting][-1]:.1f} s, ccos " + ", ".join(f"eval {s} {v:.4f}" for s, v in ccos.items())
                  + f"; thresholds {a.get('thresholds')}, unsigned {a.get('unsigned_activations')}, equalization "
                  f"{a.get('equalization')}, bias correction {a.get('bias_correction')}", flush=True)
    FormTrial.keep = rule
    new, old = statistics.median(cpu["new"]), statistics.median(cpu["old"])
    print(f"{args.name}: calibration + build CPU time, median of {args.repeats}: new rule {new:.1f} s, main's "
          f"{old:.1f} s, new / old {new / old:.3f} (wall medians {statistics.median(wall['new']):.1f} / "
          f"{statistics.median(wall['old']):.1f} s); {machine_line()}")
    return 0 if np.isfinite(new) else 1


if __name__ == "__main__":
    sys.exit(main())
