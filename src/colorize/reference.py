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
    (``pykdtree``, 1 MB; scipy is not in the default install) over a subsample of reference pixels.
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

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ReferenceImageError

if TYPE_CHECKING:  # pragma: no cover
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
SEMANTIC_STRIDE = 2
"""The photo's matching grid, in render pixels: every 2nd (was 4). A 4-pixel grid aliased as a film's
content moved across it: the reference film flickered 1.11x the automatic one on the pan clip, 1.09x
at 2 (docs/video.md); photos score the same within 0.05 dB (docs/guided.md). The similarity matrix
grows 4x."""
SEMANTIC_REFERENCE_STRIDE = 4
"""The reference's grid: its colours are sampled, not rendered, so a coarser grid costs little."""
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


# ----------------------------------------------------------------------------- colour helpers (numpy, (1,C,h,w))


def _lab_of_uv(y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Render-size luma + YUV chroma -> Lab (1,3,h,w) of the gamut-safe colour."""
    from .imaging import combine_yuv_gamut_safe, rgb_to_lab

    return rgb_to_lab(combine_yuv_gamut_safe(y, uv))


def _uv_of_ab(y: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Photo luma + a*b* -> YUV chroma (the luma itself is restored later by the pipeline)."""
    from .imaging import lab_to_rgb, rgb_to_lab, rgb_to_yuv

    L = rgb_to_lab(np.repeat(y, 3, axis=1))[:, :1]
    return rgb_to_yuv(lab_to_rgb(np.concatenate([L, ab], axis=1), clip=True))[:, 1:]


def _resize(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from .imaging import resize_bilinear

    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return resize_bilinear(x, shape)


def _prepare_reference(ref_rgb: np.ndarray, render_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference at (about) the render size: (luma (1,1,h,w), Lab (1,3,h,w))."""
    from .imaging import BT601, rgb_to_lab
    from .render import render_shape

    t = np.ascontiguousarray(ref_rgb, dtype=np.float32).transpose(2, 0, 1)[None]
    shape = render_shape(t.shape[-2], t.shape[-1], render_size)
    t = np.clip(_resize(t, shape), 0, 1)
    luma = (t * np.array(BT601, np.float32).reshape(1, 3, 1, 1)).sum(axis=1, keepdims=True, dtype=np.float32)
    return luma, rgb_to_lab(t)


def _luma_remap(ref_y: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Welsh et al.'s luminance remapping: the reference luma with the photo's mean and spread."""
    return ((ref_y - ref_y.mean()) * (y.std(ddof=1) / max(float(ref_y.std(ddof=1)), 1e-3)) + y.mean()).astype(np.float32)


def _local_stats(y: np.ndarray, radius: int = WELSH_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    from .imaging import box_filter

    mean = box_filter(y, radius)
    std = np.sqrt(np.maximum(box_filter(y * y, radius) - mean * mean, 0))
    return mean, std


def _numpy_io(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let a transfer also take torch tensors (older callers): converted at entry, tensors back out."""
    from .imaging import like, to_numpy

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tensor = any(hasattr(a, "detach") for a in args)
        args = tuple(to_numpy(a)[0] if hasattr(a, "detach") else a for a in args)
        out = fn(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(like(o, tensor) for o in out)
        return like(out, tensor)

    return wrapper


def _normalize(x: np.ndarray, axis: int) -> np.ndarray:
    """``x / max(||x||, 1e-12)`` along ``axis`` (torch's ``F.normalize``)."""
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- (a) Reinhard


def _bands(y: np.ndarray, centres: np.ndarray, width: float) -> np.ndarray:
    """Soft luminance-band memberships (K,h*w), columns summing to 1."""
    d = y.reshape(1, -1) - centres.reshape(-1, 1)
    m = np.exp(-0.5 * (d / width) ** 2) + 1e-8
    return (m / m.sum(axis=0, keepdims=True)).astype(np.float32)


@_numpy_io
def reinhard_transfer(y: np.ndarray, ab: np.ndarray, ref_y: np.ndarray, ref_ab: np.ndarray, bands: int = 5, eps: float = 2.0,
                      max_scale: float = 3.0) -> np.ndarray:
    """Move the a*b* statistics of ``ab`` (1,2,h,w, over luma ``y``) to the reference's, per luminance band.

    Band centres are quantiles of the photo's luma; the reference's luma is remapped to the photo's
    first. In each band, per channel: ``(ab - mean_p) * (std_r + eps) / (std_p + eps) + mean_r``
    (the scale capped at ``max_scale``, so a nearly gray prediction is not blown up into noise).
    """
    ref_y = _luma_remap(ref_y, y)
    centres = np.quantile(y.ravel(), np.linspace(0.1, 0.9, bands)).astype(np.float32)
    width = max(0.05, float(centres[-1] - centres[0]) / max(1, bands - 1))
    mp = _bands(y, centres, width)  # (K, n)
    mr = _bands(ref_y, centres, width)
    p = ab.reshape(2, -1)
    r = ref_ab.reshape(2, -1)

    def stats(m: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wsum = np.maximum(m.sum(axis=1, keepdims=True), 1e-6)  # (K,1)
        mean = (m @ x.T) / wsum  # (K,2)
        var = (m @ (x.T**2)) / wsum - mean**2
        return mean, np.sqrt(np.maximum(var, 0))

    mean_p, std_p = stats(mp, p)
    mean_r, std_r = stats(mr, r)
    scale = np.minimum((std_r + eps) / (std_p + eps), max_scale)  # (K,2)
    # per pixel: sum_k m_k(y) [(ab - mean_p_k) * scale_k + mean_r_k]
    out = (mp.T @ scale) * p.T - (mp.T @ (mean_p * scale)) + mp.T @ mean_r  # (n,2)
    return out.T.reshape(ab.shape).astype(np.float32)


# ----------------------------------------------------------------------------- (b) Welsh


@_numpy_io
def welsh_transfer(y: np.ndarray, ref_y: np.ndarray, ref_ab: np.ndarray, *, samples: int = WELSH_SAMPLES,
                   k: int = WELSH_NEIGHBOURS, std_weight: float = 1.0, seed: int = 0) -> np.ndarray:
    """Per-pixel chroma from the reference pixels with the nearest (local luma mean, local luma std).

    ``y`` (1,1,h,w) and ``ref_y`` (1,1,h',w') in [0,1]; ``ref_ab`` (1,2,h',w'). Returns a*b* (1,2,h,w),
    smoothed by a guided filter on the photo's luma (Welsh's per-pixel matches are noisy).
    """
    from pykdtree.kdtree import KDTree

    from .imaging import guided_filter_coefficients

    ref_y = _luma_remap(ref_y, y)
    tm, ts = _local_stats(y)
    rm, rs = _local_stats(ref_y)
    feat_t = np.concatenate([tm, ts * std_weight], axis=1).reshape(2, -1).T.astype(np.float64)
    feat_r = np.concatenate([rm, rs * std_weight], axis=1).reshape(2, -1).T.astype(np.float64)
    ab_r = ref_ab.reshape(2, -1).T.astype(np.float64)
    if feat_r.shape[0] > samples:
        keep = np.random.default_rng(seed).choice(feat_r.shape[0], samples, replace=False)
        feat_r, ab_r = feat_r[keep], ab_r[keep]
    k = min(k, feat_r.shape[0])
    dist, idx = KDTree(feat_r).query(feat_t, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    h = np.maximum(dist[:, :1], 0.01)  # bandwidth: the nearest match's distance (at least 0.01 luma)
    w = np.exp(-0.5 * (dist / h) ** 2)
    ab = (w[..., None] * ab_r[idx]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    ab_t = ab.T.astype(np.float32).reshape(1, 2, *y.shape[-2:])
    a, b = guided_filter_coefficients(y, ab_t, radius=2, eps=1e-3)
    return a * y + b


# ----------------------------------------------------------------------------- (c) semantic


def has_encoder_features(colorizer: Colorizer) -> bool:
    """Whether the colorizer's network can give encoder features (torch model, or a graph exported with them)."""
    predictor = colorizer.predictor
    if getattr(predictor, "has_encoder_features", False):
        return True
    return bool(getattr(colorizer.model, "has_encoder_features", False)) and hasattr(colorizer.model, "parameters")


def _encoder_taps(colorizer: Colorizer, y: np.ndarray) -> list[np.ndarray]:
    """Feature maps of the model's encoder for gray ``y`` (1,1,h,w) (fp32 numpy): from the ONNX graph's
    feature outputs when it has them, else the torch model's
    :meth:`~colorize.models.ColorModel.encoder_features` hook."""
    luma = colorizer.model_luma(y)
    x = luma
    if colorizer.takes_hints:
        x = np.concatenate([luma, np.zeros((1, 3, *luma.shape[-2:]), np.float32)], axis=1)
    predictor = colorizer.predictor
    if getattr(predictor, "has_encoder_features", False):
        return [np.asarray(t, np.float32) for t in predictor.encoder_features(x)]  # type: ignore[attr-defined]
    import torch

    model = colorizer.model
    with torch.no_grad():
        t = torch.from_numpy(np.ascontiguousarray(x)).to(next(model.parameters()).device)
        return [f.float().cpu().numpy() for f in model.encoder_features(t)]


def _semantic_features(colorizer: Colorizer, y: np.ndarray, grid: tuple[int, int], luma_weight: float) -> np.ndarray:
    """(n, C) unit-norm features on ``grid``: each encoder tap L2-normalised, plus luma mean/std."""
    from .imaging import resize_area, upsample_bilinear

    parts = []
    for t in _encoder_taps(colorizer, y):
        parts.append(_normalize(upsample_bilinear(t, grid), axis=1))
    if luma_weight > 0:
        m, s = _local_stats(y)
        parts.append(resize_area(np.concatenate([m, 2 * s], axis=1), grid) * np.float32(luma_weight))
    f = np.concatenate(parts, axis=1)
    return _normalize(f, axis=1)[0].reshape(f.shape[1], -1).T


@_numpy_io
def semantic_transfer(colorizer: Colorizer, y: np.ndarray, ref_y: np.ndarray, ref_ab: np.ndarray, *, tau: float = SEMANTIC_TAU,
                      stride: int | None = None, luma_weight: float = 0.5, center: bool = True,
                      confidence: tuple[float, float] | None = None,
                      reference_stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chroma from the reference positions whose encoder features are most similar (cosine).

    Returns (a*b* (1,2,h,w), confidence (1,1,h,w) in [0,1]); computed on a 1/``stride`` grid
    (default :data:`SEMANTIC_STRIDE`) against the reference's 1/``reference_stride`` grid (default
    :data:`SEMANTIC_REFERENCE_STRIDE`) and brought to the render size by guided upsampling on the
    photo's luma.
    """
    from .imaging import guided_upsample, resize_area
    from .runtime import blas_split_pool

    stride = SEMANTIC_STRIDE if stride is None else stride
    reference_stride = SEMANTIC_REFERENCE_STRIDE if reference_stride is None else reference_stride
    g_t = (max(1, y.shape[-2] // stride), max(1, y.shape[-1] // stride))
    g_r = (max(1, ref_y.shape[-2] // reference_stride), max(1, ref_y.shape[-1] // reference_stride))
    ref_y_m = np.clip(_luma_remap(ref_y, y), 0, 1)
    ft = _semantic_features(colorizer, y, g_t, luma_weight)
    fr = _semantic_features(colorizer, ref_y_m, g_r, luma_weight)
    if center:  # post-ReLU features all look alike (cosines ~0.9); centring on both images' mean separates them
        mean = np.concatenate([ft, fr]).mean(axis=0, keepdims=True)
        ft, fr = _normalize(ft - mean, axis=1), _normalize(fr - mean, axis=1)
    ab_r = np.ascontiguousarray(resize_area(ref_ab, g_r)[0].reshape(2, -1).T, dtype=np.float32)  # (m,2)

    def attend(start: int) -> tuple[np.ndarray, np.ndarray]:
        """Softmax-weighted reference chroma and the best cosine for 1024 photo positions, in place
        in the one (1024, m) similarity block (the exp over it was most of the time)."""
        sim = ft[start : start + 1024] @ fr.T
        best = sim.max(axis=1, keepdims=True)
        sim -= best
        sim *= np.float32(1 / tau)
        np.exp(sim, out=sim)
        return (sim @ ab_r) / sim.sum(axis=1, keepdims=True), best[:, 0]

    # blocks of rows in two threads (numpy's exp is single-threaded), sharing the cores' BLAS:
    # a reference-guided CSet14 photo 1.46-1.69 s -> 1.06-1.25 s
    with blas_split_pool(2) as pool:
        parts = list(pool.map(attend, range(0, ft.shape[0], 1024)))
    ab = np.concatenate([a for a, _ in parts]).T.reshape(1, 2, *g_t).astype(np.float32)
    best = np.concatenate([b for _, b in parts]).reshape(1, 1, *g_t)
    lo, hi = confidence or SEMANTIC_CONFIDENCE
    conf = np.clip((best - lo) / (hi - lo), 0, 1).astype(np.float32)
    out = guided_upsample(y, np.concatenate([ab, conf], axis=1), radius=1, eps=1e-3)
    return out[:, :2], np.clip(out[:, 2:], 0, 1)


# ----------------------------------------------------------------------------- blending


def apply_reference(colorizer: Colorizer, y_low: Any, uv_pred: Any, reference: Any, *,
                    strength: float = REFERENCE_STRENGTH, method: str | None = None) -> Any:
    """The prediction ``uv_pred`` (1,2,h,w, YUV) moved towards the reference's colours; returns YUV chroma.

    Numpy (float32; tensors in give a tensor back)."""
    from .imaging import like, to_numpy

    method = method or "auto"
    if method not in REFERENCE_METHODS:
        raise ReferenceImageError(f"unknown reference method {method!r}; choose one of {', '.join(REFERENCE_METHODS)}")
    ref_rgb = load_reference(reference)
    if strength <= 0:
        return uv_pred
    y, tensor = to_numpy(y_low)
    uv_pred = to_numpy(uv_pred)[0]
    render_size = max(y.shape[-2:])
    ref_y, ref_lab = _prepare_reference(ref_rgb, render_size)
    ref_ab = ref_lab[:, 1:]
    ab_pred = _lab_of_uv(y, uv_pred)[:, 1:]
    if method == "reinhard":
        ab = ab_pred + strength * (reinhard_transfer(y, ab_pred, ref_y, ref_ab) - ab_pred)
    elif method == "welsh":
        ab = ab_pred + strength * (welsh_transfer(y, ref_y, ref_ab) - ab_pred)
    elif method == "semantic":
        if not (has_encoder_features(colorizer) or hasattr(colorizer.model, "parameters")):
            raise ReferenceImageError("reference method 'semantic' needs the network's encoder features: this ONNX graph "
                                      "has none (re-export it with features, or use --backend torch)")
        match, conf = semantic_transfer(colorizer, y, ref_y, ref_ab)
        ab = ab_pred + strength * conf * (match - ab_pred)
    else:  # auto
        base = ab_pred + strength * (reinhard_transfer(y, ab_pred, ref_y, ref_ab) - ab_pred)
        if has_encoder_features(colorizer):
            match, conf = semantic_transfer(colorizer, y, ref_y, ref_ab)
        else:
            match, conf = welsh_transfer(y, ref_y, ref_ab), None
        ab = base + strength * (conf if conf is not None else 0.5) * (match - base)
    return like(_uv_of_ab(y, ab).astype(np.float32), tensor)
