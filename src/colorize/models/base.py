"""What every colorization network shares: its config, its input and its chroma head.

A model sees normalised luminance (N, 1, H, W) in [0, 1] -- plus, when ``hints`` is on, a sparse
hint map (2 chroma channels and a mask) -- and returns either chroma (regression head, N x 2) or
logits over the quantized ab bins (distribution head, N x Q), at ``1 / output_stride`` of the input
resolution. :meth:`ColorModel.predict_chroma` turns either into normalised chroma in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..bins import DEFAULT_TEMPERATURE, ab_bin_centers, annealed_mean
from ..color import AB_MAX, get_chroma_space

HEADS = ("regression", "distribution")


@dataclass
class BaseConfig:
    """Fields every architecture has. Subclasses add their own shape parameters."""

    space: str = "lab"  # chroma space the model predicts: "lab" or "yuv"
    head: str = "distribution"  # "regression" (the seed) or "distribution" (Zhang et al. 2016)
    hints: bool = False  # take user colour hints as 3 extra input channels (Zhang et al. 2017)
    grid: int = 10  # ab grid of the distribution head's bins

    def validate(self) -> None:
        get_chroma_space(self.space)
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {HEADS}")
        if self.head == "distribution" and self.space != "lab":
            raise ValueError("the distribution head predicts quantized ab bins, so it needs space='lab'")


class ChromaHead(nn.Module):
    """1x1 convolution to 2 chroma channels (sigmoid, mapped to [-1, 1]) or to Q bin logits."""

    def __init__(self, in_channels: int, config: BaseConfig) -> None:
        super().__init__()
        self.kind = config.head
        self.bin_centers: Tensor
        self.register_buffer("bin_centers", ab_bin_centers(config.grid), persistent=False)
        out = 2 if self.kind == "regression" else int(self.bin_centers.shape[0])
        self.conv = nn.Conv2d(in_channels, out, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.kind == "regression":
            return torch.sigmoid(y.float()) * 2 - 1  # the seed's sigmoid output, centred
        return y

    def decode(self, out: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
        """Head output -> normalised chroma (N, 2, h, w) in [-1, 1]."""
        if self.kind == "regression":
            return out.float()
        with torch.autocast(out.device.type, enabled=False):  # softmax over 262 bins in fp32, whatever the caller's autocast
            return annealed_mean(out.float(), self.bin_centers, temperature) / AB_MAX


class ColorModel(nn.Module):
    """Base class: subclasses build ``self.body`` features and call :meth:`_finish` with their width."""

    config: BaseConfig
    output_stride: int = 1
    arch: str = ""  # registry name, set by create_model

    def __init__(self, config: BaseConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config

    @property
    def in_channels(self) -> int:
        return 4 if self.config.hints else 1

    @property
    def space(self) -> str:
        return self.config.space

    def _finish(self, feature_channels: int) -> None:
        self.head = ChromaHead(feature_channels, self.config)

    has_encoder_features = False
    """True when :meth:`encoder_features` gives multi-scale encoder taps (semantic reference matching uses them)."""

    def features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def encoder_features(self, x: Tensor) -> list[Tensor]:
        """Feature maps that describe what is in the picture, for matching a reference photo.

        The base answer is the decoder's features; models with an encoder pyramid override it.
        """
        return [self.features(x)]

    def forward(self, x: Tensor) -> Tensor:
        """``x``: (N, in_channels, H, W) luma in [0, 1] (+ hints). Returns the raw head output."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channel(s), got {x.shape[1]}")
        return self.head(self.features(x))

    @torch.no_grad()
    def predict_chroma(self, x: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
        """Normalised chroma (N, 2, h, w) for input ``x``; ``temperature`` anneals the distribution head."""
        return self.head.decode(self(x), temperature)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
