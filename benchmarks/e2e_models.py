"""The networks e2e_bench.py times, written out in PyTorch (no torchvision):
a ResNet-18-like (He et al. 2015, basic blocks [2, 2, 2, 2], as
torchvision's resnet18), a ResNet-50-like (bottleneck blocks [3, 4, 6, 3],
stride on the 3x3 conv, as torchvision's resnet50), a MobileNetV2-like
(Sandler et al. 2018, inverted residuals with ReLU6, width 1.0, as
torchvision's mobilenet_v2) and a ShuffleNetV2-like (x1.0, as torchvision's
shufflenet_v2_x1_0), whose channel split and shuffle int8_moves_bench.py uses,
and a ConvNeXt-Tiny-like (Liu et al. 2022, depths [3, 3, 9, 3], widths
[96, 192, 384, 768], as torchvision's convnext_tiny: 7x7 depthwise conv,
then LayerNorm and the two Linears on a channels-last permute, GELU, layer
scale, residual; no stochastic depth at inference) and a ViT-Tiny-like
(Dosovitskiy et al. 2021, as timm's vit_tiny_patch16_224: 16x16 patches,
width 192, 12 pre-norm blocks of torch's nn.TransformerEncoderLayer with 3
heads, class token, learned position embedding).

Weights are random with a fixed seed (He-normal convs; BatchNorm statistics
and affine parameters drawn away from the identity so BN folding does real
work); nothing is downloaded. ResNet-50's BatchNorm statistics are then
measured on synthetic images (``bn_stats_from_data``), as its 16 residual
blocks would otherwise grow the activations block after block; so are the
mobile networks' (e2e_mobile_models.py), whose squeeze-and-excitation gates
would otherwise saturate. Not trained:
the benchmark measures speed and reports output agreement with FP32, not
accuracy.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout, 3))
        self.down = (nn.Sequential(*conv_bn(cin, cout, 1, stride))
                     if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.down(x))


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.features = nn.Sequential(*conv_bn(3, 64, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = 4 * width
        self.body = nn.Sequential(*conv_bn(cin, width, 1), nn.ReLU(), *conv_bn(width, width, 3, stride), nn.ReLU(),
                                  *conv_bn(width, cout, 1))
        self.down = (nn.Sequential(*conv_bn(cin, cout, 1, stride))
                     if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.down(x))


class ResNet50(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        blocks, cin = [], 64
        for width, repeats, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(repeats):
                blocks.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = 4 * width
        self.features = nn.Sequential(*conv_bn(3, 64, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [*conv_bn(cin, hidden, 1), nn.ReLU6()] if expand != 1 else []
        layers += [*conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(),
                   *conv_bn(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))  # expand, channels, repeats, first stride

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers, cin = [*conv_bn(3, 32, 3, 2), nn.ReLU6()], 32
        for expand, cout, repeats, stride in self.SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        layers += [*conv_bn(cin, 1280, 1), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's shuffle: Reshape -> Transpose -> Reshape (batch as -1)."""
    _, c, h, w = x.shape
    return x.reshape(-1, groups, c // groups, h, w).transpose(1, 2).reshape(-1, c, h, w)


class ShuffleBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, half = stride, cout // 2
        branch_in = cin if stride > 1 else half
        self.branch2 = nn.Sequential(*conv_bn(branch_in, half, 1), nn.ReLU(), *conv_bn(half, half, 3, stride, half),
                                     *conv_bn(half, half, 1), nn.ReLU())
        self.branch1 = (nn.Sequential(*conv_bn(cin, cin, 3, stride, cin), *conv_bn(cin, half, 1), nn.ReLU())
                        if stride > 1 else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat((a, self.branch2(b)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 x1.0 (Ma et al. 2018, as torchvision's shufflenet_v2_x1_0): channel split
    (Split), Concat and channel shuffle (Reshape, Transpose, Reshape) in every block."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers, cin = [*conv_bn(3, 24, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1)], 24
        for cout, repeats in ((116, 4), (232, 8), (464, 4)):
            for i in range(repeats):
                layers.append(ShuffleBlock(cin, cout, 2 if i == 0 else 1))
                cin = cout
        layers += [*conv_bn(cin, 1024, 1), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (torchvision's, for the stem and downsampling)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))  # layer scale: 1e-6 at init, ~0.1 once trained

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.fc2(self.act(self.fc1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtTiny(nn.Module):
    def __init__(self, classes: int = 1000, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6)]
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            if i:
                layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)]
            layers += [ConvNeXtBlock(dim) for _ in range(depth)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.fc = nn.Linear(dims[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(torch.flatten(self.pool(self.features(x)), 1)))


class ViTTiny(nn.Module):
    def __init__(self, classes: int = 1000, dim: int = 192, depth: int = 12, heads: int = 3, img: int = 224,
                 patch: int = 16) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        block = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(block, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.fc(self.norm(self.blocks(t)[:, 0]))


def bn_stats_from_data(model: nn.Module, images: torch.Tensor) -> None:
    """Sets every BatchNorm's running mean and variance to the statistics of
    its input over ``images`` (one forward pass in training mode with a
    cumulative average), as torchvision-style networks get them from data."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(images)
    model.eval()


def make_model(name: str, seed: int = 0) -> nn.Module:
    """The named network ("resnet18", "resnet50", "mobilenet_v2", "shufflenet_v2", "convnext_tiny",
    "vit_tiny", or from e2e_mobile_models "mobilenet_v3", "efficientnet_b0", "efficientnet_lite0") with
    seeded random weights, eval mode."""
    from e2e_mobile_models import EfficientNet, MobileNetV3Large
    torch.manual_seed(seed)
    model = {"resnet18": ResNet18, "resnet50": ResNet50, "mobilenet_v2": MobileNetV2,
             "shufflenet_v2": ShuffleNetV2, "convnext_tiny": ConvNeXtTiny, "vit_tiny": ViTTiny,
             "mobilenet_v3": MobileNetV3Large, "efficientnet_b0": lambda: EfficientNet(lite=False),
             "efficientnet_lite0": lambda: EfficientNet(lite=True)}[name]()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    if name in ("resnet50", "mobilenet_v3", "efficientnet_b0", "efficientnet_lite0"):
        bn_stats_from_data(model, torch.randn(16, 3, 224, 224, generator=torch.Generator().manual_seed(seed + 1)))
    return model.eval()
