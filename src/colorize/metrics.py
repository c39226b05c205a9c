"""Colorization quality metrics: PSNR, SSIM, CIEDE2000, colourfulness and ab-error AuC.

All functions take numpy arrays with the channels last: sRGB as float ``H x W x 3`` in ``[0, 1]``,
CIE Lab (D65, scikit-image conventions) as ``H x W x 3`` with ``L*`` in ``[0, 100]``. Sums and
means are computed in float64. scikit-image is only a test-time oracle; nothing here imports it.

Definitions (the evaluation report repeats them):

* **PSNR** ``10 log10(1 / MSE)`` over all pixels and the three RGB channels, data range 1, capped
  at :data:`PSNR_MAX` dB (so identical images give 100, not ``inf``).
* **SSIM** Wang et al. 2004 as ``skimage.metrics.structural_similarity(..., channel_axis=-1,
  data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: Gaussian window
  (sigma 1.5, truncated at 3.5 sigma = 11 px), K1 = 0.01, K2 = 0.03, mean over the SSIM map cropped
  by 5 px at each border, averaged over R, G, B.
* **CIEDE2000** Sharma, Wu & Dalal 2005, per pixel, kL = kC = kH = 1.
* **Colourfulness** Hasler & Süsstrunk 2003 on the 0-255 scale:
  ``rg = R - G``, ``yb = (R + G) / 2 - B``,
  ``CF = sqrt(std(rg)² + std(yb)²) + 0.3 sqrt(mean(rg)² + mean(yb)²)`` (population std).
* **AuC** (Zhang et al. 2016): the cumulative distribution ``curve(t)`` = fraction of pixels whose
  Euclidean ab error ``|ab_pred - ab_true|`` is ``<= t`` for ``t = 0, 1, ..., 150`` (up to
  :data:`AB_TOLERANCE`); the AuC is its mean times 100 (the area under the curve normalised to
  [0, 100]).
* **Blotchiness** (this project's; issue 14): where the truth's colour is *flat*, how much the
  prediction's colour varies at low frequency, in ab units. Both images are resized to a shorter
  side of :data:`BLOTCH_SIZE` px; a pixel is flat when the truth's local ab standard deviation
  (a :data:`BLOTCH_WINDOW` px box, channels combined as ``sqrt(var_a + var_b)``) is below
  :data:`BLOTCH_FLAT_STD`; the prediction's ab is smoothed by a Gaussian (sigma
  :data:`BLOTCH_SIGMA` px, so pixel noise and fine texture do not count) and its local standard
  deviation in the same window is averaged over the flat pixels. A gray or uniformly tinted
  prediction scores 0, the truth itself scores near 0 (its anchor), a wall broken into patches of
  different colours scores high. It says nothing about whether the colour is right: read it
  beside AuC and colourfulness.
* **Rebalanced AuC** (Zhang et al.'s "class rebalanced" variant): each pixel belongs to the ab bin
  of its *true* colour (:func:`colorize.bins.hard_encode` on the 10-unit gamut grid);
  ``curve_rebal(t)`` = mean, over the bins present in the (image or data) set, of the fraction of
  that bin's pixels whose error is ``<= t``. Every colour present counts the same, however few
  pixels it has, so a method that leaves rare saturated colours gray is punished. This equals the
  pixel-weighted curve with weight ``1 / n_q`` for a pixel of bin ``q`` (``n_q`` = the bin's pixel
  count), i.e. the inverse of the set's own empirical prior. With an explicit
  :class:`~colorize.bins.ColorPrior` the weight is ``1 / prior(q)`` instead.

Dataset-level curves are not means of per-image curves: :class:`ErrorHistogram` keeps, per true
bin, a histogram of ``ceil(error)`` over the integer thresholds, and histograms of several images
add up (``sum(...)`` works) before the curves are taken.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, uniform_filter, zoom

from .bins import ColorPrior, ab_bin_centers, hard_encode
from .color import BT601, rgb_to_lab

__all__ = [
    "PSNR_MAX",
    "MAX_THRESHOLD",
    "AB_TOLERANCE",
    "psnr",
    "ssim",
    "ciede2000",
    "colorfulness",
    "rgb_to_lab_np",
    "luma_gray",
    "ab_error",
    "ab_error_curve",
    "auc",
    "blotchiness",
    "ab_bins",
    "num_bins",
    "rebalanced_pixel_weights",
    "ErrorHistogram",
    "PreparedTruth",
    "prepare_truth",
    "ImageScores",
    "score_image",
]

PSNR_MAX = 100.0
"""PSNR of identical images (and the cap for nearly identical ones), in dB."""

MAX_THRESHOLD = 150
"""Largest ab-error threshold of the AuC curves (Zhang et al. 2016): thresholds are 0..150."""

AB_TOLERANCE = 1e-3
"""ab errors up to ``t + AB_TOLERANCE`` count as ``<= t``: float32 colour conversions leave ~1e-5
of noise, which must not push an exact prediction (or a gray pixel of the gray baseline) out of
the ``t = 0`` bucket."""

_BT601 = np.array(BT601)


def _as_hwc3(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"{name} must be an H x W x 3 array, got shape {x.shape}")
    return x


def _check_finite(x: np.ndarray, name: str) -> None:
    """NaN or inf would turn every score into NaN (or a silent 0 after clipping): refuse it by name."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(x)).sum())} NaN or infinite values")


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")


