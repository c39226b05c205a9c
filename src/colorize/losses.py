"""Training losses: the seed's blurred chroma distance, Zhang et al.'s rebalanced distribution loss,
and a PatchGAN hinge loss for a short adversarial fine-tune (DeOldify's "NoGAN" schedule).

All losses take normalised chroma (see :class:`colorize.color.ChromaSpace`) and compute in fp32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bins import NearestBinTable
from .color import AB_MAX


def gaussian_kernel1d(size: int, sigma: float | None = None) -> Tensor:
    """Normalised 1-D Gaussian of odd ``size``; the default sigma is OpenCV's ``0.3((size-1)/2-1)+0.8``.

    >>> gaussian_kernel1d(3)
    tensor([0.2390, 0.5220, 0.2390])
    """
    if size % 2 == 0 or size < 1:
        raise ValueError("kernel size must be odd and positive")
    sigma = sigma if sigma is not None else 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def gaussian_blur(x: Tensor, size: int, sigma: float | None = None) -> Tensor:
    """Separable Gaussian blur per channel with reflect padding (keeps borders from darkening)."""
    if size == 1:
        return x
    k = gaussian_kernel1d(size, sigma).to(x.device, x.dtype)
    c = x.shape[1]
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    return F.conv2d(x, k.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)


def euclidean_chroma_distance(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean over pixels of the Euclidean distance between two chroma maps (N, 2, H, W)."""
    return torch.sqrt(((pred.float() - target.float()) ** 2).sum(1) + eps).mean()


