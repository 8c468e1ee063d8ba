"""INT8 accuracy and latency on real pretrained networks: int8rt vs ONNX Runtime.

Networks (weights from pip packages, nothing downloaded at run time):
  ppocr_cls_mobile_v2  PP-OCR text-direction classifier  (rapidocr-onnxruntime)
  ppocrv4_rec_mobile   PP-OCRv4 text recogniser, CTC     (rapidocr-onnxruntime)
Data: text lines rendered with matplotlib's bundled fonts (benchmarks/realnets/
text_images.py); the calibration split (seed 1) and the evaluation split
(seed 2) are disjoint and the same for every engine.

Engines: int8rt FP32, int8rt INT8 (entropy2, minmax), ONNX Runtime FP32, ONNX
Runtime quantize_static INT8 (QDQ, per-channel weights; MinMax = its default,
and Entropy). Metric: the task's (vs the rendered ground truth) and agreement
with ONNX Runtime FP32. Latency: batch 1 and 8, 1 and 2 threads, medians of
runs alternated between engines in this process.

Usage: PYTHONPATH=python python3 benchmarks/realnets_bench.py [--quick] [--models cls,rec]
Needs: pip install rapidocr-onnxruntime --no-deps, pillow, matplotlib, onnx, onnxruntime.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets import engines as E  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402

SIZES = {  # (calibration lines, evaluation lines) per task, full / --quick
    "cls": ((256, 1000), (64, 200)),
    "rec": ((64, 300), (32, 64)),
}


def missing_packages() -> list[str]:
    """Packages the benchmark needs that are not installed."""
    need = {"onnx": "onnx", "onnxruntime": "onnxruntime", "PIL": "pillow", "matplotlib": "matplotlib",
            "rapidocr_onnxruntime": "rapidocr-onnxruntime"}
    return [pip for mod, pip in need.items() if importlib.util.find_spec(mod) is None]


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_task(key: str):
    from realnets.ocr_models import cls_task, models_dir, rec_task

    folder = models_dir()
    if folder is None:
        return None
    return {"cls": cls_task, "rec": rec_task}[key](folder)


def evaluate(task, calib_lines: int, eval_lines: int, ort_entropy: bool, log) -> dict:
    """Builds every engine for ``task`` and scores it on the evaluation split."""
    import int8rt
    from realnets.ocr_models import static_input_model
    from realnets.text_images import text_lines

    model = static_input_model(task.onnx_file, task.chw).SerializeToString()
    xc, _ = task.make_inputs(text_lines(calib_lines, seed=1), 101)
    xe, labels = task.make_inputs(text_lines(eval_lines, seed=2), 102)
    result: dict = {"task": task.name, "notes": task.notes, "calib": calib_lines, "eval": eval_lines,
                    "engines": {}}
    int8rt.set_num_threads(2)
    built: dict = {}
    for name, precision, alg in (("int8rt FP32", "fp32", None), ("int8rt INT8 entropy2", "int8", "entropy2"),
                                 ("int8rt INT8 minmax", "int8", "minmax")):
        engine, secs = E.int8rt_engine(model, precision, xc, alg)
        built[name] = (E.int8rt_runner(engine), secs, engine)
        log(f"  built {name} in {secs:.1f} s; peak RSS so far {peak_rss_mib():.0f} MiB")
    built["ORT FP32"] = (E.ort_runner(E.ort_session(model, 2)), 0.0, model)
    for method in ("minmax",) + (("entropy",) if ort_entropy else ()):
        qmodel, secs = E.ort_quantize(model, xc, method)
        built[f"ORT INT8 {method}"] = (E.ort_runner(E.ort_session(qmodel, 2)), secs, qmodel)
        log(f"  built ORT INT8 {method} in {secs:.1f} s; peak RSS so far {peak_rss_mib():.0f} MiB")
    outputs = {}
    for name, (run, secs, _) in built.items():
        t0 = time.perf_counter()
        outputs[name] = E.run_batched(run, xe)
        log(f"  ran {name} on {eval_lines} samples in {time.perf_counter() - t0:.1f} s")
    ref = outputs["ORT FP32"]
    for name, out in outputs.items():
        result["engines"][name] = {"build_s": built[name][1], **task.score(out, labels), **task.agree(out, ref)}
    result["_built"] = built
    return result


def latency(result: dict, task, batches: list[int], threads: list[int], rounds: int, budget_s: float) -> dict:
    """Alternating median latency (ms) of FP32 / INT8 engines of both runtimes."""
    import int8rt

    built = result["_built"]
    table = {}
    for t in threads:
        int8rt.set_num_threads(t)
        runners = {"int8rt FP32": built["int8rt FP32"][0], "int8rt INT8": built["int8rt INT8 entropy2"][0],
                   "ORT FP32": E.ort_runner(E.ort_session(built["ORT FP32"][2], t)),
                   "ORT INT8": E.ort_runner(E.ort_session(built["ORT INT8 minmax"][2], t))}
        for b in batches:
            x = np.random.default_rng(b).uniform(-1, 1, (b,) + task.chw).astype(np.float32)
            table[f"b{b} t{t}"] = alternating_medians(runners, x, rounds=rounds, budget_s=budget_s)
    return table


def print_report(result: dict, lat: dict) -> None:
    eng = result["engines"]
    metrics = [k for k in next(iter(eng.values())) if k != "build_s"]
    print(f"\n### {result['task']} (calibration {result['calib']}, evaluation {result['eval']} samples)\n")
    print(f"{result['notes']}; agree = same prediction as ORT FP32\n")
    print("| engine | " + " | ".join(metrics) + " | build (s) |")
    print("|---" * (len(metrics) + 2) + "|")
    for name, row in eng.items():
        print(f"| {name} | " + " | ".join(f"{row[m]:.4f}" for m in metrics) + f" | {row['build_s']:.1f} |")
    if lat:
        cols = list(next(iter(lat.values())))
        print("\nlatency, median ms (INT8 = int8rt entropy2 engine / ORT MinMax QDQ model)\n")
        print("| batch, threads | " + " | ".join(cols) + " | int8rt INT8 vs ORT INT8 |")
        print("|---" * (len(cols) + 2) + "|")
        for key, row in lat.items():
            print(f"| {key} | " + " | ".join(f"{row[c]:.2f}" for c in cols)
                  + f" | {row['ORT INT8'] / row['int8rt INT8']:.2f}x |")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small splits, few timing rounds")
    ap.add_argument("--models", default="cls,rec", help="comma list of: cls, rec")
    ap.add_argument("--no-ort-entropy", action="store_true", help="skip ORT's Entropy calibration (memory hungry)")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--rounds", type=int, default=None, help="timing rounds (default 30, --quick 5)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    missing = missing_packages()
    if missing:
        print(f"skipping all networks: missing packages {', '.join(missing)} "
              f"(pip install {' '.join(missing)}; rapidocr-onnxruntime with --no-deps is enough)")
        return 0
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    rounds = args.rounds or (5 if args.quick else 30)
    all_results = []
    for key in args.models.split(","):
        task = make_task(key.strip())
        if task is None:
            print(f"skipping {key}: rapidocr-onnxruntime has no models folder")
            continue
        calib_n, eval_n = SIZES[key.strip()][1 if args.quick else 0]
        log(f"{task.name}: calibration {calib_n}, evaluation {eval_n}")
        result = evaluate(task, calib_n, eval_n, not args.no_ort_entropy, log)
        lat = {} if args.no_latency else latency(result, task, [1, 8], [1, 2], rounds,
                                                 budget_s=20 if args.quick else 240)
        print_report(result, lat)
        result.pop("_built")
        result["latency_ms"] = lat
        all_results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
