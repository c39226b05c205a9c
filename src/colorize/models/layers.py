"""Small building blocks shared by the models: conv + BN + ReLU, residual blocks, the decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_bn_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1, kernel: int = 3) -> nn.Sequential:
    """The seed's unit: convolution, batch norm, ReLU."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut; dilation widens the receptive field cheaply."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(channels, channels, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.bn2(self.conv2(self.conv1(x))))


class GlobalContext(nn.Module):
    """Image-level context (is this a beach or a forest?) broadcast back to every position.

    Iizuka et al. 2016 showed a global branch fixes locally plausible but globally wrong colours;
    here it costs one pooling and two tiny linear layers.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))

    def forward(self, x: Tensor) -> Tensor:
        g = self.mlp(x.float().mean(dim=(2, 3)).to(x.dtype))
        return F.relu(x + g[:, :, None, None])


class ResidualDecoder(nn.Module):
    """Dahl's "residual encoder": start from the deepest features and work back up.

    At each level the running features are upsampled to the next shallower tap, a 1x1 projection
    of that tap is added, then BN + ReLU and a 3x3 convolution. Like a U-Net, but adding instead of
    concatenating keeps it cheap. ``taps`` are channel counts from shallow to deep; the decoder
    stops at tap ``stop_level`` (0 = the shallowest).
    """

    def __init__(self, taps: Sequence[int], widths: Sequence[int] | None = None, stop_level: int = 0) -> None:
        super().__init__()
        taps = list(taps)
        widths = list(widths) if widths is not None else taps
        self.stop_level = stop_level
        self.entry = nn.Conv2d(taps[-1], widths[-1], 1)
        self.lift = nn.ModuleList()
        self.project = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for level in range(len(taps) - 2, stop_level - 1, -1):
            self.lift.append(nn.Conv2d(widths[level + 1], widths[level], 1, bias=False))
            self.project.append(nn.Conv2d(taps[level], widths[level], 1, bias=False))
            self.fuse.append(
                nn.Sequential(nn.BatchNorm2d(widths[level]), nn.ReLU(inplace=True), conv_bn_relu(widths[level], widths[level]))
            )
        self.out_channels = widths[stop_level]

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = self.entry(features[-1])
        for i, level in enumerate(range(len(features) - 2, self.stop_level - 1, -1)):
            skip = features[level]
            x = F.interpolate(self.lift[i](x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.fuse[i](x + self.project[i](skip))
        return x


def gray_to_imagenet_rgb(luma: Tensor) -> Tensor:
    """Normalised luma (N, 1, H, W) in [0, 1] to a 3-channel ImageNet-normalised input for VGG/ResNet."""
    mean = torch.tensor([0.485, 0.456, 0.406], device=luma.device, dtype=luma.dtype).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=luma.device, dtype=luma.dtype).view(1, 3, 1, 1)
    return (luma.expand(-1, 3, -1, -1) - mean) / std
