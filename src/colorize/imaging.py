"""The image path in numpy: colour conversions, resizing and the guided filter, without PyTorch.

Inference needs none of torch: the network runs in onnxruntime (:mod:`colorize.backends`) and
everything around it -- the render-size shrink, sRGB <-> the model's luminance <-> Lab/YUV, the
guided-filter coefficients at the render size and their upsampling, the gamut-safe join -- is here,
in float32 numpy (the antialiased shrink is Pillow's filter, computed in numpy). The formulas are those of
:mod:`colorize.color` and :mod:`colorize.filters` (the torch versions training uses); the constants
live here so both sides share one copy, and ``tests/test_imaging.py`` checks the two agree.

Arrays are laid out as torch's are, colour channels in axis ``-3`` (``(..., 3, H, W)``), so the same
shapes flow through the pipeline whichever backend runs the network. The functions also accept a
torch tensor (converted at the boundary by :func:`to_numpy`); the callers that still hold tensors
(films, references) get one back through :func:`like`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "AB_MAX",
    "BT601",
    "U_MAX",
    "V_MAX",
    "box_filter",
    "combine_yuv_gamut_safe",
    "guided_coefficient_strips",
    "guided_filter_coefficients",
    "guided_upsample",
    "lab_f",
    "lab_to_rgb",
    "like",
    "linear_to_srgb",
    "resize_area",
    "resize_bilinear",
    "rgb_to_lab",
    "rgb_to_yuv",
    "srgb_to_linear",
    "upsample_bilinear",
    "to_numpy",
    "yuv_to_rgb",
]

WHITE_D65 = (0.95047, 1.0, 1.08883)
"""D65 white point (CIE 1931 2 degree), as scikit-image uses it."""
RGB_TO_XYZ_ROWS = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
BT601 = (0.299, 0.587, 0.114)
"""BT.601 luma weights of R, G, B: the gray level every part of the package preserves (Pillow's ``"L"``)."""
RGB_TO_YUV_ROWS = (BT601, (-0.14714119, -0.28886916, 0.43601035), (0.61497538, -0.51496512, -0.10001026))
"""BT.601 luma and the YUV chroma axes (scikit-image's rgb2yuv)."""
U_MAX = 0.436
V_MAX = 0.615
AB_MAX = 110.0

_RGB_TO_XYZ = np.array(RGB_TO_XYZ_ROWS, np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.astype(np.float64)).astype(np.float32)
_RGB_TO_YUV = np.array(RGB_TO_YUV_ROWS, np.float32)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV.astype(np.float64)).astype(np.float32)
_WHITE = np.array(WHITE_D65, np.float32).reshape(3, 1, 1)
_EPS = 216 / 24389  # (6/29)^3
_KAPPA = 24389 / 27


# ----------------------------------------------------------------------------- numpy <-> torch at the boundary


def to_numpy(x: Any) -> tuple[np.ndarray, bool]:
    """``(float32 array, was_a_tensor)``: a torch tensor is copied to the CPU, an array passes through."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return np.ascontiguousarray(x.detach().float().cpu().numpy()), True
    return np.asarray(x, dtype=np.float32), False


def like(arr: np.ndarray, tensor: bool) -> Any:
    """``arr`` as a torch tensor when the caller gave one (``tensor``), else the array itself."""
    if not tensor:
        return arr
    import torch

    return torch.from_numpy(np.ascontiguousarray(arr))


# ----------------------------------------------------------------------------- colour (channels in axis -3)


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _apply_matrix(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Multiply the channel vector in axis -3 by a 3x3 (or 3x2) matrix."""
    return np.einsum("ij,...jhw->...ihw", m, x).astype(np.float32, copy=False)


