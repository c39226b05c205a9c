"""The seed's first model (Dahl 2016): hypercolumns of VGG16 -> two 3x3 layers -> sigmoid chroma.

The activations before VGG16's first four max-pools (conv1_2, conv2_2, conv3_3, conv4_3; 64 + 128
+ 256 + 512 = 960 channels) are upsampled to full resolution and concatenated, so every pixel sees
both fine texture and the deeper "what is this object" features. Then 128- and 64-wide 3x3 layers
(BN + ReLU) and the chroma head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .backbones import build_backbone, load_backbone_weights
from .base import BaseConfig, ColorModel
from .layers import conv_bn_relu, gray_to_imagenet_rgb


@dataclass
class HypercolumnConfig(BaseConfig):
    head: str = "regression"
    space: str = "yuv"
    backbone: str = "vgg16"
    stages: int = 4  # 5 adds conv5_3
    hidden: tuple[int, int] = (128, 64)


class HypercolumnNet(ColorModel):
    output_stride = 1

    def __init__(self, config: HypercolumnConfig | None = None, backbone_weights: str | None = None) -> None:
        config = config or HypercolumnConfig()
        super().__init__(config)
        if config.hints:
            raise ValueError("the hypercolumn model does not take hints; use the compact model")
        if config.backbone != "vgg16":
            raise ValueError("the hypercolumn model is defined on VGG16")
        self.backbone = build_backbone("vgg16")
        if backbone_weights:
            load_backbone_weights(self.backbone, backbone_weights, "vgg16")
        channels = sum(self.backbone.tap_channels[: config.stages])
        self.norm = torch.nn.BatchNorm2d(channels)
        self.hidden1 = conv_bn_relu(channels, config.hidden[0])
        self.hidden2 = conv_bn_relu(config.hidden[0], config.hidden[1])
        self._finish(config.hidden[1])

    def features(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        taps = self.backbone.taps(gray_to_imagenet_rgb(x), stages=self.config.stages)  # type: ignore[attr-defined, call-arg]
        columns = [t if t.shape[-2:] == size else F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in taps]
        return self.hidden2(self.hidden1(self.norm(torch.cat(columns, dim=1))))
