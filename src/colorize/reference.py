"""Reference-based colorization: take the colours of another photo (GitHub issue #6).

``colorizer(gray, reference="colour.jpg", reference_strength=0.8)`` or
``colorize photo.jpg --reference colour.jpg --reference-strength 0.8``. The reference may differ from
the photo in size, framing and content. Three transfers, all at the render size, in CIE Lab ``a*b*``:

``reinhard`` -- luminance-matched colour statistics (Reinhard et al. 2001, "Color Transfer between
    Images"): the reference's luma is first remapped to the photo's mean and spread (Welsh et al.'s
    luminance remapping); then, in soft luminance bands (shadows ... highlights), the mean and
    standard deviation of the automatic prediction's ``a*``, ``b*`` are moved to the reference's in
    the same band. A global correction: right palette, no spatial matching.
``welsh`` -- per-pixel texture matching (Welsh, Ashikhmin & Mueller 2002, "Transferring Color to
    Greyscale Images"): every photo pixel takes the chroma of the reference pixels whose local luma
    mean and standard deviation (5x5 window) are closest, found with a KD-tree
    (:class:`scipy.spatial.cKDTree`) over a subsample of reference pixels.
``semantic`` -- matching with the colorization network's own encoder features: the compact model's
    ``stages`` outputs (strides 4, 8 and 16, each L2-normalised, plus the Welsh luma statistics) for
    photo and reference; each photo position takes the softmax(cosine / tau)-weighted chroma of the
    reference positions. Its confidence (how similar the best match is) decides, per pixel, how much
    the reference overrides the prediction, so an unrelated reference changes little.

``auto`` (the default) applies ``reinhard`` to the prediction, then blends in the ``semantic``
match (``welsh`` for models without encoder stages) where it is confident. ``strength`` (0-1)
scales both steps: 0 is the automatic result, 1 the full transfer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ReferenceImageError

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from .pipeline import Colorizer

__all__ = [
    "REFERENCE_STRENGTH",
    "REFERENCE_METHODS",
    "ReferenceImageError",
    "load_reference",
    "reinhard_transfer",
    "welsh_transfer",
    "semantic_transfer",
    "apply_reference",
]

REFERENCE_STRENGTH = 0.8
REFERENCE_METHODS = ("auto", "reinhard", "welsh", "semantic")

WELSH_WINDOW = 2
"""Half-size of the luma statistics window (5x5)."""
WELSH_SAMPLES = 20_000
"""Reference pixels in the KD-tree (a fixed-seed random subsample when the reference is larger)."""
WELSH_NEIGHBOURS = 8
SEMANTIC_TAU = 0.05
"""Softmax temperature over cosine similarities."""
SEMANTIC_CONFIDENCE = (0.6, 0.9)
"""Best-match cosine similarity mapped linearly to confidence 0 ... 1."""
_GRAY_CHROMA = 4.0  # a*b* units: below this a pixel counts as colourless


# ----------------------------------------------------------------------------- loading


def load_reference(reference: Any, label: str | None = None) -> np.ndarray:
    """A path, PIL image or HxWx3 array (uint8, uint16 or float [0, 1]) -> HxWx3 float32 sRGB; refuses gray photos."""
    from PIL import Image

    if isinstance(reference, (str, os.PathLike)):
        from .io import ImageError, read_image

        label = label or os.fspath(reference)
        try:
            rgb = read_image(reference).rgb
        except ImageError as exc:
            raise ReferenceImageError(f"{label}: cannot use as reference: {exc.reason}") from None
    elif isinstance(reference, Image.Image):
        from .io import ImageError, load_image_from_pil

        label = label or "reference image"
        try:
            rgb = load_image_from_pil(reference).rgb
        except ImageError as exc:
            raise ReferenceImageError(f"{label}: cannot use as reference: {exc.reason}") from None
    else:
        label = label or "reference array"
        arr = np.asarray(reference)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ReferenceImageError(f"{label}: a reference must be a colour image (HxWx3), got shape {arr.shape}")
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype, 1.0)
        rgb = np.clip(arr[..., :3].astype(np.float32) / scale, 0, 1)
    if rgb.ndim != 3 or rgb.shape[0] < 4 or rgb.shape[1] < 4:
        raise ReferenceImageError(f"{label}: the reference is too small ({rgb.shape[1]}x{rgb.shape[0]})")
    if _colour_fraction(rgb) < 0.01:
        raise ReferenceImageError(f"{label}: the reference photo is gray (no colour to transfer); give a colour photo")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def _colour_fraction(rgb: np.ndarray) -> float:
    """Fraction of pixels with visible chroma (on a <= 64k pixel subsample)."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    sub = rgb[::step, ::step].astype(np.float32)
    spread = sub.max(axis=-1) - sub.min(axis=-1)
    return float((spread > 6 / 255).mean())


