"""VGG16, written in-house with torchvision's state_dict keys so its published weights load as-is.

``features.{0,2,5,...,28}`` are the 13 convolutions; ``classifier.{0,3,6}`` the fully connected
layers (kept optional: colorization only needs the features).
"""

from __future__ import annotations

from torch import Tensor, nn

# torchvision's configuration "D": numbers are conv widths, "M" a 2x2 max-pool.
VGG16_LAYOUT: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


class VGG16(nn.Module):
    """VGG16 whose :meth:`taps` returns the activations right before each max-pool.

    Those are the seed's hypercolumn layers (conv1_2, conv2_2, conv3_3, conv4_3 and conv5_3), at
    strides 1, 2, 4, 8 and 16.
    """

    tap_channels = (64, 128, 256, 512, 512)

    def __init__(self, with_classifier: bool = False, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        self.pool_indices: list[int] = []
        for v in VGG16_LAYOUT:
            if v == "M":
                self.pool_indices.append(len(layers))
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        if with_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, num_classes),
            )

    def taps(self, x: Tensor, stages: int = 4) -> list[Tensor]:
        """Activations before the first ``stages`` max-pools (ReLU'd, as in the seed)."""
        out: list[Tensor] = []
        for i, layer in enumerate(self.features):
            if i in self.pool_indices:
                out.append(x)
                if len(out) == stages:
                    break
            x = layer(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        if hasattr(self, "classifier"):
            x = self.classifier(self.avgpool(x).flatten(1))
        return x
