"""A dispatch rule projected on measured layers: from e2e_amx_layers.py's
--json (per layer, the thread-CPU median under the AMX tier and under the
no-AMX tier), the network's layer sum if each conv took the tier a rule
gives it, beside all-AMX, all-no-AMX and the per-layer best (an oracle). The
rule reads each conv's ONNX weights [K, C/g, R, S] and group (the ONNX files
e2e_amx_layers.py wrote to its --models-dir). A projection, not a run: a
build with the rule, timed on whole networks, is still to do.

Rules (--rule): "s171": AMX declines the stems (C/g <= 4) and the 1x1 convs
with C/g % 64 != 0 unless K/g >= 240 or (K/g >= 128 and C/g >= 72)
(RESULTS.md §171); "stem": the stems only; "c64": every 1x1 with C/g % 64 != 0
and the stems.

Usage: python benchmarks/e2e_amx_rule_projection.py layers.json [more.json] --models-dir DIR [--rule s171]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, Tuple


def conv_shapes(onnx_path: Path) -> Dict[str, Tuple[int, int, int, int]]:
    """ONNX Conv node name -> (K/g, C/g, R*S, g)."""
    import onnx
    m = onnx.load(str(onnx_path), load_external_data=False)
    dims = {t.name: list(t.dims) for t in m.graph.initializer}
    for n in m.graph.node:  # weights held by Constant nodes (Paddle's exporter: PP-OCR)
        if n.op_type == "Constant" and n.attribute and n.attribute[0].HasField("t"):
            dims[n.output[0]] = list(n.attribute[0].t.dims)
    out = {}
    for n in m.graph.node:
        if n.op_type == "Conv" and len(n.input) > 1 and len(dims.get(n.input[1], [])) == 4:
            k, cg, r, s = dims[n.input[1]]
            g = next((a.i for a in n.attribute if a.name == "group"), 1)
            out[n.name] = (k // g, cg, r * s, g)
    return out


def declines(rule: str, kg: int, cg: int, rs: int, g: int) -> bool:
    """Whether `rule` sends this conv away from AMX (to the no-AMX tier's kernel)."""
    if cg <= 4 and not (cg == 1 and g > 1):
        return True
    if rule == "stem" or rs != 1 or cg % 64 == 0:
        return False
    if rule == "c64":
        return True
    return not (kg >= 240 or (kg >= 128 and cg >= 72))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", type=Path)
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--rule", nargs="+", default=["stem", "s171", "c64"])
    args = ap.parse_args()
    print("| network | batch | all AMX ms | no AMX ms | " + " | ".join(f"rule {r} ms" for r in args.rule)
          + " | per-layer best ms | layers the rule s171 moves |")
    print("|---|---|---|---|" + "---|" * len(args.rule) + "---|---|")
    shapes_cache: Dict[str, dict] = {}
    for path in args.json:
        for res in json.loads(path.read_text())["results"]:
            net = res["network"]
            if net not in shapes_cache:
                shapes_cache[net] = conv_shapes(args.models_dir / f"{net}.onnx")
            shapes = shapes_cache[net]
            a = sum(r["ms_a"] for r in res["layers"])
            b = sum(r["ms_b"] for r in res["layers"])
            best = sum(min(r["ms_a"], r["ms_b"]) for r in res["layers"])
            sums, moved = [], 0
            for rule in args.rule:
                tot = 0.0
                for r in res["layers"]:
                    shp = shapes.get(r["name"])
                    use_b = shp is not None and "amx" in r["kernel_a"] and declines(rule, *shp)
                    tot += r["ms_b"] if use_b else r["ms_a"]
                    moved += use_b and rule == "s171"
                sums.append(tot)
            print(f"| {net} | {res['batch']} | {a:.3f} | {b:.3f} | " + " | ".join(f"{t:.3f} ({t / a:.2f})" for t in sums)
                  + f" | {best:.3f} ({best / a:.2f}) | {moved} |")


if __name__ == "__main__":
    main()
