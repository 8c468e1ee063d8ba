"""peers22: the peers nets20 left out, on the nets20 networks (RESULTS_realnets.md, the peers22 section; issue 12).

nets20 (benchmarks/nets20_sweep.py, results/nets20_sweep.jsonl) compared int8rt's ``auto`` with its single methods and
ONNX Runtime's MinMax only. This adds, on the same networks, calibration and evaluation data (calibration seed 2,
evaluation seed 1, batches of 8; 32 / 32 inputs, 16 / 16 for nets20_sweep._SMALL):
  ort_entropy, ort_percentile  ONNX Runtime quantize_static (quant_pre_process first; QDQ, per-channel weights) with
                               CalibrationMethod.Entropy / Percentile: nets20's MinMax row with another calibrator;
  nncf                         nncf.quantize, default preset (realnets/openvino_engines.nncf_int8), run in OpenVINO
                               (one thread, inference precision f32, as peers_bench.py); NNCF is fed the calibration
                               inputs one sample per item (its own subset_size = the number of inputs);
  nncf_nobc                    the same with NNCF's bias correction off (a diagnostic);
  nncf_b8                      NNCF fed batches of 8 (its statistics reduce per item: a diagnostic);
  ov_fp32                      OpenVINO on the float model (the NNCF evaluation path's check);
  auto                         int8rt auto, rebuilt only to check that the data are nets20's (same ccos).
Metrics as nets20 (newnets_bench.metrics against ONNX Runtime FP32): centred cosine, top-1 agreement on the inputs
whose FP32 top-1 is not the most common (n). Each network runs in its own process (``--worker``); ``--table`` prints
the table from nets20's JSON lines (auto, single methods, ORT MinMax) and these.

Usage (repo root): PYTHONPATH=python python benchmarks/peers22_sweep.py --dir /tmp/peers22/models \
    --json benchmarks/results/peers22_sweep.jsonl [--only a,b] [--methods ort_entropy,ort_percentile,nncf]
    PYTHONPATH=python python benchmarks/peers22_sweep.py --table benchmarks/results/nets20_sweep.jsonl \
    benchmarks/results/peers22_sweep.jsonl
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from nets20_sweep import _SMALL, NETS20, SINGLE, run_network  # noqa: E402

PEERS = ("ort", "ort_entropy", "ort_percentile", "nncf", "nncf_b8")


def ort_quantize(path: str, calib, batch: int, method: str) -> tuple[bytes, float]:
    """ONNX Runtime INT8 as wheelnets_bench.ort_int8 builds it (quant_pre_process, QDQ, per-channel weights), with
    calibrator ``method`` (MinMax / Entropy / Percentile, ORT's defaults); returns the model and the build seconds."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from realnets.engines import _cwd
    from wheelnets_bench import _Reader

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pre, dst = os.path.join(tmp, "pre.onnx"), os.path.join(tmp, "int8.onnx")
        try:
            with _cwd(tmp):
                quant_pre_process(path, pre)
        except Exception as e:  # noqa: BLE001 - as ORT's docs (and ort_int8): retry without symbolic shapes
            print(f"  quant_pre_process failed ({type(e).__name__}: {str(e)[:120]}); skip_symbolic_shape=True")
            with _cwd(tmp):
                quant_pre_process(path, pre, skip_symbolic_shape=True)
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(pre, dst, _Reader(calib, batch), quant_format=QuantFormat.QDQ, per_channel=True,
                            calibrate_method=getattr(CalibrationMethod, method))
        with open(dst, "rb") as f:
            data = f.read()
    return data, time.perf_counter() - t0


def worker(args) -> int:
    """One network: every method in ``args.methods``, one JSON line each (nets20's fields)."""
    import newnets_bench as B
    from realnets import new_models as M
    from realnets import new_families2  # noqa: F401 - adds the nets17 architectures to M.NETS

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("nncf").setLevel(logging.ERROR)
    import int8rt

    int8rt.set_num_threads(1)
    name = args.worker
    n = 16 if name in _SMALL else 32
    net, path = M.exported(name, args.dir)
    calib, ev = net.feeds(n, args.calib_seed), net.feeds(n, args.eval_seed)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], ev, 4)

    def record(method: str, build_s: float, m: dict) -> None:
        print(f"{name} {method} (build {build_s:.1f} s): " + ", ".join(f"{k} {v:.4g}" for k, v in m.items()),
              flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(dict(name=name, method=method, calib=n, calib_seed=args.calib_seed, eval=n,
                                        eval_seed=args.eval_seed, build_s=round(build_s, 2), **m),
                                   default=float) + "\n")

    for method in args.methods.split(","):
        try:
            if method.startswith("ort"):
                kind = {"ort": "MinMax", "ort_entropy": "Entropy", "ort_percentile": "Percentile"}[method]
                q, build_s = ort_quantize(str(B.one_file(path)), calib, 8, kind)
                qs = M.ort_session(q)
                out = B.run_all(lambda f: qs.run(None, f)[0], ev, 4)
            elif method in ("nncf", "nncf_nobc"):
                from realnets import openvino_engines as O

                keys = list(calib)
                items = [{k: calib[k][i:i + 1] for k in keys} for i in range(n)]
                q, build_s = O.nncf_int8(str(path), items, bias_correction=method == "nncf")
                compiled = O.compile_model(q, 1, "f32")
                out = B.run_all(lambda f: compiled(f)[0], ev, 4)
            elif method == "nncf_b8":  # NNCF fed the batches of 8 the other tools get (its statistics are per item)
                import nncf
                from realnets import openvino_engines as O

                items = [{k: v[i:i + 8] for k, v in calib.items()} for i in range(0, n, 8)]
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(sys.stderr):
                    q = nncf.quantize(O.load(str(path)), nncf.Dataset(items), subset_size=n)
                build_s = time.perf_counter() - t0
                compiled = O.compile_model(q, 1, "f32")
                out = B.run_all(lambda f: compiled(f)[0], ev, 4)
            elif method == "ov_fp32":  # the evaluation path's check: OpenVINO on the float model, as NNCF's runs
                from realnets import openvino_engines as O

                t0 = time.perf_counter()
                compiled = O.compile_model(O.load(str(path)), 1, "f32")
                build_s = time.perf_counter() - t0
                out = B.run_all(lambda f: compiled(f)[0], ev, 4)
            elif method == "auto":
                from int8rt.data_calibrator import make_calibrator

                config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
                config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
                t0 = time.perf_counter()
                ctx = int8rt.build_engine(str(path), config).create_execution_context()
                build_s = time.perf_counter() - t0
                out = B.run_all(lambda f: ctx.run(f)["out"], ev, 4)
            else:
                raise ValueError(f"unknown method {method}")
            record(method, build_s, B.metrics(net, out, ref))
        except Exception as e:  # noqa: BLE001 - a failing peer is a finding; the next method runs
            msg = f"{type(e).__name__}: {str(e)[:300]}"
            print(f"{name} {method}: FAILED {msg}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(dict(name=name, method=method, calib=n, calib_seed=args.calib_seed, eval=n,
                                            eval_seed=args.eval_seed, build_s=float("nan"), error=msg)) + "\n")
    return 0


