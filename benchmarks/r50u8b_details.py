"""Each layer's op, name and detail (the kernel, the codes it reads and
writes) of a network's auto INT8 engine as e2e_bench builds it, one line per
layer, and how many convs / max pools read or write u8 codes: run under two
trees and diffed, it says which layers a change of the u8-code rule reaches
(RESULTS.md section 145).

Usage: PYTHONPATH=<tree>/python python benchmarks/r50u8b_details.py --model mobilenet_v2 [--engine FILE]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402
import e2e_subjects as S  # noqa: E402

TAGS = ("(input u8 codes)", "(residual u8 codes)", "(output u8 codes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", default="/tmp/e2eall/models")
    ap.add_argument("--engine", type=Path, help="a saved engine file (else built with the auto calibrator)")
    args = ap.parse_args()
    if args.engine:
        engine = int8rt.Engine.load(args.engine)
    else:
        s = S.subject(args.model, args.size, Path(args.models_dir))
        cal = B.CALIBRATORS["auto"](s.calib_feeds)
        engine = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=cal,
                                                                       progress=False))
    layers = engine.layers()
    for op in ("int8rt.QConv", "int8rt.QMaxPool"):
        rows = [layer["detail"] for layer in layers if layer["op"] == op]
        print(f"{args.model} {op}: {len(rows)} layers; " +
              ", ".join(f"{tag[1:-1]} {sum(tag in d for d in rows)}" for tag in TAGS))
    for layer in layers:
        print(f"{layer['op']} {layer['name']}: {layer['detail']}")


if __name__ == "__main__":
    main()