# ----------------------------------------------------------------------------- colour helpers (torch, (1,C,h,w))


def _lab_of_uv(y: Tensor, uv: Tensor) -> Tensor:
    """Render-size luma + YUV chroma -> Lab (1,3,h,w) of the gamut-safe colour."""
    from .color import combine_yuv_gamut_safe, rgb_to_lab

    return rgb_to_lab(combine_yuv_gamut_safe(y, uv))


def _uv_of_ab(y: Tensor, ab: Tensor) -> Tensor:
    """Photo luma + a*b* -> YUV chroma (the luma itself is restored later by the pipeline)."""
    import torch

    from .color import lab_to_rgb, rgb_to_lab, rgb_to_yuv

    gray = y.expand(-1, 3, -1, -1)
    L = rgb_to_lab(gray)[:, :1]
    return rgb_to_yuv(lab_to_rgb(torch.cat([L, ab], dim=1), clip=True))[:, 1:]


def _resize(x: Tensor, shape: tuple[int, int]) -> Tensor:
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return F.interpolate(x, size=shape, mode="bilinear", antialias=True, align_corners=False)


def _prepare_reference(ref_rgb: np.ndarray, render_size: int) -> tuple[Tensor, Tensor]:
    """Reference at (about) the render size: (luma (1,1,h,w), Lab (1,3,h,w))."""
    import torch

    from .color import rgb_to_lab, rgb_to_luma
    from .render import render_shape

    t = torch.from_numpy(np.ascontiguousarray(ref_rgb)).permute(2, 0, 1)[None].float()
    shape = render_shape(t.shape[-2], t.shape[-1], render_size)
    t = _resize(t, shape).clamp(0, 1)
    return rgb_to_luma(t), rgb_to_lab(t)


def _luma_remap(ref_y: Tensor, y: Tensor) -> Tensor:
    """Welsh et al.'s luminance remapping: the reference luma with the photo's mean and spread."""
    return (ref_y - ref_y.mean()) * (y.std() / ref_y.std().clamp(min=1e-3)) + y.mean()


def _local_stats(y: Tensor, radius: int = WELSH_WINDOW) -> tuple[Tensor, Tensor]:
    from .filters import box_filter

    mean = box_filter(y, radius)
    std = (box_filter(y * y, radius) - mean * mean).clamp(min=0).sqrt()
    return mean, std


# ----------------------------------------------------------------------------- (a) Reinhard


def _bands(y: Tensor, centres: Tensor, width: float) -> Tensor:
    """Soft luminance-band memberships (K,h*w), columns summing to 1."""
    import torch

    d = y.reshape(1, -1) - centres.view(-1, 1)
    m = torch.exp(-0.5 * (d / width) ** 2) + 1e-8
    return m / m.sum(dim=0, keepdim=True)