def _fmt(r: dict | None) -> str:
    if r is None:
        return "-"
    if "error" in r:
        return "fails"
    top = r.get("top1_var")
    if top is None:
        return f"{r['ccos']:.4f}"
    return f"{r['ccos']:.4f} / {'n/a' if math.isnan(top) else f'{top:.2f}'} ({r['n_var']})"


def table(paths: List[str]) -> str:
    """One row per network at calibration seed 2 / evaluation seed 1; a later line for a method wins, except that a
    rebuilt ``auto`` or ``ort`` (this script's checks that the data are nets20's) is shown in brackets beside
    nets20's figure."""
    rows: Dict[str, Dict[str, dict]] = {}
    for p in paths:
        mine = "peers22" in os.path.basename(p)
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            if r["calib_seed"] != 2 or r["eval_seed"] != 1:
                continue
            key = r["method"] + "_check" if mine and r["method"] in ("auto", "ort") else r["method"]
            rows.setdefault(r["name"], {})[key] = r
    out = ["| network | auto | best int8rt single method | ORT MinMax | ORT entropy | ORT percentile | NNCF | NNCF, batches of 8 | "
           "auto - best peer | auto - best of all | build s: auto / best single / ORT MinMax / entropy / percentile / NNCF / NNCF b8 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    ok = lambda m, k: k in m and "error" not in m[k]  # noqa: E731
    for name in sorted(rows, key=lambda k: NETS20.index(k) if k in NETS20 else 99):
        m = rows[name]
        singles = [(m[k]["ccos"], k) for k in SINGLE if ok(m, k)]
        best = max(singles)[1] if singles else None
        peers = [m[k]["ccos"] for k in PEERS if ok(m, k)]
        gap = f"{m['auto']['ccos'] - max(peers):+.4f}" if ok(m, "auto") and peers else "-"
        every = peers + [c for c, _ in singles]
        gap_all = f"{m['auto']['ccos'] - max(every):+.4f}" if ok(m, "auto") and every else "-"
        secs = " / ".join(f"{m[k]['build_s']:.0f}" if k and ok(m, k) else "-"
                          for k in ("auto", best) + PEERS)
        check = {k: f" (check {m[k + '_check']['ccos']:.4f})" if ok(m, k + "_check") else "" for k in ("auto", "ort")}
        out.append(f"| {name} | {_fmt(m.get('auto'))}{check['auto']} | "
                   f"{'-' if best is None else best + ' ' + _fmt(m[best])} | "
                   + " | ".join(_fmt(m.get(k)) + (check["ort"] if k == "ort" else "") for k in PEERS)
                   + f" | {gap} | {gap_all} | {secs} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated, of: " + ", ".join(NETS20))
    ap.add_argument("--dir", default="/tmp/peers22/models")
    ap.add_argument("--json", help="append one JSON line per network and method here")
    ap.add_argument("--methods", default="ort_entropy,ort_percentile,nncf")
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seed", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per network")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--table", nargs="+", help="print the table of these JSON-line files and stop")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return 0
    if args.worker:
        return worker(args)
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    for name in args.only.split(",") if args.only else NETS20:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--dir", args.dir, "--methods",
               args.methods, "--calib-seed", str(args.calib_seed), "--eval-seed", str(args.eval_seed)]
        cmd += ["--json", args.json] if args.json else []
        run_network(name, cmd, cmd[2:], args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
