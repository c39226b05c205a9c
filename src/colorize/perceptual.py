"""FID and LPIPS, computed only from weights files the user passes -- nothing is ever downloaded.

Both metrics need networks pretrained by others, and their numbers are only comparable with
published ones when exactly those weights are used, so this module rebuilds the two networks with
the original state_dict layouts and loads the original files:

* FID (Heusel et al. 2017): the Inception-v3 of pytorch-fid, ``pt_inception-2015-12-05-6726825d.pth``
  (TensorFlow's 2015 graph ported to PyTorch), 2048-d pool3 features; :class:`InceptionV3FID`.
* LPIPS v0.1, VGG variant (Zhang et al. 2018): the ``lpips`` package's ``weights/v0.1/vgg.pth``
  (the five learned 1x1 layers) on top of torchvision's ``vgg16-397923af.pth``; :class:`LPIPS`.

:class:`PerceptualMetrics` is what :func:`colorize.evaluate.evaluate_folder` uses: LPIPS per
image, Inception features per method, FID per method (and group) at the end. Every problem with
a weights file is a one-line :class:`~colorize.models.backbones.WeightsError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models.backbones import WeightsError, check_state_dict, read_state_dict
from .models.vgg import VGG16

__all__ = [
    "FID_WEIGHTS_FILE",
    "LPIPS_WEIGHTS_FILE",
    "VGG16_WEIGHTS_FILE",
    "FID_MIN_IMAGES",
    "frechet_distance",
    "feature_statistics",
    "fid_from_features",
    "lpips_size",
    "InceptionV3FID",
    "LPIPS",
    "load_inception_fid",
    "load_lpips",
    "PerceptualMetrics",
]

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
"""pytorch-fid's release asset: the weights every published PyTorch FID uses."""

LPIPS_WEIGHTS_FILE = "weights/v0.1/vgg.pth"
"""Path of the learned linear layers inside the ``lpips`` package."""

VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"
"""torchvision's ImageNet VGG16, the LPIPS backbone."""

FID_MIN_IMAGES = 2000
"""Below this many images FID is strongly biased upwards (its estimator's bias falls like 1/N)."""

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# Fréchet distance


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)``. The trace of the matrix square root is
    taken as the sum of square roots of the eigenvalues of the symmetric ``S1^½ S2 S1^½`` (same
    spectrum as ``S1 S2``), so no complex numbers or ``sqrtm`` failures on singular covariances,
    which are the rule when there are fewer images than feature dimensions.

    >>> frechet_distance(np.zeros(1), np.array([[4.0]]), np.zeros(1), np.array([[1.0]]))
    1.0
    >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2)), 9)
    2.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    sqrt_s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_s1 @ s2 @ sqrt_s1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    return max(0.0, float(value))  # rounding can dip a hair below zero for identical sets


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``N x D`` features, in float64, as pytorch-fid does."""
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two sets of features (``N1 x D`` and ``N2 x D``); NaN with fewer than 2 rows.

    Equal to ``frechet_distance(*feature_statistics(a), *feature_statistics(b))``. With fewer
    images than dimensions (130 photos vs 2048 features) the covariances have rank < N, and
    ``tr((S1 S2)^½)`` is the nuclear norm of ``A Bᵀ / sqrt((N1-1)(N2-1))`` for the centred
    features A, B: an N1 x N2 SVD instead of two D x D eigen-decompositions.

    >>> x = np.array([[0.0, 1.0], [2.0, 1.0], [1.0, 3.0]])
    >>> fid_from_features(x, x)
    0.0
    >>> round(fid_from_features(x, x + 1.0), 9)  # a shift by (1, 1) costs |(1, 1)|² = 2
    2.0
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature shapes do not match: {a.shape} vs {b.shape}")
    n1, n2, d = a.shape[0], b.shape[0], a.shape[1]
    if n1 < 2 or n2 < 2:
        return float("nan")
    if max(n1, n2) >= d:
        return frechet_distance(*feature_statistics(a), *feature_statistics(b))
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    ca, cb = a - mu1, b - mu2
    trace_sqrt = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    value = diff @ diff + (ca * ca).sum() / (n1 - 1) + (cb * cb).sum() / (n2 - 1) - 2 * trace_sqrt
    return max(0.0, float(value))


# --------------------------------------------------------------------------------------------
# Inception-v3 as pytorch-fid uses it


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001, as TensorFlow's graph) and ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)  # type: ignore[arg-type]
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_avg_pool(x: Tensor) -> Tensor:
    """3x3 average pool that ignores the zero padding, as TensorFlow's (pytorch-fid's "FID patch")."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """Mixed_5b/5c/5d (pytorch-fid's FIDInceptionA)."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Mixed_6a: the 35 -> 17 reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """Mixed_6b..6e with factorised 7x7 convolutions (pytorch-fid's FIDInceptionC)."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Mixed_7a: the 17 -> 8 reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """Mixed_7b (pool ``"avg"``, FIDInceptionE_1) and Mixed_7c (pool ``"max"``, FIDInceptionE_2).

    The max-pool in the last block is a quirk of the TensorFlow graph FID was defined with; it
    has to be reproduced for the numbers to match.
    """

    def __init__(self, cin: int, pool: str = "avg") -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class InceptionV3FID(nn.Module):
    """pytorch-fid's ``fid_inception_v3`` up to the 2048-d pool3 features.

    Same module names as torchvision's ``Inception3`` (so the published ``.pth`` loads as is), no
    auxiliary classifier and no ``fc`` (FID does not use the logits). ``forward`` takes RGB in
    [0, 1], ``N x 3 x H x W``, resizes it bilinearly to 299 x 299 and scales it to [-1, 1], as
    pytorch-fid does, and returns ``N x 2048``.
    """

    size = 299

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected N x 3 x H x W RGB, got {tuple(x.shape)}")
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def load_inception_fid(weights: PathLike) -> InceptionV3FID:
    """:class:`InceptionV3FID` with pytorch-fid's weights file, in eval mode, without gradients.

    ``fc.*`` and ``AuxLogits.*`` in the file are ignored; BatchNorm's ``num_batches_tracked``
    counters may be absent (they do not affect inference). Anything else that does not fit is a
    :class:`WeightsError` naming the file.
    """
    source = str(Path(weights))
    state = read_state_dict(weights)
    fc = state.get("fc.weight")
    if fc is not None and fc.ndim == 2 and fc.shape[0] == 1000:
        raise WeightsError(
            f"{source}: torchvision's ImageNet Inception-v3 (1000 classes), not the FID network; "
            f"pass pytorch-fid's {FID_WEIGHTS_FILE}"
        )
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
    model = InceptionV3FID()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, value)
    check_state_dict(state, model, source, "the FID Inception-v3")
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------
# LPIPS


class _LinearLayers(nn.Module):
    """The five learned 1x1 layers, named like the lpips package (``lin0.model.1.weight``...).

    Index 0 of each ``model`` was a Dropout during lpips' training; at inference it is the identity.
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        for i, c in enumerate(channels):
            layer = nn.Module()
            layer.model = nn.Sequential(nn.Identity(), nn.Conv2d(c, 1, kernel_size=1, bias=False))
            self.add_module(f"lin{i}", layer)

    def layer(self, i: int) -> nn.Module:
        return getattr(self, f"lin{i}").model


