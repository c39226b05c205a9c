"""Decoding the distribution head in numpy: one colour per pixel from its probabilities over the ab bins.

The annealed mean (Zhang et al. 2016) decodes each pixel on its own. In a flat region two colours
are often nearly equally likely (a wall that could be beige or blue) and each pixel picks its own
mode: that is what a blotch is. The **luminance-guided consensus** averages the log-probabilities
over a ``size x size`` neighbourhood before the annealing, each neighbour weighted by how close its
gray level is to the centre's (a joint bilateral filter on the input), so a region agrees on one
mode and the pooling stops at edges, where the gray level changes. Averaging log-probabilities is a
product of the neighbours' distributions: colours that every neighbour finds likely win.

It runs on the logits of either backend (the ONNX graph exports them), in numpy, so the torch-free
install decodes exactly as the torch one. The pooling is separable (a row pass, then a column pass),
each a batched matrix product with a small banded weight matrix per row, so it runs in BLAS at a
cost nearly independent of the size.
"""

from __future__ import annotations

import numpy as np

from .imaging import resize_area
from .runtime import blas_threads

CONSENSUS_SIGMA = 0.1
"""Gray-level scale of the consensus weights, in the model's luminance units (L*/100 for Lab models):
neighbours 0.1 (10 L*) apart weigh exp(-1/2) of an equal one."""

__all__ = ["CONSENSUS_SIGMA", "consensus_pool", "annealed_mean", "decode_logits"]


def _pool_matrices(guide: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """Row-normalised pooling weights (N, h, w, w) along the last axis of ``guide`` (N, 1, h, w).

    Entry ``[n, y, i, j]`` weighs pixel ``j`` for pixel ``i`` of row ``y``: ``exp(-(g_j - g_i)^2 / 2 sigma^2)``
    within ``radius``, with the edge pixel standing in for the ones beyond the border (edge replication).
    """
    g = guide[:, 0]
    n, h, w = g.shape
    idx = np.arange(w)
    m = np.zeros((n, h, w, w), np.float32)
    scale = np.float32(-0.5 / sigma**2)
    for d in range(-radius, radius + 1):
        j = np.clip(idx + d, 0, w - 1)
        weight = np.exp(np.square(g[..., j] - g) * scale)  # (n, h, w): pixel i's weight for its neighbour j
        m[:, :, idx, j] += weight  # one j per i for each d, so no index repeats within this assignment
    m /= m.sum(-1, keepdims=True)
    return m


def _pool_last_but_one(x: np.ndarray, guide: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """One pass of the separable pooling on channels-last ``x`` (N, h, w, Q) along ``w``: a batched
    (w x w) @ (w x Q) matrix product per row, contiguous, in BLAS."""
    return np.matmul(_pool_matrices(guide, radius, sigma), x)


def _consensus_channels_last(logp: np.ndarray, guide: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """:func:`consensus_pool` on (N, Q, h, w) -> channels-last (N, w, h, Q) (rows, then columns).

    One BLAS thread: the products are small and many, and OpenBLAS's threads made them 60-100x slower
    whenever another process used the cores (:func:`colorize.runtime.blas_threads`)."""
    with blas_threads(1):
        x = np.ascontiguousarray(np.asarray(logp, np.float32).transpose(0, 2, 3, 1))  # (N, h, w, Q)
        x = _pool_last_but_one(x, guide, radius, sigma)
        x = np.ascontiguousarray(x.transpose(0, 2, 1, 3))  # (N, w, h, Q): whole Q runs move, cheap
        return _pool_last_but_one(x, np.ascontiguousarray(guide.transpose(0, 1, 3, 2)), radius, sigma)


def _guide_for(logp: np.ndarray, luma: np.ndarray) -> np.ndarray:
    if logp.ndim != 4 or luma.ndim != 4:
        raise ValueError(f"consensus_pool expects (N, Q, h, w) log-probabilities and (N, 1, H, W) luma, got {logp.shape} and {luma.shape}")
    guide = np.asarray(luma[:, :1], np.float32)
    return guide if guide.shape[-2:] == logp.shape[-2:] else resize_area(guide, logp.shape[-2:])


def consensus_pool(logp: np.ndarray, luma: np.ndarray, size: int, sigma: float = CONSENSUS_SIGMA) -> np.ndarray:
    """Average log-probabilities (N, Q, h, w) over ``size x size`` neighbours weighted by gray-level similarity.

    ``luma`` (N, 1, H, W) is the model's luminance input at any resolution (area-resized to the
    logits' grid). ``size`` <= 1 returns ``logp`` unchanged. A flat gray region becomes one mode;
    across an edge the other side barely counts:

    >>> lp = np.zeros((1, 2, 1, 6), np.float32); lp[0, 0, 0, 2] = 6.0  # one pixel prefers bin 0
    >>> flat = consensus_pool(lp, np.zeros((1, 1, 1, 6), np.float32), 5)
    >>> bool((flat[0, 0, 0, :5] > 0.9).all())  # its neighbours follow it
    True
    >>> edge = consensus_pool(lp, np.array([[[[0, 0, 0, 1, 1, 1]]]], np.float32), 5)
    >>> bool(edge[0, 0, 0, 3] < 1e-3)  # but not across a step of 100 L*
    True
    """
    if size <= 1:
        return logp
    pooled = _consensus_channels_last(logp, _guide_for(logp, luma), size // 2, sigma)  # (N, w, h, Q)
    return np.ascontiguousarray(pooled.transpose(0, 3, 2, 1))


def _annealed_mean_last(z: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(z / T) @ centers`` over the last axis of ``z`` (..., Q) -> (..., 2); ``z`` is overwritten."""
    z *= np.float32(1.0 / max(float(temperature), 1e-3))
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    ab = z @ np.asarray(centers, np.float32)
    ab /= z.sum(axis=-1, keepdims=True)
    return ab


def annealed_mean(logp: np.ndarray, centers: np.ndarray, temperature: float) -> np.ndarray:
    """ab (N, 2, h, w) from log-probabilities or logits (N, Q, h, w): ``softmax(logp / T) @ centers``.

    T = 1 is the mean, T -> 0 the mode (as :func:`colorize.bins.annealed_mean`, the torch version).

    >>> ab = annealed_mean(np.zeros((1, 2, 1, 1), np.float32), np.array([[0, 0], [10, 20]], np.float32), 1.0)
    >>> ab[0, :, 0, 0].tolist()
    [5.0, 10.0]
    """
    z = np.asarray(logp, np.float32).transpose(0, 2, 3, 1).copy()  # (N, h, w, Q); always a copy (overwritten below)
    return np.ascontiguousarray(_annealed_mean_last(z, centers, temperature).transpose(0, 3, 1, 2))


def decode_logits(logits: np.ndarray, luma: np.ndarray, centers: np.ndarray, temperature: float, consensus: int = 0,
                  sigma: float = CONSENSUS_SIGMA) -> np.ndarray:
    """Logits (N, Q, h, w) -> ab (N, 2, h, w) in Lab units: luminance-guided consensus (if > 1), then annealed mean.

    The raw logits are pooled, not their log-softmax: the two differ at each pixel by one constant over
    the bins (the weighted mean of the neighbours' normalisers), which the annealed mean ignores.
    """
    if consensus <= 1:
        return annealed_mean(logits, centers, temperature)
    pooled = _consensus_channels_last(logits, _guide_for(logits, luma), consensus // 2, sigma)  # (N, w, h, Q), own copy
    return np.ascontiguousarray(_annealed_mean_last(pooled, centers, temperature).transpose(0, 3, 2, 1))
