"""nets20: INT8 on the nets17 architectures never built in INT8 (RESULTS_realnets.md, the nets20 section).

For each network, newnets_methods.py in its own subprocess (a crash or a hang is a finding, not the end of the
sweep): int8rt FP32 (its max relative error to ONNX Runtime FP32: the import check), int8rt INT8 with ``auto`` and
with each single method (minmax, percentile, mse, entropy), and ONNX Runtime quantize_static (quant_pre_process,
QDQ, per channel, MinMax), all on the same calibration inputs (batches of 8); metrics against ONNX Runtime FP32 on
held-out inputs: centred cosine, and for classifiers top-1 agreement on the inputs whose FP32 top-1 is not the most
common one (how many: n). The large networks run with fewer inputs (``_SMALL``). Then one table row per network
from the JSON lines (``--table`` prints the table alone, from any number of such files).

Usage (from the repo root): PYTHONPATH=python python benchmarks/nets20_sweep.py --dir /tmp/nets20/models \
    --json /tmp/nets20/sweep.jsonl [--only a,b] [--calib-seed 2]
       PYTHONPATH=python python benchmarks/nets20_sweep.py --table /tmp/nets20/sweep.jsonl [...]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402

NETS20 = ["nfnet_l0", "ecaresnet26t", "rexnet_100", "tf_efficientnet_b0", "resmlp_12", "cait_xxs24", "gcvit_xxtiny",
          "botnet26t", "halonet26t", "crossvit_9", "modernbert", "sequencer2d_s", "swinv2", "mobilevitv2", "convbert",
          "wavlm"]
# the networks that cost the most per input: 16 calibration and 16 evaluation inputs instead of 32 / 32
_SMALL = {"sequencer2d_s", "cait_xxs24", "crossvit_9", "gcvit_xxtiny"}
SINGLE = ("minmax", "percentile", "mse", "entropy")
METHODS = "fp32,auto," + ",".join(SINGLE) + ",ort"


def _fmt(r: dict | None) -> str:
    if r is None:
        return "-"
    if "error" in r:
        return "fails: " + r["error"][:60]
    top = r.get("top1_var")
    if top is None:
        return f"{r['ccos']:.4f}"
    top_s = "n/a" if math.isnan(top) else f"{top:.2f}"
    return f"{r['ccos']:.4f} / {top_s} ({r['n_var']})"


def table(paths: List[str]) -> str:
    """One row per (network, calibration seed, evaluation seed): the later line for a method wins."""
    rows: Dict[tuple, Dict[str, dict]] = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            rows.setdefault((r["name"], r["calib_seed"], r["eval_seed"], r["calib"], r["eval"]), {})[r["method"]] = r
    out = ["| network | calib / eval (seeds) | int8rt FP32 max rel. | INT8 build | auto | best single method | "
           "ORT INT8 (MinMax) | auto - best other | build s: auto / minmax / ORT |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (name, cs, es, nc, ne), m in sorted(rows.items(), key=lambda kv: (NETS20.index(kv[0][0])
                                                                         if kv[0][0] in NETS20 else 99, kv[0][1:])):
        fp = m.get("fp32")
        fp_s = "-" if fp is None else ("fails" if "error" in fp else f"{fp['max_rel']:.1e}")
        ok = [k for k in ("auto",) + SINGLE if k in m and "error" not in m[k]]
        bad = [k for k in ("auto",) + SINGLE if k in m and "error" in m[k]]
        build = "yes" if ok and not bad else ("fails (" + ", ".join(bad) + ")" if bad else "-")
        singles = [(m[k]["ccos"], k) for k in SINGLE if k in m and "error" not in m[k]]
        best = max(singles) if singles else None
        best_s = "-" if best is None else f"{best[1]} {_fmt(m[best[1]])}"
        others = [c for c, _ in singles] + ([m["ort"]["ccos"]] if "ort" in m and "error" not in m["ort"] else [])
        gap = (f"{m['auto']['ccos'] - max(others):+.4f}" if "auto" in m and "error" not in m["auto"] and others
               else "-")
        times = " / ".join(f"{m[k]['build_s']:.0f}" if k in m and "error" not in m[k] else "-"
                           for k in ("auto", "minmax", "ort"))
        out.append(f"| {name} | {nc} / {ne} ({cs} / {es}) | {fp_s} | {build} | {_fmt(m.get('auto'))} | {best_s} | "
                   f"{_fmt(m.get('ort'))} | {gap} | {times} |")
    return "\n".join(out)



def run_network(name: str, cmd: List[str], shown: List[str], timeout: float) -> None:
    """Runs one network's process (its own, so a crash or a leak ends with it), prints its output but the
    exporter's chatter, its exit status or timeout, wall seconds and the load average."""
    print(f"\n=== {name}: {' '.join(shown)}", flush=True)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        print("\n".join(ln for ln in p.stdout.splitlines() if "torch.onnx" not in ln))
        if p.returncode != 0:
            print(f"=== {name}: exit {p.returncode}")
    except subprocess.TimeoutExpired:
        print(f"=== {name}: timeout {timeout} s")
    print(f"=== {name}: {time.perf_counter() - t0:.0f} s, load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated, of: " + ", ".join(NETS20))
    ap.add_argument("--dir", default="/tmp/nets20/models")
    ap.add_argument("--json", help="append newnets_methods.py's JSON lines here")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seeds", default="1")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per network")
    ap.add_argument("--table", nargs="+", help="print the table of these JSON-line files and stop")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return 0
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    methods = os.path.join(os.path.dirname(os.path.abspath(__file__)), "newnets_methods.py")
    for name in args.only.split(",") if args.only else NETS20:
        n = "16" if name in _SMALL else "32"
        cmd = [sys.executable, methods, name, "--families", "realnets.new_families2", "--dir", args.dir,
               "--methods", args.methods, "--calib", n, "--eval", n, "--calib-seed", str(args.calib_seed),
               "--eval-seeds", args.eval_seeds] + (["--json", args.json] if args.json else [])
        run_network(name, cmd, cmd[1:], args.timeout)
    if args.json and Path(args.json).exists():
        print("\n" + table([args.json]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
