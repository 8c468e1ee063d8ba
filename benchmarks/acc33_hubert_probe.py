"""Where HuBERT's INT8 error comes from (RESULTS_accuracy.md, acc33):

- ``layers``: the auto INT8 engine against FP32 tensor by tensor
  (``int8rt.accuracy.compare``) along the feature extractor, SQNR over all
  frames and over the quiet frames alone (the 25 % of frames of least input
  energy), and the output's centred cosine per frame-energy quartile.
- ``skip``: centred cosine with named layers kept in float32 (``--fp32``, a
  comma list of ONNX node names) and BuilderConfig options (``--option``),
  at 1 s and, the same engine, at 0.6 s.
- ``tensors``: ONNX Runtime FP32 only: each feature-extractor tensor's SQNR
  quantized alone (symmetric int8 per tensor at minmax and at the best of
  60 thresholds, per channel at minmax); the per-frame RMS over the
  channels of the tensor the LayerNorm reads; the output's centred cosine
  with white noise added to the input or to that tensor.

Model: benchmarks/realnets/new_families.py's ``hubert`` (newnets_bench.py
exports it to ``--dir``); 32 calibration feeds (seed 2), 32 evaluation
feeds (seed 1), as newnets_bench.py.
Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc33_hubert_probe.py layers --dir D
"""
from __future__ import annotations

import argparse
import ast
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from newnets_probe import int8rt_engine as build  # noqa: E402
from realnets import new_models as M  # noqa: E402

HOP = 320  # HuBERT's feature extractor: one frame per 20 ms (strides 5 x 2^6)


def frame_energy(x: np.ndarray, frames: int) -> np.ndarray:
    """RMS of each frame's samples ([N, frames])."""
    return np.sqrt((x[:, :frames * HOP].reshape(len(x), frames, HOP).astype(np.float64) ** 2).mean(-1))


def per_quartile(out: np.ndarray, ref: np.ndarray, energy: np.ndarray) -> list[float]:
    """Centred cosine over the frames of each input-energy quartile (quietest first)."""
    o = out - out.mean(0)
    r = ref - ref.mean(0)
    edges = np.quantile(energy, [0, 0.25, 0.5, 0.75, 1.0])
    res = []
    for q in range(4):
        m = (energy >= edges[q]) & (energy <= edges[q + 1])
        a, b = o[m].ravel(), r[m].ravel()
        res.append(round(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))), 4))
    return res


def layers(path: str, calib: M.Feeds, ev: M.Feeds, args) -> None:
    from int8rt.accuracy.compare import compare

    engine = build(path, calib, args.algorithm, **args.options)
    ctx = engine.create_execution_context()
    out = B.run_all(lambda f: ctx.run(f)["out"], ev, 4)
    ref = B.run_all(lambda f: M.ort_session(path).run(None, f)[0], ev, 4)
    energy = frame_energy(ev["x"], out.shape[1])
    print("centred cosine", round(B.centred_cosine(out, ref), 4), "per energy quartile", per_quartile(out, ref, energy))
    for row in compare(path, engine, ev, batch_size=8)[:args.rows]:
        print(f"{row.name:28s} {row.op:22s} {row.precision:5s} sqnr {row.sqnr_db:6.1f} dB cos {row.cosine:.4f}")


