"""The seed's better model (Dahl 2016): a residual encoder over a classification backbone.

Start from the deepest tapped layer, upsample, add a 1x1 projection of the next shallower layer,
BN + ReLU, 3x3 conv, and so on down to full resolution, where the gray input itself is added last.
VGG16 with its first 4 stages is the seed; ``stages=5`` and the ResNet backbones are the seed's own
"next steps".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .backbones import build_backbone, load_backbone_weights
from .base import BaseConfig, ColorModel
from .layers import ResidualDecoder, conv_bn_relu, gray_to_imagenet_rgb


@dataclass
class ResidualEncoderConfig(BaseConfig):
    head: str = "regression"
    space: str = "yuv"
    backbone: str = "vgg16"
    stages: int = 4  # VGG16: 4 (the seed) or 5; ResNet: up to 5
    widths: tuple[int, ...] = (64, 128, 256, 512, 512)  # decoder width at each level


class ResidualEncoderNet(ColorModel):
    output_stride = 1

    def __init__(self, config: ResidualEncoderConfig | None = None, backbone_weights: str | None = None) -> None:
        config = config or ResidualEncoderConfig()
        super().__init__(config)
        if config.hints:
            raise ValueError("the residual encoder does not take hints; use the compact model")
        if not 2 <= config.stages <= 5:
            raise ValueError("stages must be between 2 and 5")
        self.backbone = build_backbone(config.backbone)
        if backbone_weights:
            load_backbone_weights(self.backbone, backbone_weights, config.backbone)
        taps = list(self.backbone.tap_channels[: config.stages])
        widths = list(config.widths[: config.stages])
        self.decoder = ResidualDecoder(taps, widths, stop_level=0)
        self.finish = conv_bn_relu(widths[0] + 1, widths[0])  # the gray input joins at full resolution
        self._finish(widths[0])

    config: ResidualEncoderConfig

    def _taps(self, x: Tensor) -> list[Tensor]:
        rgb = gray_to_imagenet_rgb(x)
        if self.config.backbone == "vgg16":
            return self.backbone.taps(rgb, stages=self.config.stages)  # type: ignore[call-arg]
        return self.backbone.taps(rgb)[: self.config.stages]

    def features(self, x: Tensor) -> Tensor:
        y = self.decoder(self._taps(x))
        if y.shape[-2:] != x.shape[-2:]:  # ResNet taps start at stride 2
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.finish(torch.cat([y, x.to(y.dtype)], dim=1))
