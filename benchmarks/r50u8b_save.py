"""Saves ResNet-50's int8rt INT8 engine built with the auto calibrator (what
the README recommends) and NNCF's OpenVINO INT8 IR, as e2e_bench builds them
(`--calibrator auto`, the cached models of --models-dir), into the directory
layout `r50i8_layers.py --dir` reads, so its per-layer comparison against
OpenVINO's PERF_COUNT runs on the auto engine (RESULTS.md section 145).

Usage: PYTHONPATH=python python benchmarks/r50u8b_save.py --dir /tmp/r50u8b/resnet50_auto
then:  PYTHONPATH=python python benchmarks/r50i8_layers.py --dir /tmp/r50u8b/resnet50_auto --batch 8
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench as B  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eall/models"))
    args = ap.parse_args()
    import openvino as ov
    d = args.dir
    d.mkdir(parents=True, exist_ok=True)
    s = B.subject("resnet50", 224, args.models_dir)
    B.build(s, args.models_dir, ["int8rt int8", "OV int8"], "auto")
    if s.errors:
        raise SystemExit(f"build failed: {s.errors}")
    (d / "engine.i8rt").write_bytes(s.engines["int8rt int8"].serialize())
    (d / "fp32.onnx").write_bytes(s.onnx_path.read_bytes())
    ov.save_model(s.ov_models["int8"], str(d / "ov_int8.xml"))
    np.save(d / "x8.npy", s.inputs(8))
    (d / "input_name").write_text(s.input_name)


if __name__ == "__main__":
    main()
