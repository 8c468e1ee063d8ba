#!/usr/bin/env python3
"""Train the small digits CNN that int8rt ships, export it to ONNX, and write
the held-out and calibration data beside it.

Output (default: python/int8rt/data/):
  digits_cnn.onnx  FP32 model, opset 17, input "input" [batch,1,8,8] -> "logits" [batch,10]
  digits.npz       calib (256 training images), test_x / test_y (held-out split),
                   mean / std (the normalisation constants)
  README.md        origin, preprocessing, split, this command, the FP32 held-out
                   accuracy measured with onnxruntime, and the model's op list

Data: scikit-learn's bundled copy of the UCI "Optical Recognition of Handwritten
Digits" test set (sklearn.datasets.load_digits: 1797 8x8 images, pixel values
0..16, no download). Split: stratified 70/30 with seed 0
(sklearn.model_selection.train_test_split). Preprocessing: x / 16, then
(x - mean) / std with one scalar mean and std computed over every pixel of the
training split. Images stay 8x8 (NCHW, one channel).

The network is written to exercise what int8rt's importer and passes must
handle: Conv3x3+BatchNorm+ReLU, depthwise 3x3+BN+ReLU, pointwise 1x1+BN+ReLU6
(exported as Clip), MaxPool, two sibling 1x1 convs on one tensor joined by
Concat (a horizontal-fusion candidate), a residual Add, GlobalAveragePool,
Flatten and Gemm. It is exported in eval mode with constant folding off so
the BatchNormalization nodes stay in the graph for int8rt's BN-folding pass.

Training-time dependencies only (int8rt does not need them at run time):
  pip install torch==2.13.0 scikit-learn onnx onnxruntime
Usage: python3 tools/train_digits_cnn.py [--out-dir DIR] [--epochs N]
"""
from __future__ import annotations

import argparse
import random
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
TEST_FRACTION = 0.3
CALIB_COUNT = 256
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "python" / "int8rt" / "data"
COMMAND = "python3 tools/train_digits_cnn.py"


def conv_bn(cin: int, cout: int, k: int, groups: int = 1) -> list[nn.Module]:
    """Conv (no bias, 'same' padding) followed by BatchNorm: the pair BN-folding targets."""
    return [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]


