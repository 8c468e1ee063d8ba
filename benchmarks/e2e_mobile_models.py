"""Mobile CNNs that e2e_bench.py times, written out in PyTorch because
torchvision's and timm's wheels need a CUDA-built torch here (the CPU build of
torch 2.13 loads neither's compiled ops), each following one published
definition layer for layer:

- MobileNetV3-Large (Howard et al. 2019), as torchvision's
  ``mobilenet_v3_large``: its 15-row block table, hardswish in the stem, the
  later blocks and the head, squeeze-and-excitation (global average pool,
  1x1 conv, ReLU, 1x1 conv, hardsigmoid, channel scale) with
  ``make_divisible(expanded / 4, 8)`` squeeze channels, classifier
  Linear(960, 1280), hardswish, Linear(1280, classes).
- EfficientNet-B0 (Tan and Le 2019), as torchvision's ``efficientnet_b0``:
  MBConv blocks with SiLU (exported as x * Sigmoid(x)), squeeze-and-
  excitation with ``max(1, in / 4)`` squeeze channels, SiLU and sigmoid;
  stochastic depth and dropout are identities at inference.
- EfficientNet-Lite0 (TensorFlow's efficientnet-lite, as timm's
  ``efficientnet_lite0``): the same block table with ReLU6 and no
  squeeze-and-excitation, the form meant for integer accelerators.

Weights are random (seeded by e2e_models.make_model); nothing is downloaded.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: round to a multiple of ``divisor``, never
    more than 10 % below ``v``."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_bn_act(cin: int, cout: int, k: int, stride: int, groups: int,
                act: Callable[[], nn.Module] | None) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act is not None else nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """x * gate(fc2(act(fc1(mean_hw(x))))), the 1x1 convs with bias."""

    def __init__(self, channels: int, squeeze: int, act: Callable[[], nn.Module],
                 gate: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.act = nn.Conv2d(channels, squeeze, 1), act()
        self.fc2, self.gate = nn.Conv2d(squeeze, channels, 1), gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class MBConv(nn.Module):
    """Inverted residual: optional 1x1 expansion, k x k depthwise, optional
    squeeze-and-excitation, 1x1 projection without activation, residual when
    the shape is kept."""

    def __init__(self, cin: int, hidden: int, cout: int, k: int, stride: int,
                 act: Callable[[], nn.Module], se: nn.Module | None) -> None:
        super().__init__()
        layers = [conv_bn_act(cin, hidden, 1, 1, 1, act)] if hidden != cin else []
        layers.append(conv_bn_act(hidden, hidden, k, stride, hidden, act))
        if se is not None:
            layers.append(se)
        layers.append(conv_bn_act(hidden, cout, 1, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV3Large(nn.Module):
    # kernel, expanded, out, squeeze-excite, hardswish, stride (torchvision's table)
    SETTINGS = ((3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
                (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
                (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
                (3, 184, 80, False, True, 1), (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
                (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1), (5, 960, 160, True, True, 1))

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers, cin = [conv_bn_act(3, 16, 3, 2, 1, nn.Hardswish)], 16
        for k, hidden, cout, use_se, hswish, stride in self.SETTINGS:
            act = nn.Hardswish if hswish else nn.ReLU
            se = SqueezeExcite(hidden, make_divisible(hidden / 4), nn.ReLU, nn.Hardsigmoid) if use_se else None
            layers.append(MBConv(cin, hidden, cout, k, stride, act, se))
            cin = cout
        layers.append(conv_bn_act(cin, 960, 1, 1, 1, nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(960, 1280), nn.Hardswish(), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class EfficientNet(nn.Module):
    """B0 (SiLU, squeeze-and-excitation) or Lite0 (ReLU6, none)."""
    # expand ratio, kernel, stride, in, out, repeats (torchvision's B0 table)
    SETTINGS = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))

    def __init__(self, lite: bool, classes: int = 1000) -> None:
        super().__init__()
        act = nn.ReLU6 if lite else nn.SiLU
        layers = [conv_bn_act(3, 32, 3, 2, 1, act)]
        for expand, k, stride, cin, cout, repeats in self.SETTINGS:
            for i in range(repeats):
                c = cin if i == 0 else cout
                se = None if lite else SqueezeExcite(c * expand, max(1, c // 4), nn.SiLU, nn.Sigmoid)
                layers.append(MBConv(c, c * expand, cout, k, stride if i == 0 else 1, act, se))
        layers.append(conv_bn_act(320, 1280, 1, 1, 1, act))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))
