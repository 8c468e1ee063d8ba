"""acc49 probe: is ONNX Runtime's lead over int8rt on facenet-pytorch's MTCNN
stages its asymmetric (uint8, zero point) activations? ORT's quantize_static
(MinMax, QDQ, per-channel weights) with and without ActivationSymmetric
(int8 activations, zero point 0: int8rt's grid), beside int8rt minmax / auto,
on calib15_mtcnn.py's data and draws; relative L2 of the face / non-face
logits against int8rt's FP32 engine.

Usage: PYTHONPATH=python python benchmarks/calib15_ort_symmetric.py --wheel <facenet_pytorch whl> [--nets onet] [--draws 1,2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as C  # noqa: E402
from realnets import engines as E  # noqa: E402
from wheelnets_bench import ort_int8  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="pnet,rnet,onet")
    ap.add_argument("--draws", default="1,2")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import metrics as M
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(2)
    x, labels = C.lfw_subset()
    print("| network | draw | int8rt minmax | int8rt auto | ORT minmax (uint8, zero point) | ORT minmax, ActivationSymmetric |")
    print("|---|---|---|---|---|---|")
    for net in args.nets.split(","):
        model = C.mtcnn_model(args.wheel, net)
        xs = C.stage_inputs(x, C.SIZES[net])
        fp32, _ = E.int8rt_engine(model, "fp32", None, None)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"{net}.onnx")
            with open(path, "wb") as f:
                f.write(model)
            for draw in (int(d) for d in args.draws.split(",")):
                calib, evaluation = C.split(labels, draw)
                ref = E.run_batched(E.int8rt_runner(fp32), xs[evaluation])
                cells = []
                for alg in ("minmax", "auto"):
                    config = int8rt.BuilderConfig(accuracy_check=False, calibrator=make_calibrator(
                        {"x": xs[calib]}, algorithm=alg, batch_size=16))
                    engine = int8rt.build_engine(model, config)
                    cells.append(M.relative_l2(ref, E.run_batched(E.int8rt_runner(engine), xs[evaluation])))
                for sym in (False, True):
                    q, _, _ = ort_int8(path, {"x": xs[calib]}, 16, symmetric_activations=sym)
                    out = E.run_batched(E.ort_runner(E.ort_session(q, 2)), xs[evaluation])
                    cells.append(M.relative_l2(ref, out))
                print(f"| mtcnn_{net} | {draw} | " + " | ".join(f"{c:.4f}" for c in cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
