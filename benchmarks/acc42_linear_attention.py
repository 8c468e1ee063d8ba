"""Issue 12 follow-up (acc42): activation x activation products in INT8 on
networks with attention, auto's float-products rule on and off
(benchmarks/RESULTS_accuracy.md, section acc42).

For each network of ``realnets.new_models.NETS`` named: FP32 (ONNX Runtime)
as the reference over ``--eval`` inputs (seed 1); int8rt INT8 with the auto
calibrator over ``--calib`` inputs (seed 2, batches of 8), once per
``--config`` (``default``; ``pairs_off``: BuilderConfig(int8_matmul_pairs=False));
prints one JSON line per engine: centred cosine, top-1 agreement on
the inputs whose FP32 top-1 is not the most common (classifiers), the number
of activation x activation products held in int8 (QMatMul layers and fused
attention layers' products), auto's float_products report entry, build seconds.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc42_linear_attention.py \
    efficientvit_b0 levit_128 --dir /tmp/acc42/models --config default --config pairs_off
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from realnets import new_models as M  # noqa: E402

# int8rt's int8 product layers: each holds two activation operands in int8
PRODUCT_OPS = {"int8rt.QMatMul": 1, "int8rt.QAttention": 2}


def int8_products(engine) -> int:
    """Activation x activation products the engine runs in int8."""
    return sum(PRODUCT_OPS.get(layer["op"], 0) for layer in engine.layers())


def build(path: str, calib, config: str):
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False,
                               calibrator=make_calibrator(calib, algorithm="auto", batch_size=8))
    if config == "pairs_off":
        cfg.int8_matmul_pairs = False
    t0 = time.perf_counter()
    engine = int8rt.build_engine(path, cfg)
    return engine, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc42/models")
    ap.add_argument("--config", action="append", choices=("default", "pairs_off"))
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    for name in args.names:
        net, path = M.exported(name, args.dir)
        calib, ev = net.feeds(args.calib, 2), net.feeds(args.eval, 1)
        fp32 = M.ort_session(str(path))
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)
        for config in args.config or ["default"]:
            engine, seconds = build(str(path), calib, config)
            ctx = engine.create_execution_context()
            out = B.run_all(lambda f: next(iter(ctx.run(f).values())), ev, 4)
            auto = engine.build_report().auto_choice or {}
            print(json.dumps({"net": name, "config": config, **{k: round(v, 4) if isinstance(v, float) else v
                                                                 for k, v in B.metrics(net, out, ref).items()},
                              "int8_products": int8_products(engine),
                              "float_products": auto.get("float_products", "-"),
                              "build_s": round(seconds, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
