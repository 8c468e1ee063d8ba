"""Float islands in INT8 engines of real exports (issue 14 §2: "int8 all the way through").

``--audit NET ...``: exports each network of benchmarks/realnets/new_models.py (timm / torchvision
definitions, torch.onnx's default exporter, dynamic batch; cached in ``--dir``), builds an INT8
engine (minmax, 8 calibration inputs) and prints its layers by precision (int8 / fp32 / convert),
then every layer that is not int8 with its kernel.

``--ab NET PASS[,PASS]``: the INT8 engine with those graph passes off and on (everything else equal:
the network is passed through ``_testing.run_passes`` and built with ``optimize=False``), layer
counts, centred cosine of each against FP32 on 16 held-out inputs (minmax, 16 calibration
inputs), and thread CPU time at batch 1 and 8, one thread, engines alternated, medians.

Usage (from /tmp): PYTHONPATH=<repo>/python python <repo>/benchmarks/float_islands.py --audit googlenet densenet121
"""
from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt import _testing  # noqa: E402
from newnets_bench import centred_cosine  # noqa: E402
from realnets import new_models as M  # noqa: E402


def model_path(name: str, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.onnx"
    if not p.exists():
        M.export(M.NETS[name], p)
    return p


def audit(name: str, d: Path) -> None:
    p = model_path(name, d)
    feeds = M.NETS[name].feeds(8, 3)
    t = time.time()
    eng = int8rt.build_engine(str(p), int8rt.BuilderConfig(
        precision="int8", calibrator=int8rt.make_calibrator(feeds, algorithm="minmax", batch_size=4)))
    layers = eng.layers()
    prec = collections.Counter(L["precision"] for L in layers)
    print(f"== {name}: build {time.time() - t:.1f}s, {len(layers)} layers: {dict(prec)}")
    for L in layers:
        if L["precision"] != "int8":
            print(f"   {L['precision']:8s} {L['op']:28s} {L['name'][:50]:50s} {L.get('detail', '')[:90]}")


def ab(name: str, passes: list[str], d: Path) -> None:
    int8rt.set_num_threads(1)
    p = model_path(name, d)
    net0 = int8rt.onnx.import_model(str(p))
    cal, ev = M.NETS[name].feeds(16, 2), M.NETS[name].feeds(16, 1)
    fp32 = int8rt.build_engine(str(p), int8rt.BuilderConfig(precision="fp32")).create_execution_context()

    def run_all(ctx) -> np.ndarray:
        return np.concatenate([ctx.run({k: v[i:i + 4] for k, v in ev.items()})["out"] for i in range(0, 16, 4)])

    ref = run_all(fp32)
    engines = {}
    for label, on in (("off", False), ("on", True)):
        net = pickle.loads(pickle.dumps(net0))
        _testing.run_passes(net, {o: on for o in passes})
        eng = int8rt.build_engine(net, int8rt.BuilderConfig(
            precision="int8", optimize=False, calibrator=int8rt.make_calibrator(cal, algorithm="minmax", batch_size=4)))
        prec = [L["precision"] for L in eng.layers()]
        engines[label] = eng.create_execution_context()
        print(f"{name} {','.join(passes)} {label}: layers {len(prec)}, fp32 {prec.count('fp32')}, "
              f"convert {prec.count('convert')}, centred cos {centred_cosine(run_all(engines[label]), ref):.4f}")
    for b in (1, 8):
        feed = {k: v[:b] for k, v in ev.items()}
        t: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(9 if b == 1 else 5):
            for k, c in engines.items():
                t0 = time.thread_time()
                c.run(feed)
                t[k].append(time.thread_time() - t0)
        med = {k: float(np.median(v)) * 1e3 for k, v in t.items()}
        print(f"  b{b} thread CPU ms: off {med['off']:.2f}, on {med['on']:.2f}, on/off {med['on'] / med['off']:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audit", nargs="+", metavar="NET")
    ap.add_argument("--ab", nargs=2, metavar=("NET", "PASSES"))
    ap.add_argument("--dir", default="/tmp/float_islands/models")
    a = ap.parse_args()
    d = Path(a.dir)
    for name in a.audit or []:
        audit(name, d)
    if a.ab:
        ab(a.ab[0], a.ab[1].split(","), d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
