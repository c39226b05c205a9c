"""Colour science in torch: sRGB, linear RGB, CIE XYZ/Lab (D65) and YUV (BT.601).

Every function takes tensors with the colour channels in dimension ``-3`` (``(..., 3, H, W)``)
and computes in float32 even under autocast: bf16 has 8 bits of mantissa, which is not enough
for colour conversions (Lab's L* would be off by up to ~0.4 units).

Value conventions (the same as scikit-image, which the tests use as the oracle):

* sRGB in ``[0, 1]``;
* Lab with ``L*`` in ``[0, 100]`` and ``a*, b*`` roughly in ``[-110, 110]``;
* YUV with ``Y`` in ``[0, 1]``, ``U`` in ``[-0.436, 0.436]``, ``V`` in ``[-0.615, 0.615]``.

A :class:`ChromaSpace` bundles what a model needs: the luminance channel it sees, the two chroma
channels it predicts, both normalised to ``[0, 1]`` and ``[-1, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .imaging import AB_MAX, BT601, RGB_TO_XYZ_ROWS, RGB_TO_YUV_ROWS, U_MAX, V_MAX, WHITE_D65

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "rgb_to_xyz",
    "xyz_to_rgb",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_yuv",
    "yuv_to_rgb",
    "rgb_to_luma",
    "combine_yuv_gamut_safe",
    "ChromaSpace",
    "get_chroma_space",
    "CHROMA_SPACES",
    "AB_MAX",
    "BT601",
    "U_MAX",
    "V_MAX",
]

# The constants live in colorize.imaging (the numpy image path) so both sides share one copy.
_WHITE_D65 = WHITE_D65

_RGB_TO_XYZ = torch.tensor(RGB_TO_XYZ_ROWS)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ.double()).float()

# BT.601 luma and the YUV chroma axes (scikit-image's rgb2yuv).
_RGB_TO_YUV = torch.tensor(RGB_TO_YUV_ROWS)
_YUV_TO_RGB = torch.linalg.inv(_RGB_TO_YUV.double()).float()


def _fp32(x: Tensor) -> Tensor:
    return x.float() if x.dtype != torch.float32 else x


def _apply_matrix(x: Tensor, matrix: Tensor) -> Tensor:
    """Multiply the channel vector in dim -3 by a 3x3 matrix."""
    m = matrix.to(device=x.device, dtype=x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def _no_autocast(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Run a colour conversion in fp32 whatever autocast context it is called from."""

    def wrapper(*args, **kwargs):
        device_type = "cuda" if any(isinstance(a, Tensor) and a.is_cuda for a in args) else "cpu"
        with torch.autocast(device_type=device_type, enabled=False):
            return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


@_no_autocast
def srgb_to_linear(rgb: Tensor) -> Tensor:
    """Undo the sRGB transfer curve.

    >>> srgb_to_linear(torch.tensor([0.0, 0.5, 1.0]).view(3, 1, 1)).flatten()
    tensor([0.0000, 0.2140, 1.0000])
    """
    rgb = _fp32(rgb)
    return torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)


@_no_autocast
def linear_to_srgb(lin: Tensor) -> Tensor:
    """Apply the sRGB transfer curve (inverse of :func:`srgb_to_linear`)."""
    lin = _fp32(lin)
    return torch.where(
        lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92
    )


@_no_autocast
def rgb_to_xyz(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] to CIE XYZ (D65)."""
    return _apply_matrix(srgb_to_linear(rgb), _RGB_TO_XYZ)


@_no_autocast
def xyz_to_rgb(xyz: Tensor) -> Tensor:
    """CIE XYZ (D65) to sRGB; values outside the gamut are *not* clipped."""
    return linear_to_srgb(_apply_matrix(_fp32(xyz), _XYZ_TO_RGB))


_EPS = 216 / 24389  # (6/29)^3
_KAPPA = 24389 / 27


def lab_f(t: Tensor) -> Tensor:
    """The CIE Lab companding f(t): cube root above (6/29)^3, linear below (L* = 116 f(Y) - 16)."""
    return torch.where(t > _EPS, t.clamp(min=_EPS) ** (1 / 3), (_KAPPA * t + 16) / 116)



def _lab_f_inv(f: Tensor) -> Tensor:
    return torch.where(f > 6 / 29, f**3, (116 * f - 16) / _KAPPA)


@_no_autocast
def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] to CIE Lab (D65): L* in [0, 100].

    >>> [round(v) for v in rgb_to_lab(torch.ones(3, 1, 1)).flatten().tolist()]
    [100, 0, 0]
    """
    xyz = rgb_to_xyz(rgb)
    white = torch.tensor(_WHITE_D65, device=xyz.device).view(3, 1, 1)
    f = lab_f(xyz / white)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


@_no_autocast
def lab_to_rgb(lab: Tensor, clip: bool = True) -> Tensor:
    """CIE Lab (D65) to sRGB; ``clip`` clamps out-of-gamut results to [0, 1]."""
    lab = _fp32(lab)
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    white = torch.tensor(_WHITE_D65, device=lab.device).view(3, 1, 1)
    rgb = xyz_to_rgb(_lab_f_inv(f) * white)
    return rgb.clamp(0, 1) if clip else rgb


