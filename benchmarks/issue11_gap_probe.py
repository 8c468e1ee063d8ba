"""Why int8rt's ``auto`` trails ONNX Runtime quantize_static on two rows of
benchmarks/issue11_verify.py (HF ConvNeXt, torchvision LRASPP): each given
engine (an int8rt calibrator; ``:u`` for unsigned activations forced on;
``+mmin`` for that calibrator's cache with the network inputs' scales taken
from minmax's cache; or ``ort`` for quantize_static as issue11_verify builds
it) is run on the row's evaluation batches and on its calibration batches,
and compared with ONNX Runtime FP32:

- class scores ([N, C]; any other output not [N, C, H, W] flattened per
  sample, as a transformer's hidden states): centred cosine over the samples, and how the error
  is spread over the samples (the share the three worst carry, the worst
  sample's error over the median's): error the calibration data cannot show
  is concentrated on a few evaluation samples;
- dense maps ([N, C, H, W]): per batch (one size each), the row's centred
  cosine (centred over the samples, per position) beside the judge's
  (auto_choice._map_outputs: centred per sample and channel over the
  positions), to see whether the two metrics rank the engines alike, and
  the share of the row's error the worst image of each batch carries.

``percentile@Q`` is the percentile calibrator at quantile ``Q`` (99.999:
TensorRT's ``get_quantile`` 0.99999). Each int8rt engine's build CPU time
(calibration included) is printed.

``--calib-seed N`` (the image classifier rows) calibrates on 32 other
photograph crops (seed N) instead of the row's.

    PYTHONPATH=python python benchmarks/issue11_gap_probe.py convnext_hf minmax,mse,mse+mmin,ort
    PYTHONPATH=python python benchmarks/issue11_gap_probe.py lraspp auto,minmax,minmax:u,percentile:u,ort
    PYTHONPATH=python python benchmarks/issue11_gap_probe.py lraspp percentile@99.999:u --dir /tmp/acc15/models
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402


def _minmax_inputs(row, algo: str, extra: dict, folder: str) -> str:
    """A calibration cache: ``algo``'s, with each network input's scale taken from minmax's."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    caches = {}
    for a in (algo, "minmax"):
        path = os.path.join(folder, f"{row.name}_{a}.cache")
        if os.path.exists(path):
            os.remove(path)
        int8rt.build_engine(row.path, int8rt.BuilderConfig(calibrator=make_calibrator(
            list(row.calib), algorithm=a, cache_file=path), accuracy_check=False, **extra))
        with open(path) as f:
            caches[a] = f.read().splitlines()
    inputs = set(row.calib[0])
    mm = dict(line.split(": ") for line in caches["minmax"][1:])
    lines = [caches[algo][0]] + [f"{n}: {mm[n]}" if n in inputs else line
                                 for line in caches[algo][1:] for n in [line.split(": ")[0]]]
    path = os.path.join(folder, f"{row.name}_{algo}_mmin.cache")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _runner(row, spec: str, folder: str):
    """``run(feed) -> output`` of the engine ``spec`` names."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    spec, _, flag = spec.partition(":")
    spec, _, pct = spec.partition("@")
    algo, _, variant = spec.partition("+")
    if algo == "ort":
        from wheelnets_bench import ort_int8

        sess = ort_session(ort_int8(row.path, row.calib, 0)[0])
        return lambda f: sess.run([row.output], f)[0]
    extra = {"unsigned_activations": True} if flag == "u" else {}
    cache = _minmax_inputs(row, algo, extra, folder) if variant == "mmin" else None
    calibrator = make_calibrator(list(row.calib), algorithm=algo, cache_file=cache)
    if pct:  # the percentile calibrator at another quantile (TensorRT's get_quantile)
        calibrator.get_quantile = lambda: float(pct) / 100.0
    t0 = time.process_time()
    engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False, **extra))
    print(f"{row.name} {spec}{':' + flag if flag else ''}: build (calibration included) {time.process_time() - t0:.1f} "
          "CPU s", flush=True)
    ctx = engine.create_execution_context()
    return lambda f: ctx.run(f)[row.output]


def _map_cosine(ref: np.ndarray, out: np.ndarray) -> float:
    """Cosine of [N, C, H, W] maps each centred per sample and channel over the positions (the judge's centring)."""
    r = ref - ref.mean(axis=(2, 3), keepdims=True)
    o = out - out.mean(axis=(2, 3), keepdims=True)
    return float(np.sum(r * o) / np.sqrt(np.sum(r * r) * np.sum(o * o)))


def describe(outs: list[np.ndarray], refs: list[np.ndarray]) -> str:
    from int8rt.accuracy.metrics import centred_cosine

    if outs[0].ndim == 4:
        shares = []
        for o, r in zip(outs, refs):
            d = (r - r.mean(0)) - (o - o.mean(0))
            per = np.square(d.astype(np.float64)).reshape(len(r), -1).sum(1)
            shares.append(f"{per.max() / per.sum():.2f} (image {int(per.argmax())})")
        return (f"row ccos per size {[round(centred_cosine(r, o), 4) for o, r in zip(outs, refs)]}, "
                f"map-centred cos per size {[round(_map_cosine(r.astype(np.float64), o.astype(np.float64)), 4) for o, r in zip(outs, refs)]}, "
                f"worst image's share of the row's error per size {shares}")
    o, r = (np.concatenate([a.reshape(len(a), -1) for a in x]).astype(np.float64) for x in (outs, refs))
    rc, oc = r - r.mean(0), o - o.mean(0)
    per = np.sum((rc - oc) ** 2, axis=1)
    return (f"ccos {centred_cosine(r, o):.5f}, worst 3 samples carry {np.sort(per)[-3:].sum() / per.sum():.2f} of "
            f"the error, worst / median sample {per.max() / np.median(per):.1f}, top-1 agreement "
            f"{np.mean(o.argmax(1) == r.argmax(1)):.3f}")


def load_row(name: str, folder: str, calib_seed: Optional[int] = None):
    """issue 11's row ``name`` (its models in ``folder``), calibrated on 32
    other photograph crops (seed ``calib_seed``) when given; int8rt on one
    thread, and the machine line printed."""
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    row = ROWS[name](folder)
    if calib_seed is not None:
        from realnets.issue11_rows import _split
        from realnets.new_models import NETS

        row.calib = _split(NETS[name].feeds(32, calib_seed), 8)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("row", choices=list(ROWS))
    ap.add_argument("engines", help="comma-separated: int8rt calibrators (auto, minmax, mse, percentile, entropy2), "
                                    "'percentile@99.999' for another percentile, ':u' for unsigned activations on, '+mmin' for minmax's input scales, 'ort'")
    ap.add_argument("--dir", default="/tmp/issue11_verify", help="exported models (and the +mmin caches) are kept here")
    ap.add_argument("--calib-seed", type=int, help="image classifier rows: calibrate on 32 crops of this seed")
    args = ap.parse_args()
    row = load_row(args.row, args.dir, args.calib_seed)
    fp32 = ort_session(row.path)
    data = {"evaluation": row.evaluation, "calibration": row.calib}
    refs = {k: [fp32.run([row.output], f)[0] for f in v] for k, v in data.items()}
    for spec in args.engines.split(","):
        run = _runner(row, spec, args.dir)
        for k, feeds in data.items():
            outs = [run(f) for f in feeds]
            row_metric = f"; the row's metric {row.metric(outs, refs[k], feeds)}" if k == "evaluation" else ""
            print(f"{row.name} {spec} on {k}: {describe(outs, refs[k])}{row_metric}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
