"""Which tensors carry the CRNNs' gap between int8rt's mse and minmax
thresholds (issue 12, gap (a); benchmarks/RESULTS_accuracy.md, acc43).

acc33 / acc36 / acc38: on crnn_lstm / crnn_gru auto chooses mse, and minmax
(unsigned activations) is 0.0009 / 0.0007 closer to FP32 on the evaluation
lines (ahead of ONNX Runtime INT8); the calibration lines rank mse lower on
every line. This probe takes the two calibrators' scales from their
TensorRT caches (both with unsigned activations, acc33's engines) and builds
engines from edited caches: mse with one tensor at minmax's scale, and
minmax with one tensor at mse's scale; per tensor: both thresholds, the
largest |x| on the calibration and on the evaluation lines (ONNX Runtime
FP32, tensors of the same name), the evaluation values' share above mse's
threshold, and the two engines' centred cosine (acc33's bench metric and over
the samples). Same lines as acc33_crnn_rows.py (32 calibration lines seed 2,
32 evaluation lines seed 1, batches of 4).

``--peers``: the two rows with NNCF beside ONNX Runtime and int8rt auto
instead (acc33's lines and metrics, and the per-step argmax agreement).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc43_crnn_swap.py crnn_lstm --dir D
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
from realnets import new_models as M  # noqa: E402


def context(path: str, calib: M.Feeds, algorithm: str, cache: str):
    """newnets_probe.int8rt_engine's engine (batches of 8, unsigned activations) whose calibrator reads / writes ``cache``."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False, unsigned_activations=True)
    cfg.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8, cache_file=cache)
    ctx = int8rt.build_engine(path, cfg).create_execution_context()
    return lambda f: ctx.run(f)["out"]


def scores(run, ev: M.Feeds, refs: list) -> tuple[float, float, float]:
    """(bench metric, over the samples, per-step argmax agreement) of ``run`` on ``ev`` against ``refs``
    (acc33_crnn_rows.py's metrics)."""
    outs = [run(b) for b in B._batches(ev, 4)]
    a = np.concatenate([o.transpose(1, 0, 2) for o in outs])
    r = np.concatenate([o.transpose(1, 0, 2) for o in refs])
    return (B.centred_cosine(np.concatenate(outs), np.concatenate(refs)), B.centred_cosine(a, r),
            float((a.argmax(-1) == r.argmax(-1)).mean()))


def peers(name: str, path: str, calib: M.Feeds, ev: M.Feeds, refs: list) -> int:
    """The --peers rows: int8rt auto (acc33's engine), ONNX Runtime quantize_static (QDQ, per-channel, MinMax) and
    NNCF's default post-training INT8 (fast bias correction on and off; OpenVINO CPU, 1 thread)."""
    from newnets_probe import int8rt_context
    from realnets import openvino_engines as O
    from wheelnets_bench import ort_int8

    q = M.ort_session(ort_int8(path, calib, 8)[0])

    def nncf(bias_correction: bool):
        compiled = O.compile_model(O.nncf_int8(path, list(B._batches(calib, 1)), bias_correction=bias_correction)[0], 1)
        return lambda f: compiled(f)[0]

    runs = {"int8rt auto": lambda: int8rt_context(path, calib, "auto"), "ORT INT8": lambda: lambda f: q.run(None, f)[0],
            "NNCF": lambda: nncf(True), "NNCF, bias correction off": lambda: nncf(False)}
    for k, make in runs.items():
        print(f"{name} {k:26s} bench metric / over the samples / argmax agreement "
              f"{'%.5f / %.5f / %.4f' % scores(make(), ev, refs)}", flush=True)
    return 0