class DigitsCNN(nn.Module):
    """Input [N,1,8,8] normalised digits -> [N,10] logits."""

    def __init__(self, c1: int = 24, c2: int = 48) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, c1, 3), nn.ReLU())                     # 8x8
        self.depthwise = nn.Sequential(*conv_bn(c1, c1, 3, groups=c1), nn.ReLU())
        self.pointwise = nn.Sequential(*conv_bn(c1, c2, 1), nn.ReLU6())              # Clip(0,6)
        self.pool = nn.MaxPool2d(2)                                                  # 4x4
        # Two 1x1 convs reading the same tensor; their outputs are concatenated.
        self.branch_a = nn.Sequential(*conv_bn(c2, c2 // 2, 1), nn.ReLU())
        self.branch_b = nn.Sequential(*conv_bn(c2, c2 // 2, 1), nn.ReLU())
        # Residual block over the concatenated tensor.
        self.res1 = nn.Sequential(*conv_bn(c2, c2, 3), nn.ReLU())
        self.res2 = nn.Sequential(*conv_bn(c2, c2, 3))
        self.relu = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)                                           # GlobalAveragePool
        self.fc = nn.Linear(c2, 10)                                                  # Gemm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.pointwise(self.depthwise(self.stem(x))))
        x = torch.cat([self.branch_a(x), self.branch_b(x)], dim=1)
        x = self.relu(x + self.res2(self.res1(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


def load_split() -> dict[str, np.ndarray]:
    """The fixed split, normalised; images NCHW float32, labels int64."""
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0          # [1797,8,8] in [0,1]
    labels = digits.target.astype(np.int64)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=TEST_FRACTION, random_state=SEED,
                                           stratify=labels)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    mean = np.float32(images[train_idx].mean())
    std = np.float32(images[train_idx].std())
    norm = ((images - mean) / std).astype(np.float32)[:, None, :, :]
    rng = np.random.default_rng(SEED)
    calib_idx = np.sort(rng.choice(train_idx, size=CALIB_COUNT, replace=False))
    return {"train_x": norm[train_idx], "train_y": labels[train_idx],
            "test_x": norm[test_idx], "test_y": labels[test_idx],
            "calib": norm[calib_idx], "mean": mean, "std": std}


def shift_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random translation by -1..1 pixel per image (zero = the normalised background)."""
    n = x.shape[0]
    background = x.amin(dim=(1, 2, 3), keepdim=True)
    padded = torch.nn.functional.pad(x - background, (1, 1, 1, 1)) + background
    dy = torch.randint(0, 3, (n,), generator=gen)
    dx = torch.randint(0, 3, (n,), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
    return out


def train(model: DigitsCNN, x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    """Adam + cosine schedule, batch 64, shuffled with a seeded generator."""
    gen = torch.Generator().manual_seed(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for start in range(0, len(yt), 64):
            batch = perm[start:start + 64]
            opt.zero_grad()
            loss = loss_fn(model(shift_augment(xt[batch], gen)), yt[batch])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        sched.step()
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(yt):.4f}")
    model.eval()


def export_onnx(model: DigitsCNN, path: Path) -> None:
    """Opset 17, dynamic batch, BatchNormalization kept (eval mode, no constant folding)."""
    dummy = torch.zeros(1, 1, 8, 8)
    # The TorchScript exporter is chosen on purpose (the dynamo one needs onnxscript);
    # its deprecation warning says nothing about this model.
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
    torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


REQUIRED_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "MaxPool", "Concat", "Add",
                "GlobalAveragePool", "Flatten", "Gemm"}


def op_counts(path: Path) -> Counter:
    """Node count per op type; fails if an op the model is meant to exercise is missing."""
    graph = onnx.load(str(path)).graph
    counts = Counter(node.op_type for node in graph.node)
    missing = REQUIRED_OPS - set(counts)
    if missing:
        raise RuntimeError(f"{path}: exported graph lacks {sorted(missing)}")
    if not any(n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)
               for n in graph.node):
        raise RuntimeError(f"{path}: no grouped (depthwise) Conv in the exported graph")
    return counts


def ort_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in percent of the exported model under onnxruntime (CPU)."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], {"input": x})[0]
    return 100.0 * float((logits.argmax(axis=1) == y).mean())


README = """\
# Shipped model and data: handwritten digits CNN

This file and the two beside it are generated by `{command}`
(run from the repository root; it needs `pip install torch==2.13.0 scikit-learn
onnx onnxruntime`, which int8rt itself does not). Edit the script, not this
file, and rerun it. Trained with torch {torch_version}, scikit-learn {sklearn_version}, fixed
seed {seed}, single-threaded, so a rerun with the same versions gives the same weights.

| file | contents |
|---|---|
| `digits_cnn.onnx` | FP32 CNN, opset 17, input `input` float32 [batch,1,8,8], output `logits` float32 [batch,10] ({onnx_kb:.1f} KB, {params} parameters) |
| `digits.npz` | `calib` float32 [{n_calib},1,8,8] (from the training split), `test_x` float32 [{n_test},1,8,8], `test_y` int64 [{n_test}] (held-out split), `mean`, `std` float32 scalars ({npz_kb:.1f} KB) |

## Origin and licence

The images are scikit-learn's bundled digits data set (`sklearn.datasets.load_digits`,
no download): a copy of the test set of the UCI Machine Learning Repository's
"Optical Recognition of Handwritten Digits" data set, created by E. Alpaydin and
C. Kaynak (Bogazici University, July 1998), https://archive.ics.uci.edu/dataset/80 .
1797 images of 8x8 pixels, each pixel the count (0..16) of set pixels in a 4x4
block of a 32x32 NIST-preprocessed bitmap; 10 classes.
scikit-learn's documentation of the data set (`load_digits().DESCR`) gives no
licence; it cites C. Kaynak (1995), "Methods of Combining Multiple Classifiers and
Their Applications to Handwritten Digit Recognition", MSc thesis, Bogazici
University, and E. Alpaydin, C. Kaynak (1998), "Cascading Classifiers",
Kybernetika. The UCI repository page is the authority on the licence and
citation; please cite the data set as it asks.

## Preprocessing and split

- `x = images / 16` (float32, range [0, 1]), then `x = (x - mean) / std` with one
  scalar `mean = {mean:.8f}` and `std = {std:.8f}`, computed over every pixel of the
  training split (both stored in `digits.npz`). Images stay 8x8, layout NCHW.
- Split: `sklearn.model_selection.train_test_split(test_size={test_fraction},
  random_state={seed}, stratify=labels)` over the 1797 indices: {n_train} training
  images, {n_test} held-out images.
- `calib`: {n_calib} training images drawn without replacement by
  `numpy.random.default_rng({seed})`; never a held-out image.
- Training: Adam (lr 3e-3, weight decay 1e-4), cosine schedule, {epochs} epochs,
  batch 64, random +-1 pixel shifts; no held-out data is used during training.

## Accuracy

FP32 held-out top-1 accuracy, measured with onnxruntime {ort_version} (CPU) on the
exported `digits_cnn.onnx` over `test_x` / `test_y`:

fp32_heldout_top1_percent: {accuracy:.2f}

(`tests/test_digits_model.py` recomputes it and checks it against this line.)

## Model

Conv3x3(1->24)+BN+ReLU, depthwise Conv3x3(24, group 24)+BN+ReLU,
Conv1x1(24->48)+BN+ReLU6 (Clip 0..6), MaxPool 2x2 (8x8 -> 4x4), two sibling
Conv1x1(48->24)+BN+ReLU reading the same tensor and joined by Concat (a
horizontal-fusion candidate), residual block Conv3x3(48->48)+BN+ReLU,
Conv3x3(48->48)+BN, Add with the block input, ReLU, GlobalAveragePool, Flatten,
Gemm(48->10). Exported in eval mode with constant folding off, so each
BatchNormalization is still a node for int8rt's BN-folding pass; the Clip's
min (0) and max (6) arrive as inputs produced by two Constant nodes, as the
opset-11+ Clip defines them. Graph inputs hold only `input` (weights are
initializers, not inputs).

ONNX nodes by op type:

| op | count |
|---|---|
{op_table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    random.seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    data = load_split()
    model = DigitsCNN()
    train(model, data["train_x"], data["train_y"], args.epochs)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out_dir / "digits_cnn.onnx"
    npz_path = args.out_dir / "digits.npz"
    export_onnx(model, onnx_path)
    np.savez_compressed(npz_path, calib=data["calib"], test_x=data["test_x"],
                        test_y=data["test_y"], mean=data["mean"], std=data["std"])

    with torch.no_grad():
        torch_acc = 100.0 * float((model(torch.from_numpy(data["test_x"])).argmax(1).numpy()
                                   == data["test_y"]).mean())
    accuracy = ort_accuracy(onnx_path, data["test_x"], data["test_y"])
    counts = op_counts(onnx_path)
    print(f"held-out top-1: onnxruntime {accuracy:.2f}%  torch {torch_acc:.2f}%")

    import sklearn
    (args.out_dir / "README.md").write_text(README.format(
        command=COMMAND, torch_version=torch.__version__, sklearn_version=sklearn.__version__,
        ort_version=ort.__version__, seed=SEED, test_fraction=TEST_FRACTION,
        onnx_kb=onnx_path.stat().st_size / 1024, npz_kb=npz_path.stat().st_size / 1024,
        params=sum(p.numel() for p in model.parameters()),
        n_calib=len(data["calib"]), n_train=len(data["train_y"]), n_test=len(data["test_y"]),
        mean=float(data["mean"]), std=float(data["std"]), epochs=args.epochs,
        accuracy=accuracy,
        op_table="\n".join(f"| {op} | {n} |" for op, n in sorted(counts.items()))))
    print(f"wrote {onnx_path}, {npz_path}, {args.out_dir / 'README.md'}")


if __name__ == "__main__":
    main()