def srgb_to_linear(rgb: Any) -> np.ndarray:
    """Undo the sRGB transfer curve.

    >>> [round(float(v), 4) for v in srgb_to_linear(np.array([0.0, 0.5, 1.0]))]
    [0.0, 0.214, 1.0]
    """
    x = _f32(rgb)
    return np.where(x > 0.04045, ((np.maximum(x, np.float32(0.04045)) + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4),
                    x / np.float32(12.92)).astype(np.float32, copy=False)


def linear_to_srgb(lin: Any) -> np.ndarray:
    """Apply the sRGB transfer curve (inverse of :func:`srgb_to_linear`)."""
    x = _f32(lin)
    return np.where(x > 0.0031308, np.float32(1.055) * np.maximum(x, np.float32(0.0031308)) ** np.float32(1 / 2.4) - np.float32(0.055),
                    x * np.float32(12.92)).astype(np.float32, copy=False)


def lab_f(t: Any) -> np.ndarray:
    """The CIE Lab companding f(t): cube root above (6/29)^3, linear below (L* = 116 f(Y) - 16)."""
    x = _f32(t)
    return np.where(x > _EPS, np.maximum(x, np.float32(_EPS)) ** np.float32(1 / 3),
                    (np.float32(_KAPPA) * x + 16) / 116).astype(np.float32, copy=False)


def _lab_f_inv(f: np.ndarray) -> np.ndarray:
    return np.where(f > 6 / 29, f**3, (116 * f - 16) / np.float32(_KAPPA)).astype(np.float32, copy=False)


def rgb_to_lab(rgb: Any) -> np.ndarray:
    """sRGB in [0, 1] to CIE Lab (D65): L* in [0, 100].

    >>> [round(float(v)) for v in rgb_to_lab(np.ones((3, 1, 1))).ravel()]
    [100, 0, 0]
    """
    xyz = _apply_matrix(srgb_to_linear(rgb), _RGB_TO_XYZ)
    f = lab_f(xyz / _WHITE)
    fx, fy, fz = f[..., 0:1, :, :], f[..., 1:2, :, :], f[..., 2:3, :, :]
    return np.concatenate([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-3)


def lab_to_rgb(lab: Any, clip: bool = True) -> np.ndarray:
    """CIE Lab (D65) to sRGB; ``clip`` clamps out-of-gamut results to [0, 1]."""
    lab = _f32(lab)
    L, a, b = lab[..., 0:1, :, :], lab[..., 1:2, :, :], lab[..., 2:3, :, :]
    fy = (L + 16) / 116
    f = np.concatenate([fy + a / 500, fy, fy - b / 200], axis=-3)
    rgb = linear_to_srgb(_apply_matrix(_lab_f_inv(f) * _WHITE, _XYZ_TO_RGB))
    return np.clip(rgb, 0, 1) if clip else rgb


def rgb_to_yuv(rgb: Any) -> np.ndarray:
    """sRGB to YUV (BT.601 on gamma-encoded values).

    >>> [round(float(v), 4) for v in rgb_to_yuv(np.array([1.0, 0.0, 0.0]).reshape(3, 1, 1)).ravel()]
    [0.299, -0.1471, 0.615]
    """
    return _apply_matrix(_f32(rgb), _RGB_TO_YUV)


def yuv_to_rgb(yuv: Any) -> np.ndarray:
    """YUV (BT.601) to sRGB; not clipped."""
    return _apply_matrix(_f32(yuv), _YUV_TO_RGB)


def combine_yuv_gamut_safe(y: Any, uv: Any) -> np.ndarray:
    """Join luma ``y`` (..., 1, H, W) with chroma ``uv`` (..., 2, H, W) into sRGB, keeping ``y`` exact.

    Where a pixel would leave the sRGB cube its chroma is scaled down (hue kept) just enough to fit;
    see :func:`colorize.color.combine_yuv_gamut_safe` for the closed form.

    >>> rgb = combine_yuv_gamut_safe(np.full((1, 1, 1), 0.9), np.array([0.0, 0.6]).reshape(2, 1, 1))
    >>> round(float((rgb[:, 0, 0] * np.array(BT601)).sum()), 4), bool(rgb.max() <= 1.0)
    (0.9, True)
    """
    y = np.clip(_f32(y), 0, 1)
    d = _apply_matrix(_f32(uv), _YUV_TO_RGB[:, 1:])  # each RGB channel's offset from y
    rgb = y + d
    if bool(((rgb < 0) | (rgb > 1)).any()):
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = ((d > 0).astype(np.float32) - y) / np.where(np.abs(d) > 1e-6, d, np.float32(np.nan))
        s = np.minimum(np.nan_to_num(limit, nan=1.0).min(axis=-3, keepdims=True), np.float32(1.0))
        rgb = y + s * d
    return np.clip(rgb, 0, 1, out=rgb)


# ----------------------------------------------------------------------------- resizing


@functools.lru_cache(maxsize=32)
def _aa_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index, weight)`` arrays (n_out, taps) of antialiased-bilinear resampling along one axis:
    Pillow's (and torch's ``antialias=True``) triangle filter, widened by the shrink factor and
    normalised per output pixel; padding taps have weight 0."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    lo = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((centre + support + 0.5).astype(np.int64), n_in)
    idx = lo[:, None] + np.arange(int((hi - lo).max()))[None, :]
    w = np.maximum(1 - np.abs((idx - centre[:, None] + 0.5) / support), 0) * (idx < hi[:, None])
    w /= w.sum(axis=1, keepdims=True)
    return np.minimum(idx, n_in - 1), w.astype(np.float32)