class LPIPS(nn.Module):
    """LPIPS v0.1 with the VGG16 trunk: ``forward(x, y)`` gives one distance per image pair.

    Inputs are RGB in [0, 1], ``N x 3 x H x W`` (same size). As in the lpips package with
    ``normalize=True``: scale to [-1, 1], shift/scale per channel, VGG16 activations at relu1_2,
    relu2_2, relu3_3, relu4_3 and relu5_3, each unit-normalised over channels, squared
    difference weighted by the learned 1x1 layer, averaged over space and summed over layers.
    """

    channels = (64, 128, 256, 512, 512)

    def __init__(self) -> None:
        super().__init__()
        self.net = VGG16()
        self.linear = _LinearLayers(self.channels)
        self.shift: Tensor
        self.scale: Tensor
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected two N x 3 x H x W images of the same size, got {tuple(x.shape)} and {tuple(y.shape)}")
        n = x.shape[0]
        inp = (torch.cat([x, y]) * 2 - 1 - self.shift) / self.scale
        total = torch.zeros(n, dtype=x.dtype, device=x.device)
        for i, feat in enumerate(self.net.taps(inp, stages=len(self.channels))):
            feat = feat / (feat.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            diff = (feat[:n] - feat[n:]) ** 2
            total = total + self.linear.layer(i)(diff).mean(dim=(1, 2, 3))
        return total


def load_lpips(weights: PathLike, vgg_weights: PathLike) -> LPIPS:
    """:class:`LPIPS` with lpips' ``v0.1/vgg.pth`` and torchvision's ``vgg16-397923af.pth``."""
    model = LPIPS()
    source = str(Path(weights))
    state = {k: v for k, v in read_state_dict(weights).items() if not k.startswith("scaling_layer.")}
    check_state_dict(state, model.linear, source, "LPIPS v0.1 vgg (lin0..lin4)")
    model.linear.load_state_dict(state)
    vgg_source = str(Path(vgg_weights))
    vgg = {k: v for k, v in read_state_dict(vgg_weights).items() if not k.startswith("classifier.")}
    check_state_dict(vgg, model.net, vgg_source, "torchvision's vgg16")
    model.net.load_state_dict(vgg)
    return model.eval().requires_grad_(False)


def lpips_size(height: int, width: int, short: int = 256, long: int = 768, minimum: int = 16) -> tuple[int, int]:
    """Size LPIPS sees an image at: shorter side at most ``short``, longer at most ``long``.

    Keeps memory bounded (VGG16 activations of a 12 MP photo would need gigabytes) while small
    images keep their own size; anything under ``minimum`` px (VGG's stride at relu5_3) is enlarged.

    >>> lpips_size(1024, 768)
    (341, 256)
    >>> lpips_size(32, 48)
    (32, 48)
    >>> lpips_size(8, 20)
    (16, 40)
    """
    scale = min(1.0, short / min(height, width), long / max(height, width))
    scale = max(scale, minimum / min(height, width))
    return max(minimum, round(height * scale)), max(minimum, round(width * scale))


# --------------------------------------------------------------------------------------------
# What the evaluator uses


def _to_tensor(rgb: np.ndarray) -> Tensor:
    """``H x W x 3`` float in [0, 1] -> ``1 x 3 x H x W`` float32."""
    arr = np.ascontiguousarray(np.asarray(rgb, np.float32).transpose(2, 0, 1))
    return torch.from_numpy(arr)[None]


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


class PerceptualMetrics:
    """LPIPS per image and FID per method, from the weights files given (either may be left out).

    ``add(group, predictions, truth)`` scores one image: it returns each prediction's LPIPS to the
    truth and keeps the Inception features of every prediction and of the truth; ``fid(group)``
    then compares each method's features with the truths' (``group=None``: every image). Runs in
    fp32 on the CPU under ``torch.inference_mode``.
    """

    def __init__(
        self,
        *,
        fid_weights: PathLike | None = None,
        lpips_weights: PathLike | None = None,
        lpips_vgg_weights: PathLike | None = None,
    ) -> None:
        if lpips_weights is not None and lpips_vgg_weights is None:
            raise ValueError(f"LPIPS needs the VGG16 backbone too: pass lpips_vgg_weights (torchvision's {VGG16_WEIGHTS_FILE})")
        if lpips_vgg_weights is not None and lpips_weights is None:
            raise ValueError(f"lpips_vgg_weights given without lpips_weights (the lpips package's {LPIPS_WEIGHTS_FILE})")
        self.inception = load_inception_fid(fid_weights) if fid_weights is not None else None
        self.lpips = load_lpips(lpips_weights, lpips_vgg_weights) if lpips_weights is not None else None  # type: ignore[arg-type]
        self._groups: list[str] = []
        self._truth: list[np.ndarray] = []
        self._features: dict[str, list[np.ndarray]] = {}

    @property
    def has_fid(self) -> bool:
        return self.inception is not None

    @property
    def has_lpips(self) -> bool:
        return self.lpips is not None

    def images(self, group: str | None = None) -> int:
        """How many images FID features were kept for (in ``group``, or in all)."""
        return sum(1 for g in self._groups if group is None or g == group)

    def add(self, group: str, predictions: Mapping[str, np.ndarray], truth: np.ndarray) -> dict[str, float]:
        """LPIPS of each ``H x W x 3`` prediction against ``truth`` ({} without LPIPS); keeps FID features."""
        scores: dict[str, float] = {}
        with torch.inference_mode():
            t = _to_tensor(truth)
            if self.lpips is not None:
                size = lpips_size(*truth.shape[:2])
                small_truth = _resize(t, size)
                for method, pred in predictions.items():
                    d = self.lpips(_resize(_to_tensor(pred), size), small_truth)
                    scores[method] = float(d[0])
            if self.inception is not None:
                # Resize each image to 299 first (exactly what the network does, so the same
                # numbers) to batch them without holding several full-size copies.
                side = (InceptionV3FID.size, InceptionV3FID.size)
                resize = lambda x: F.interpolate(x, size=side, mode="bilinear", align_corners=False)  # noqa: E731
                names = list(predictions)
                batch = torch.cat([resize(_to_tensor(predictions[m])) for m in names] + [resize(t)])
                feats = self.inception(batch).numpy()
                for m, f in zip(names, feats[:-1]):
                    self._features.setdefault(m, []).append(f.copy())
                self._truth.append(feats[-1].copy())
                self._groups.append(group)
        return scores

    def fid(self, group: str | None = None) -> dict[str, float]:
        """FID of each method's outputs against the truths, over ``group`` (``None``: all images).

        NaN where fewer than 2 images; empty without FID weights.
        """
        if self.inception is None:
            return {}
        keep = np.array([group is None or g == group for g in self._groups], dtype=bool)
        truth = np.asarray(self._truth).reshape(len(self._truth), -1)[keep] if self._truth else np.zeros((0, 2048))
        out = {}
        for method, rows in self._features.items():
            feats = np.asarray(rows)[keep]
            out[method] = fid_from_features(feats, truth) if len(feats) >= 2 else float("nan")
        return out
