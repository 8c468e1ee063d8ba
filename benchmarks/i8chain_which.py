"""Which networks the INT8 image chain (engine/int8_image_chain.h, RESULTS.md
section 219) chains on this machine: each ONNX model in --models-dir built
to INT8 with a one-image calibration (the chain rule reads shapes, weights
and the kernels the registry picks, never scales), its chain layer's detail
printed, or "unchained".

Usage: PYTHONPATH=python python benchmarks/i8chain_which.py --models-dir /tmp/e2eamx/models \
           --models resnet50 mobilenet_v2 efficientnet_b0
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import int8rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--models", nargs="+", required=True)
    args = ap.parse_args()
    import onnx

    for name in args.models:
        path = args.models_dir / f"{name}.onnx"
        graph = onnx.load(str(path), load_external_data=False).graph
        inits = {i.name for i in graph.initializer}
        feeds = {}
        for i in graph.input:
            if i.name in inits:
                continue
            dims = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
            elem = i.type.tensor_type.elem_type
            feeds[i.name] = (np.random.default_rng(0).standard_normal(dims).astype(np.float32)
                             if elem == onnx.TensorProto.FLOAT else np.ones(dims, np.int64))
        engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(calibrator=[feeds], accuracy_check=False))
        chains = [la["detail"] for la in engine.layers() if la["op"].endswith("ImageChain")]
        print(f"{name}: {chains[0] if chains else 'unchained'} ({len(engine.layers())} layers)", flush=True)


if __name__ == "__main__":
    main()
