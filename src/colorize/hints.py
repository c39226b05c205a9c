"""Guided colorization with user colour hints (GitHub issue #6).

A *hint* says "this spot is this colour". Hints come as points (``--hint 120,80=#b22222``, x and y in
pixels of the input photo) or as a hints image (``--hints hints.png``: coloured strokes on a
transparent background, the photo's size; every opaque pixel is a hint). A hint gives **colour, not
brightness**: its chroma is taken at the photo's own luminance (the hint colour, joined with the
photo's luma and scaled into the sRGB gamut, as the pipeline does for every pixel).

**Hints act locally** (issue #16): a hint corrects the automatic result in the region it is in and
leaves the rest of the photo as the automatic result had it. Its *reach* (:func:`hint_reach`) is
``exp(-(D / length)^2)`` of the edge-aware geodesic distance D to the hint (a luma step costs
distance, so the reach fills the hint's patch of region, fades, and stops at strong edges). Three
ways to use hints, chosen with ``hint_method`` (default ``"propagate"``, which measured best:
docs/guided.md):

``"model"`` -- learned hints (Zhang et al. 2017, "Real-Time User-Guided Image Colorization with
    Learned Deep Priors"): models trained with ``--hints`` take a hint map (the hint chroma in the
    model's normalised units and a 0/1 mask) as extra input channels. The network's change (its
    prediction with the hints minus without) is added to the automatic result faded by the reach:
    the network alone changes chroma all over the photo.
``"propagate"`` -- edge-aware propagation of the *correction* (Levin, Lischinski & Weiss 2004,
    "Colorization using Optimization", applied to hint chroma minus automatic chroma): the
    corrections at the hints are interpolated by the symmetric graph-Laplacian solve
    ``min sum_rs w_rs (u_r - u_s)^2 + lambda sum_hints (u_r - h_r)^2 + mu sum_r u_r^2``,
    ``w_rs = exp(-(Y_r - Y_s)^2 / (2 sigma^2))`` over the 3x3 window (:func:`propagate`), then faded by
    the reach (:func:`local_correction`).
``"both"`` -- the learned change, then the propagated correction on its result, so the hint's
    colour is met at the hint.

(Before issue #16 the propagation solved for the absolute colour field from the hints, with only a
weak pull, mu = 1e-5, to gray or to the prediction: one hint filled everything reachable through
smooth luma, i.e. most of a photo. Measured in docs/guided.md.)

Everything is solved at the render size (256 px long side by default) and brought to full resolution
by the pipeline's edge-aware guided upsampling, so a 12-megapixel photo costs about as much as a small
one (the sparse solve on ~50 k unknowns takes a fraction of a second).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import HintError
from .gridgraph import GridEdges, geodesic_distance, grid_solve, neighbour_differences

if TYPE_CHECKING:  # pragma: no cover

    from .options import ColorizeOptions
    from .pipeline import Colorizer

__all__ = [
    "CSS_COLORS",
    "HINT_METHODS",
    "HintError",
    "HintPoint",
    "Hints",
    "parse_color",
    "parse_hint",
    "hint_uv",
    "hint_map",
    "propagate",
    "hint_reach",
    "object_features",
    "local_correction",
    "colorize_guided",
]

HINT_METHODS = ("model", "propagate", "both")

# fmt: off
CSS_COLORS: dict[str, int] = {
    "aliceblue": 0xF0F8FF, "antiquewhite": 0xFAEBD7, "aqua": 0x00FFFF, "aquamarine": 0x7FFFD4,
    "azure": 0xF0FFFF, "beige": 0xF5F5DC, "bisque": 0xFFE4C4, "black": 0x000000,
    "blanchedalmond": 0xFFEBCD, "blue": 0x0000FF, "blueviolet": 0x8A2BE2, "brown": 0xA52A2A,
    "burlywood": 0xDEB887, "cadetblue": 0x5F9EA0, "chartreuse": 0x7FFF00, "chocolate": 0xD2691E,
    "coral": 0xFF7F50, "cornflowerblue": 0x6495ED, "cornsilk": 0xFFF8DC, "crimson": 0xDC143C,
    "cyan": 0x00FFFF, "darkblue": 0x00008B, "darkcyan": 0x008B8B, "darkgoldenrod": 0xB8860B,
    "darkgray": 0xA9A9A9, "darkgreen": 0x006400, "darkgrey": 0xA9A9A9, "darkkhaki": 0xBDB76B,
    "darkmagenta": 0x8B008B, "darkolivegreen": 0x556B2F, "darkorange": 0xFF8C00, "darkorchid": 0x9932CC,
    "darkred": 0x8B0000, "darksalmon": 0xE9967A, "darkseagreen": 0x8FBC8F, "darkslateblue": 0x483D8B,
    "darkslategray": 0x2F4F4F, "darkslategrey": 0x2F4F4F, "darkturquoise": 0x00CED1, "darkviolet": 0x9400D3,
    "deeppink": 0xFF1493, "deepskyblue": 0x00BFFF, "dimgray": 0x696969, "dimgrey": 0x696969,
    "dodgerblue": 0x1E90FF, "firebrick": 0xB22222, "floralwhite": 0xFFFAF0, "forestgreen": 0x228B22,
    "fuchsia": 0xFF00FF, "gainsboro": 0xDCDCDC, "ghostwhite": 0xF8F8FF, "gold": 0xFFD700,
    "goldenrod": 0xDAA520, "gray": 0x808080, "green": 0x008000, "greenyellow": 0xADFF2F,
    "grey": 0x808080, "honeydew": 0xF0FFF0, "hotpink": 0xFF69B4, "indianred": 0xCD5C5C,
    "indigo": 0x4B0082, "ivory": 0xFFFFF0, "khaki": 0xF0E68C, "lavender": 0xE6E6FA,
    "lavenderblush": 0xFFF0F5, "lawngreen": 0x7CFC00, "lemonchiffon": 0xFFFACD, "lightblue": 0xADD8E6,
    "lightcoral": 0xF08080, "lightcyan": 0xE0FFFF, "lightgoldenrodyellow": 0xFAFAD2, "lightgray": 0xD3D3D3,
    "lightgreen": 0x90EE90, "lightgrey": 0xD3D3D3, "lightpink": 0xFFB6C1, "lightsalmon": 0xFFA07A,
    "lightseagreen": 0x20B2AA, "lightskyblue": 0x87CEFA, "lightslategray": 0x778899, "lightslategrey": 0x778899,
    "lightsteelblue": 0xB0C4DE, "lightyellow": 0xFFFFE0, "lime": 0x00FF00, "limegreen": 0x32CD32,
    "linen": 0xFAF0E6, "magenta": 0xFF00FF, "maroon": 0x800000, "mediumaquamarine": 0x66CDAA,
    "mediumblue": 0x0000CD, "mediumorchid": 0xBA55D3, "mediumpurple": 0x9370DB, "mediumseagreen": 0x3CB371,
    "mediumslateblue": 0x7B68EE, "mediumspringgreen": 0x00FA9A, "mediumturquoise": 0x48D1CC, "mediumvioletred": 0xC71585,
    "midnightblue": 0x191970, "mintcream": 0xF5FFFA, "mistyrose": 0xFFE4E1, "moccasin": 0xFFE4B5,
    "navajowhite": 0xFFDEAD, "navy": 0x000080, "oldlace": 0xFDF5E6, "olive": 0x808000,
    "olivedrab": 0x6B8E23, "orange": 0xFFA500, "orangered": 0xFF4500, "orchid": 0xDA70D6,
    "palegoldenrod": 0xEEE8AA, "palegreen": 0x98FB98, "paleturquoise": 0xAFEEEE, "palevioletred": 0xDB7093,
    "papayawhip": 0xFFEFD5, "peachpuff": 0xFFDAB9, "peru": 0xCD853F, "pink": 0xFFC0CB,
    "plum": 0xDDA0DD, "powderblue": 0xB0E0E6, "purple": 0x800080, "rebeccapurple": 0x663399,
    "red": 0xFF0000, "rosybrown": 0xBC8F8F, "royalblue": 0x4169E1, "saddlebrown": 0x8B4513,
    "salmon": 0xFA8072, "sandybrown": 0xF4A460, "seagreen": 0x2E8B57, "seashell": 0xFFF5EE,
    "sienna": 0xA0522D, "silver": 0xC0C0C0, "skyblue": 0x87CEEB, "slateblue": 0x6A5ACD,
    "slategray": 0x708090, "slategrey": 0x708090, "snow": 0xFFFAFA, "springgreen": 0x00FF7F,
    "steelblue": 0x4682B4, "tan": 0xD2B48C, "teal": 0x008080, "thistle": 0xD8BFD8,
    "tomato": 0xFF6347, "turquoise": 0x40E0D0, "violet": 0xEE82EE, "wheat": 0xF5DEB3,
    "white": 0xFFFFFF, "whitesmoke": 0xF5F5F5, "yellow": 0xFFFF00, "yellowgreen": 0x9ACD32,
}
# fmt: on
"""The 148 named colours of CSS Color Module Level 4 (``rebeccapurple`` included), as 0xRRGGBB."""

# Propagation defaults (render-size pixels, luma in [0, 1]); chosen on the benchmark, see docs/guided.md.
PROPAGATE_SIGMA = 0.025
"""Luma difference scale of the affinities: ``w = exp(-dY^2 / (2 sigma^2))`` (about 6 gray levels)."""
PROPAGATE_LAMBDA = 100.0
"""Weight of a hint constraint (large: hints are near-hard constraints)."""
PROPAGATE_MU = 1e-5
"""Pull of the propagated correction towards 0: small, so that between hints the correction is
interpolated along smooth luma (in a flat region it would spread ~1/sqrt(mu) = 300 render pixels);
the locality comes from the reach (:data:`REACH_LENGTH`), not from this."""
REACH_LENGTH = 0.30
"""How far a hint reaches, as a fraction of the render size's long side (77 px at 256): its weight is
``exp(-(D / length)^2)`` of the edge-aware geodesic distance D (:func:`hint_reach`), so ~1 in its own
patch of region, 0.37 at one length, 0.02 at two. Chosen on the benchmark together with
:data:`REACH_OBJECT` (docs/guided.md): shorter lost PSNR with 20 hints, longer let one wrong hint
change more of the photo."""
REACH_EDGE = 100.0
"""Cost of a luma step in the geodesic distance, in pixels per unit of luma: an edge of 0.3 counts as
30 pixels, so a hint stops at strong edges but crosses soft shading and texture."""
REACH_OBJECT = 100.0
"""Cost of a change in what the model sees in the geodesic distance, in pixels per unit of Hellinger
distance between neighbouring pixels' predicted colour distributions (:func:`object_features`): a
boundary between two things the model tells apart (a different set of likely colours) stops a hint
even where the luma has no edge. The distributions, not the decoded colours, so a blotch (neighbours
picking different modes of the same distribution) does not stop it."""
REACH_OBJECT_DIMS = 8
"""Principal directions of the square-root distributions kept for the distance (of 262 bins)."""
DEFAULT_POINT_RADIUS = 1.5
"""Radius, in render-size pixels, of a point hint without an explicit radius: a 3x3 patch, as in training."""


# ----------------------------------------------------------------------------- parsing

_HEX = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")  # alpha digits are ignored
_RGB_FUNCTION = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*[\d.]+%?\s*)?\)", re.I)


def _normalise_name(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.strip().lower())


def parse_color(text: str | Sequence[float]) -> tuple[int, int, int]:
    """A CSS colour name, ``#rgb`` or ``#rrggbb`` -> (r, g, b) 0-255; also an (r, g, b) of ints 0-255 or floats 0-1.

    What colour pickers send is read too: ``rgb(r, g, b)`` / ``rgba(r, g, b, a)`` and ``#rgba`` /
    ``#rrggbbaa`` (alpha ignored). The one colour parser of the package (the web page uses it).

    >>> parse_color("firebrick"), parse_color("#b22222"), parse_color("#f00"), parse_color("Sky Blue")
    ((178, 34, 34), (178, 34, 34), (255, 0, 0), (135, 206, 235))
    """
    if not isinstance(text, str):
        try:
            vals = [v.item() if hasattr(v, "item") else v for v in text]
            floats = any(isinstance(v, float) for v in vals)
            nums = [float(v) for v in vals]
        except (TypeError, ValueError):
            raise HintError(f"cannot read {text!r} as a colour; give a CSS name, #rrggbb or (r, g, b)") from None
        if len(nums) != 3:
            raise HintError(f"a colour needs 3 values (r, g, b), got {len(nums)}")
        top = 1.0 if floats else 255.0  # floats are 0-1, integers 0-255
        if not all(0 <= v <= top for v in nums):
            raise HintError(f"colour {tuple(vals)}: values must be {'0-1 floats' if floats else '0-255 integers'}")
        r, g, b = (int(round(v * 255 / top)) for v in nums)
        return (r, g, b)
    s = text.strip()
    if not s:
        raise HintError("empty colour; give a CSS name (e.g. red, skyblue) or #rgb / #rrggbb")
    if s.startswith("#"):
        m = _HEX.fullmatch(s)
        if not m:
            raise HintError(f"{s!r} is not a hex colour; use #rgb or #rrggbb (e.g. #b22222)")
        digits = m.group(1)
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits[:3])
        digits = digits[:6]
        v = int(digits, 16)
        return (v >> 16 & 255, v >> 8 & 255, v & 255)
    m = _RGB_FUNCTION.fullmatch(s)
    if m:
        r, g, b = (int(round(min(255.0, float(v)))) for v in m.groups())
        return (r, g, b)
    name = _normalise_name(s)
    if name in CSS_COLORS:
        v = CSS_COLORS[name]
        return (v >> 16 & 255, v >> 8 & 255, v & 255)
    close = difflib.get_close_matches(name, CSS_COLORS, n=3, cutoff=0.6)
    if not close:  # "bluish" -> names containing a known word
        close = [n for n in CSS_COLORS if name and (name in n or n in name)][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else "; use a CSS colour name (e.g. red, skyblue) or #rrggbb"
    raise HintError(f"unknown colour {s!r}{hint}")


@dataclass(frozen=True)
class HintPoint:
    """A colour at ``(x, y)`` (pixels of the input photo; fractional allowed) with an optional radius.

    ``radius`` is in input pixels; ``None`` means a 3x3 patch at the render size (what the learned
    model was trained with).
    """

    x: float
    y: float
    rgb: tuple[int, int, int]
    radius: float | None = None


_HINT_SYNTAX = "expected X,Y=COLOR or X,Y,RADIUS=COLOR (e.g. 120,80=#b22222 or 300,40=skyblue)"


def parse_hint(text: str) -> HintPoint:
    """``"X,Y=COLOR"`` or ``"X,Y,RADIUS=COLOR"`` -> :class:`HintPoint`.

    >>> parse_hint("120,80=#b22222")
    HintPoint(x=120.0, y=80.0, rgb=(178, 34, 34), radius=None)
    """
    where, sep, colour = text.partition("=")
    if not sep or not where.strip() or not colour.strip():
        raise HintError(f"--hint {text!r}: {_HINT_SYNTAX}")
    parts = [p.strip() for p in where.split(",")]
    if len(parts) not in (2, 3):
        raise HintError(f"--hint {text!r}: {_HINT_SYNTAX}")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise HintError(f"--hint {text!r}: coordinates must be numbers; {_HINT_SYNTAX}") from None
    if not all(np.isfinite(nums)):
        raise HintError(f"--hint {text!r}: coordinates must be finite numbers")
    if len(nums) == 3 and nums[2] < 0:
        raise HintError(f"--hint {text!r}: the radius must be >= 0")
    try:
        rgb = parse_color(colour)
    except HintError as exc:
        raise HintError(f"--hint {text!r}: {exc}") from None
    return HintPoint(nums[0], nums[1], rgb, nums[2] if len(nums) == 3 else None)


# ----------------------------------------------------------------------------- the Hints object


@dataclass
class Hints:
    """User colour hints for one photo: points and/or a dense hint layer (the photo's size).

    ``dense_rgb`` is HxWx3 float32 sRGB in [0, 1], ``dense_mask`` HxW bool (True = a hint pixel).
    Points are drawn after (on top of) the dense layer.
    """

    points: list[HintPoint] = field(default_factory=list)
    dense_rgb: np.ndarray | None = None
    dense_mask: np.ndarray | None = None
    source: str = "hints"

    def __len__(self) -> int:
        return len(self.points) + (int(self.dense_mask.sum()) if self.dense_mask is not None else 0)

    def __bool__(self) -> bool:
        return len(self) > 0

    # -- construction

    @classmethod
    def from_points(cls, items: Iterable[Any]) -> Hints:
        """From ``(x, y, colour)`` / ``(x, y, colour, radius)`` tuples, ``"X,Y=COLOR"`` strings or HintPoints."""
        points = []
        for item in items:
            if isinstance(item, HintPoint):
                points.append(item)
            elif isinstance(item, str):
                points.append(parse_hint(item))
            else:
                try:
                    x, y, colour, *rest = item
                except (TypeError, ValueError):
                    raise HintError(f"hint {item!r}: expected (x, y, colour) or (x, y, colour, radius)") from None
                if len(rest) > 1:
                    raise HintError(f"hint {item!r}: expected (x, y, colour) or (x, y, colour, radius)")
                try:
                    xf, yf = float(x), float(y)
                    radius = float(rest[0]) if rest and rest[0] is not None else None
                except (TypeError, ValueError):
                    raise HintError(f"hint {item!r}: x, y and radius must be numbers") from None
                try:
                    rgb = parse_color(colour)
                except HintError as exc:
                    raise HintError(f"hint {item!r}: {exc}") from None
                points.append(HintPoint(xf, yf, rgb, radius))
        return cls(points=points)

    @classmethod
    def from_image(cls, image: Any, label: str | None = None) -> Hints:
        """A hints layer: path, PIL image or HxWx4 array; every opaque pixel (alpha >= 50%) is a hint."""
        from PIL import Image

        if isinstance(image, (str, os.PathLike)):
            label = label or os.fspath(image)
            from .io import ImageError

            try:
                with Image.open(image) as im:
                    im.load()
                    arr, has_alpha = _rgba_of(im)
            except FileNotFoundError:
                raise HintError(f"{label}: no such file") from None
            except IsADirectoryError:
                raise HintError(f"{label}: is a directory, not a hints image") from None
            except (OSError, ValueError, Image.DecompressionBombError, ImageError) as exc:
                raise HintError(f"{label}: cannot read the hints image ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        elif isinstance(image, Image.Image):
            label = label or "hints image"
            arr, has_alpha = _rgba_of(image)
        else:
            label = label or "hints array"
            arr = np.asarray(image)
            if arr.ndim != 3 or arr.shape[2] != 4:
                raise HintError(f"{label}: a hints array must be HxWx4 (RGBA), got shape {arr.shape}")
            arr = arr.astype(np.float32) / 255 if arr.dtype == np.uint8 else arr.astype(np.float32)
            has_alpha = True
        if not has_alpha:
            raise HintError(f"{label}: the hints image has no transparency; draw coloured strokes on a transparent background (RGBA PNG)")
        mask = arr[..., 3] >= 0.5
        if not mask.any():
            raise HintError(f"{label}: the hints image has no opaque pixels, so there are no hints in it")
        return cls(dense_rgb=np.ascontiguousarray(arr[..., :3]), dense_mask=mask, source=label)

    @classmethod
    def coerce(cls, hints: Any) -> Hints:
        """Accept what the API documents: a Hints, a hint string, a path or PIL image of a hints layer,
        an RGBA array, or a list of ``(x, y, colour[, radius])`` / ``"X,Y=COLOR"`` items."""
        from PIL import Image

        if isinstance(hints, Hints):
            return hints
        if isinstance(hints, HintPoint):
            return cls(points=[hints])
        if isinstance(hints, str) and "=" in hints and not os.path.exists(hints):
            return cls(points=[parse_hint(hints)])
        if isinstance(hints, (str, os.PathLike, Image.Image)):
            return cls.from_image(hints)
        if isinstance(hints, np.ndarray) and hints.ndim == 3:
            return cls.from_image(hints)
        if isinstance(hints, Iterable):
            return cls.from_points(list(hints))
        raise HintError(f"hints: cannot use a {type(hints).__name__}; give (x, y, colour) tuples, a Hints or a hints image")

    def merged(self, other: Hints) -> Hints:
        """Both sets of hints (``other``'s points on top)."""
        if other.dense_mask is not None and self.dense_mask is not None:
            raise HintError("only one hints image can be used at a time")
        dense = other if other.dense_mask is not None else self
        return Hints(self.points + other.points, dense.dense_rgb, dense.dense_mask, dense.source)

    # -- checks and rasterisation

    def check(self, width: int, height: int, label: str = "the photo") -> None:
        """Raise :class:`HintError` if a point lies outside a ``width`` x ``height`` photo or the layer's size differs."""
        if self.dense_mask is not None and self.dense_mask.shape != (height, width):
            h, w = self.dense_mask.shape
            raise HintError(f"{self.source} is {w}x{h} but {label} is {width}x{height}; the hints image must be the photo's size")
        for p in self.points:
            if not (0 <= p.x < width and 0 <= p.y < height):
                raise HintError(
                    f"hint {_fmt(p.x)},{_fmt(p.y)} is outside {label} ({width}x{height}: x must be 0-{width - 1}, y 0-{height - 1})"
                )

    def rasterize(self, height: int, width: int, render_h: int, render_w: int) -> tuple[np.ndarray, np.ndarray]:
        """Hints of a ``height`` x ``width`` photo at the render size: (rgb (h,w,3) float32, mask (h,w) bool)."""
        rgb = np.zeros((render_h, render_w, 3), np.float32)
        mask = np.zeros((render_h, render_w), bool)
        sy, sx = render_h / height, render_w / width
        if self.dense_mask is not None:
            from .imaging import resize_area

            assert self.dense_rgb is not None
            cover = resize_area(self.dense_mask.astype(np.float32), (render_h, render_w))
            col = resize_area((self.dense_rgb * self.dense_mask[..., None]).transpose(2, 0, 1), (render_h, render_w)).transpose(1, 2, 0)
            hit = cover > 0
            rgb[hit] = col[hit] / cover[hit, None]
            mask |= hit
        yy, xx = np.mgrid[0:render_h, 0:render_w]
        for p in self.points:
            cx = (p.x + 0.5) * sx - 0.5
            cy = (p.y + 0.5) * sy - 0.5
            r = DEFAULT_POINT_RADIUS if p.radius is None else max(p.radius * min(sx, sy), 0.5)
            x0, x1 = max(0, int(np.floor(cx - r))), min(render_w, int(np.ceil(cx + r)) + 1)
            y0, y1 = max(0, int(np.floor(cy - r))), min(render_h, int(np.ceil(cy + r)) + 1)
            # the nearest render pixel always, plus every pixel centre within r of the hint
            near = (yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2 <= r * r
            ny, nx = min(render_h - 1, max(0, int(round(cy)))), min(render_w - 1, max(0, int(round(cx))))
            region = np.zeros((render_h, render_w), bool)
            region[y0:y1, x0:x1] = near
            region[ny, nx] = True
            rgb[region] = np.asarray(p.rgb, np.float32) / 255
            mask |= region
        return rgb, mask


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _rgba_of(im: Any) -> tuple[np.ndarray, bool]:
    """A PIL image -> (HxWx4 float32 in [0, 1], has transparency)."""
    from PIL import ImageOps

    im = ImageOps.exif_transpose(im)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info) or "transparency" in im.info
    rgba = im.convert("RGBA")
    return np.asarray(rgba, dtype=np.float32) / 255, has_alpha


# ----------------------------------------------------------------------------- hints -> chroma


def hint_uv(y_low: Any, rgb: np.ndarray) -> Any:
    """The hints' YUV chroma at the photo's luma: (1,2,h,w) for render-size luma ``y_low`` (1,1,h,w).

    The hint colour's U, V are joined with the photo's Y and scaled into the sRGB gamut (hue kept),
    so a bright red hint on a dark coat gives the darkest red the coat's luminance allows.
    Numpy (a tensor ``y_low`` gives a tensor back).
    """
    from .imaging import combine_yuv_gamut_safe, like, rgb_to_yuv, to_numpy

    y, tensor = to_numpy(y_low)
    c = np.ascontiguousarray(rgb, dtype=np.float32).transpose(2, 0, 1)[None]
    uv = rgb_to_yuv(c)[:, 1:]
    return like(rgb_to_yuv(combine_yuv_gamut_safe(y, uv))[:, 1:], tensor)


def hint_map(colorizer: Colorizer, y_low: Any, rgb: np.ndarray, mask: np.ndarray) -> Any:
    """The (1,3,h,w) hint input of a hints model: hint chroma in the model's normalised units + mask.

    This is what :func:`colorize.train.simulate_hints` feeds in training: the chroma of a true
    (in-gamut) colour, normalised as the model's :class:`~colorize.color.ChromaSpace` does, where the
    mask is 1. Numpy (a tensor ``y_low`` gives a tensor back).
    """
    from .imaging import AB_MAX, U_MAX, V_MAX, combine_yuv_gamut_safe, like, rgb_to_lab, rgb_to_yuv, to_numpy

    y, tensor = to_numpy(y_low)
    c = np.ascontiguousarray(rgb, dtype=np.float32).transpose(2, 0, 1)[None]
    at_photo = combine_yuv_gamut_safe(y, rgb_to_yuv(c)[:, 1:])
    if colorizer.space == "lab":
        chroma = rgb_to_lab(at_photo)[:, 1:] / np.float32(AB_MAX)
    else:
        chroma = rgb_to_yuv(at_photo)[:, 1:] / np.array([U_MAX, V_MAX], np.float32).reshape(1, 2, 1, 1)
    m = mask.astype(np.float32)[None, None]
    return like(np.concatenate([chroma * m, m], axis=1), tensor)


# ----------------------------------------------------------------------------- propagation (Levin et al. 2004)


def _affinity_weights(y: np.ndarray, sigma: float) -> GridEdges:
    """The edge weights of the 8-connected pixel grid, ``w = f exp(-dY^2 / 2 sigma^2)`` (f = 1/2 on diagonals)."""
    d = neighbour_differences(y)
    g = lambda dy, f: f * np.exp(-(dy * dy) / (2 * sigma * sigma))  # noqa: E731
    return GridEdges(g(d.right, 1.0), g(d.down, 1.0), g(d.down_right, 0.5), g(d.down_left, 0.5))


def propagate(
    y: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    *,
    sigma: float = PROPAGATE_SIGMA,
    lam: float = PROPAGATE_LAMBDA,
    mu: float = PROPAGATE_MU,
    prior: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    rtol: float = 1e-6,
) -> np.ndarray:
    """Spread ``target`` values (h,w,C) given where ``mask`` (h,w) is set over luma ``y`` (h,w).

    Solves ``(L + lam M + mu I) x = lam M target + mu prior`` (M = diag(mask)): x varies smoothly where
    the luma is smooth and may jump where the luma jumps; far from any hint (or behind a strong edge)
    it decays to ``prior`` (h,w,C; default 0).
    The grid's structure gives an exact solve in numpy (:func:`colorize.gridgraph.grid_solve`: block
    elimination at the render size, conjugate gradients warm-started from ``x0`` on larger grids).
    """
    y = np.asarray(y, np.float64)
    h, w = y.shape
    t = np.asarray(target, np.float64).reshape(h, w, -1)
    m = np.asarray(mask, bool)
    p = None if prior is None else np.asarray(prior, np.float64).reshape(h, w, -1)
    if not m.any():
        return np.zeros((h, w, t.shape[2]), np.float32) if p is None else p.astype(np.float32)
    b = lam * m[..., None] * t
    if p is not None:
        b = b + mu * p
    x = grid_solve(_affinity_weights(y, sigma), lam * m + mu, b, x0=x0, rtol=rtol)
    return x.astype(np.float32)


# ----------------------------------------------------------------------------- the guided pipeline


def resolve_method(colorizer: Colorizer, hint_method: str | None) -> str:
    """``None`` -> ``"propagate"`` (the best PSNR with 1, 5 and 20 hints, and local; docs/guided.md);
    ``"model"`` needs a hints model (``config.hints``)."""
    if hint_method is None:
        return "propagate"
    if hint_method not in HINT_METHODS:
        raise HintError(f"unknown hint method {hint_method!r}; choose one of {', '.join(HINT_METHODS)}")
    if hint_method == "model" and not colorizer.takes_hints:
        name = colorizer.info.get("name") or "this model"
        raise HintError(f"{name} was not trained with hints (config.hints is false); use hint method 'both' or 'propagate'")
    return hint_method


def object_features(colorizer: Colorizer, y_low: np.ndarray, dims: int = REACH_OBJECT_DIMS) -> np.ndarray | None:
    """What the model sees at each pixel of render-size gray ``y_low`` (1,1,h,w): (dims,h,w), or None.

    The square roots of the bin probabilities (temperature 1, no hints) at the head's resolution, so
    that Euclidean distance is sqrt 2 times the Hellinger distance, projected on their ``dims`` leading
    principal directions (the distance is kept up to the small discarded variance) and brought to the
    render size by guided upsampling on the luma. None for a model without bin probabilities (a regression head, an ONNX
    graph without logits): then the reach uses luma alone.
    """
    from .errors import DistributionError
    from .imaging import guided_upsample
    from .suggest import render_probabilities

    try:
        p = render_probabilities(colorizer, y_low)
    except DistributionError:
        return None
    q, h, w = p.shape
    s = np.sqrt(p, dtype=np.float64).reshape(q, h * w) / np.sqrt(2.0)
    s -= s.mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(s @ s.T)  # ascending eigenvalues
    f = (vectors[:, ::-1][:, :dims].T @ s).reshape(1, -1, h, w).astype(np.float32)
    # to the render size along the luma (as the pipeline upsamples chroma): bilinear upsampling would give
    # the pixels along an edge a mix of both sides' distributions, and a hint would not reach its region's rim
    return guided_upsample(np.asarray(y_low, np.float32), f, radius=1, eps=1e-3)[0]


def hint_reach(
    y: np.ndarray,
    mask: np.ndarray,
    *,
    length: float | None = None,
    edge: float = REACH_EDGE,
    features: np.ndarray | None = None,
    object_edge: float | None = None,
) -> np.ndarray:
    """How strongly the hints at ``mask`` (h,w) act at each pixel of luma ``y`` (h,w): (h,w) in [0, 1].

    ``exp(-(D / length)^2)`` of the geodesic distance ``D`` to the nearest hint pixel, where a step
    between 8-neighbours costs ``sqrt(ds^2 + (edge * dY)^2 + (object_edge * |dF|)^2)`` (ds = 1 or
    sqrt 2, luma in [0, 1], ``features`` F (C,h,w) from :func:`object_features`, optional): a hint fills
    its own patch of region, fades with distance, and stops at strong luma edges and where the model
    sees something else -- the locality that a global solve lacks. ``length`` defaults to
    :data:`REACH_LENGTH` of the long side, ``object_edge`` to :data:`REACH_OBJECT`. The distance is
    exact (:func:`colorize.gridgraph.geodesic_distance`) and cut at 3 ``length`` (reach 0 beyond).
    """
    y = np.asarray(y, np.float64)
    h, w = y.shape
    m = np.asarray(mask, bool)
    if not m.any():
        return np.zeros((h, w), np.float32)
    ell = float(length) if length is not None else REACH_LENGTH * max(h, w)
    k_obj = REACH_OBJECT if object_edge is None else float(object_edge)
    dy = neighbour_differences(y)
    steps = (1.0, 1.0, 2.0, 2.0)  # squared step lengths along right, down, down_right, down_left
    sq = GridEdges(*(s2 + np.square(d * edge) for s2, d in zip(steps, dy)))
    if features is not None and k_obj > 0:
        df = neighbour_differences(np.asarray(features, np.float64))
        sq = GridEdges(*(q + k_obj * k_obj * np.square(d).sum(axis=0) for q, d in zip(sq, df)))
    dist = geodesic_distance(sq.map(np.sqrt), m, limit=3 * ell)
    return np.exp(-np.square(dist / ell)).astype(np.float32)


def local_correction(y: np.ndarray, target: np.ndarray, mask: np.ndarray, base: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """The change that brings ``base`` (h,w,C) to ``target`` at the hints, spread locally: (h,w,C).

    The correction ``target - base`` at the hint pixels is interpolated between hints by the
    edge-aware solve (:func:`propagate`; where several hints reach, it blends them along smooth luma)
    and faded by ``reach`` (:func:`hint_reach`), so it is 0 -- the automatic result -- away from them.
    """
    delta = np.where(np.asarray(mask, bool)[..., None], np.asarray(target, np.float32) - base, 0).astype(np.float32)
    return propagate(y, delta, mask) * reach[..., None]


def colorize_guided(
    colorizer: Colorizer,
    y: Any,
    options: ColorizeOptions,
    *,
    hints: Any = None,
    hint_method: str | None = None,
    reference: Any = None,
    reference_strength: float | None = None,
    reference_method: str | None = None,
    label: str = "the photo",
    uint8: bool = False,
) -> Any:
    """Colorize gray ``y`` (1,1,H,W) in [0,1] with hints and/or a reference photo; sRGB (1,3,H,W),
    or with ``uint8`` (numpy ``y``) HxWx3 uint8 from the photo path's fused 8-bit join
    (:meth:`Colorizer.colorize_gray_u8`: at 12 MP ~0.06 s against ~1.2 s for the float image).

    Order: the automatic prediction (without hints), blended with the reference's colours by
    ``reference_strength``; then the hints, each acting only within its reach (:func:`hint_reach`):
    ``model`` adds the network's change (its prediction with the hint map minus without), faded by
    the reach; ``propagate`` adds the edge-aware correction towards the hint colours
    (:func:`local_correction`); ``both`` does the first, then the second on its result, so the hint
    colour is met at the hint. Hints win over the reference. Numpy throughout (a tensor ``y`` gives
    a tensor back).
    """
    from .imaging import like, to_numpy
    from .render import render_input

    y, tensor = to_numpy(y)
    H, W = y.shape[-2:]
    y_low = render_input(y, options.render_size)
    rh, rw = y_low.shape[-2:]

    h_obj = Hints.coerce(hints) if hints is not None else None
    if h_obj is not None:
        h_obj.check(W, H, label)
    method = resolve_method(colorizer, hint_method) if h_obj else None

    uv = colorizer.predict_uv(y_low, options)
    if reference is not None:
        from .reference import REFERENCE_STRENGTH, apply_reference

        strength = REFERENCE_STRENGTH if reference_strength is None else float(reference_strength)
        if not 0.0 <= strength <= 1.0:
            raise HintError(f"reference strength must be between 0 and 1, got {strength:g}")
        uv = apply_reference(colorizer, y_low, uv, reference, strength=strength, method=reference_method)

    if h_obj:
        rgb_h, mask_h = h_obj.rasterize(H, W, rh, rw)
        luma = y_low[0, 0]
        features = object_features(colorizer, y_low) if REACH_OBJECT > 0 else None
        reach = hint_reach(luma, mask_h, features=features)
        base = uv[0].transpose(1, 2, 0)
        if method in ("model", "both") and colorizer.takes_hints:
            hinted = colorizer.predict_uv(y_low, options, hint_map(colorizer, y_low, rgb_h, mask_h))
            plain = colorizer.predict_uv(y_low, options) if reference is not None else uv
            base = base + (hinted - plain)[0].transpose(1, 2, 0) * reach[..., None]
        if method in ("propagate", "both"):
            target = hint_uv(y_low, rgb_h)[0].transpose(1, 2, 0)
            base = base + local_correction(luma, target, mask_h, base, reach)
        uv = np.ascontiguousarray(base.transpose(2, 0, 1)[None], dtype=np.float32)
    if uint8 and not tensor:
        return colorizer.colorize_gray_u8(y[0, 0], options, uv_low=uv, y_low=y_low)
    return like(colorizer.colorize_gray(y, options, uv_low=uv, y_low=y_low), tensor)


# ----------------------------------------------------------------------------- command line