# --------------------------------------------------------------------------------------------
# Pixel metrics


def psnr(pred: np.ndarray, truth: np.ndarray, *, data_range: float = 1.0, max_db: float = PSNR_MAX) -> float:
    """Peak signal-to-noise ratio in dB of two RGB float images, capped at ``max_db``.

    >>> round(psnr(np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.1)), 6)
    20.0
    >>> psnr(np.ones((2, 2, 3)), np.ones((2, 2, 3)))
    100.0
    """
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    _check_same_shape(pred, truth)
    mse = float(np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2))
    if not np.isfinite(mse):
        return float("nan")
    if mse <= 0.0:
        return float(max_db)
    return float(min(10.0 * np.log10(data_range**2 / mse), max_db))


def ssim(
    pred: np.ndarray,
    truth: np.ndarray,
    *,
    data_range: float = 1.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean SSIM (Gaussian window, no sample covariance) averaged over the channels.

    Matches ``skimage.metrics.structural_similarity(pred, truth, channel_axis=-1, data_range=1,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``. Images smaller than the
    11-px window (which skimage rejects) are scored over the whole, uncropped map.

    >>> x = np.random.default_rng(0).random((16, 16, 3))
    >>> ssim(x, x)
    1.0
    """
    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    _check_same_shape(x, y)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    truncate = 3.5
    pad = int(truncate * sigma + 0.5)  # window = 2 pad + 1, the radius scipy uses

    def blur(a: np.ndarray) -> np.ndarray:
        # sigma 0 on the channel axis: scipy skips that axis, so this is a per-channel 2-D filter.
        return gaussian_filter(a, sigma=(sigma, sigma, 0), truncate=truncate, mode="reflect")

    ux, uy = blur(x), blur(y)
    vx = blur(x * x) - ux * ux
    vy = blur(y * y) - uy * uy
    vxy = blur(x * y) - ux * uy
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    h, w = s.shape[:2]
    if h > 2 * pad and w > 2 * pad:
        s = s[pad : h - pad, pad : w - pad]
    return float(s.mean(dtype=np.float64))


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, *, kl: float = 1.0, kc: float = 1.0, kh: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference per pixel of two Lab arrays (``... x 3``), in float64.

    Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes".
    Same conventions as ``skimage.color.deltaE_ciede2000``: hues in ``[0, 2 pi)``, and when either
    chroma is 0 the hue difference is 0 and the mean hue is the sum of the hues.

    >>> float(ciede2000(np.array([50.0, 2.6772, -79.7751]), np.array([50.0, 0.0, -82.7485]))).__round__(4)
    2.0425
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    if lab1.shape[-1] != 3 or lab2.shape[-1] != 3:
        raise ValueError("Lab arrays need 3 channels in the last axis")
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    # a' = (1 + G) a: compensate the a* axis near neutral (Sharma eq. 1-4).
    c_mean = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    c7 = c_mean**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.arctan2(b1, a1p)
    h1p = h1p + np.where(h1p < 0.0, 2 * np.pi, 0.0)
    h2p = np.arctan2(b2, a2p)
    h2p = h2p + np.where(h2p < 0.0, 2 * np.pi, 0.0)

    # Differences (eq. 8-11).
    dl = L2 - L1
    dc = c2p - c1p
    cc = c1p * c2p
    h_diff = h2p - h1p
    dh = np.where(h_diff > np.pi, h_diff - 2 * np.pi, np.where(h_diff < -np.pi, h_diff + 2 * np.pi, h_diff))
    dh = np.where(cc == 0.0, 0.0, dh)
    dH = 2.0 * np.sqrt(cc) * np.sin(dh / 2.0)

    # Means and weighting functions (eq. 12-22).
    l_mean = 0.5 * (L1 + L2)
    cp_mean = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    wrap = (cc != 0.0) & (np.abs(h_diff) > np.pi)
    h_mean = np.where(wrap & (h_sum < 2 * np.pi), h_sum + 2 * np.pi, np.where(wrap, h_sum - 2 * np.pi, h_sum))
    h_mean = np.where(cc == 0.0, 2.0 * h_mean, h_mean) * 0.5
    t = (
        1.0
        - 0.17 * np.cos(h_mean - np.deg2rad(30.0))
        + 0.24 * np.cos(2.0 * h_mean)
        + 0.32 * np.cos(3.0 * h_mean + np.deg2rad(6.0))
        - 0.20 * np.cos(4.0 * h_mean - np.deg2rad(63.0))
    )
    l50 = (l_mean - 50.0) ** 2
    sl = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    sc = 1.0 + 0.045 * cp_mean
    sh = 1.0 + 0.015 * cp_mean * t
    cp7 = cp_mean**7
    rc = 2.0 * np.sqrt(cp7 / (cp7 + 25.0**7))
    dtheta = np.deg2rad(30.0) * np.exp(-(((np.rad2deg(h_mean) - 275.0) / 25.0) ** 2))
    rt = -np.sin(2.0 * dtheta) * rc

    l_term = dl / (kl * sl)
    c_term = dc / (kc * sc)
    h_term = dH / (kh * sh)
    de2 = l_term**2 + c_term**2 + h_term**2 + rt * c_term * h_term
    return np.sqrt(np.maximum(de2, 0.0))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an sRGB float image, on the 0-255 scale.

    >>> colorfulness(np.full((4, 4, 3), 0.5))
    0.0
    >>> round(colorfulness(np.tile([1.0, 0.0, 0.0], (4, 4, 1))), 2)  # pure red: 0.3 * |(255, 127.5)|
    85.53
    """
    x = _as_hwc3(rgb, "rgb").astype(np.float64) * 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = np.sqrt(rg.var() + yb.var())
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(std + 0.3 * mean)


# --------------------------------------------------------------------------------------------
# Colour helpers


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """sRGB float ``... x 3`` to CIE Lab (D65) float64, via :func:`colorize.color.rgb_to_lab`.

    >>> [round(float(v)) for v in rgb_to_lab_np(np.ones((1, 1, 3))).ravel()]
    [100, 0, 0]
    """
    x = np.asarray(rgb, dtype=np.float32)
    if x.shape[-1] != 3:
        raise ValueError(f"rgb needs 3 channels in the last axis, got shape {x.shape}")
    flat = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, 3).T)).unsqueeze(-1)  # (3, N, 1)
    with torch.no_grad():
        lab = rgb_to_lab(flat)
    return lab.squeeze(-1).T.numpy().astype(np.float64).reshape(x.shape)


