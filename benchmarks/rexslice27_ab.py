"""RESULTS.md section 284's A/B: ReXNet's partial residual (Slice -> Add -> Concat) and its SE ReLU6 inside the
BF16 channel-blocked region. Two parts, each run with a base tree's python/ (main's, copied aside before the
change) and this tree's, alternated:

1. --same-layers: networks without the pattern (ResNet-50, MobileNetV2 at 224, PP-OCRv4 det at 320; --plain
   also takes nets20 names, exported in --nets20-dir) build the same BF16 engine layers (op, precision,
   detail) in both trees; prints each tree's layer count and whether the lists are equal (the first
   difference and the op counts that differ where not).
2. bf16n24_nets20.py --op-sums (int8rt bf16, OpenVINO bf16 and int8rt fp32 alternated in one process,
   medians of process CPU time, OV / int8rt; the BF16 engine's thread CPU per op) --pairs times per tree,
   each run's output printed whole under its label.

Usage: python benchmarks/rexslice27_ab.py --base /tmp/rexslice27/base_python --dir /tmp/rexslice27/models \
           [--nets rexnet_100] [--batches 1 8] [--rounds 3] [--pairs 2]
       python benchmarks/rexslice27_ab.py --base ... --dir /tmp/rexslice27/models --same-layers \
           [--plain resnet50 mobilenet_v2 ppocr_det ecaresnet26t ...] [--nets20-dir /tmp/nets20/models]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench_util import alternate_trees

HERE = os.path.dirname(os.path.abspath(__file__))
PLAIN = ["resnet50", "mobilenet_v2", "ppocr_det"]


def dump_layers(name: str, folder: str, nets20_dir: str) -> None:
    """(Run under one tree.) The BF16 engine's layers of `name` as JSON on stdout."""
    import contextlib
    import io
    from pathlib import Path

    sys.path.insert(0, HERE)
    import int8rt
    if name == "ppocr_det":
        from bf16_bench import det_model
        model = det_model(320)
    elif name not in PLAIN:
        from realnets import new_families2  # noqa: F401 - adds the nets17 architectures
        from realnets import new_models as M
        model = str(M.exported(name, nets20_dir)[1])
    else:
        path = Path(folder) / f"{name}.onnx"
        if not path.exists():
            from e2e_subjects import export
            export(name, 224, Path(folder))
        model = str(path)
    with contextlib.redirect_stdout(io.StringIO()):
        e = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", bf16=True))
    print(json.dumps([[la["op"], la["precision"], la.get("detail", "")] for la in e.layers()]))


def same_layers(trees: dict, folder: str, names: list, nets20_dir: str) -> None:
    from collections import Counter
    for name in names:
        got = {}
        for label, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=tree)
            out = subprocess.run([sys.executable, __file__, "--dump-layers", name, "--dir", folder,
                                  "--nets20-dir", nets20_dir], env=env,
                                 capture_output=True, text=True, check=True).stdout
            got[label] = json.loads(out.strip().splitlines()[-1])
        (a, la), (b, lb) = got.items()
        diff = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), None)
        verdict = "same layers" if la == lb else f"DIFFERENT (first at {diff}: {la[diff] if diff is not None else ''} "
        verdict += "" if la == lb else f"/ {lb[diff] if diff is not None else ''})"
        print(f"{name}: {a} {len(la)} layers, {b} {len(lb)} layers: {verdict}", flush=True)
        if la != lb:
            ca, cb = Counter(x[0] for x in la), Counter(x[0] for x in lb)
            print("  op counts that differ:", ", ".join(f"{op} {ca[op]} -> {cb[op]}" for op in sorted(set(ca) | set(cb))
                                                         if ca[op] != cb[op]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="the base tree's python/ directory")
    ap.add_argument("--new", default=os.path.join(os.path.dirname(HERE), "python"),
                    help="the changed tree's python/ (default: this tree's; a copy lets this tree rebuild meanwhile)")
    ap.add_argument("--nets", nargs="+", default=["rexnet_100"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--batches", nargs="+", default=["1", "8"])
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--same-layers", action="store_true", help="only part 1")
    ap.add_argument("--plain", nargs="+", default=PLAIN, help="--same-layers' networks")
    ap.add_argument("--nets20-dir", default="/tmp/nets20/models")
    ap.add_argument("--dump-layers", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dump_layers:
        dump_layers(a.dump_layers, a.dir, a.nets20_dir)
        return
    print("command:", " ".join(sys.argv))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    trees = {"base": a.base, "rexslice27": a.new}
    if a.same_layers:
        same_layers(trees, a.dir, a.plain, a.nets20_dir)
        return
    cmd = [sys.executable, os.path.join(HERE, "bf16n24_nets20.py"), "--nets", *a.nets, "--dir", a.dir,
           "--batches", *a.batches, "--rounds", a.rounds, "--op-sums"]
    alternate_trees(cmd, trees, a.pairs)


if __name__ == "__main__":
    main()
