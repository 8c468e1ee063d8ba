"""auto's float stem (python/int8rt/accuracy/quiet_positions.py) on HuBERT /
wav2vec2 (benchmarks/realnets: random weights, speech-like audio): centred
cosine against FP32 and CPU time per run, before and after the rule.

Engines: int8rt ``auto`` with the rule off (``QUIET_SHARE`` above 1: the
engine auto built before acc33) and on (the stem's Convs in BF16 where
that is native); on with the stem in float32 (as where BF16 is not
native); on with ``BuilderConfig(bf16=True)`` (every float layer with a
BF16 kernel in BF16); int8rt ``auto`` with only the
stem's last ``--tail`` Convs (and the layers after them) in float32 by hand,
the rule off (is a part of the stem enough?); ONNX Runtime quantize_static (QDQ,
per-channel, MinMax, wheelnets_bench.ort_int8) and FP32. 32 calibration
feeds (seed 2), 32 evaluation feeds (seed 1), as newnets_bench.py. CPU
time: one thread each, ``time.thread_time`` per run of one feed (batch 1),
the engines alternated in one process, ``--rounds`` rounds, medians.
Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc33_float_stem_bench.py hubert --dir D
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
from newnets_probe import int8rt_engine  # noqa: E402
from realnets import new_models as M  # noqa: E402


def _engine(path: str, calib: M.Feeds, fp32=(), **options):
    """auto's engine and its build's CPU seconds."""
    t0 = time.process_time()
    engine = int8rt_engine(path, calib, "auto", fp32, **options)
    return engine, time.process_time() - t0


def _tail(path: str, convs: int) -> list[str]:
    """The ONNX nodes from the stem's last ``convs`` Convs to its LayerNorm."""
    import onnx

    nodes = list(onnx.load(path, load_external_data=False).graph.node)
    ln = next(i for i, n in enumerate(nodes) if n.op_type == "LayerNormalization")
    start = [i for i, n in enumerate(nodes[:ln]) if n.op_type == "Conv"][-convs]
    return [n.name for n in nodes[start:ln] if n.op_type in ("Conv", "Gelu", "Transpose")]


def _one_file(path: str) -> str:
    """A one-file copy of a model with external weights (``inline/`` beside
    it, as newnets_bench.py makes): quant_pre_process re-saves the model in
    a temporary folder and then cannot find the external weights."""
    import onnx

    if not os.path.exists(path + ".data"):
        return path
    inline = os.path.join(os.path.dirname(path), "inline", os.path.basename(path))
    if not os.path.exists(inline):
        os.makedirs(os.path.dirname(inline), exist_ok=True)
        onnx.save(onnx.load(path), inline)
    return inline


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("hubert", "wav2vec2"))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    ap.add_argument("--tail", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import quiet_positions
    from wheelnets_bench import ort_int8

    int8rt.set_num_threads(1)
    net, model = M.exported(args.name, args.dir)
    path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
    fp32 = M.ort_session(path)
    ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)
    share = quiet_positions.QUIET_SHARE
    quiet_positions.QUIET_SHARE = 2.0  # the rule off
    before, s_before = _engine(path, calib)
    tail, s_tail = _engine(path, calib, _tail(path, args.tail))
    quiet_positions.QUIET_SHARE = share
    after, s_after = _engine(path, calib)
    native = quiet_positions.native_bf16
    quiet_positions.native_bf16 = lambda: False  # the stem in float32, as on a CPU without AVX512-BF16
    f32stem, s_f32stem = _engine(path, calib)
    quiet_positions.native_bf16 = native
    bf16, s_bf16 = _engine(path, calib, bf16=True)
    q, _, _ = ort_int8(_one_file(path), calib, 8)
    qs = M.ort_session(q)
    f32 = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    runs = {"int8rt auto, rule off": before.create_execution_context(),
            "int8rt auto (stem out of int8)": after.create_execution_context(),
            f"int8rt auto, rule off, last {args.tail} convs float": tail.create_execution_context(),
            "int8rt auto, stem in float32": f32stem.create_execution_context(),
            "int8rt auto, bf16=True": bf16.create_execution_context(),
            "int8rt FP32": f32.create_execution_context()}
    calls = {k: (lambda c: lambda f: c.run(f)["out"])(c) for k, c in runs.items()}
    calls["ORT INT8"] = lambda f: qs.run(None, f)[0]
    calls["ORT FP32"] = lambda f: fp32.run(None, f)[0]
    builds = {"int8rt auto, rule off": s_before, "int8rt auto (stem out of int8)": s_after,
              "int8rt auto, stem in float32": s_f32stem, "int8rt auto, bf16=True": s_bf16,
              f"int8rt auto, rule off, last {args.tail} convs float": s_tail}
    print(f"{args.name}: float stem {after.build_report().auto_choice.get('float_stem')}", flush=True)
    one = {k: np.ascontiguousarray(v[:1]) for k, v in ev.items()}
    times: dict[str, list[float]] = {k: [] for k in calls}
    for k, call in calls.items():
        call(one)  # warm
    for _ in range(args.rounds):
        for k, call in calls.items():
            t0 = time.thread_time()
            call(one)
            times[k].append(time.thread_time() - t0)
    base = statistics.median(times["int8rt FP32"])
    for k, call in calls.items():
        ccos = B.centred_cosine(B.run_all(call, ev, 4), ref)
        ms = statistics.median(times[k]) * 1e3
        extra = f", build {builds[k]:.1f} CPU s" if k in builds else ""
        print(f"{k:36s} ccos {ccos:.4f}  CPU ms/run (b1) {ms:7.1f} ({ms / base / 1e3:.2f}x int8rt FP32){extra}",
              flush=True)
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