def reinhard_transfer(y: Tensor, ab: Tensor, ref_y: Tensor, ref_ab: Tensor, bands: int = 5, eps: float = 2.0,
                      max_scale: float = 3.0) -> Tensor:
    """Move the a*b* statistics of ``ab`` (1,2,h,w, over luma ``y``) to the reference's, per luminance band.

    Band centres are quantiles of the photo's luma; the reference's luma is remapped to the photo's
    first. In each band, per channel: ``(ab - mean_p) * (std_r + eps) / (std_p + eps) + mean_r``
    (the scale capped at ``max_scale``, so a nearly gray prediction is not blown up into noise).
    """
    import torch

    ref_y = _luma_remap(ref_y, y)
    q = torch.linspace(0.1, 0.9, bands)
    centres = torch.quantile(y.flatten(), q)
    width = max(0.05, float(centres[-1] - centres[0]) / max(1, bands - 1))
    mp = _bands(y, centres, width)  # (K, n)
    mr = _bands(ref_y, centres, width)
    p = ab.reshape(2, -1)
    r = ref_ab.reshape(2, -1)

    def stats(m: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        wsum = m.sum(dim=1, keepdim=True).clamp(min=1e-6)  # (K,1)
        mean = (m @ x.T) / wsum  # (K,2)
        var = (m @ (x.T**2)) / wsum - mean**2
        return mean, var.clamp(min=0).sqrt()

    mean_p, std_p = stats(mp, p)
    mean_r, std_r = stats(mr, r)
    scale = ((std_r + eps) / (std_p + eps)).clamp(max=max_scale)  # (K,2)
    # per pixel: sum_k m_k(y) [(ab - mean_p_k) * scale_k + mean_r_k]
    out = (mp.T @ scale) * p.T - (mp.T @ (mean_p * scale)) + mp.T @ mean_r  # (n,2)
    return out.T.reshape_as(ab)


# ----------------------------------------------------------------------------- (b) Welsh


def welsh_transfer(y: Tensor, ref_y: Tensor, ref_ab: Tensor, *, samples: int = WELSH_SAMPLES,
                   k: int = WELSH_NEIGHBOURS, std_weight: float = 1.0, seed: int = 0) -> Tensor:
    """Per-pixel chroma from the reference pixels with the nearest (local luma mean, local luma std).

    ``y`` (1,1,h,w) and ``ref_y`` (1,1,h',w') in [0,1]; ``ref_ab`` (1,2,h',w'). Returns a*b* (1,2,h,w),
    smoothed by a guided filter on the photo's luma (Welsh's per-pixel matches are noisy).
    """
    import torch
    from scipy.spatial import cKDTree

    from .filters import guided_filter_coefficients

    ref_y = _luma_remap(ref_y, y)
    tm, ts = _local_stats(y)
    rm, rs = _local_stats(ref_y)
    feat_t = torch.cat([tm, ts * std_weight], dim=1).reshape(2, -1).T.double().numpy()
    feat_r = torch.cat([rm, rs * std_weight], dim=1).reshape(2, -1).T.double().numpy()
    ab_r = ref_ab.reshape(2, -1).T.double().numpy()
    if feat_r.shape[0] > samples:
        keep = np.random.default_rng(seed).choice(feat_r.shape[0], samples, replace=False)
        feat_r, ab_r = feat_r[keep], ab_r[keep]
    k = min(k, feat_r.shape[0])
    dist, idx = cKDTree(feat_r).query(feat_t, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    h = np.maximum(dist[:, :1], 0.01)  # bandwidth: the nearest match's distance (at least 0.01 luma)
    w = np.exp(-0.5 * (dist / h) ** 2)
    ab = (w[..., None] * ab_r[idx]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    ab_t = torch.from_numpy(ab.T.astype(np.float32)).reshape(1, 2, *y.shape[-2:])
    a, b = guided_filter_coefficients(y, ab_t, radius=2, eps=1e-3)
    return a * y + b


# ----------------------------------------------------------------------------- (c) semantic


def _encoder_taps(colorizer: Colorizer, y: Tensor) -> list[Tensor]:
    """Feature maps of the model's encoder for gray ``y`` (1,1,h,w), from the model's
    :meth:`~colorize.models.ColorModel.encoder_features` hook (fp32, on the CPU)."""
    import torch

    model = colorizer.model
    luma = colorizer.model_luma(y)
    x = luma
    if model.config.hints:
        x = torch.cat([luma, torch.zeros(1, 3, *luma.shape[-2:])], dim=1)
    x = x.to(next(model.parameters()).device)
    with torch.no_grad():
        return [t.float().cpu() for t in model.encoder_features(x)]


def _semantic_features(colorizer: Colorizer, y: Tensor, grid: tuple[int, int], luma_weight: float) -> Tensor:
    """(n, C) unit-norm features on ``grid``: each encoder tap L2-normalised, plus luma mean/std."""
    import torch
    import torch.nn.functional as F

    parts = []
    for t in _encoder_taps(colorizer, y):
        t = F.interpolate(t, size=grid, mode="bilinear", align_corners=False)
        parts.append(F.normalize(t, dim=1))
    if luma_weight > 0:
        m, s = _local_stats(y)
        stats = F.interpolate(torch.cat([m, 2 * s], dim=1), size=grid, mode="area")
        parts.append(stats * luma_weight)
    f = torch.cat(parts, dim=1)
    return F.normalize(f, dim=1)[0].reshape(f.shape[1], -1).T


def semantic_transfer(colorizer: Colorizer, y: Tensor, ref_y: Tensor, ref_ab: Tensor, *, tau: float = SEMANTIC_TAU,
                      stride: int = 4, luma_weight: float = 0.5, center: bool = True,
                      confidence: tuple[float, float] | None = None) -> tuple[Tensor, Tensor]:
    """Chroma from the reference positions whose encoder features are most similar (cosine).

    Returns (a*b* (1,2,h,w), confidence (1,1,h,w) in [0,1]); computed on a 1/``stride`` grid and
    brought to the render size by guided upsampling on the photo's luma.
    """
    import torch
    import torch.nn.functional as F

    from .filters import guided_upsample

    g_t = (max(1, y.shape[-2] // stride), max(1, y.shape[-1] // stride))
    g_r = (max(1, ref_y.shape[-2] // stride), max(1, ref_y.shape[-1] // stride))
    ref_y_m = _luma_remap(ref_y, y).clamp(0, 1)
    ft = _semantic_features(colorizer, y, g_t, luma_weight)
    fr = _semantic_features(colorizer, ref_y_m, g_r, luma_weight)
    if center:  # post-ReLU features all look alike (cosines ~0.9); centring on both images' mean separates them
        mean = torch.cat([ft, fr]).mean(dim=0, keepdim=True)
        ft, fr = F.normalize(ft - mean, dim=1), F.normalize(fr - mean, dim=1)
    ab_r = F.interpolate(ref_ab, size=g_r, mode="area")[0].reshape(2, -1).T  # (m,2)
    ab_rows, conf_rows = [], []
    for start in range(0, ft.shape[0], 4096):  # bounded memory for big render sizes
        sim = ft[start : start + 4096] @ fr.T
        wts = torch.softmax(sim / tau, dim=1)
        ab_rows.append(wts @ ab_r)
        conf_rows.append(sim.max(dim=1).values)
    ab = torch.cat(ab_rows).T.reshape(1, 2, *g_t)
    best = torch.cat(conf_rows).reshape(1, 1, *g_t)
    lo, hi = confidence or SEMANTIC_CONFIDENCE
    conf = ((best - lo) / (hi - lo)).clamp(0, 1)
    y_small = F.interpolate(y, size=g_t, mode="area")
    out = guided_upsample(y_small, torch.cat([ab, conf], dim=1), y, radius=1, eps=1e-3)
    return out[:, :2], out[:, 2:].clamp(0, 1)


# ----------------------------------------------------------------------------- blending


def apply_reference(colorizer: Colorizer, y_low: Tensor, uv_pred: Tensor, reference: Any, *,
                    strength: float = REFERENCE_STRENGTH, method: str | None = None) -> Tensor:
    """The prediction ``uv_pred`` (1,2,h,w, YUV) moved towards the reference's colours; returns YUV chroma."""
    method = method or "auto"
    if method not in REFERENCE_METHODS:
        raise ReferenceImageError(f"unknown reference method {method!r}; choose one of {', '.join(REFERENCE_METHODS)}")
    ref_rgb = load_reference(reference)
    if strength <= 0:
        return uv_pred
    render_size = max(y_low.shape[-2:])
    ref_y, ref_lab = _prepare_reference(ref_rgb, render_size)
    ref_ab = ref_lab[:, 1:]
    y = y_low.float()
    ab_pred = _lab_of_uv(y, uv_pred)[:, 1:]
    if method == "reinhard":
        ab = ab_pred + strength * (reinhard_transfer(y, ab_pred, ref_y, ref_ab) - ab_pred)
    elif method == "welsh":
        ab = ab_pred + strength * (welsh_transfer(y, ref_y, ref_ab) - ab_pred)
    elif method == "semantic":
        match, conf = semantic_transfer(colorizer, y, ref_y, ref_ab)
        ab = ab_pred + strength * conf * (match - ab_pred)
    else:  # auto
        base = ab_pred + strength * (reinhard_transfer(y, ab_pred, ref_y, ref_ab) - ab_pred)
        if colorizer.model.has_encoder_features:
            match, conf = semantic_transfer(colorizer, y, ref_y, ref_ab)
        else:
            match, conf = welsh_transfer(y, ref_y, ref_ab), None
        ab = base + strength * (conf if conf is not None else 0.5) * (match - base)
    return _uv_of_ab(y, ab)