class BlurredChromaLoss(nn.Module):
    """The seed's loss: mean of the chroma distance at full detail and after Gaussian blurs of 3 and 5 px.

    Comparing blurred maps forgives colour that is right but slightly misplaced, which is most of
    what a colorizer gets "wrong". ``pred`` may be at a lower resolution; it is upsampled first.
    """

    def __init__(self, kernel_sizes: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        self.kernel_sizes = kernel_sizes

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred = _match_size(pred.float(), target)
        target = target.float()
        terms = [euclidean_chroma_distance(gaussian_blur(pred, k), gaussian_blur(target, k)) for k in self.kernel_sizes]
        return torch.stack(terms).mean()


class RebalancedDistributionLoss(nn.Module):
    """Zhang et al. 2016: cross-entropy against soft-encoded true ab (5 nearest bins, sigma 5), each
    pixel weighted by the rebalancing weight of its nearest bin so rare, saturated colours count.

    ``weights`` (Q,) come from :meth:`colorize.bins.ColorPrior.weights` (lambda 0.5); None
    means no rebalancing. ``target`` is normalised Lab chroma; it is area-downsampled to the logits'
    resolution before encoding.

    Computed without the dense (N, Q, H, W) soft target, which has only k non-zeros per pixel:
    ``-sum_q t_q log p_q = logsumexp(z) - sum_j t_j z[i_j]``, one logsumexp over the Q logits and a
    gather of k of them. The k nearest bins come from :class:`NearestBinTable` (exact); the logits
    are read as (pixels, Q) rows -- a free view of the channels_last head output -- in fp32.
    """

    def __init__(self, centers: Tensor, weights: Tensor | None = None, k: int = 5, sigma: float = 5.0) -> None:
        super().__init__()
        self.centers: Tensor
        self.weights: Tensor
        self.register_buffer("centers", centers.float(), persistent=False)
        self.register_buffer("weights", weights.float() if weights is not None else torch.ones(len(centers)), persistent=False)
        self.k, self.sigma = k, sigma
        self.nearest = NearestBinTable(self.centers, k)
        self._workspace = _Workspace()

    def soft_target(self, logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Bins (P, k), nearest first, and their soft-target weights (P, k), pixels in (N, h, w) order."""
        ab = target.float() * AB_MAX
        if ab.shape[-2:] != logits.shape[-2:]:
            ab = F.adaptive_avg_pool2d(ab, (int(logits.shape[-2]), int(logits.shape[-1])))
        near_d2, near_idx = self.nearest(ab.permute(0, 2, 3, 1).reshape(-1, 2))
        q = torch.softmax(near_d2 / (-2 * self.sigma**2), dim=1)  # exp(-d2 / 2 sigma^2), normalised
        return near_idx, q

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        near_idx, q = self.soft_target(logits, target)
        rows = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])  # a view for channels_last
        pixel_w = self.weights.to(logits.device)[near_idx[:, 0]]
        return _SparseSoftCrossEntropy.apply(rows, near_idx, q, pixel_w, self._workspace)


class _Workspace:
    """A reusable fp32 (P, Q) buffer. Allocating a fresh 34 MB tensor costs tens of ms of page
    faults per step on a small CPU box (measured: more than the arithmetic), so the loss keeps one.
    ``owner`` says whose exp(z - max) it currently holds, so a backward can reuse it if nothing ran
    in between and recomputes otherwise."""

    def __init__(self) -> None:
        self.buffer: Tensor | None = None
        self.owner: object | None = None

    def get(self, like: Tensor) -> Tensor:
        b = self.buffer
        if b is None or b.shape != like.shape or b.device != like.device:
            b = self.buffer = torch.empty(like.shape, dtype=torch.float32, device=like.device)
        return b


class _SparseSoftCrossEntropy(torch.autograd.Function):
    """``sum_p w_p (logsumexp(z_p) - sum_j q_pj z_p[i_pj]) / P`` for logit rows z (P, Q), in fp32.

    Forward leaves ``exp(z - max)`` in the workspace; backward turns it in place into
    ``w_p / P * (softmax(z_p) - q_p)`` (the k target entries scattered in) and returns it in the
    logits' dtype. Saved for backward: the logits as emitted (bf16 under autocast), per-row max and
    sum, and the (P, k) target -- not the dense fp32 log-probabilities and soft target of before.
    """

    @staticmethod
    def forward(ctx, rows: Tensor, idx: Tensor, q: Tensor, pixel_w: Tensor, ws: _Workspace) -> Tensor:  # type: ignore[override]
        buf = ws.get(rows).copy_(rows)  # (a mixed-dtype torch.sub(..., out=) is ~10x slower here)
        m = buf.amax(1)
        buf.sub_(m[:, None]).exp_()
        sums = buf.sum(1)
        lse = m + sums.log()
        picked = rows.gather(1, idx).float()
        ce = lse - (q * picked).sum(1)
        token = object()
        ws.owner = token
        ctx.ws, ctx.token = ws, token
        ctx.save_for_backward(rows, m, sums, idx, q, pixel_w)
        return (pixel_w * ce).sum() / rows.shape[0]

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        rows, m, sums, idx, q, pixel_w = ctx.saved_tensors
        ws: _Workspace = ctx.ws
        buf = ws.get(rows)
        if ws.owner is not ctx.token:  # another forward used the buffer since: recompute exp(z - max)
            buf.copy_(rows).sub_(m[:, None]).exp_()
        ws.owner = None
        scale = pixel_w * (grad_out.float() / rows.shape[0])
        buf.mul_((scale / sums)[:, None])
        buf.scatter_add_(1, idx, -(q * scale[:, None]))
        grad = buf.to(rows.dtype) if rows.dtype != torch.float32 else buf.clone()
        return grad, None, None, None, None


def _match_size(pred: Tensor, target: Tensor) -> Tensor:
    if pred.shape[-2:] == target.shape[-2:]:
        return pred
    return F.interpolate(pred, size=target.shape[-2:], mode="bilinear", align_corners=False)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017) on (luma, chroma): judges realism per ~70 px patch.

    Spectral norm on every convolution keeps the critic Lipschitz, which with the hinge loss is
    what makes a short GAN fine-tune stable without a careful learning-rate dance.
    """

    def __init__(self, width: int = 64, layers: int = 3) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        blocks: list[nn.Module] = [sn(nn.Conv2d(3, width, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(1, layers):
            blocks += [sn(nn.Conv2d(c, min(c * 2, 512), 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            c = min(c * 2, 512)
        blocks += [sn(nn.Conv2d(c, c, 3, 1, 1)), nn.LeakyReLU(0.2, True), sn(nn.Conv2d(c, 1, 3, 1, 1))]
        self.net = nn.Sequential(*blocks)

    def forward(self, luma: Tensor, chroma: Tensor) -> Tensor:
        chroma = _match_size(chroma, luma)
        return self.net(torch.cat([luma * 2 - 1, chroma], dim=1))


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``."""
    return F.relu(1 - real_scores.float()).mean() + F.relu(1 + fake_scores.float()).mean()


def hinge_generator_loss(fake_scores: Tensor) -> Tensor:
    """``-E[D(fake)]``: the generator pushes its patches' scores up."""
    return -fake_scores.float().mean()


LOSS_NAMES = ("blur", "distribution", "gan")


def parse_loss_weights(spec: str) -> dict[str, float]:
    """``"distribution=1,blur=0.5"`` -> ``{"distribution": 1.0, "blur": 0.5}``; a bare name weighs 1."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        if name not in LOSS_NAMES:
            raise ValueError(f"unknown loss {name!r}; choose from {LOSS_NAMES}")
        w = float(value) if value else 1.0
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"loss weight for {name!r} must be a non-negative number")
        out[name] = w
    if not out:
        raise ValueError("no loss given")
    return out
