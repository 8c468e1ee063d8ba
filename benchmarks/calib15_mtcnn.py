"""acc49: auto on networks nobody tuned it on - facenet-pytorch's trained MTCNN
(PNet, RNet, ONet: the face / non-face stages, PReLU CNNs; their face / non-face
logits, the softmax taken off, are compared: the probabilities saturate at 0 / 1)
on the real face and non-face crops scikit-image ships (``skimage/data/
lfw_subset.npy``: 100 LFW faces then 100 non-face patches, 25 x 25 grey).

Every int8rt single method (entropy, entropy_legacy, minmax, percentile, mse),
auto, ONNX Runtime's quantize_static (quant_pre_process; MinMax / Entropy /
Percentile) and NNCF (OpenVINO f32 and default hint) on the same data, through
benchmarks/accuracy_bench.py's ``evaluate`` (metrics: centred cosine of the
face / non-face logits, relative L2, top-1 agreement beside the constant output's
share, face / non-face accuracy against the labels).

Data: the 200 crops, grey copied to RGB, resized (bilinear) to the stage's
input (12 / 24 / 48), normalised as MTCNN does ((x - 127.5) / 128).
Evaluation: the odd indices (50 faces, 50 non-faces). Calibration, two draws
to measure the noise: ``--draw 1`` the even indices' first half of each
class, ``--draw 2`` the second half (24 faces + 24 non-faces each, disjoint;
48 so that ONNX Runtime's histogram calibrators get equal batches of 16: with a
last batch of 2 its Entropy / Percentile fail on ragged arrays); ``--draw 3``
to ``8``: 24 + 24 of the even indices drawn at random (seed = the draw; 5 to 8
since acc63, for paired differences over more draws).
``--per-class 48``: 48 + 48 instead (draws 1 / 2 then overlap in 46 + 46).

The model: mtcnn.py and data/{p,r,o}net.pt read from the wheel file itself
(``pip download --no-deps facenet-pytorch==2.6.0``; the package imports
torchvision, which it does not need for these stages: mtcnn.py is run on its
own without its detect_face import). Exported with torch.onnx (opset 17).

Usage: PYTHONPATH=python python benchmarks/calib15_mtcnn.py --wheel /tmp/calib15/dl/facenet_pytorch-2.6.0-py3-none-any.whl
       [--nets pnet,rnet,onet] [--draw 1] [--groups int8rt,ort,nncf] [--json out.json]
"""
from __future__ import annotations

import io
import os
import sys
import types
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wheel_nets as W  # noqa: E402

SIZES = {"pnet": 12, "rnet": 24, "onet": 48}
DRAWS = (1, 2, 3, 4, 5, 6, 7, 8)


def lfw_subset() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's 200 crops (float in [0, 1], 25 x 25) and labels (1: face)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError("scikit-image is not installed (its lfw_subset.npy is the data)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "lfw_subset.npy")
    x = np.load(path)
    return x, np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]


def stage_inputs(x: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    out = []
    for img in x:
        g = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR), np.float32)
        out.append(np.repeat(g[None], 3, 0))
    return ((np.stack(out) - 127.5) * 0.0078125).astype(np.float32)


def split(labels: np.ndarray, draw: int, per_class: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(calibration indices, evaluation indices) of ``draw`` (1 to 8), ``per_class`` crops of each class."""
    idx = np.arange(len(labels))
    even, odd = idx[idx % 2 == 0], idx[idx % 2 == 1]
    calib = []
    for cls in (1, 0):
        pool = even[labels[even] == cls]
        calib.append(pool[:per_class] if draw == 1 else pool[-per_class:] if draw == 2 else
                     np.sort(np.random.default_rng(draw).choice(pool, per_class, replace=False)))
    return np.concatenate(calib), odd


def mtcnn_stage(wheel: str, net: str):
    """The stage as torch modules in eval mode, its trained weights from the
    wheel, its softmax replaced by the identity (so it returns logits)."""
    import torch

    with zipfile.ZipFile(wheel) as z:
        src = z.read("facenet_pytorch/models/mtcnn.py").decode()
        state = torch.load(io.BytesIO(z.read(f"facenet_pytorch/data/{net}.pt")), map_location="cpu")
    src = "\n".join(line for line in src.splitlines() if "detect_face import" not in line)
    mod = types.ModuleType("mtcnn_stages")
    exec(compile(src, "facenet_pytorch/models/mtcnn.py", "exec"), mod.__dict__)  # noqa: S102 - the wheel's source
    model = {"pnet": mod.PNet, "rnet": mod.RNet, "onet": mod.ONet}[net](pretrained=False)
    model.load_state_dict(state)
    model.eval()
    for name in ("softmax4_1", "softmax5_1", "softmax6_1"):
        if hasattr(model, name):
            setattr(model, name, torch.nn.Identity())
    return model


def mtcnn_model(wheel: str, net: str) -> bytes:
    """The stage's ONNX: its trained weights, the face / non-face logits [N, 2]
    (the softmax replaced by the identity) as the output."""
    import torch

    model = mtcnn_stage(wheel, net)

    class Prob(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            p = self.m(x)[-1]  # the stages return (box regression[, landmarks], face logits here)
            return p.flatten(1)

    size = SIZES[net]
    buf = io.BytesIO()
    torch.onnx.export(Prob(), torch.zeros(1, 3, size, size), buf, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def main() -> int:
    ap = W.parser(__doc__, "facenet_pytorch-2.6.0-py3-none-any.whl", draws=DRAWS)
    ap.add_argument("--nets", default="pnet,rnet,onet")
    ap.add_argument("--per-class", type=int, default=24, help="calibration crops of each class (at most 50)")
    args = ap.parse_args()
    x, labels = lfw_subset()
    calib, evaluation = split(labels, args.draw, args.per_class)
    tasks = []
    for net in args.nets.split(","):
        xs = stage_inputs(x, SIZES[net])
        tag = "" if args.per_class == 24 else f" ({2 * args.per_class} crops)"
        tasks.append(dict(name=f"mtcnn_{net} (facenet-pytorch 2.6.0){tag}, draw {args.draw}",
                          model=mtcnn_model(args.wheel, net), calib=xs[calib], eval=xs[evaluation],
                          labels=labels[evaluation], kind="classes"))
    W.run_tasks(tasks, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
