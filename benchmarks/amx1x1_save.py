"""Saves ResNet-50's int8rt INT8 engine built as RESULTS.md section 175's
e2e_bench.py run builds it (`--calibrator auto`; the model exported again
into `--models-dir`, a copy of that run's folder, whose cached NNCF
OpenVINO INT8 IR it then reads) in r50i8_layers.py's layout
(engine.i8rt, fp32.onnx, ov_int8.xml, x8.npy, input_name), so that
`r50i8_layers.py --dir OUT` (per layer against OpenVINO's PERF_COUNT;
`--whole-only`: the two engines alternated call by call at batch 1 and 8)
runs the same engine file under any int8rt tree (the file keeps canonical
weights: each tree packs them for its own kernels at load).

Usage: PYTHONPATH=python python benchmarks/amx1x1_save.py --models-dir /tmp/amx1x1/models --out /tmp/amx1x1/r50
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench as B  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--calibrator", choices=sorted(B.CALIBRATORS), default="auto")
    args = ap.parse_args()
    import openvino as ov
    s = B.subject("resnet50", 224, args.models_dir)
    B.build(s, args.models_dir, ["int8rt int8", "OV int8"], args.calibrator)
    if s.errors:
        raise SystemExit(f"build failed: {s.errors}")
    d = args.out
    d.mkdir(parents=True, exist_ok=True)
    (d / "engine.i8rt").write_bytes(s.engines["int8rt int8"].serialize())
    (d / "fp32.onnx").write_bytes(s.onnx_path.read_bytes())
    ov.save_model(s.ov_models["int8"], str(d / "ov_int8.xml"), compress_to_fp16=False)
    np.save(d / "x8.npy", s.inputs(8))
    (d / "input_name").write_text(s.input_name)
    print(f"saved in {d}")


if __name__ == "__main__":
    main()
