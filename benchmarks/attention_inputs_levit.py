"""LeViT-128's attention inputs (issue 12): two measurements of where its
INT8 loss is, on the data and metrics of attention_probs_acc.py
(calibration feeds(32, 2) in batches of 8, evaluation seeds 1 and 3,
centred cosine / top-1 on varying inputs against ONNX Runtime FP32).

- ``headroom F1,F2,...``: the thresholds of q and k widened: a minmax
  calibration cache is written, the entries whose scale is an attention's
  q_scale or k_scale are multiplied by F, and the engine is rebuilt from
  the edited cache (a present cache skips calibration).
- ``embed``: the patch embedding's four convs kept in float
  (``BuilderConfig.layer_precisions``), accuracy, then latency (1 thread,
  batch 1 and 8, the engines alternated, median per-round ratio).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_inputs_levit.py headroom 1.25,1.5,2
    PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_inputs_levit.py embed [--dir /tmp/lead/models]
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import newnets_bench as B  # noqa: E402
from attention_probs_acc import latency  # noqa: E402
from realnets import new_models as M  # noqa: E402

EMBED_CONVS = ["node_Conv_1506", "node_Conv_1508", "node_Conv_1510", "node_Conv_1512"]  # levit_128's export


def widened_cache(text: str, scales: set[bytes], factor: float) -> tuple[str, int]:
    """A TensorRT cache with the entries whose float32 scale is in ``scales`` times ``factor``."""
    lines, hit = text.splitlines(), 0
    out = [lines[0]]
    for line in lines[1:]:
        name, hexed = line.rsplit(": ", 1)
        if len(hexed) != 8:
            out.append(line)
            continue
        s = struct.unpack(">f", bytes.fromhex(hexed))[0]
        if np.float32(s).tobytes() in scales:
            s, hit = s * factor, hit + 1
        out.append(f"{name}: {struct.pack('>f', s).hex()}")
    return "\n".join(out) + "\n", hit


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["headroom", "embed"])
    ap.add_argument("factors", nargs="?", default="1.25,1.5,2")
    ap.add_argument("--dir", default="/tmp/lead/models")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported("levit_128", args.dir)
    calib = net.feeds(32, 2)
    sets = {s: net.feeds(32, s) for s in (1, 3)}
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}

    def build(**kw: Any) -> Any:
        cache = kw.pop("cache_file", None)
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, **kw)
        config.calibrator = make_calibrator(calib, algorithm="minmax", batch_size=8, cache_file=cache)
        return int8rt.build_engine(str(path), config)

    def show(label: str, engine: Any) -> Any:
        ctx = engine.create_execution_context()
        print(label + ": " + "; ".join(
            f"seed {s}: " + ", ".join(f"{k} {v:.4g}" for k, v in B.metrics(
                net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s]).items())
            for s, e in sets.items()), flush=True)
        return ctx

    if args.mode == "headroom":
        with tempfile.TemporaryDirectory() as tmp:
            cache = os.path.join(tmp, "minmax.cache")
            engine = build(cache_file=cache)
            show("levit_128 minmax, q/k x1", engine)
            qk = set()
            for n in engine._native.network().nodes():
                if n["op"] == "int8rt.QAttention":
                    qk |= {np.float32(n["attrs"][k]).tobytes() for k in ("q_scale", "k_scale")}
            text = open(cache).read()
            for f in (float(x) for x in args.factors.split(",")):
                edited, hit = widened_cache(text, qk, f)
                p = os.path.join(tmp, f"x{f}.cache")
                with open(p, "w") as fh:
                    fh.write(edited)
                show(f"levit_128 minmax, q/k x{f} ({hit} cache entries)", build(cache_file=p))
        return 0
    ctxs = {"all int8": show("levit_128 minmax, all int8", build()),
            "embedding convs fp32": show("levit_128 minmax, embedding convs fp32",
                                         build(layer_precisions={c: "fp32" for c in EMBED_CONVS}))}
    first = sets[1]
    for b in (1, 8):
        feed = {k: np.ascontiguousarray(v[:b]) for k, v in first.items()}
        r = latency({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds, 0.5)
        print(f"levit_128 b{b}, 1 thread, {args.rounds} rounds: " + ", ".join(
            f"{k} {v:.2f} ms" for k, v in r.items() if k != "ratio") + f", fp32 convs / int8 {r['ratio']:.3f}; "
            f"load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
