"""Does MSE's threshold search on the grid the engine holds a tensor in close
the CRNNs' gap (issue 12; benchmarks/RESULTS_accuracy.md, acc44)?

acc43 traced crnn_lstm / crnn_gru's 0.0004-0.0007 behind ONNX Runtime INT8 to
six conv ReLU outputs whose mse thresholds sit at 68-86 % of the calibration
maximum. Those tensors are held unsigned (a grid over [0, T] with 255 steps,
twice as fine as TensorRT's symmetric one), yet the MSE search
(csrc/calib/mse.cc, pytorch-quantization's ``_compute_amax_mse``) was asked
for the symmetric grid's 127 steps: its rounding term is 4x too large and
its optimum too low. This probe builds the engines from TensorRT caches
(unsigned activations on, acc43_crnn_swap.context): mse and minmax as the
calibrators give them, and mse with every tensor the engine holds unsigned
searched on that grid (``is_unsigned``), from histograms collected as the
calibrator collects them (2048 bins, "extend", batches of 8, ONNX Runtime
FP32 values). Lines and metrics as acc33_crnn_rows.py.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc44_crnn_grid.py crnn_lstm --dir D
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from acc42_fake_quant import with_outputs  # noqa: E402
from acc43_crnn_swap import context, scores  # noqa: E402
from realnets import new_models as M  # noqa: E402


def unsigned_names(path: str, calib: M.Feeds, cache: str) -> set[str]:
    """The tensors an engine from ``cache`` holds unsigned (unsigned_form.unsigned_tensors)."""
    import int8rt
    from int8rt.accuracy.unsigned_form import unsigned_tensors
    from int8rt.data_calibrator import make_calibrator

    engines = []
    for on in (True, False):
        cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False, unsigned_activations=on)
        cfg.calibrator = make_calibrator(calib, algorithm="mse", batch_size=8, cache_file=cache)
        engines.append(int8rt.build_engine(path, cfg))
    return set(unsigned_tensors(*engines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/acc43/models")
    ap.add_argument("--eval-seeds", default="1", help="evaluation line seeds (32 lines each), comma-separated")
    args = ap.parse_args()
    import int8rt
    from int8rt.calib.cache import read_cache, write_cache
    from int8rt.calib.histogram import Histogram

    int8rt.set_num_threads(1)
    net, model = M.exported(args.name, args.dir)
    path, calib = str(model), net.feeds(32, 2)
    fp32 = M.ort_session(path)
    with tempfile.TemporaryDirectory() as folder:
        caches = {}
        for m in ("mse", "minmax"):
            f = os.path.join(folder, m + ".cache")
            context(path, calib, m, f)
            caches[m] = read_cache(open(f, "rb").read())[2]
        held = unsigned_names(path, calib, os.path.join(folder, "mse.cache"))
        import onnx
        known = {o for n in onnx.load(path, load_external_data=False).graph.node for o in n.output}
        probe = M.ort_session(with_outputs(path, sorted(held & known), folder))
        hists = {t: Histogram() for t in sorted(held & known)}
        for b in B._batches(calib, 8):
            for t, v in zip(hists, probe.run(list(hists), b)):
                hists[t].collect(v)
        grid = dict(caches["mse"])
        print("| tensor | mse symmetric (cache / here) | mse on the unsigned grid | max |")
        for t, h in hists.items():
            a = h.compute_amax("mse", is_unsigned=True)
            print(f"| {t} | {caches['mse'][t] * 127:.4g} / {h.compute_amax('mse'):.4g} | {a:.4g} | {h.max_abs:.4g} |")
            grid[t] = float(np.float32(a / 127.0))
        f = os.path.join(folder, "grid.cache")
        with open(f, "wb") as out:
            out.write(write_cache(grid, "mse"))
        runs = {"mse": context(path, calib, "mse", os.path.join(folder, "mse.cache")),
                "minmax": context(path, calib, "minmax", os.path.join(folder, "minmax.cache")),
                "mse, unsigned grid": context(path, calib, "mse", f)}
        for seed in (int(s) for s in args.eval_seeds.split(",")):
            ev = net.feeds(32, seed)
            refs = [fp32.run(None, b)[0] for b in B._batches(ev, 4)]
            for k, run in runs.items():
                print(f"{args.name} eval seed {seed} {k:20s} bench metric / over the samples / argmax "
                      f"{'%.5f / %.5f / %.4f' % scores(run, ev, refs)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
