"""A re-implementation of Zhang, Isola & Efros 2016 ("Colorful Image Colorization", ECCV16).

Eight VGG-style blocks of 3x3 convolutions with BN; blocks 5 and 6 dilated by 2 to see the whole
image without further downsampling; a transposed convolution back to stride 4 and a 1x1 head over
the ab bins. Kept as the reference point for speed (our compact model must be >= 5x faster) and as
a trainable architecture for those with GPUs. Input 256x256 in the paper; any multiple of 8 works.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .base import BaseConfig, ColorModel


def _block(cin: int, cout: int, n: int, stride_last: int = 1, dilation: int = 1, bn: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        stride = stride_last if i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, dilation, dilation=dilation), nn.ReLU(inplace=True)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


@dataclass
class ECCV16Config(BaseConfig):
    head: str = "distribution"
    space: str = "lab"


class ECCV16Net(ColorModel):
    output_stride = 4

    def __init__(self, config: ECCV16Config | None = None) -> None:
        config = config or ECCV16Config()
        super().__init__(config)
        cin = self.in_channels
        self.model1 = _block(cin, 64, 2, stride_last=2)
        self.model2 = _block(64, 128, 2, stride_last=2)
        self.model3 = _block(128, 256, 3, stride_last=2)
        self.model4 = _block(256, 512, 3)
        self.model5 = _block(512, 512, 3, dilation=2)
        self.model6 = _block(512, 512, 3, dilation=2)
        self.model7 = _block(512, 512, 3)
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
        )
        self._finish(256)

    def features(self, x: Tensor) -> Tensor:
        x = (x - 0.5) * 2
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6, self.model7, self.model8):
            x = block(x)
        return x
