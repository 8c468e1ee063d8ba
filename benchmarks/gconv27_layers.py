"""RESULTS.md section 279: what grouped convs in the BF16 blocked region change, per layer kind, in a network's
BF16 engine (``BuilderConfig(precision="fp32", bf16=True)``, 1 thread): per-layer thread CPU
(ExecutionContext.profile, median of --runs profiled runs per layer) summed per kind: the grouped (not depthwise)
convs (NCHW ``Conv`` of group > 1 or ``ConvBf16x16c`` "of N groups"), the other convs, the layout conversions
(To/FromBf16x16c), the rest, and the whole; plus the build report's region lines. Runs itself under the base
tree's python/ and this tree's, alternated --pairs times (base, this, base, this), and prints each run's sums and
the per-pair figures side by side.

Usage: python benchmarks/gconv27_layers.py --base /tmp/gconv27/base_python --dir /tmp/gconv27/models \
           --nets nfnet_l0 regnet_x_400mf [--tree <a copy of this tree's python/>] [--batches 1 8] [--runs 5] \
           [--pairs 2] [--each]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def kind(la: dict) -> str:
    op = la["op"].removeprefix("int8rt.")
    if op in ("ToBf16x16c", "FromBf16x16c"):
        return "conversions"
    if op == "ConvBf16x16c":
        return "grouped convs" if " groups" in la["detail"] else "other convs"
    if op == "Conv":
        m = re.search(r"group=(\d+)", la["detail"])
        return "grouped convs" if m and int(m.group(1)) > 1 and "depthwise" not in la["detail"] else "other convs"
    return "rest"


def child(a) -> None:
    import numpy as np

    sys.path.insert(0, HERE)
    import int8rt
    from realnets import new_families2  # noqa: F401 - adds the nets17 architectures
    from realnets import new_models as M

    int8rt.set_num_threads(1)
    out = {}
    for name in a.nets:
        net, path = M.exported(name, a.dir)
        with contextlib.redirect_stdout(io.StringIO()):
            eng = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
        regions = [line for line in eng.report() if "channel-blocked" in line]
        ctx = eng.create_execution_context()
        for batch in a.batches:
            feed = {k: np.ascontiguousarray(v[:batch]) for k, v in net.feeds(8, 1).items()}
            ms = defaultdict(list)
            kinds, names = {}, {}
            for _ in range(a.runs):
                for i, la in enumerate(ctx.profile(feed, 1, clock="thread_cpu")):
                    ms[i].append(la["ms"])
                    kinds[i] = kind(la)
                    names[i] = f"{la['name']}: {la['detail']}"
            sums = defaultdict(float)
            counts = defaultdict(int)
            for i, v in ms.items():
                sums[kinds[i]] += float(np.median(v))
                counts[kinds[i]] += 1
            sums["whole"] = sum(float(np.median(v)) for v in ms.values())
            grouped = [f"{float(np.median(ms[i])):.3f} ms {names[i]}" for i in ms if kinds[i] == "grouped convs"]
            out[f"{name} b{batch}"] = {"ms": dict(sums), "layers": dict(counts), "regions": regions,
                                       "grouped": grouped if a.each else []}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", help="the base tree's python/ directory")
    ap.add_argument("--tree", default=os.path.join(os.path.dirname(HERE), "python"),
                    help="this tree's python/ (default: the worktree's; a copy keeps a rebuild out of the runs)")
    ap.add_argument("--nets", nargs="+", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--each", action="store_true", help="also each grouped conv's time and kernel")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    print("command:", " ".join(sys.argv))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    trees = {"base": a.base, "gconv27": a.tree}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--nets", *a.nets, "--dir", a.dir,
           "--batches", *map(str, a.batches), "--runs", str(a.runs), *(["--each"] if a.each else [])]
    runs = defaultdict(list)
    for p in range(a.pairs):
        for label, tree in trees.items():
            res = json.loads(subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=tree), capture_output=True,
                                            text=True, check=True).stdout.strip().splitlines()[-1])
            print(f"=== pair {p + 1} {label} (PYTHONPATH={tree}) load {os.getloadavg()}")
            for key, r in res.items():
                print(f"  {key}: " + ", ".join(f"{k} {v:.2f} ms ({r['layers'].get(k, '-')} layers)"
                                               for k, v in sorted(r["ms"].items())))
                if p == 0:
                    print("    " + "\n    ".join(r["regions"]))
                for line in r["grouped"]:
                    print("    " + line)
                runs[(key, label)].append(r["ms"])
    print("\nthread CPU ms, medians of the layers' per-run times, summed per kind; each pair's figure, base -> gconv27")
    print("| network batch | kind | base | gconv27 |")
    print("|---|---|---|---|")
    for key in dict.fromkeys(k for k, _ in runs):
        for what in ("grouped convs", "other convs", "conversions", "rest", "whole"):
            cols = [" / ".join(f"{r.get(what, 0.0):.2f}" for r in runs[(key, label)]) for label in trees]
            print(f"| {key} | {what} | {cols[0]} | {cols[1]} |")


if __name__ == "__main__":
    main()
