"""acc71 (issue 12): why ONNX Runtime's Percentile QDQ model beats every int8rt set on nets20's rexnet_100.

Attribution by transplant: ORT quantize_static (quant_pre_process, QDQ, per-channel weights, as peers22_sweep.py's
``ort_percentile``) is run on the calibration draw; each activation's range [lo, hi] is read back from its
QuantizeLinear scale / zero point (uint8: lo = -zp * s, hi = (255 - zp) * s; int8 symmetric: +-127 s) and written
into an int8rt calibration cache (threshold = max(|lo|, |hi|): int8rt's symmetric int8 grid) over int8rt's own
minmax cache (the tensors ORT does not name keep minmax). Engines, all against ORT FP32 on the evaluation draw
(centred cosine, newnets_bench.metrics):
  ort_minmax / ort_pct / ort_pct_sym   ORT itself: MinMax, Percentile (uint8 asymmetric activations, ORT's
                                       default) and Percentile with ActivationSymmetric (int8, zero point 0)
  i8_minmax / i8_percentile[_99999]   int8rt's own methods (unsigned_activations off: the symmetric grid;
                                       percentile at 99.99, its default, and 99.999 of |x|)
  i8_from_pct / i8_from_pct_sym        int8rt with ORT Percentile's (asymmetric / symmetric) ranges transplanted
  i8_from_pct[a:b]                     the transplant on cache entries a..b only (the bisection), minmax elsewhere
The grid question (ORT's asymmetric uint8 against a symmetric int8 grid) is ort_pct against ort_pct_sym; the range
question (percentile ranges against int8rt's) is i8_from_pct against i8_minmax / i8_percentile.

Usage: PYTHONPATH=python:benchmarks python benchmarks/acc24_ort_ranges.py rexnet_100 --dir /tmp/acc24/models \
    --calib-seed 2 --eval-seed 1 [--bisect 4] [--parts 0:13,13:26] [--show 20]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_families2  # noqa: E402,F401 - adds the nets17 architectures to M.NETS
from realnets import new_models as M  # noqa: E402


def ort_model(path: str, calib, method: str, symmetric: bool) -> bytes:
    """peers22_sweep.ort_quantize with ORT's ActivationSymmetric option exposed."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from realnets.engines import _cwd
    from wheelnets_bench import _Reader

    with tempfile.TemporaryDirectory() as tmp:
        pre, dst = os.path.join(tmp, "pre.onnx"), os.path.join(tmp, "int8.onnx")
        with _cwd(tmp):
            quant_pre_process(path, pre)
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(pre, dst, _Reader(calib, 8), quant_format=QuantFormat.QDQ, per_channel=True,
                            calibrate_method=getattr(CalibrationMethod, method),
                            extra_options={"ActivationSymmetric": symmetric})
        with open(dst, "rb") as f:
            return f.read()


