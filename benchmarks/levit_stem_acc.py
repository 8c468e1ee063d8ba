"""Where levit_128's INT8 loss in its patch embedding comes from, and what auto
and mixed precision make of it (issue 12; benchmarks/RESULTS_accuracy.md,
2026-12-04 midday, autoacc). Data and metrics as attention_inputs_levit.py:
timm levit_128 with random weights (/tmp/lead/models export), calibration
``feeds(32, CALIB)`` in batches of 8 (seed 2 unless ``--calib-seed``),
evaluation seeds 1 and 3, centred cosine / top-1 on the varying inputs
against ONNX Runtime FP32.

Modes:
- ``ranges``: the stem tensors' float ranges on the calibration and the
  evaluation images (max |x|, p99.99, std, per-channel maxima), and the
  grid SQNR a per-tensor / per-channel symmetric grid would give.
- ``variants CONFIG...``: one engine per JSON config (``algorithm`` and
  BuilderConfig keywords; ``"embed_fp32": true`` keeps the four stem convs
  in float32), its metrics, build CPU time and auto's decisions.
- ``headroom``: a minmax cache with the stem's (or every) threshold times
  1.25 / 1.5 / 2, rebuilt from the edited cache.
- ``shift OUT.onnx``: writes the model with each Conv whose only reader is a
  HardSwish held over the range where HardSwish is not flat (x >= -3):
  bias - m, Clip(min = -3 - m), Add(m) before the HardSwish,
  m = (max - 3) / 2 from the calibration images; float-equivalent
  (HardSwish(x) = HardSwish(max(x, -3))); evaluate it with
  ``--model OUT.onnx variants ...``.
- ``mixed TARGET...``: auto with the accuracy check, alone and with
  ``accuracy_target`` = each TARGET: metrics, the float layers chosen, their
  sensitivity ranking, and latency (1 thread, engines alternated).

Usage: PYTHONPATH=<repo>/python python3 <repo>/benchmarks/levit_stem_acc.py MODE [ARGS] [--dir /tmp/lead/models]
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import newnets_bench as B  # noqa: E402
from attention_inputs_levit import EMBED_CONVS  # noqa: E402
from realnets import new_models as M  # noqa: E402

STEM = ["getitem", "hardswish", "getitem_3", "hardswish_1", "getitem_6", "hardswish_2", "getitem_9"]  # the export's


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["ranges", "variants", "headroom", "shift", "mixed"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--dir", default="/tmp/lead/models")
    ap.add_argument("--model", default=None, help="another ONNX file of the same network (shift's output)")
    ap.add_argument("--calib-seed", type=int, default=2)
    a = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    net, path = M.exported("levit_128", a.dir)
    path = a.model or str(path)
    calib = net.feeds(32, a.calib_seed)
    sets = {s: net.feeds(32, s) for s in (1, 3)}
    if a.mode == "ranges":
        return _ranges(net, path, calib, sets)
    if a.mode == "shift":
        return _shift(path, calib, a.args[0])
    sess = M.ort_session(path)
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}

    def build(algorithm: str = "auto", cache: Any = None, **kw: Any) -> Any:
        if kw.pop("embed_fp32", False):
            kw["layer_precisions"] = {c: "fp32" for c in EMBED_CONVS}
        kw.setdefault("accuracy_check", False)
        config = int8rt.BuilderConfig(precision="int8", **kw)
        config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8, cache_file=cache)
        return int8rt.build_engine(path, config)

    def show(label: str, engine: Any, seconds: str = "") -> Any:
        ctx = engine.create_execution_context()
        print(label, "| " + "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.4f}" for k, v in B.metrics(
            net, B.run_all(lambda f: ctx.run(f)["out"], x, 4), refs[s]).items()) for s, x in sets.items()),
              seconds, flush=True)
        report = engine.build_report()
        if report.auto_choice:
            print("   auto:", json.dumps(report.auto_choice), flush=True)
        if getattr(report, "mixed_precision", None):
            mp = report.mixed_precision
            top = sorted(mp["sensitivity"].items(), key=lambda kv: -kv[1])[:8]
            print("   mixed:", {k: v for k, v in mp.items() if k != "sensitivity"}, "top sensitivity:", top, flush=True)
        return ctx

    if a.mode == "variants":
        for arg in a.args:
            kw = json.loads(arg)
            t = time.process_time()
            engine = build(**kw)
            show(f"{arg} (calibration seed {a.calib_seed})", engine, f"| build CPU {time.process_time() - t:.1f} s")
        return 0
    if a.mode == "headroom":
        with tempfile.TemporaryDirectory() as tmp:
            cache = os.path.join(tmp, "minmax.cache")
            show("minmax", build("minmax", cache))
            text = open(cache).read().splitlines()
            for factor in (1.25, 1.5, 2.0):
                for scope in ("stem", "all"):
                    p = os.path.join(tmp, f"{scope}{factor}.cache")
                    with open(p, "w") as fh:
                        fh.write("\n".join([text[0]] + [_widened(line, factor, scope, STEM) for line in text[1:]]) + "\n")
                    show(f"minmax, thresholds x{factor} ({scope})", build("minmax", p))
        return 0
    from attention_probs_acc import latency

    int8rt.set_num_threads(1)
    ctxs = {}
    for label, kw in [("auto", {})] + [(f"auto, accuracy_target {t}", {"accuracy_target": float(t)}) for t in a.args]:
        t0 = time.process_time()
        engine = build(accuracy_check=True, **kw)
        ctxs[label] = show(label, engine, f"| build CPU {time.process_time() - t0:.1f} s")
    for b in (1, 8):
        feed = {k: np.ascontiguousarray(v[:b]) for k, v in sets[1].items()}
        r = latency({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, 7, 0.5)
        print(f"batch {b}, 1 thread, 7 rounds: {r}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


def _widened(line: str, factor: float, scope: str, stem: list[str]) -> str:
    name, hexed = line.rsplit(": ", 1)
    if len(hexed) != 8 or (scope == "stem" and name not in stem):
        return line
    return f"{name}: {struct.pack('>f', struct.unpack('>f', bytes.fromhex(hexed))[0] * factor).hex()}"


def _ranges(net: Any, path: str, calib: dict, sets: dict) -> int:
    from int8rt import _core
    from int8rt.accuracy.taps import fp32_tap_engine
    from int8rt.builder import _to_network

    ctx = fp32_tap_engine(_core.Builder(_to_network(path, None), "fp32").optimized_network(),
                          STEM).create_execution_context()
    for label, feeds in [("calibration", calib)] + [(f"evaluation seed {s}", f) for s, f in sets.items()]:
        outs = [ctx.run({k: v[i:i + 8] for k, v in feeds.items()}) for i in range(0, 32, 8)]
        print(label)
        for n in STEM:
            x = np.concatenate([o[n] for o in outs]).astype(np.float64)
            m = np.abs(x).max(axis=(0, 2, 3))
            lo = x.min()
            step = (m.max() - lo) / 255 if lo > -0.5 else m.max() / 127  # a table output's asymmetric grid
            sq_t = 10 * np.log10(x.var() / (step ** 2 / 12))
            sq_c = 10 * np.log10(x.var() / np.mean((m / 127) ** 2 / 12))
            print(f"  {n:12s} max|x| {m.max():7.3f} min {lo:7.3f} p99.99 {np.percentile(np.abs(x), 99.99):6.3f} "
                  f"std {x.std():.3f} channel max {m.min():.2f}..{m.max():.2f}; grid SQNR per tensor {sq_t:.1f} dB, "
                  f"per channel {sq_c:.1f} dB")
    return 0


def _shift(path: str, calib: dict, out: str) -> int:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    g = model.graph
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    inits = {t.name: t for t in g.initializer}
    pairs = [n for n in g.node if n.op_type == "Conv" and len(readers.get(n.output[0], [])) == 1
             and readers[n.output[0]][0].op_type == "HardSwish" and len(n.input) == 3]
    probe = onnx.load(path)
    probe.graph.output.extend(helper.make_tensor_value_info(c.output[0], TensorProto.FLOAT, None) for c in pairs)
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [c.output[0] for c in pairs]
    highs = np.max([[float(o.max()) for o in sess.run(names, {k: v[i:i + 8] for k, v in calib.items()})]
                    for i in range(0, 32, 8)], axis=0)
    for c, hi in zip(pairs, highs):
        m = (hi - 3.0) / 2.0
        b = numpy_helper.to_array(inits[c.input[2]]).astype(np.float32)
        inits[c.input[2]].CopyFrom(numpy_helper.from_array((b - m).astype(np.float32), c.input[2]))
        y = c.output[0]
        c.output[0] = y + "_shifted"
        g.initializer.extend([numpy_helper.from_array(np.array(-3.0 - m, np.float32), y + "_lo"),
                              numpy_helper.from_array(np.array(3.4e38, np.float32), y + "_hi"),
                              numpy_helper.from_array(np.array(m, np.float32), y + "_m")])
        at = list(g.node).index(c)
        g.node.insert(at + 1, helper.make_node("Clip", [y + "_shifted", y + "_lo", y + "_hi"], [y + "_clipped"],
                                               name=c.name + "_clip"))
        g.node.insert(at + 2, helper.make_node("Add", [y + "_clipped", y + "_m"], [y], name=c.name + "_unshift"))
        print(f"{c.name}: calibration max {hi:.3f}, held over [-3, {hi:.2f}] as +-{(hi + 3) / 2:.3f} (was +-{hi:.2f} "
              f"or more)")
    onnx.save(model, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