def skip(path: str, calib: M.Feeds, ev: M.Feeds, args) -> None:
    ctx = build(path, calib, args.algorithm, [n for n in args.fp32.split(",") if n], **args.options)
    ctx = ctx.create_execution_context()
    out = B.run_all(lambda f: ctx.run(f)["out"], ev, 4)
    ref = B.run_all(lambda f: M.ort_session(path).run(None, f)[0], ev, 4)
    energy = frame_energy(ev["x"], out.shape[1])
    print(f"fp32 {args.fp32 or '-'} options {args.options}: centred cosine {B.centred_cosine(out, ref):.4f}, "
          f"per energy quartile {per_quartile(out, ref, energy)}", flush=True)
    short = {"x": np.ascontiguousarray(ev["x"][:, :ev["x"].shape[1] * 3 // 5])}  # the same engine, 0.6 s clips
    got = B.run_all(lambda f: ctx.run(f)["out"], short, 4)
    print(f"  at {short['x'].shape[1]} samples: centred cosine "
          f"{B.centred_cosine(got, B.run_all(lambda f: M.ort_session(path).run(None, f)[0], short, 4)):.4f}", flush=True)


TAPS = ("x", "conv1d", "gelu", "conv1d_1", "gelu_1", "conv1d_2", "gelu_2", "gelu_3", "gelu_4", "gelu_5", "gelu_6",
        "transpose")


def _sqnr(v: np.ndarray, threshold) -> float:
    q = np.clip(np.round(v / (threshold / 127)), -128, 127) * (threshold / 127)
    return float(10 * np.log10((v ** 2).sum() / max(((q - v) ** 2).sum(), 1e-30)))


def _noisy(v: np.ndarray, db: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(v.shape).astype(np.float32)
    return v + n * (np.linalg.norm(v) / np.linalg.norm(n) * 10 ** (-db / 20))


def tensors(path: str, ev: M.Feeds) -> None:
    import tempfile

    import onnx
    import onnx.utils

    scratch = tempfile.mkdtemp(prefix="acc33_")  # the tapped and cut copies of the model
    m = onnx.load(path)
    m.graph.output.extend(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in TAPS)
    tapped = os.path.join(scratch, "hubert.taps.onnx")
    onnx.save(m, tapped, save_as_external_data=True, location="hubert.taps.onnx.data")
    values = dict(zip(TAPS, M.ort_session(tapped).run(list(TAPS), ev)))
    for name, v in values.items():
        v = v.astype(np.float64)
        amax = np.abs(v).max()
        best = max(_sqnr(v, amax * f) for f in np.linspace(0.05, 1, 60))
        channels = v.ndim == 3 and name != "transpose"  # [N, C, T]
        per_channel = f", per channel {_sqnr(v, np.abs(v).max(axis=(0, 2), keepdims=True)):.1f}" if channels else ""
        print(f"{name:10s} alone: minmax {_sqnr(v, amax):.1f} dB, best {best:.1f} dB{per_channel}")
    frames = values["transpose"]
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(-1))
    loudness = np.log(frame_energy(ev["x"], rms.shape[1]) + 1e-9).ravel()
    print("per-frame RMS over the channels, percentiles 1/10/50/90/99:",
          np.percentile(rms, [1, 10, 50, 90, 99]).round(4), "; corr(log RMS, log input frame RMS):",
          round(float(np.corrcoef(np.log(rms).ravel(), loudness)[0, 1]), 3))
    full = M.ort_session(path)
    ref = full.run(None, ev)[0]
    rng = np.random.default_rng(0)
    for db in (60, 45, 35):
        got = full.run(None, {"x": _noisy(ev["x"], db, rng)})[0]
        print(f"input + noise at {db} dB: centred cosine {B.centred_cosine(got, ref):.4f}")
    tail = os.path.join(scratch, "hubert.tail.onnx")
    onnx.utils.extract_model(path, tail, ["transpose", "x"], [m.graph.output[0].name])
    rest = M.ort_session(tail)
    for db in (40, 30, 20):
        got = rest.run(None, {"transpose": _noisy(frames, db, rng), "x": ev["x"]})[0]
        print(f"feature extractor output + noise at {db} dB: centred cosine {B.centred_cosine(got, ref):.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=("layers", "skip", "tensors"))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    ap.add_argument("--algorithm", default="auto")
    ap.add_argument("--option", action="append", default=[],
                    help="a BuilderConfig field, e.g. unsigned_activations=True")
    ap.add_argument("--fp32", default="", help="skip: ONNX node names kept in float32, comma separated")
    ap.add_argument("--rule-off", action="store_true", help="auto without its float stem (quiet_positions.py)")
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    args.options = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.option)}
    import int8rt

    int8rt.set_num_threads(1)
    if args.rule_off:
        from int8rt.accuracy import quiet_positions

        quiet_positions.QUIET_SHARE = 2.0
    net, path = M.exported("hubert", args.dir)
    calib, ev = net.feeds(args.calib, 2), net.feeds(args.eval, 1)
    if args.probe == "tensors":
        tensors(str(path), net.feeds(8, 1))
    else:
        (layers if args.probe == "layers" else skip)(str(path), calib, ev, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