@_no_autocast
def rgb_to_yuv(rgb: Tensor) -> Tensor:
    """sRGB to YUV (BT.601 on gamma-encoded values, as the seed and scikit-image use).

    >>> rgb_to_yuv(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)).flatten()
    tensor([ 0.2990, -0.1471,  0.6150])
    """
    return _apply_matrix(_fp32(rgb), _RGB_TO_YUV)


@_no_autocast
def yuv_to_rgb(yuv: Tensor) -> Tensor:
    """YUV (BT.601) to sRGB; not clipped."""
    return _apply_matrix(_fp32(yuv), _YUV_TO_RGB)


@_no_autocast
def rgb_to_luma(rgb: Tensor) -> Tensor:
    """BT.601 luma ``Y`` with a kept channel dim: what Pillow's ``convert("L")`` calls gray.

    This is the luminance the pipeline preserves: desaturating a colorized output gives the input back.
    """
    w = _RGB_TO_YUV[0].to(device=rgb.device).view(3, 1, 1)
    return (_fp32(rgb) * w).sum(dim=-3, keepdim=True)


@_no_autocast
def combine_yuv_gamut_safe(y: Tensor, uv: Tensor) -> Tensor:
    """Join luma ``y`` (..., 1, H, W) with chroma ``uv`` (..., 2, H, W) into sRGB, keeping ``y`` exact.

    Where ``y`` plus the chroma would leave the sRGB cube, the chroma of that pixel is scaled down
    (hue kept) just enough to fit, instead of clipping channels, which would change the luminance.
    In YUV every RGB channel is ``y + d_c`` with ``d_c`` linear in ``uv``, so the largest safe scale
    has a closed form: ``s = min_c((1 - y) / d_c if d_c > 0 else -y / d_c)``.

    >>> rgb = combine_yuv_gamut_safe(torch.full((1, 1, 1), 0.9), torch.tensor([0.0, 0.6]).view(2, 1, 1))
    >>> round(float(rgb_to_luma(rgb)), 4), bool(rgb.max() <= 1.0)
    (0.9, True)
    """
    y = _fp32(y).clamp(0, 1)
    uv = _fp32(uv)
    m = _YUV_TO_RGB[:, 1:].to(device=uv.device)  # (3, 2): each RGB channel's offset from y
    d = torch.einsum("ij,...jhw->...ihw", m, uv)
    rgb = y + d
    # Scale chroma only if some pixel left the cube (most photos: few pixels, often none).
    if bool(((rgb < 0) | (rgb > 1)).any()):
        tiny = 1e-6
        # per channel, the largest s with 0 <= y + s d <= 1: ((d > 0) - y) / d, inf where d is ~0
        limit = ((d > 0).to(d.dtype) - y) / torch.where(d.abs() > tiny, d, torch.full_like(d, float("nan")))
        s = limit.nan_to_num_(nan=1.0).amin(dim=-3, keepdim=True).clamp_(max=1.0)
        rgb = torch.addcmul(y, s, d)
    return rgb.clamp_(0, 1)


@dataclass(frozen=True)
class ChromaSpace:
    """A colour space split into the luminance a model sees and the two chroma channels it predicts.

    ``luma`` is normalised to [0, 1] and ``chroma`` to roughly [-1, 1] (the model's sigmoid output
    ``s`` maps to chroma ``2 s - 1``), so models and losses do not depend on the space's units.
    """

    name: str
    luma_scale: float
    chroma_scale: tuple[float, float]
    _to: Callable[[Tensor], Tensor]
    _from: Callable[[Tensor], Tensor]

    def split(self, rgb: Tensor) -> tuple[Tensor, Tensor]:
        """sRGB (..., 3, H, W) -> (luma (..., 1, H, W) in [0, 1], chroma (..., 2, H, W) in [-1, 1])."""
        x = self._to(rgb)
        luma = x[..., :1, :, :] / self.luma_scale
        scale = torch.tensor(self.chroma_scale, device=x.device).view(2, 1, 1)
        return luma, x[..., 1:, :, :] / scale

    def to_rgb(self, luma: Tensor, chroma: Tensor) -> Tensor:
        """Normalised (luma, chroma) back to sRGB, clipped to [0, 1] (for training-time previews)."""
        scale = torch.tensor(self.chroma_scale, device=chroma.device).view(2, 1, 1)
        x = torch.cat([_fp32(luma) * self.luma_scale, _fp32(chroma) * scale], dim=-3)
        return self._from(x).clamp(0, 1)

    def chroma_units(self, chroma: Tensor) -> Tensor:
        """Normalised chroma to the space's own units (ab in Lab units, UV in YUV units)."""
        scale = torch.tensor(self.chroma_scale, device=chroma.device).view(2, 1, 1)
        return _fp32(chroma) * scale


def _gray_rgb_from_luma_lab(lab: Tensor) -> Tensor:
    return lab_to_rgb(lab, clip=False)


CHROMA_SPACES: dict[str, ChromaSpace] = {
    "lab": ChromaSpace("lab", 100.0, (AB_MAX, AB_MAX), rgb_to_lab, _gray_rgb_from_luma_lab),
    "yuv": ChromaSpace("yuv", 1.0, (U_MAX, V_MAX), rgb_to_yuv, yuv_to_rgb),
}


def get_chroma_space(name: str) -> ChromaSpace:
    """Look up a :class:`ChromaSpace` by name (``"lab"`` or ``"yuv"``)."""
    try:
        return CHROMA_SPACES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown colour space {name!r}; choose one of {sorted(CHROMA_SPACES)}") from None