def resize_bilinear(x: Any, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of (..., H, W) float32 planes to ``size`` = (h, w).

    The filter of Pillow's resampling, which torch's ``F.interpolate(mode="bilinear",
    antialias=True, align_corners=False)`` copied (they agree to ~1e-6). Rows first, one tap at a
    time (each output row reads whole contiguous input rows): several times faster than Pillow's
    float path on a 12-megapixel photo, in plain numpy.
    """
    arr = _f32(x)
    H, W = arr.shape[-2:]
    h, w = size
    lead = arr.shape[:-2]
    planes = arr.reshape(-1, H, W)
    ri, rw = _aa_taps(H, h)
    ci, cw = _aa_taps(W, w)
    out = np.empty((planes.shape[0], h, w), np.float32)
    for i, p in enumerate(planes):
        tall = np.zeros((h, W), np.float32)
        for k in range(ri.shape[1]):
            tall += rw[:, k, None] * p[ri[:, k]]
        plane = np.zeros((h, w), np.float32)
        for k in range(ci.shape[1]):
            plane += cw[None, :, k] * tall[:, ci[:, k]]
        out[i] = plane
    return out.reshape(*lead, h, w)


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a plain bilinear resize (``align_corners=False``) along one axis."""
    src = np.clip((np.arange(n_out, dtype=np.float32) + 0.5) * np.float32(n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_area(x: Any, size: tuple[int, int]) -> np.ndarray:
    """Mean over each output cell of (..., H, W) (torch's ``adaptive_avg_pool2d`` cells)."""
    arr = _f32(x)
    H, W = arr.shape[-2:]
    h, w = size

    def cells(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        i = np.arange(m)
        return (i * n) // m, -((-(i + 1) * n) // m)

    r0, r1 = cells(H, h)
    c0, c1 = cells(W, w)
    s = np.zeros((*arr.shape[:-2], H + 1, W + 1), np.float64)
    s[..., 1:, 1:] = arr.astype(np.float64).cumsum(-2).cumsum(-1)
    total = s[..., r1[:, None], c1[None, :]] - s[..., r0[:, None], c1[None, :]] - s[..., r1[:, None], c0[None, :]] + s[..., r0[:, None], c0[None, :]]
    return (total / ((r1 - r0)[:, None] * (c1 - c0)[None, :])).astype(np.float32)


# ----------------------------------------------------------------------------- guided filter (He & Sun)


def _box_axis(x: np.ndarray, radius: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Window sums along ``axis`` (window 2r+1, cut at the borders) and the window lengths."""
    n = x.shape[axis]
    c = np.concatenate([np.zeros_like(np.take(x, [0], axis=axis)), np.cumsum(x, axis=axis)], axis=axis)
    i = np.arange(n)
    lo, hi = np.maximum(i - radius, 0), np.minimum(i + radius, n - 1) + 1
    return np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis), (hi - lo)


def box_filter(x: Any, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, shrinking at the borders (torch's ``avg_pool2d(count_include_pad=False)``)."""
    arr = _f32(x)
    if radius <= 0:
        return arr
    rows, nr = _box_axis(arr.astype(np.float64), radius, -2)
    both, nc = _box_axis(rows, radius, -1)
    return (both / (nr[:, None] * nc[None, :])).astype(np.float32)


def guided_filter_coefficients(guide: Any, src: Any, radius: int = 2, eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel linear model ``src ≈ a * guide + b`` (guide (N,1,h,w), src (N,C,h,w)), box-smoothed."""
    guide, src = _f32(guide), _f32(src)
    mean_i = box_filter(guide, radius)
    mean_p = box_filter(src, radius)
    cov_ip = box_filter(guide * src, radius) - mean_i * mean_p
    var_i = box_filter(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + np.float32(eps))
    b = mean_p - a * mean_i
    return box_filter(a, radius), box_filter(b, radius)


def guided_coefficient_strips(guide_low: Any, src_low: Any, size: tuple[int, int], radius: int = 2, eps: float = 1e-3,
                              rows_per_chunk: int = 256) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Yield ``(rows, a, b)``: the coefficients bilinearly upsampled to full width, one strip of rows of
    ``size`` at a time (``q = a * guide + b``); the numpy twin of :func:`colorize.filters.guided_coefficient_strips`."""
    a, b = guided_filter_coefficients(guide_low, src_low, radius, eps)
    c = a.shape[-3]
    h, w = a.shape[-2:]
    H, W = size
    coef = np.concatenate([a, b], axis=-3)
    j0, j1, tx = _linear_taps(w, W)
    coef = coef[..., j0] * (1 - tx) + coef[..., j1] * tx  # (N, 2C, h, W): widened once at the low height
    i0, i1, ty = _linear_taps(h, H)
    for top in range(0, H, rows_per_chunk):
        rows = slice(top, min(H, top + rows_per_chunk))
        lo, hi, t = coef[..., i0[rows], :], coef[..., i1[rows], :], ty[rows, None]
        strip = lo + t * (hi - lo)
        yield rows, strip[..., :c, :, :], strip[..., c:, :, :]


def guided_upsample(guide: Any, src_low: Any, radius: int = 1, eps: float = 1e-3) -> np.ndarray:
    """Upsample ``src_low`` (N,C,h,w) to the size of ``guide`` (N,1,H,W) with edges following the guide,
    the numpy twin of :func:`colorize.filters.guided_upsample` (the guide's own area-shrunk copy is the
    low-resolution guide). For maps that must not blend across an edge (semantic matches, feature maps).

    >>> g = np.zeros((1, 1, 32, 32), np.float32); g[..., 16:] = 1         # a vertical edge
    >>> out = guided_upsample(g, resize_area(g, (8, 8)))                   # a map that follows it
    >>> bool((out[..., :14] < 0.05).all() and (out[..., 18:] > 0.95).all())
    True
    """
    y = _f32(guide)
    src = _f32(src_low)
    H, W = y.shape[-2:]
    out = np.empty((*src.shape[:-2], H, W), np.float32)
    for rows, a, b in guided_coefficient_strips(resize_area(y, src.shape[-2:]), src, (H, W), radius=radius, eps=eps):
        out[..., rows, :] = a * y[..., rows, :] + b
    return out


def upsample_bilinear(x: Any, size: tuple[int, int]) -> np.ndarray:
    """Plain bilinear resize (``align_corners=False``, no antialiasing) of (..., h, w) to ``size``:
    torch's ``F.interpolate(mode="bilinear")``, used to bring a strided model output to the render size."""
    arr = _f32(x)
    h, w = arr.shape[-2:]
    H, W = size
    j0, j1, tx = _linear_taps(w, W)
    wide = arr[..., j0] * (1 - tx) + arr[..., j1] * tx
    i0, i1, ty = _linear_taps(h, H)
    return (wide[..., i0, :] * (1 - ty[:, None]) + wide[..., i1, :] * ty[:, None]).astype(np.float32, copy=False)


@functools.lru_cache(maxsize=4)
def ab_bin_centers_np(grid: int = 10) -> np.ndarray:
    """The ab bin centres (Q, 2) in Lab units, in the model head's order: the points of a ``grid``-unit
    ab grid whose cell holds at least one colour of a 96-level sRGB cube (Zhang et al. 2016's bins,
    with the sRGB gamut computed exactly). :func:`colorize.bins.ab_bin_centers` is this as a tensor.

    >>> ab_bin_centers_np(10).shape
    (262, 2)
    """
    if grid == 10:  # the default grid, from its table: building it takes ~0.3 s, a third of a cold start
        rows = [(a, b) for a, lo, hi in _GRID10_B_RANGES for b in range(lo, hi + 1)]
        return (np.array(rows, np.int64) * grid).astype(np.float32)
    return build_ab_bin_centers(grid)


# The in-gamut cells of the 10-unit ab grid, as (a cell, first b cell, last b cell) per a column (each
# column's cells are contiguous); tests/test_imaging.py checks that build_ab_bin_centers(10) gives these.
_GRID10_B_RANGES = ((-9, 8, 8), (-8, 4, 8), (-7, 2, 9), (-6, 0, 9), (-5, -2, 9), (-4, -3, 9), (-3, -4, 9), (-2, -4, 9),
                    (-1, -5, 9), (0, -6, 9), (1, -7, 8), (2, -8, 8), (3, -8, 8), (4, -9, 8), (5, -9, 7), (6, -10, 7),
                    (7, -11, 7), (8, -11, 7), (9, -9, 0), (10, -7, -5))


def build_ab_bin_centers(grid: int) -> np.ndarray:
    """The construction behind :func:`ab_bin_centers_np`: a 96-level sRGB cube to Lab, its ab cells."""
    levels = np.linspace(0, 1, 96, dtype=np.float32)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    ab = rgb_to_lab(np.stack([r, g, b]).reshape(3, -1, 1)).reshape(3, -1)[1:].T
    cells = np.round(ab / grid).astype(np.int64)
    # unique rows via one packed integer key (np.unique(axis=0) is much slower)
    keys = np.unique((cells[:, 0] + 1024) * 2048 + (cells[:, 1] + 1024))
    rows = np.stack([keys // 2048 - 1024, keys % 2048 - 1024], axis=1)
    return (rows * grid).astype(np.float32)
