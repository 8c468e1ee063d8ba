"""acc23 (issue 12, RESULTS_accuracy.md acc70): auto before / after a library
change on nets20's networks against every peer of peers22 (ONNX Runtime
MinMax / entropy / percentile, NNCF one sample per item and batches of 8)
and int8rt's single methods, per network and draw, from the JSON lines of
newnets_methods.py (nets20_sweep.py --json, peers22_sweep.py --json).

"before": method ``auto`` of the recorded files (benchmarks/results/
nets20_sweep.jsonl, peers22_sweep.jsonl); "after": method ``auto`` of the
``--after-jsonl`` files (a run of the changed library); a peer or single
method from any file (a later line for the same network, draw and method
wins). Only the (network, draw) pairs that have both are printed.

Usage: python benchmarks/acc23_peers_table.py benchmarks/results/nets20_sweep.jsonl \
           benchmarks/results/peers22_sweep.jsonl --after-jsonl /tmp/acc23/s2.jsonl [...]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

PEERS = ("ort", "ort_entropy", "ort_percentile", "nncf", "nncf_b8")
SINGLE = ("minmax", "percentile", "mse", "entropy")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--after-jsonl", nargs="+", required=True)
    args = ap.parse_args()
    rows: dict[tuple, dict[str, float]] = {}
    for p in args.jsonl + args.after_jsonl:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            if "error" in r or "ccos" not in r:
                continue
            method = "after" if p in args.after_jsonl and r["method"] == "auto" else r["method"]
            if method == "auto" and p in args.jsonl and Path(p).name.startswith("peers22"):
                continue  # peers22's auto lines are nets20's rebuilt (its data check), not another "before"
            rows.setdefault((r["name"], r["calib_seed"], r["eval_seed"]), {})[method] = r["ccos"]
    print("| network | calib / eval seed | auto before | auto after | after - before | best peer | after - best peer "
          "| best int8rt single method | after - best of all |")
    print("|---|---|---|---|---|---|---|---|---|")
    at_or_above = behind = 0
    for (name, cs, es), m in sorted(rows.items()):
        if "after" not in m or "auto" not in m:
            continue
        b, a = m["auto"], m["after"]
        peers = [(m[k], k) for k in PEERS if k in m]
        single = [(m[k], k) for k in SINGLE if k in m]
        peer = max(peers) if peers else None
        best = max(peers + single) if peers + single else None
        if peer is not None:
            at_or_above += round(a, 4) >= round(peer[0], 4)
            behind += round(a, 4) < round(peer[0], 4)
        print(f"| {name} | {cs} / {es} | {b:.4f} | {a:.4f} | {a - b:+.4f} | "
              + (f"{peer[1]} {peer[0]:.4f} | {a - peer[0]:+.4f} | " if peer else "- | - | ")
              + (f"{max(single)[1]} {max(single)[0]:.4f} | " if single else "- | ")
              + (f"{a - best[0]:+.4f} |" if best else "- |"))
    print(f"\nafter at or above the best peer (4 digits): {at_or_above}; behind: {behind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