def luma_gray(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` replicated to 3 channels (float32).

    This is the gray input a colorizer sees in evaluation, and the gray baseline's prediction.

    >>> luma_gray(np.array([[[1.0, 0.0, 0.0]]])).astype(float).round(3).tolist()
    [[[0.299, 0.299, 0.299]]]
    """
    x = _as_hwc3(rgb, "rgb").astype(np.float64)
    y = np.clip(x @ _BT601, 0.0, 1.0).astype(np.float32)
    return np.repeat(y[..., None], 3, axis=-1)


# --------------------------------------------------------------------------------------------
# ab error curves


def ab_error(pred_lab: np.ndarray, true_lab: np.ndarray) -> np.ndarray:
    """Euclidean ab error ``|ab_pred - ab_true|`` per pixel (float64), ignoring ``L*``."""
    p = np.asarray(pred_lab, dtype=np.float64)
    t = np.asarray(true_lab, dtype=np.float64)
    _check_same_shape(p, t)
    return np.hypot(p[..., 1] - t[..., 1], p[..., 2] - t[..., 2])


def ab_error_curve(
    pred_lab: np.ndarray,
    true_lab: np.ndarray,
    thresholds: np.ndarray | None = None,
    pixel_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Fraction of pixels (weighted by ``pixel_weights``) whose ab error is ``<= t``, per threshold.

    ``thresholds`` defaults to ``0, 1, ..., 150``. For the rebalanced curve pass
    ``pixel_weights=rebalanced_pixel_weights(true_lab)``.

    >>> true = np.zeros((1, 4, 3)); true[0, :2, 1:] = (30, 40)   # two pixels with |ab| = 50
    >>> curve = ab_error_curve(np.zeros((1, 4, 3)), true)       # gray prediction
    >>> curve[[0, 49, 50, 150]].tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    thr = np.arange(0, MAX_THRESHOLD + 1) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    err = ab_error(pred_lab, true_lab).ravel()
    err = np.where(np.isnan(err), np.inf, err)
    if pixel_weights is None:
        w = np.ones_like(err)
    else:
        w = np.asarray(pixel_weights, dtype=np.float64).ravel()
        if w.shape != err.shape:
            raise ValueError(f"pixel_weights has {w.size} values for {err.size} pixels")
    total = w.sum()
    if err.size == 0 or total <= 0:
        return np.full(thr.shape, np.nan)
    order = np.argsort(err, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    idx = np.searchsorted(err[order], thr + AB_TOLERANCE, side="right")
    return cum[idx] / total


def auc(curve: np.ndarray) -> float:
    """Area under an error curve over evenly spaced thresholds, in percent: ``100 * mean(curve)``.

    >>> auc(np.ones(151))
    100.0
    """
    c = np.asarray(curve, dtype=np.float64)
    return float(100.0 * c.mean()) if c.size else float("nan")


BLOTCH_SIZE = 256
"""Working resolution of :func:`blotchiness` (shorter side, px): makes the score size-independent."""
BLOTCH_WINDOW = 33
"""Box window (px at :data:`BLOTCH_SIZE`) for the local ab standard deviations."""
BLOTCH_FLAT_STD = 4.0
"""A truth pixel is flat when its local ab standard deviation is below this (ab units)."""
BLOTCH_SIGMA = 3.0
"""Gaussian pre-smoothing of the prediction's ab (px at :data:`BLOTCH_SIZE`)."""


def _local_ab_std(ab: np.ndarray, window: int) -> np.ndarray:
    mean = uniform_filter(ab, size=(window, window, 1), mode="reflect")
    mean_sq = uniform_filter(ab * ab, size=(window, window, 1), mode="reflect")
    return np.sqrt(np.clip(mean_sq - mean * mean, 0, None).sum(-1))


def _ab_at_blotch_scale(lab: np.ndarray) -> np.ndarray:
    ab = np.asarray(lab, dtype=np.float64)[..., 1:]
    scale = BLOTCH_SIZE / min(ab.shape[:2])
    if abs(scale - 1) < 1e-9:
        return ab
    if scale < 1:  # shrink with a box pre-filter so the resize itself does not alias
        ab = uniform_filter(ab, size=(max(1, round(1 / scale)),) * 2 + (1,), mode="reflect")
    return zoom(ab, (scale, scale, 1), order=1, mode="nearest")


def blotchiness(pred_lab: np.ndarray, true_lab: np.ndarray) -> tuple[float, float]:
    """(score, flat fraction): the prediction's low-frequency ab variation where the truth is flat.

    The score is ``nan`` when the truth has no flat region (see the module docstring).

    >>> truth = np.zeros((64, 64, 3)); truth[..., 0] = 50; truth[..., 1] = 10
    >>> blotchiness(truth, truth)[0] < 0.01, blotchiness(truth * [1, 0, 0], truth)[0]
    (True, 0.0)
    >>> patches = truth.copy(); patches[:32, :32, 1:] = (40, -40)  # one big patch: only its rim counts
    >>> round(blotchiness(patches, truth)[0], 1)
    2.2
    >>> for i in range(0, 64, 16):  # a checkerboard of 16 px patches (64 px at the working size)
    ...     for j in range(0, 64, 16):
    ...         if (i + j) // 16 % 2:
    ...             patches[i:i + 16, j:j + 16, 1:] = (40, -40)
    >>> round(blotchiness(patches, truth)[0], 1)
    8.4
    """
    _check_same_shape(np.asarray(pred_lab), np.asarray(true_lab))
    truth_ab, pred_ab = _ab_at_blotch_scale(true_lab), _ab_at_blotch_scale(pred_lab)
    flat = _local_ab_std(truth_ab, BLOTCH_WINDOW) < BLOTCH_FLAT_STD
    if not flat.any():
        return float("nan"), 0.0
    pred_ab = gaussian_filter(pred_ab, sigma=(BLOTCH_SIGMA, BLOTCH_SIGMA, 0), mode="reflect")
    return float(_local_ab_std(pred_ab, BLOTCH_WINDOW)[flat].mean()), float(flat.mean())


@functools.lru_cache(maxsize=4)
def _bin_lookup(grid: int) -> tuple[np.ndarray, int, np.ndarray]:
    """(lookup table cell -> bin index or -1, offset of cell 0, centres (Q, 2))."""
    centers = ab_bin_centers(grid).numpy()
    cells = np.round(centers / grid).astype(np.int64)
    off = int(np.abs(cells).max()) + 1
    lut = np.full((2 * off + 1, 2 * off + 1), -1, dtype=np.int64)
    lut[cells[:, 0] + off, cells[:, 1] + off] = np.arange(len(cells))
    return lut, off, centers


def num_bins(grid: int = 10) -> int:
    """Number of in-gamut ab bins on a ``grid``-unit grid (262 for 10)."""
    return len(_bin_lookup(grid)[2])


def ab_bins(ab: np.ndarray, grid: int = 10) -> np.ndarray:
    """Index of the nearest in-gamut ab bin (as :func:`~colorize.bins.hard_encode`) per pixel.

    ``ab`` is ``... x 2`` in Lab units. The bins lie on a square grid, so the nearest one is the
    rounded grid cell whenever that cell is a bin (always, for sRGB colours); the remaining pixels
    (out-of-gamut ab) go through ``hard_encode`` in chunks, which keeps memory small.

    >>> int(ab_bins(np.array([0.4, -0.3]))) == int(ab_bins(np.array([0.0, 0.0])))
    True
    """
    ab = np.asarray(ab, dtype=np.float64)
    lut, off, centers = _bin_lookup(grid)
    flat = ab.reshape(-1, 2)
    cells = np.round(flat / grid)
    cells = np.where(np.isfinite(cells), cells, 10 * off)  # NaN -> out of the table -> fallback
    ok = (np.abs(cells) <= off - 1).all(axis=1)
    idx = np.full(len(flat), -1, dtype=np.int64)
    ci = cells[ok].astype(np.int64) + off
    idx[ok] = lut[ci[:, 0], ci[:, 1]]
    rest = np.flatnonzero(idx < 0)
    if rest.size:
        c = torch.from_numpy(centers)
        vals = np.nan_to_num(flat[rest], nan=0.0)
        for start in range(0, rest.size, 8192):
            chunk = torch.from_numpy(vals[start : start + 8192].T.astype(np.float32)).reshape(1, 2, -1, 1)
            idx[rest[start : start + 8192]] = hard_encode(chunk, c).flatten().numpy()
    return idx.reshape(ab.shape[:-1])


def _prior_bin_weights(prior: ColorPrior, q: int) -> np.ndarray:
    p = prior.probabilities.detach().cpu().double().numpy()
    if p.shape != (q,):
        raise ValueError(f"prior has {p.size} bins, the grid has {q}")
    return 1.0 / np.maximum(p, 1e-12)


def rebalanced_pixel_weights(true_lab: np.ndarray, prior: ColorPrior | None = None, *, grid: int | None = None) -> np.ndarray:
    """Per-pixel weights (``H x W``, mean 1) for the class-rebalanced ab-error curve.

    A pixel of true bin ``q`` gets ``1 / prior(q)``. With ``prior=None`` the prior is the image's own
    bin distribution, so the weight is ``1 / n_q`` and every bin present counts the same: the
    weighted curve is then the mean over present bins of the per-bin curves (Zhang et al.).

    >>> lab = np.zeros((1, 4, 3)); lab[0, 0, 1] = 60.0        # 1 red-ish pixel, 3 gray pixels
    >>> rebalanced_pixel_weights(lab).round(4).tolist()
    [[2.0, 0.6667, 0.6667, 0.6667]]
    """
    lab = np.asarray(true_lab, dtype=np.float64)
    g = prior.grid if (prior is not None and grid is None) else (grid or 10)
    bins = ab_bins(lab[..., 1:], g)
    if prior is None:
        counts = np.bincount(bins.ravel(), minlength=num_bins(g)).astype(np.float64)
        w = 1.0 / counts[bins]
    else:
        w = _prior_bin_weights(prior, num_bins(g))[bins]
    return w * (w.size / w.sum()) if w.size else w


@dataclass
class ErrorHistogram:
    """Histogram of ab errors per true ab bin, for dataset-level plain and rebalanced curves.

    ``counts[i, k]`` is the number of pixels whose true colour is in bin ``bins[i]`` and whose ab
    error ``e`` has ``ceil(e - AB_TOLERANCE) == k`` (``k = 0 .. max_threshold``; the last column
    holds larger errors), so ``e <= t`` (up to the tolerance) for an integer ``t`` iff ``k <= t``. Only the bins present
    are stored (sparse rows), so one image costs ``n_bins x 152`` counters. Histograms add up.
    """

    bins: np.ndarray  # (n,) sorted bin indices present
    counts: np.ndarray  # (n, max_threshold + 2)
    grid: int = 10
    max_threshold: int = MAX_THRESHOLD

    @classmethod
    def empty(cls, grid: int = 10, max_threshold: int = MAX_THRESHOLD) -> ErrorHistogram:
        return cls(np.zeros(0, np.int64), np.zeros((0, max_threshold + 2), np.int64), grid, max_threshold)

    @classmethod
    def from_errors(
        cls, errors: np.ndarray, true_bins: np.ndarray, grid: int = 10, max_threshold: int = MAX_THRESHOLD
    ) -> ErrorHistogram:
        """Build from per-pixel ab errors and the pixels' true bin indices (same shape)."""
        e = np.asarray(errors, dtype=np.float64).ravel()
        b = np.asarray(true_bins, dtype=np.int64).ravel()
        if e.shape != b.shape:
            raise ValueError("errors and true_bins differ in size")
        width = max_threshold + 2
        e = np.where(np.isnan(e), np.inf, e)
        k = np.minimum(np.ceil(np.maximum(e - AB_TOLERANCE, 0.0)), max_threshold + 1).astype(np.int64)
        dense = np.bincount(b * width + k, minlength=num_bins(grid) * width).reshape(-1, width)
        present = np.flatnonzero(dense.sum(axis=1))
        return cls(present, dense[present].astype(np.uint32), grid, max_threshold)

    @classmethod
    def from_lab(
        cls, pred_lab: np.ndarray, true_lab: np.ndarray, grid: int = 10, max_threshold: int = MAX_THRESHOLD
    ) -> ErrorHistogram:
        """Histogram of one prediction against its truth (Lab arrays)."""
        true_lab = np.asarray(true_lab, dtype=np.float64)
        return cls.from_errors(ab_error(pred_lab, true_lab), ab_bins(true_lab[..., 1:], grid), grid, max_threshold)

    def __add__(self, other: ErrorHistogram) -> ErrorHistogram:
        if not isinstance(other, ErrorHistogram):
            return NotImplemented
        if (other.grid, other.max_threshold) != (self.grid, self.max_threshold):
            raise ValueError("cannot add histograms of different grids or thresholds")
        bins = np.union1d(self.bins, other.bins).astype(np.int64)
        counts = np.zeros((len(bins), self.max_threshold + 2), np.int64)
        counts[np.searchsorted(bins, self.bins)] += self.counts
        counts[np.searchsorted(bins, other.bins)] += other.counts
        return ErrorHistogram(bins, counts, self.grid, self.max_threshold)

    def __radd__(self, other):  # lets sum() start from 0
        return self if isinstance(other, int) and other == 0 else self.__add__(other)

    @property
    def thresholds(self) -> np.ndarray:
        return np.arange(self.max_threshold + 1)

    @property
    def num_pixels(self) -> int:
        return int(self.counts.sum())

    def _cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.counts.astype(np.float64)
        return np.cumsum(c, axis=1)[:, : self.max_threshold + 1], c.sum(axis=1)

    def per_bin_curves(self) -> np.ndarray:
        """``(n_bins, max_threshold + 1)``: for each present bin, the fraction of its pixels with error <= t."""
        cum, n = self._cumulative()
        return cum / n[:, None]

    def curve(self) -> np.ndarray:
        """Plain curve: fraction of all pixels with ab error <= t, for t = 0..max_threshold."""
        cum, n = self._cumulative()
        if n.sum() == 0:
            return np.full(self.max_threshold + 1, np.nan)
        return cum.sum(axis=0) / n.sum()

    def rebalanced_curve(self, prior: ColorPrior | None = None) -> np.ndarray:
        """Class-rebalanced curve: mean over present bins of the per-bin curves (``prior=None``),
        or pixels weighted by ``1 / prior(bin)``."""
        cum, n = self._cumulative()
        if len(n) == 0:
            return np.full(self.max_threshold + 1, np.nan)
        if prior is None:
            return (cum / n[:, None]).mean(axis=0)
        w = _prior_bin_weights(prior, num_bins(self.grid))[self.bins]
        return (w[:, None] * cum).sum(axis=0) / (w * n).sum()

    def auc(self) -> float:
        """AuC (percent) of :meth:`curve`."""
        return auc(self.curve())

    def auc_rebalanced(self, prior: ColorPrior | None = None) -> float:
        """AuC (percent) of :meth:`rebalanced_curve`."""
        return auc(self.rebalanced_curve(prior))


# --------------------------------------------------------------------------------------------
# Per-image scoring


@dataclass(frozen=True)
class PreparedTruth:
    """What :func:`score_image` needs from a ground-truth image, computed once for many predictions."""

    rgb: np.ndarray  # H x W x 3 float32
    lab: np.ndarray  # H x W x 3 float64
    bins: np.ndarray  # H x W true ab bin indices
    colorfulness: float
    grid: int = 10


def prepare_truth(true_rgb: np.ndarray, grid: int = 10) -> PreparedTruth:
    """Precompute the truth's Lab, ab bins and colourfulness."""
    rgb = _as_hwc3(true_rgb, "true_rgb").astype(np.float32, copy=False)
    _check_finite(rgb, "true_rgb")
    lab = rgb_to_lab_np(rgb)
    return PreparedTruth(rgb, lab, ab_bins(lab[..., 1:], grid), colorfulness(rgb), grid)


@dataclass
class ImageScores:
    """Scores of one predicted image against its truth.

    ``histogram`` holds the per-bin ab-error counts from which dataset-level curves are summed;
    ``auc`` and ``auc_rebalanced`` are this image's own values.
    """

    psnr: float
    ssim: float
    ciede2000: float
    colorfulness_pred: float
    colorfulness_true: float
    auc: float
    auc_rebalanced: float
    histogram: ErrorHistogram = field(repr=False)
    blotchiness: float = float("nan")
    """:func:`blotchiness` (``nan`` when the truth has no flat region)."""

    @property
    def delta_colorfulness(self) -> float:
        """Predicted minus true colourfulness (negative: duller than the truth)."""
        return self.colorfulness_pred - self.colorfulness_true

    def as_dict(self) -> dict[str, float]:
        """The scalar scores (no histogram)."""
        return {
            "psnr": self.psnr,
            "ssim": self.ssim,
            "ciede2000": self.ciede2000,
            "colorfulness_pred": self.colorfulness_pred,
            "colorfulness_true": self.colorfulness_true,
            "delta_colorfulness": self.delta_colorfulness,
            "auc": self.auc,
            "auc_rebalanced": self.auc_rebalanced,
            "blotchiness": self.blotchiness,
        }


def score_image(
    pred_rgb: np.ndarray,
    true_rgb: np.ndarray | PreparedTruth,
    *,
    prior: ColorPrior | None = None,
) -> ImageScores:
    """Score one prediction (sRGB float ``H x W x 3`` in [0, 1]) against its truth.

    ``true_rgb`` may be a :class:`PreparedTruth` to share the truth's work between methods.
    NaN or inf in either image raises ``ValueError`` (it would make every score NaN).
    ``prior`` only changes this image's ``auc_rebalanced`` (see :func:`rebalanced_pixel_weights`).

    >>> x = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    >>> s = score_image(x, x)
    >>> s.psnr, s.ssim, s.ciede2000, s.auc, s.auc_rebalanced
    (100.0, 1.0, 0.0, 100.0, 100.0)
    """
    truth = true_rgb if isinstance(true_rgb, PreparedTruth) else prepare_truth(true_rgb, prior.grid if prior else 10)
    pred = _as_hwc3(pred_rgb, "pred_rgb").astype(np.float32, copy=False)
    _check_finite(pred, "pred_rgb")
    _check_same_shape(pred, truth.rgb)
    pred_lab = rgb_to_lab_np(pred)
    hist = ErrorHistogram.from_errors(ab_error(pred_lab, truth.lab), truth.bins, truth.grid)
    return ImageScores(
        psnr=psnr(pred, truth.rgb),
        ssim=ssim(pred, truth.rgb),
        ciede2000=float(ciede2000(pred_lab, truth.lab).mean()),
        colorfulness_pred=colorfulness(pred),
        colorfulness_true=truth.colorfulness,
        auc=hist.auc(),
        auc_rebalanced=hist.auc_rebalanced(prior),
        histogram=hist,
        blotchiness=blotchiness(pred_lab, truth.lab)[0],
    )