def activation_ranges(model: bytes) -> dict:
    """tensor name -> (lo, hi) of every QuantizeLinear whose input is not an initializer (an activation)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(model)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type != "QuantizeLinear" or n.input[0] in init:
            continue
        s = float(init[n.input[1]])
        zp = init[n.input[2]]
        if zp.dtype == np.uint8:
            lo, hi = -float(zp) * s, (255.0 - float(zp)) * s
        else:
            lo, hi = (-128.0 - float(zp)) * s, (127.0 - float(zp)) * s
        out[n.input[0]] = (lo, hi)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--dir", default="/tmp/acc24/models")
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--bisect", type=int, default=4, help="parts of the cache the transplant is also tried on alone")
    ap.add_argument("--parts", default="", help="further cache slices a:b,c:d,... the transplant is tried on alone")
    ap.add_argument("--show", type=int, default=0, help="print the first SHOW tensors' ranges (ORT pct, int8rt)")
    ap.add_argument("--work", default="/tmp/acc24/work")
    args = ap.parse_args()
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    import int8rt
    from int8rt.calib.cache import read_cache, write_cache
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    net, path = M.exported(args.name, args.dir)
    calib, ev = net.feeds(args.n, args.calib_seed), net.feeds(args.n, args.eval_seed)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], ev, 4)

    def show(label: str, out: np.ndarray, t: float, extra: str = "") -> None:
        m = B.metrics(net, out, ref)
        print(f"{label:28s} ccos {m['ccos']:.4f}  ({time.perf_counter() - t:.1f} s){extra}", flush=True)

    one = str(B.one_file(path))
    ranges = {}
    for label, method, sym in (("ort_minmax", "MinMax", False), ("ort_pct", "Percentile", False),
                               ("ort_pct_sym", "Percentile", True)):
        t = time.perf_counter()
        q = ort_model(one, calib, method, sym)
        ranges[label] = activation_ranges(q)
        qs = M.ort_session(q)
        show(label, B.run_all(lambda f: qs.run(None, f)[0], ev, 4), t, f"  ({len(ranges[label])} activations)")

    def build(label: str, algo: str, cache: str, extra: str = "", quantile: float = 0.0) -> None:
        t = time.perf_counter()
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, unsigned_activations=False)
        config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8, cache_file=cache)
        if quantile:  # the percentile calibrator (TensorRT's legacy one) at another quantile than 0.9999
            config.calibrator.get_quantile = lambda: quantile
        ctx = int8rt.build_engine(str(path), config).create_execution_context()
        show(label, B.run_all(lambda f: ctx.run(f)["out"], ev, 4), t, extra)

    own = {}
    for label, algo, opts in (("minmax", "minmax", {}), ("percentile", "percentile", {}),
                              ("percentile_99999", "percentile", {"quantile": 0.99999})):
        cache = os.path.join(args.work, f"{args.name}_{args.calib_seed}_{label}.cache")
        for p in (cache, cache + ".channels.json"):
            if os.path.exists(p):
                os.remove(p)
        build(f"i8_{label}", algo, cache, **opts)
        own[label] = read_cache(open(cache, "rb").read())[2]
    base = own["minmax"]
    names = list(base)

    def transplant(label: str, src: dict, keep: set) -> None:
        scales = {k: (max(abs(src[k][0]), abs(src[k][1])) / 127.0 if k in keep else v) for k, v in base.items()}
        cache = os.path.join(args.work, f"{args.name}_{label.replace('[', '_').replace(':', '_').strip(']')}.cache")
        with open(cache, "wb") as f:
            f.write(write_cache(scales, "minmax"))
        build(label, "minmax", cache, f"  ({len(keep)} of {len(base)} tensors moved)")

    pct = ranges["ort_pct"]
    common = [k for k in names if k in pct]
    print(f"int8rt cache: {len(names)} tensors, {len(common)} named by ORT's Percentile model", flush=True)
    # per tensor: ORT percentile's range against int8rt's minmax / percentile thresholds (127 * scale)
    neg = [k for k in common if pct[k][0] < -0.02 * pct[k][1]]
    ratios = np.array([max(-pct[k][0], pct[k][1]) / (127 * base[k]) for k in common])
    print(f"tensors with a negative tail in ORT's range (lo < -0.02 hi): {len(neg)}; ORT pct threshold / int8rt "
          f"minmax: median {np.median(ratios):.3f} (min {ratios.min():.3f}, max {ratios.max():.3f})")
    for label in ("percentile", "percentile_99999"):
        r = np.array([max(-pct[k][0], pct[k][1]) / (127 * own[label][k]) for k in common])
        print(f"  ORT pct threshold / int8rt {label}: median {np.median(r):.3f} (min {r.min():.3f}, max {r.max():.3f};"
              f" share within 5 %: {np.mean(np.abs(r - 1) < 0.05):.3f})")
    # grid: the step ORT's uint8 range has against the symmetric int8 grid of the same range
    steps = np.array([((pct[k][1] - pct[k][0]) / 255) / (2 * max(-pct[k][0], pct[k][1]) / 254) for k in common])
    print(f"ORT uint8 step / symmetric int8 step over the same range: median {np.median(steps):.3f}, "
          f"share below 0.6: {np.mean(steps < 0.6):.3f}", flush=True)
    transplant("i8_from_pct", pct, set(common))
    sym = ranges["ort_pct_sym"]
    transplant("i8_from_pct_sym", sym, {k for k in names if k in sym})
    for k in names[:args.show]:
        lo, hi = pct.get(k, (float("nan"), float("nan")))
        print(f"  {k}: ORT pct [{lo:.4g}, {hi:.4g}], int8rt minmax {127 * base[k]:.4g}, "
              f"percentile {127 * own['percentile'][k]:.4g}, percentile 99.999 {127 * own['percentile_99999'][k]:.4g}")
    slices = [(int(p[0]), int(p[-1]) + 1) for p in np.array_split(np.arange(len(names)), args.bisect)]
    slices += [tuple(int(v) for v in ab.split(":")) for ab in filter(None, args.parts.split(","))]
    for a, b in slices:
        transplant(f"i8_from_pct[{a}:{b}]", pct, {k for k in names[a:b] if k in pct})
    return 0


if __name__ == "__main__":
    sys.exit(main())
