"""Suggested colours and the uncertainty map: what the distribution head knows besides its mean.

A distribution-head model predicts, at every pixel, a probability over the Q quantised ab bins
(:mod:`colorize.bins`); the pipeline shows only their annealed mean. The distribution itself says
more, and both things here read it at temperature 1 (the model's own probabilities, not the
decoding's sharpening):

* :func:`suggest_colors` -- the k most probable bins at one point of the photo, each shown as the
  sRGB colour it gives *at that pixel's luminance* (the pipeline's own Lab -> YUV conversion and
  gamut-safe join with the photo's luma, as hints are), so a swatch is the colour a hint of it will
  paint there. Bins that look alike at that luminance (dark pixels squeeze many ab values together)
  are merged and their probabilities added.
* :func:`uncertainty_map` -- the per-pixel entropy of the distribution divided by ``log Q``, in
  [0, 1] at the photo's size: 0 where the model is sure of one colour, 1 where every bin is as
  likely. It shows where a hint helps most.

Both run the network once at the render size, on the onnxruntime backend (the bundled graph has a
``logits`` output, see :mod:`colorize.export`) or on PyTorch; no torch import here. A regression-head
model has no distribution: :class:`~colorize.errors.DistributionError`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DistributionError, HintError
from .imaging import AB_MAX, combine_yuv_gamut_safe, rgb_to_lab, upsample_bilinear
from .io import check_option
from .render import gray_of, model_luma, render_input

if TYPE_CHECKING:  # pragma: no cover
    from .options import ColorizeOptions
    from .pipeline import Colorizer

MERGE_DELTA_E = 12.0
"""Suggestions whose sRGB colours (at the pixel's luminance) are closer than this CIE76 Delta E are
one suggestion: a bin and its direct neighbours (10 ab units apart) are one colour to a user, and
gamut clipping at a dark or bright pixel makes many more bins the same displayed colour (a black
pixel gets one suggestion, black, with probability 1)."""


@dataclass(frozen=True)
class SuggestedColor:
    """One suggestion: the colour at the pixel's luminance and how likely the model finds it."""

    rgb: tuple[int, int, int]
    """8-bit sRGB at the pixel's own luminance."""
    hex: str
    """``"#rrggbb"`` of :attr:`rgb` (what a hint, the CLI and the web page take)."""
    probability: float
    """Probability of the bin (plus the bins merged into it), 0-1."""
    ab: tuple[float, float]
    """CIE Lab (a, b) centre of the most probable bin of the group."""


def _model_name(colorizer: Colorizer) -> str:
    info = colorizer.info or {}
    if info.get("name"):
        return str(info["name"])
    return f"the {info['arch']} model" if info.get("arch") else "this model"



def gray_input(image: Any) -> np.ndarray:
    """A photo as :meth:`Colorizer.__call__` takes it (path, PIL image, array) -> HxW float32 BT.601 luma."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        from .io import read_image

        return np.ascontiguousarray(read_image(image).gray, dtype=np.float32)
    if isinstance(image, Image.Image):
        from .io import load_image_from_pil

        return np.ascontiguousarray(load_image_from_pil(image).gray, dtype=np.float32)
    return np.ascontiguousarray(gray_of(np.asarray(image)), dtype=np.float32)


def check_point(x: Any, y: Any, width: int, height: int, label: str = "the photo") -> tuple[float, float]:
    """``(x, y)`` as floats if it is a point of a ``width`` x ``height`` photo, else a one-line :class:`HintError`."""
    try:
        if isinstance(x, bool) or isinstance(y, bool):
            raise TypeError
        xf, yf = float(x), float(y)
    except (TypeError, ValueError):
        raise HintError(f"point {x!r},{y!r}: x and y must be numbers (pixels of {label})") from None
    if not (math.isfinite(xf) and math.isfinite(yf)):
        raise HintError(f"point {x},{y}: x and y must be finite numbers")
    if not (0 <= xf < width and 0 <= yf < height):
        shown = ",".join(str(int(v)) if v.is_integer() else f"{v:g}" for v in (xf, yf))
        raise HintError(f"point {shown} is outside {label} ({width}x{height}: x must be 0-{width - 1}, y 0-{height - 1})")
    return xf, yf


def bin_probabilities(colorizer: Colorizer, gray: np.ndarray, options: ColorizeOptions) -> np.ndarray:
    """The model's probabilities (Q, h, w) over the ab bins at temperature 1, at the head's resolution,
    for a gray photo ``gray`` (HxW in [0, 1]) seen at ``options.render_size``. No hints are given."""
    return render_probabilities(colorizer, render_input(np.ascontiguousarray(gray, dtype=np.float32)[None, None], options.render_size))


def render_probabilities(colorizer: Colorizer, low: np.ndarray) -> np.ndarray:
    """:func:`bin_probabilities` for gray already at the render size, ``low`` (1,1,h,w) in [0, 1]."""
    if str(colorizer.model.config.head) != "distribution":
        name = _model_name(colorizer)
        raise DistributionError(f"{name[:1].upper()}{name[1:]} has a regression head: it predicts one colour per pixel, not a "
                                "distribution, so it has no suggested colours or uncertainty (use a distribution-head model, "
                                "e.g. the bundled default)")
    predictor = colorizer.predictor
    if not getattr(predictor, "has_logits", False) or not hasattr(predictor, "predict_logits"):
        raise DistributionError(f"the {colorizer.backend} predictor of {_model_name(colorizer)} gives no bin probabilities "
                                "(an ONNX graph without a 'logits' output: export it again)")
    x = model_luma(np.asarray(low, np.float32), colorizer.space)
    if predictor.takes_hints:  # the hint channels, empty: the automatic distribution
        x = np.concatenate([x, np.zeros((1, 3, *x.shape[-2:]), np.float32)], axis=1)
    logits = colorizer.predict_logits(x)[0]
    logits = logits - logits.max(axis=0, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=0, keepdims=True)
    return p


def _sample(p: np.ndarray, x: float, y: float, width: int, height: int) -> np.ndarray:
    """Bilinear sample (Q,) of ``p`` (Q, h, w) at input pixel (x, y) of a width x height photo (pixel centres aligned)."""
    h, w = p.shape[-2:]
    u = min(max((x + 0.5) * w / width - 0.5, 0.0), w - 1.0)
    v = min(max((y + 0.5) * h / height - 0.5, 0.0), h - 1.0)
    j0, i0 = int(u), int(v)
    j1, i1 = min(j0 + 1, w - 1), min(i0 + 1, h - 1)
    tu, tv = u - j0, v - i0
    top = p[:, i0, j0] * (1 - tu) + p[:, i0, j1] * tu
    bottom = p[:, i1, j0] * (1 - tu) + p[:, i1, j1] * tu
    return np.asarray(top * (1 - tv) + bottom * tv, dtype=np.float64)


def suggest_colors(colorizer: Colorizer, image: Any, x: Any, y: Any, *, k: Any = 5,
                   options: ColorizeOptions | None = None) -> list[SuggestedColor]:
    """The ``k`` most probable colours at pixel ``(x, y)`` of ``image`` (input pixels), best first.

    See the module docstring; :meth:`colorize.pipeline.Colorizer.suggest_colors` is the public door.
    """
    k = check_option("k", k)
    o = options or colorizer.options
    gray = gray_input(image)
    H, W = gray.shape
    xf, yf = check_point(x, y, W, H)
    p = bin_probabilities(colorizer, gray, o)
    centers = colorizer.bin_centers
    if centers.shape[0] != p.shape[0]:
        raise DistributionError(f"{_model_name(colorizer)} predicts {p.shape[0]} bins, but its ab grid has {centers.shape[0]}")
    probs = _sample(p, xf, yf, W, H)
    # Every bin as it would look at this pixel: the pipeline's chroma_to_uv (Lab at the pixel's L*,
    # gamut-clipped) and its gamut-safe join with the pixel's own luma.
    luma_y = np.full((1, 1, 1, len(centers)), gray[int(yf), int(xf)], np.float32)
    chroma = (centers.T / np.float32(AB_MAX)).reshape(1, 2, 1, -1).astype(np.float32)
    uv = colorizer.chroma_to_uv(model_luma(luma_y, colorizer.space), chroma)
    rgb = combine_yuv_gamut_safe(luma_y, uv)  # (1, 3, 1, Q)
    lab = rgb_to_lab(rgb)[0, :, 0].T  # (Q, 3): how alike two suggestions look
    rgb8 = np.clip(np.round(rgb[0, :, 0].T * 255), 0, 255).astype(int)
    # Group look-alikes greedily, most probable bin first (each bin joins the first group whose seed
    # looks like it), then keep the k most probable groups: so k=3 is always the start of k=8.
    seeds: list[int] = []
    mass: list[float] = []
    for q in np.argsort(-probs, kind="stable"):
        if probs[q] <= 0:
            break
        if seeds:
            d = np.linalg.norm(lab[seeds] - lab[q], axis=1)
            hit = int(np.argmax(d < MERGE_DELTA_E))
            if d[hit] < MERGE_DELTA_E:
                mass[hit] += float(probs[q])
                continue
        seeds.append(int(q))
        mass.append(float(probs[q]))
    groups = sorted(zip(seeds, mass), key=lambda g: -g[1])[:k]
    out = []
    for q, prob in groups:
        r, g, b = (int(v) for v in rgb8[q])
        out.append(SuggestedColor((r, g, b), f"#{r:02x}{g:02x}{b:02x}", round(min(prob, 1.0), 6),
                                  (float(centers[q, 0]), float(centers[q, 1]))))
    return out


def entropy(p: np.ndarray) -> np.ndarray:
    """Entropy over axis 0 of probabilities ``p`` (Q, ...), divided by ``log Q``: 0 (sure) to 1 (uniform)."""
    q = p.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.where(p > 0, np.log(np.maximum(p, 1e-30)), 0.0)).sum(axis=0)
    return np.clip(h / np.float32(math.log(q)), 0.0, 1.0).astype(np.float32)


def uncertainty_map(colorizer: Colorizer, image: Any, *, options: ColorizeOptions | None = None) -> np.ndarray:
    """Per-pixel normalised entropy (HxW float32 in [0, 1], the photo's size) of the model's colour distribution."""
    o = options or colorizer.options
    gray = gray_input(image)
    ent = entropy(bin_probabilities(colorizer, gray, o))
    return np.clip(upsample_bilinear(ent, gray.shape), 0.0, 1.0)


__all__ = ["MERGE_DELTA_E", "SuggestedColor", "bin_probabilities", "check_point", "entropy",
           "suggest_colors", "uncertainty_map"]
