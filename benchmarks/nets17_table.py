"""The RESULTS_realnets.md table of the nets17 sweep: one row per network from
newnets_bench.py's ``--json`` files (import phase and full phase, dynamo and
TorchScript exports), the later line for a network winning within a file and
the full phase's import over the import phase's.

Ops "new to int8rt" are the network's ops outside int8rt.onnx.ops.SUPPORTED_OPS
(what the importer refuses unless a rewrite removes them first).

Usage: PYTHONPATH=python python benchmarks/nets17_table.py --import /tmp/nets17/import.jsonl
       --full /tmp/nets17/full.jsonl [--ts /tmp/nets17/import_ts.jsonl] [--models /tmp/nets17/models]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, Optional


def _load(path: Optional[str]) -> Dict[str, dict]:
    rows: Dict[str, dict] = {}
    if path and Path(path).exists():
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            rows[r["name"]] = r
    return rows


def _nodes(models: Optional[str], name: str) -> str:
    p = Path(models or "") / f"{name}.onnx"
    if not p.exists():
        return "-"
    import onnx

    return str(len(onnx.load(str(p), load_external_data=False).graph.node))


def _metric(m: Optional[dict]) -> str:
    if not m:
        return "-"
    s = f"{m['ccos']:.4f}"
    return s + (f" / {m['top1_var']:.2f} ({m['n_var']})" if "top1_var" in m else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--import", dest="imp", required=True)
    ap.add_argument("--full")
    ap.add_argument("--ts")
    ap.add_argument("--models")
    a = ap.parse_args()
    imp, full, ts = _load(a.imp), _load(a.full), _load(a.ts)
    from int8rt.onnx.ops import SUPPORTED_OPS
    print("| network | exporter | import | fp32 max rel. | int8rt INT8 ccos / top-1 var (n) | ORT INT8 | nodes |"
          " ops new |")
    print("|---|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(list(imp) + list(full)):
        f = full.get(name, {})
        r = f if "fp32_max_rel" in f else imp[name]  # the full phase imports again (after a fix, the newer)
        err = r.get("fp32_error") or r.get("error")
        fp32 = "-" if err else f"{r['fp32_max_rel']:.1e}" + (
            f" (short {r['fp32_max_rel_short']:.1e})" if "fp32_max_rel_short" in r else "")
        new = sorted(set(r.get("ops", [])) - SUPPORTED_OPS)
        exp = "dynamo" + (", torchscript" if name in ts and "fp32_error" not in ts[name] else "")
        print(f"| {name} | {exp} | {'no: ' + err[:80] if err else 'yes'} | {fp32} | "
              f"{f.get('int8_error') or _metric(f.get('int8rt_int8'))} | "
              f"{f.get('ort_int8_error', '')[:40] or _metric(f.get('ort_int8'))} | {_nodes(a.models, name)} | "
              f"{', '.join(new) or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
