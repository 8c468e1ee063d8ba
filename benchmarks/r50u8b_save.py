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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from r50i8_layers import save  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eall/models"))
    args = ap.parse_args()
    save(args.dir, args.models_dir, "auto")


if __name__ == "__main__":
    main()