def lines(path: str, calib: M.Feeds, ev: M.Feeds, refs: list, folder: str, probe, relus: list, top: dict) -> int:
    """The --lines table: the evaluation lines, worst first by mse's relative L2 less minmax's (``probe``: ONNX
    Runtime FP32 with ``relus`` among its outputs)."""
    peak = np.concatenate([np.stack([np.abs(v).reshape(v.shape[0], -1).max(1) for v in probe.run(relus, b)], 1)
                           for b in B._batches(ev, 4)])                      # [lines, relus]
    peak = peak / np.array([top["calib"][t].max() for t in relus])
    r = np.concatenate([o.transpose(1, 0, 2) for o in refs]).astype(np.float64)
    err = {}
    for m in ("mse", "minmax"):
        run = context(path, calib, m, os.path.join(folder, m + ".cache"))
        a = np.concatenate([run(b).transpose(1, 0, 2) for b in B._batches(ev, 4)]).astype(np.float64)
        err[m] = np.linalg.norm((a - r).reshape(len(r), -1), axis=1) / np.linalg.norm(r.reshape(len(r), -1), axis=1)
    order = np.argsort(err["minmax"] - err["mse"])
    print("| line | mse / minmax relative L2 | largest value / calibration maximum, conv ReLUs " + ", ".join(
        t.split("/")[2] for t in relus) + " |\n|---|---|---|")
    for i in order[:6]:
        print(f"| {i} | {err['mse'][i]:.4f} / {err['minmax'][i]:.4f} | " + " / ".join(f"{p:.2f}" for p in peak[i]) + " |")
    print(f"lines with a ReLU beyond its calibration maximum: {int((peak > 1).any(1).sum())} of {len(peak)}; "
          f"mse lower on {int((err['mse'] < err['minmax']).sum())} lines; pooled relative L2 without the worst line "
          f"(mse / minmax): {np.sqrt(np.mean(np.delete(err['mse'], order[0]) ** 2)):.4f} / "
          f"{np.sqrt(np.mean(np.delete(err['minmax'], order[0]) ** 2)):.4f}, with it "
          f"{np.sqrt(np.mean(err['mse'] ** 2)):.4f} / {np.sqrt(np.mean(err['minmax'] ** 2)):.4f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    ap.add_argument("--peers", action="store_true", help="the rows with ONNX Runtime and NNCF instead (peers())")
    ap.add_argument("--lines", action="store_true", help="per evaluation line instead: each conv ReLU's largest "
                    "value over its calibration maximum, and the two engines' relative L2 on the line")
    args = ap.parse_args()
    import int8rt
    from int8rt.calib.cache import read_cache, write_cache

    int8rt.set_num_threads(1)
    net, model = M.exported(args.name, args.dir)
    path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
    fp32 = M.ort_session(path)
    refs = [fp32.run(None, b)[0] for b in B._batches(ev, 4)]
    if args.peers:
        return peers(args.name, path, calib, ev, refs)
    with tempfile.TemporaryDirectory() as folder:
        caches = {}
        for m in ("mse", "minmax"):
            f = os.path.join(folder, m + ".cache")
            run = context(path, calib, m, f)
            print(f"{m} alone: bench metric / over the samples {'%.5f / %.5f' % scores(run, ev, refs)[:2]}", flush=True)
            caches[m] = read_cache(open(f, "rb").read())[2]
        mse, mm = caches["mse"], caches["minmax"]
        differ = [t for t in mse if t in mm and abs(mse[t] - mm[t]) > 1e-3 * max(mm[t], 1e-30)]
        import onnx
        known = {o for n in onnx.load(path, load_external_data=False).graph.node for o in n.output}
        seen = [t for t in differ if t in known]
        os.chdir(folder)
        probe = M.ort_session(with_outputs(path, seen, folder))
        top = {}
        for label, feeds in (("calib", calib), ("eval", ev)):
            vals = {t: [] for t in seen}
            for b in B._batches(feeds, 4):
                for t, v in zip(seen, probe.run(seen, b)):
                    vals[t].append(np.abs(v).ravel())
            top[label] = {t: np.concatenate(v) for t, v in vals.items()}

        def swapped(base: dict, other: dict, t: str, algorithm: str) -> tuple[float, float]:
            f = os.path.join(folder, f"swap_{algorithm}.cache")
            with open(f, "wb") as out:
                out.write(write_cache({**base, t: other[t]}, algorithm))
            return scores(context(path, calib, algorithm, f), ev, refs)

        if args.lines:
            return lines(path, calib, ev, refs, folder, probe, [t for t in seen if t.endswith("Relu_output_0")], top)
        print("| tensor | mse / minmax threshold | max abs calib / eval | eval share above mse's | "
              "mse, this tensor at minmax's | minmax, this tensor at mse's |")
        print("|---|---|---|---|---|---|")
        for t in differ:
            stats = (f"{top['calib'][t].max():.4g} / {top['eval'][t].max():.4g} | "
                     f"{(top['eval'][t] > mse[t] * 127).mean():.2e}") if t in top["calib"] else "- | -"
            a, b = swapped(mse, mm, t, "mse"), swapped(mm, mse, t, "minmax")
            print(f"| {t} | {mse[t] * 127:.4g} / {mm[t] * 127:.4g} | {stats} | {a[0]:.5f} / {a[1]:.5f} | "
                  f"{b[0]:.5f} / {b[1]:.5f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
