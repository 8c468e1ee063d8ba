"""Whether two int8rt trees give PP-OCRv4 rec (and det) the same outputs
(RESULTS.md section 267): the FP32, FP32 + bf16 and INT8 (IInt8AutoCalibrator,
e2e_bench.py's "auto") engines of e2e_subjects' networks run on their timed
sample under this process's PYTHONPATH tree, outputs saved to an .npz; with
--compare, two such files compared byte for byte (the float chain on the
binary_f32 family's chain function is meant to change no bit).

Usage (from the repository root):
  PYTHONPATH=/tmp/base/python python3 benchmarks/ocrrec23_same_bits.py --out /tmp/a.npz [--nets ppocr_rec ppocr_det]
  PYTHONPATH=python python3 benchmarks/ocrrec23_same_bits.py --out /tmp/b.npz
  python3 benchmarks/ocrrec23_same_bits.py --compare /tmp/a.npz /tmp/b.npz
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def outputs(nets: list[str], models_dir: Path) -> dict[str, np.ndarray]:
    import int8rt
    import e2e_bench as E
    from e2e_subjects import subject
    int8rt.set_num_threads(1)
    got = {}
    for net in nets:
        s = subject(net, 224, models_dir)
        feed = s.feed(8)
        configs = {"fp32": int8rt.BuilderConfig(precision="fp32"),
                   "bf16": int8rt.BuilderConfig(precision="fp32", bf16=True),
                   "int8_auto": int8rt.BuilderConfig(precision="int8", calibrator=E.CALIBRATORS["auto"](s.calib_feeds))}
        for name, cfg in configs.items():
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                engine = int8rt.build_engine(s.onnx_path, cfg)
            chains = sum("+chain(" in layer["detail"] for layer in engine.layers())
            for k, v in engine.create_execution_context().run(feed).items():
                got[f"{net}/{name}/{k}"] = v
            print(f"{net} {name}: {len(engine.layers())} layers, {chains} with a fused float chain", flush=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--compare", nargs=2)
    ap.add_argument("--nets", nargs="+", default=["ppocr_rec", "ppocr_det"])
    ap.add_argument("--models-dir", default="/tmp/ocrrec23/models")
    args = ap.parse_args()
    if args.compare:
        a, b = (np.load(p) for p in args.compare)
        assert sorted(a.files) == sorted(b.files), (a.files, b.files)
        for k in sorted(a.files):
            same = a[k].tobytes() == b[k].tobytes()
            print(f"{k}: {a[k].shape} {'same bytes' if same else 'DIFFERENT'}"
                  + ("" if same else f" (max |a - b| {np.max(np.abs(a[k].astype(np.float64) - b[k])):.3g})"))
        return
    np.savez(args.out, **outputs(args.nets, Path(args.models_dir)))


if __name__ == "__main__":
    main()
