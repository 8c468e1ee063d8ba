"""acc57: each single method's engine on auto's histogram grid against the
calibrators' default grid, with and without bias correction, on MTCNN's
ONet (4 draws, benchmarks/calib15_mtcnn.py) or PESTO (2 draws,
benchmarks/calib16_pesto.py): relative L2 to float32 on the evaluation
samples (metrics.relative_l2, as accuracy_bench reports it). Separates
what auto's choice of a set costs from what its binning costs: a choice
"mse" is the MSE calibrator on auto's grid (tests/test_auto_binning.py).

Usage: PYTHONPATH=python:benchmarks python benchmarks/judge12_bins.py --net onet
       PYTHONPATH=python:benchmarks python benchmarks/judge12_bins.py --net pesto
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

FACENET = "/tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl"
PESTO = "/tmp/calib16/dl/pesto_pitch-2.0.1-py3-none-any.whl"


def draws(net: str, wanted: Sequence[int] | None = None, archives: Sequence[str] = ()
          ) -> Iterator[tuple[int, bytes, np.ndarray, np.ndarray]]:
    """(draw, model, calibration samples, evaluation samples) as the harnesses
    draw them: ``wanted`` draws (all: PESTO 1-2, MTCNN 1-4); PESTO's frames
    from its own clips plus ``archives`` (calib16_pesto.frames)."""
    if net == "pesto":
        import calib16_pesto as PE

        model, encoder, _ = PE.load(PESTO)
        x = PE.frames(model, archives)
        idx = np.arange(len(x))
        onnx = PE.onnx_model(encoder)
        for d in wanted or (1, 2):
            calib = idx[idx % 4 == (0 if d == 1 else 2)]
            yield d, onnx, x[calib[:len(calib) // 16 * 16]], x[idx % 2 == 1]
    else:
        import calib15_mtcnn as C

        x, labels = C.lfw_subset()
        xs = C.stage_inputs(x, C.SIZES[net])
        onnx = C.mtcnn_model(FACENET, net)
        for d in wanted or (1, 2, 3, 4):
            calib, evaluation = C.split(labels, d)
            yield d, onnx, xs[calib], xs[evaluation]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="onet", help="pnet, rnet, onet or pesto")
    ap.add_argument("--methods", default="minmax,mse,percentile,entropy")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import metrics as M
    from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY
    from int8rt.data_calibrator import make_calibrator
    from realnets import engines as E

    int8rt.set_num_threads(2)
    grids = {"default grid": {}, f"auto's grid ({AUTO_NUM_BINS} {AUTO_POLICY})": {"num_bins": AUTO_NUM_BINS,
                                                                               "policy": AUTO_POLICY}}
    for d, onnx, xc, xe in draws(args.net):
        name = E._input_name(onnx)
        fp32, _ = E.int8rt_engine(onnx, "fp32", None, None)
        ref = E.run_batched(E.int8rt_runner(fp32), xe)
        for grid, opts in grids.items():
            out = []
            for alg in args.methods.split(","):
                for bc in (False, True):
                    cal = make_calibrator({name: xc}, algorithm=alg, batch_size=16, **opts)
                    config = int8rt.BuilderConfig(calibrator=cal, accuracy_check=False, bias_correction=bc)
                    eng = int8rt.build_engine(onnx, config)
                    err = M.relative_l2(ref, E.run_batched(E.int8rt_runner(eng), xe))
                    out.append(f"{alg}{' + bias corr.' if bc else ''} {err:.4f}")
            print(f"{args.net} draw {d}, {grid}: " + ", ".join(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
