"""What auto's float products cost (benchmarks/RESULTS_accuracy.md, section
acc42): one network's INT8 engine with its activation x activation products
in int8 and the same engine with them in float32 (BuilderConfig
layer_precisions "fp32" for each MatMul the first engine runs as
int8rt.QMatMul), both from the same calibrator (mse, so that nothing but
the products differs), timed alternately in one process, 1 thread, by the
process CPU clock (the machine is shared); medians and their ratio.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc42_products_time.py efficientvit_b0 \
    --dir /tmp/acc42/models --batch 1 --batch 8 --rounds 15
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench  # noqa: E402,F401 - registers RESULTS.md section 160's nets (efficientvit_b0)
from bench_util import machine_line, time_alternating  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc42/models")
    ap.add_argument("--batch", type=int, action="append")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy.quiet_products import INT8_PRODUCT_OP
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(32, 2)

    def build(**options):
        cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False,
                                   calibrator=make_calibrator(calib, algorithm="mse", batch_size=8), **options)
        return int8rt.build_engine(str(path), cfg)

    int8_engine = build()
    names = [layer["name"] for layer in int8_engine.layers() if layer["op"] == INT8_PRODUCT_OP]
    float_engine = build(layer_precisions={n: "fp32" for n in names})
    print(machine_line())
    print(f"{args.name}: {len(names)} products; float engine's QMatMul layers: "
          f"{sum(layer['op'] == INT8_PRODUCT_OP for layer in float_engine.layers())}")
    for batch in args.batch or [1]:
        feed = net.feeds(batch, 1)
        ctxs = {"int8 products": int8_engine.create_execution_context(),
                "float32 products": float_engine.create_execution_context()}
        t = time_alternating({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds, min_time=0.2,
                             clock=time.process_time)
        print(f"batch {batch}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in t.items())
              + f"; float / int8 {t['float32 products'] / t['int8 products']:.3f}; {machine_line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
