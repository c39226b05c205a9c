"""The ab colour bins (Zhang et al. 2016): bins, soft encoding, colour prior, annealed mean.

(Named for what it holds: in PyTorch "quantization" means int8 weights, which this is not.)

Predicting a distribution over quantized ab colours instead of one regressed value is what fixes
the seed's sepia "averaging": a multimodal guess (red car or blue car) is kept as two peaks instead
of being averaged to gray. The bins are the points of a 10-unit ab grid whose cell holds at least
one sRGB colour. Zhang et al. count 313 with their gamut estimate; the sRGB gamut computed exactly
here gives 262 (their extra bins lie just outside sRGB and can never be displayed).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .runtime import DEFAULT_TEMPERATURE  # defined in the torch-free leaf, so options need no torch

__all__ = [
    "DEFAULT_TEMPERATURE",
    "ab_bin_centers",
    "soft_encode",
    "NearestBinTable",
    "hard_encode",
    "annealed_mean",
    "ColorPrior",
    "rebalance_weights",
]


def _bin_centers_np(grid: int) -> np.ndarray:
    from .imaging import ab_bin_centers_np  # the one construction, in numpy (the torch-free path needs it too)

    return ab_bin_centers_np(grid)


def ab_bin_centers(grid: int = 10, device: torch.device | str | None = None) -> Tensor:
    """Centres (Q, 2) of the in-gamut ab bins, in Lab units, sorted by (a, b).

    >>> centers = ab_bin_centers()
    >>> centers.shape, float(centers.abs().max()) <= 110
    (torch.Size([262, 2]), True)
    """
    return torch.from_numpy(_bin_centers_np(grid)).to(device)


def _pairwise_sq_dist(ab: Tensor, centers: Tensor) -> Tensor:
    """Squared distances (N, Q, H, W) between ab (N, 2, H, W) and bin centres (Q, 2)."""
    ab = ab.float()
    c = centers.to(ab.device, torch.float32)
    a2 = (ab**2).sum(1, keepdim=True)
    c2 = (c**2).sum(1).view(1, -1, 1, 1)
    cross = torch.einsum("nchw,qc->nqhw", ab, c)
    return (a2 + c2 - 2 * cross).clamp(min=0)


def soft_encode(ab: Tensor, centers: Tensor, k: int = 5, sigma: float = 5.0) -> Tensor:
    """Soft-encode true ab (N, 2, H, W, Lab units) over the bins: Gaussian weights on the k nearest.

    Zhang et al. use k=5, sigma=5: the target is smooth, so nearby bins are not punished as hard as
    far ones. Returns (N, Q, H, W) that sums to 1 over Q.
    """
    d2 = _pairwise_sq_dist(ab, centers)
    near_d2, near_idx = d2.topk(k, dim=1, largest=False)
    w = torch.exp(-near_d2 / (2 * sigma**2))
    w = w / w.sum(1, keepdim=True)
    out = torch.zeros_like(d2)
    return out.scatter_(1, near_idx, w)


class NearestBinTable:
    """Exact k nearest bins of many ab points, from a table of candidate bins per cell of a coarse ab grid.

    Soft encoding needs each pixel's k nearest of the Q bins; measuring all Q distances and a top-k
    over them costs a (pixels, Q) tensor. A cell's candidates are every bin that can be among the k
    nearest of *some* point in the cell: with R the k-th smallest farthest-corner distance of a bin
    to the cell, every point has k bins within R, so a bin whose nearest distance to the cell exceeds
    R can never make the k. The exact distances to those few candidates (a dozen or two) then give
    the exact k nearest. Points outside the table's extent fall back to all Q bins.
    """

    def __init__(self, centers: Tensor, k: int = 5, cell: float = 5.0, margin: float = 20.0) -> None:
        c = centers.detach().double().cpu().numpy()
        q = c.shape[0]
        if not 1 <= k <= q:
            raise ValueError(f"k must be between 1 and the number of bins ({q}), got {k}")
        self.k, self.cell = k, float(cell)
        lo = float(np.floor(c.min() - margin))
        n = int(np.ceil((c.max() + margin - lo) / cell))
        self.origin, self.size = lo, n
        edges = lo + cell * np.arange(n + 1)
        x0, x1 = edges[:-1], edges[1:]

        def axis_dist(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # (n, Q): nearest and farthest distance along one axis from each cell interval to each bin.
            near = np.maximum(np.maximum(x0[:, None] - v[None, :], v[None, :] - x1[:, None]), 0.0)
            far = np.maximum(np.abs(v[None, :] - x0[:, None]), np.abs(v[None, :] - x1[:, None]))
            return near, far

        na, fa = axis_dist(c[:, 0])
        nb, fb = axis_dist(c[:, 1])
        dmin2 = (na[:, None, :] ** 2 + nb[None, :, :] ** 2).reshape(n * n, q)
        dmax2 = (fa[:, None, :] ** 2 + fb[None, :, :] ** 2).reshape(n * n, q)
        r2 = np.partition(dmax2, k - 1, axis=1)[:, k - 1 : k]
        cand = dmin2 <= r2 * (1 + 1e-6) + 1e-6  # a hair of slack: fp32 distances decide ties later
        width = int(cand.sum(1).max())
        table = np.full((n * n, width), q, dtype=np.int64)  # index q: a padding bin far outside
        for i, row in enumerate(cand):
            idx = np.flatnonzero(row)
            table[i, : len(idx)] = idx
        self.table = torch.from_numpy(table)  # (cells, M)
        padded = np.concatenate([c, np.full((1, 2), 1e4)]).astype(np.float32)  # the padding bin: never near
        # Candidate coordinates per cell, one table per axis: a row lookup is far cheaper than
        # gathering (P, M, 2) centre pairs.
        self.table_a = torch.from_numpy(padded[table, 0])
        self.table_b = torch.from_numpy(padded[table, 1])
        self.centers = torch.from_numpy(padded[:-1])

    @property
    def candidates(self) -> int:
        """Candidates measured per point (the table's width)."""
        return int(self.table.shape[1])

    def to(self, device: torch.device | str) -> NearestBinTable:
        for name in ("table", "table_a", "table_b", "centers"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __call__(self, ab: Tensor) -> tuple[Tensor, Tensor]:
        """Squared distances and indices (P, k), nearest first, of the k nearest bins of ab (P, 2)."""
        return self.query(ab[:, 0], ab[:, 1])

    def query(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Squared distances and indices (P, k), nearest first, of the k nearest bins of points (a, b).

        ``a``, ``b``: (P,) in Lab units. Ties go to the lower bin index (as ``argmin`` does).
        """
        a, b = a.float().reshape(-1, 1), b.float().reshape(-1, 1)
        if self.table.device != a.device:
            self.to(a.device)
        ia, ib = torch.floor((a - self.origin) / self.cell), torch.floor((b - self.origin) / self.cell)
        inside = (ia >= 0) & (ia < self.size) & (ib >= 0) & (ib < self.size)
        cells = (ia.clamp(0, self.size - 1) * self.size + ib.clamp(0, self.size - 1)).long().squeeze(1)
        d2 = (a - self.table_a.index_select(0, cells)).square_()
        d2 += (b - self.table_b.index_select(0, cells)).square_()  # (P, M)
        near_d2, pos = self._smallest(d2)
        near_idx = self.table.index_select(0, cells).gather(1, pos)
        if not bool(inside.all()):  # off the table: measure all bins for those points
            out = (~inside).squeeze(1).nonzero().squeeze(1)
            full = (a[out] - self.centers[:, 0]).square() + (b[out] - self.centers[:, 1]).square()  # (P', Q)
            near_d2[out], near_idx[out] = self._smallest(full)
        return near_d2, near_idx

    def _smallest(self, d2: Tensor) -> tuple[Tensor, Tensor]:
        """Values and positions (P, k) of the k smallest entries of each row, ascending; overwrites ``d2``.

        k rounds of a row minimum (first index on ties): several times faster than topk or a sort
        over a dozen candidates.
        """
        vals = torch.empty(d2.shape[0], self.k, dtype=d2.dtype, device=d2.device)
        pos = torch.empty(d2.shape[0], self.k, dtype=torch.long, device=d2.device)
        for j in range(self.k):
            v, p = d2.min(1, keepdim=True)
            vals[:, j : j + 1], pos[:, j : j + 1] = v, p
            if j + 1 < self.k:
                d2.scatter_(1, p, math.inf)
        return vals, pos


def hard_encode(ab: Tensor, centers: Tensor) -> Tensor:
    """Index (N, H, W) of the nearest bin of each pixel's ab."""
    return _pairwise_sq_dist(ab, centers).argmin(1)


def annealed_mean(logits: Tensor, centers: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """Decode a distribution (N, Q, H, W logits) to ab (N, 2, H, W) by the annealed mean.

    T=1 is the mean (desaturated, PSNR-friendly), T->0 the mode (vivid but patchy); Zhang et al.
    pick T=0.38. Computed in fp32 because a bf16 softmax over 262 bins is visibly banded.
    """
    t = max(float(temperature), 1e-3)
    p = torch.softmax(logits.float() / t, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centers.to(logits.device, torch.float32))


class ColorPrior:
    """Empirical distribution of ab bins in a training set, smoothed as in Zhang et al. (sigma 5).

    Stored with the model so training's class rebalancing and evaluation's rebalanced AuC use the
    same prior.
    """

    def __init__(self, probabilities: Tensor, grid: int = 10) -> None:
        p = probabilities.double().clamp(min=0)
        self.probabilities = (p / p.sum()).float()
        self.grid = grid

    @classmethod
    def uniform(cls, grid: int = 10) -> ColorPrior:
        q = ab_bin_centers(grid).shape[0]
        return cls(torch.full((q,), 1.0 / q), grid)

    @classmethod
    def from_counts(cls, counts: Tensor, grid: int = 10, smooth_sigma: float = 5.0) -> ColorPrior:
        """Smooth raw bin counts with a Gaussian over ab distance (sigma in Lab units)."""
        centers = ab_bin_centers(grid).double()
        p = counts.double() / counts.sum().clamp(min=1)
        if smooth_sigma > 0:
            d2 = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
            kernel = torch.exp(-d2 / (2 * smooth_sigma**2))
            p = kernel @ p
        return cls(p.float(), grid)

    @staticmethod
    def count_bins(ab: Tensor, grid: int = 10) -> Tensor:
        """Histogram (Q,) of the nearest bins of ab (N, 2, H, W) in Lab units."""
        centers = ab_bin_centers(grid, ab.device)
        idx = hard_encode(ab, centers)
        return torch.bincount(idx.flatten(), minlength=centers.shape[0]).double().cpu()

    def weights(self, lam: float = 0.5) -> Tensor:
        """Class-rebalancing weights, see :func:`rebalance_weights`."""
        return rebalance_weights(self.probabilities, lam)

    def to_list(self) -> list[float]:
        return [round(float(v), 8) for v in self.probabilities]


def rebalance_weights(prior: Tensor, lam: float = 0.5) -> Tensor:
    """Zhang et al.'s weights ``w ∝ ((1 - lam) p + lam / Q)^-1``, normalised so ``E_p[w] = 1``.

    Rare (saturated) colours get large weights, so the loss is not dominated by the gray-brown
    background colours that make up most pixels.

    >>> w = rebalance_weights(torch.tensor([0.7, 0.2, 0.1]))
    >>> round(float((torch.tensor([0.7, 0.2, 0.1]) * w).sum()), 5)
    1.0
    """
    p = prior.double() / prior.double().sum()
    q = p.numel()
    w = 1.0 / ((1 - lam) * p + lam / q)
    w = w / (p * w).sum()
    return w.float()
