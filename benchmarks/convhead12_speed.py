"""acc56: speed of the networks whose plan the conv-head rule changes (MTCNN
PNet, at its 12 x 12 training size and on a 96 x 96 crop as a detector's image
pyramid feeds it; openWakeWord's speech embedding; PESTO's encoder, whose
last layer is a 1-D Conv -> Squeeze), the head Conv writing
float32 (this build) against the engines another build made (the head Conv
writing int8, then int8 moves and a Dequantize), both run by this build in
one process, alternated (a, b, a, b, ...): median wall and process CPU time
per run, one thread. The other build's engines travel as engine files.
minmax calibration on the harnesses' data (calib15_mtcnn.py draw 1 crops,
calib15_speech_embedding.py windows 0 mod 4, calib16_pesto.py frames 0 mod 4).

Usage:
  A="--mtcnn-wheel W1 --oww-wheel W2 [--pesto-wheel W3] --archives A.."
  PYTHONPATH=<base build>/python python benchmarks/convhead12_speed.py $A --save DIR
  PYTHONPATH=python python benchmarks/convhead12_speed.py $A --base DIR
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import alternated_runs  # noqa: E402
import calib15_mtcnn as M  # noqa: E402
import calib15_speech_embedding as S  # noqa: E402
import calib16_pesto as P  # noqa: E402


def pnet_at(wheel: str, size: int) -> bytes:
    """PNet's ONNX at a size x size input, its face logits flattened (calib15_mtcnn.mtcnn_model's head)."""
    import torch

    model = M.mtcnn_stage(wheel, "pnet")

    class Prob(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            return self.m(x)[-1].flatten(1)

    buf = io.BytesIO()
    torch.onnx.export(Prob(), torch.zeros(1, 3, size, size), buf, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def cases(args: argparse.Namespace) -> dict[str, tuple[bytes, str, np.ndarray]]:
    """name -> (ONNX, input name, data: calibration = every other sample, the rest run)."""
    x, labels = M.lfw_subset()
    calib, _ = M.split(labels, 1)
    out = {}
    for size in (12, 96):
        out[f"pnet{size}"] = (pnet_at(args.mtcnn_wheel, size), "x", M.stage_inputs(x[calib], size))
    with zipfile.ZipFile(args.oww_wheel) as z:
        model, mel = z.read(S.MODELS + "embedding_model.onnx"), z.read(S.MODELS + "melspectrogram.onnx")
    import onnx

    name = onnx.load_from_string(model).graph.input[0].name
    out["oww_embedding"] = (S.flattened(model), name, S.windows(mel, archives=tuple(args.archives))[::2])
    if args.pesto_wheel:
        pesto, encoder, _ = P.load(args.pesto_wheel)
        frames = P.frames(pesto, tuple(args.archives))
        out["pesto_encoder"] = (P.onnx_model(encoder), "cqt", frames[::4][: len(frames[::4]) // 16 * 16])
    return out


def build(onnx_bytes: bytes, name: str, data: np.ndarray):
    import int8rt

    cal = int8rt.make_calibrator({name: data}, algorithm="minmax", batch_size=16)
    return int8rt.build_engine(onnx_bytes, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mtcnn-wheel", required=True)
    ap.add_argument("--oww-wheel", required=True)
    ap.add_argument("--pesto-wheel", help="pesto_pitch-2.0.1 wheel: its encoder too")
    ap.add_argument("--archives", nargs="*", default=[])
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--save", help="write this build's engines to DIR (the base build)")
    ap.add_argument("--base", help="the base build's engines (--save)")
    args = ap.parse_args()
    import int8rt

    todo = cases(args)
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for net, (m, name, data) in todo.items():
            build(m, name, data).save(os.path.join(args.save, f"{net}.i8rt"))
        return 0
    if not args.base:
        ap.error("--save DIR or --base DIR")
    int8rt.set_num_threads(1)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}; 1 thread; {args.reps} runs each, alternated")
    for net, (m, name, data) in todo.items():
        new = build(m, name, data)
        old = int8rt.Engine.load(os.path.join(args.base, f"{net}.i8rt"))
        print(f"  {net} head, this build: {[layer['name'] for layer in new.layers()][-3:]}")
        for b in [int(v) for v in args.batches.split(",")]:
            feed = {name: np.ascontiguousarray(data[:b])}
            alternated_runs.print_pair(f"{net} batch {b}", (new, old), ("float head", "int8 head"), feed, args.reps)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
