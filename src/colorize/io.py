"""Image files in and out: every supported file becomes float32 sRGB in ``[0, 1]``, and back.

Why this module exists: the models only ever see one thing (an ``HxWx3`` float32 sRGB array), so
every format quirk is dealt with here, once:

* **Formats.** JPEG (including multi-picture "MPO" files from phones), PNG, WebP, TIFF, BMP, plus
  GIF and PBM/PGM/PPM for reading.  Pillow decodes everything except 16-bit colour PNG and TIFF,
  which Pillow can only deliver at 8 bits: those go through OpenCV when it is installed, or a small
  numpy + zlib decoder in this module, so 16-bit scans keep their precision.  Writing 16-bit PNG and
  TIFF uses small encoders here for the same reason.
* **Colour management.** ICC-tagged images are converted to sRGB (the colour space the models
  were trained in) with :mod:`PIL.ImageCms`; 16-bit matrix/TRC profiles are converted in float
  here so they keep 16-bit precision.  A profile that cannot be applied is ignored with a warning:
  a slightly-off colour is better than no result.
* **Orientation.** EXIF orientation is applied, so portrait phone photos are not processed sideways.
* **Safety.** The pixel count is checked from the header *before* any decoding (decompression
  bombs), only a fixed list of Pillow plugins is tried (no EPS/Ghostscript, no exotic parsers), and
  Pillow's lazy decoding is forced inside the error handling so truncated files are caught here.
* **One error type.** Every problem with a file is an :class:`ImageError` whose ``str()`` is one
  line, ``"<path>: <reason>"``, so the CLI can print it, skip the file and carry on with a folder.
* **Atomic writes.** Output goes to a hidden temporary file in the target directory, then is
  renamed into place, so an interrupted run never leaves a half-written image behind.

Nothing here imports torch: ``colorize --help`` and folder scans must start fast.
"""

from __future__ import annotations

import errno
import io
import logging
import math
import os
import secrets
import stat
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, OptionError, OutputExistsError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "SUPPORTED_INPUT_EXTENSIONS",
    "SUPPORTED_OUTPUT_EXTENSIONS",
    "ImageError",
    "OptionError",
    "OPTION_RULES",
    "check_option",
    "OutputExistsError",
    "LoadedImage",
    "read_image",
    "encode_image",
    "move_into_place",
    "write_text_atomic",
    "load_image_from_pil",
    "write_image",
    "atomic_write",
    "is_image_path",
    "default_output_path",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width x height) read by default: ~200 MP needs ~2.4 GB as float32 RGB."""

MAX_PIXELS_ENV = "COLORIZE_MAX_PIXELS"
"""Environment variable that replaces :data:`DEFAULT_MAX_PIXELS` (a number, or ``none``/``0``)."""

SUPPORTED_INPUT_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo",
        ".png",
        ".webp",
        ".tif", ".tiff",
        ".bmp",
        ".gif",
        ".pbm", ".pgm", ".ppm", ".pnm",
    }
)  # fmt: skip
"""Lower-case file extensions that folder scanning treats as images."""

_OUTPUT_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
SUPPORTED_OUTPUT_EXTENSIONS: frozenset[str] = frozenset(_OUTPUT_FORMATS)
"""Lower-case file extensions :func:`write_image` can write."""

# Only these Pillow plugins are ever asked to parse input: a deliberate, small attack surface
# (Pillow's EPS plugin, for example, runs Ghostscript).  "JPEG" also yields MPO files.
_PIL_INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM")
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
_COLOR_TOLERANCE = 2.5 / 255  # a difference of 2 levels in 8 bits is still "gray" (JPEG noise)
_COLOR_MIN_FRACTION = 0.001

PathLike = Union[str, "os.PathLike[str]"]
ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


# --------------------------------------------------------------------------------------------
# Errors


# --------------------------------------------------------------------------------------------
# Option values (here, torch-free, so the CLI refuses a bad value in a blink; see colorize.pipeline)


MAX_RENDER_SIZE = 4096
"""Largest render size: the model's activations grow with its square (100000 asked for ~30 GB)."""


# Every numeric option of a colorize call, checked in one place for the CLI, the Python API and the
# web API: name -> (kind, low, high, rule). Bounds are inclusive; None = unbounded.
OPTION_RULES: dict[str, tuple[type, float | None, float | None, str]] = {
    "render_size": (int, 16, MAX_RENDER_SIZE, f"must be a whole number of pixels from 16 to {MAX_RENDER_SIZE}"),
    "saturation": (float, 0.0, 10.0, "must be a number from 0 to 10 (1 = as predicted)"),
    "temperature": (float, 1e-3, 10.0, "must be a number from 0.001 to 10"),
    "guided_radius": (int, 0, 64, "must be a whole number of pixels from 0 to 64"),
    "guided_eps": (float, 1e-8, 1.0, "must be a number from 1e-8 to 1"),
    "consensus_radius": (int, 0, 15, "must be a whole number from 0 (off) to 15 (cells of the model's stride-4 output)"),
    "batch_size": (int, 1, 4096, "must be a whole number from 1 to 4096"),
    "quality": (int, 1, 100, "must be a whole number from 1 to 100"),
    "max_pixels": (int, 1, None, "must be a positive number of pixels"),
    "k": (int, 1, 32, "must be a whole number of suggested colours from 1 to 32"),
}


def check_option(name: str, value: Any, *, source: str | None = None) -> Any:
    """``value`` if it is usable for option ``name`` (ints given as 256.0 become 256), else :class:`OptionError`.

    Non-numbers, NaN and infinities are refused as well as values outside the rule's range.
    """
    kind, lo, hi, rule = OPTION_RULES[name]
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            number = math.inf
        ok = math.isfinite(number) and (lo is None or number >= lo) and (hi is None or number <= hi)
        if ok and kind is int:
            ok = number.is_integer()
            if ok:  # (a refused 2.5 is reported as 2.5, not as the 2 it would truncate to)
                value = int(value) if isinstance(value, (int, np.integer)) else int(number)
        elif ok:
            value = number
    if not ok:
        raise OptionError(name, value, rule, source)
    return value


# --------------------------------------------------------------------------------------------
# The loaded image


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image, ready for a model: sRGB float32 in ``[0, 1]`` plus what the writer needs.

    ``eq=False`` because comparing numpy arrays with ``==`` is ambiguous; compare fields instead.
    """

    rgb: np.ndarray
    """``HxWx3`` float32 sRGB in ``[0, 1]``; for gray inputs a read-only view of one plane, three times."""
    alpha: np.ndarray | None
    """``HxW`` float32 in ``[0, 1]``, or ``None``; carried to the output untouched."""
    bit_depth: int
    """8 or 16: the sample precision of the source file (so the output can match it)."""
    is_color: bool
    """The source has real colour (a gray photo saved as RGB is *not* colour)."""
    path: Path | None = None
    format: str = ""
    """Pillow's format name (``"JPEG"``, ``"PNG"``, ...), ``""`` for in-memory images."""
    icc_converted: bool = False
    """A non-sRGB ICC profile was applied, i.e. the pixels differ from the file's raw values."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``, Pillow's order."""
        h, w = self.rgb.shape[:2]
        return (int(w), int(h))

    @property
    def gray(self) -> np.ndarray:
        """``HxW`` float32 BT.601 luma (``0.299 R + 0.587 G + 0.114 B``): what the models see."""
        if self.rgb.ndim == 3 and self.rgb.strides[2] == 0:  # a gray source: the plane itself
            return self.rgb[:, :, 0]
        return _luma(self.rgb)


def _luma(rgb: np.ndarray) -> np.ndarray:
    from .imaging import BT601  # torch-free (colorize.color imports torch)

    weights = np.array(BT601, dtype=np.float32)
    gray = np.asarray(rgb, dtype=np.float32) @ weights
    np.clip(gray, 0.0, 1.0, out=gray)
    return gray


# --------------------------------------------------------------------------------------------
# Pixel limit


def _resolve_max_pixels(max_pixels: int | None, label: str) -> int | None:
    """The limit in force: the argument, or the environment variable if the argument is the default."""
    if max_pixels is None:
        return None
    if max_pixels == DEFAULT_MAX_PIXELS:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if env:
            return _parse_max_pixels_env(env, label)
    return int(check_option("max_pixels", max_pixels))  # OptionError (a ValueError) if not positive


def _parse_max_pixels_env(text: str, label: str) -> int | None:
    if text.lower() in {"none", "unlimited", "off", "0"}:
        return None
    try:
        value = int(text)
    except ValueError:
        try:
            value = int(float(text))
        except ValueError:
            value = -1
    if value <= 0:
        raise ImageError(
            label,
            f"invalid {MAX_PIXELS_ENV}={text!r} (expected a pixel count such as 200000000, or 'none')",
        )
    return value


def _too_many_pixels(label: str, pixels: int, limit: int | None) -> ImageError:
    shown = "an unknown number of" if pixels <= 0 else str(pixels)
    return ImageError(
        label,
        f"image has {shown} pixels, more than the limit of {limit} "
        f"(set --max-pixels / {MAX_PIXELS_ENV})",
    )


def _bomb_error(label: str, exc: BaseException, limit: int | None) -> ImageError:
    """Pillow's own decompression-bomb check fired: report it in our words."""
    digits = [int(tok) for tok in str(exc).replace("(", " ").split() if tok.isdigit()]
    pixels = digits[0] if digits else 0
    if limit is None:
        limit = digits[1] if len(digits) > 1 else Image.MAX_IMAGE_PIXELS
    return _too_many_pixels(label, pixels, limit)


# Pillow has its own global pixel limit (~89 MP warning, ~179 MP error) which would override a
# larger --max-pixels.  While an image we have already size-checked is opened/decoded, it is lifted;
# a counter (not a plain save/restore) keeps concurrent reads from restoring each other's value.
_PIL_LIMIT_LOCK = threading.Lock()
_pil_limit_users = 0
_pil_limit_saved: int | None = None


@contextmanager
def _pillow_limit_lifted(needed: bool = True) -> Iterator[None]:
    global _pil_limit_users, _pil_limit_saved
    if not needed:
        yield
        return
    with _PIL_LIMIT_LOCK:
        if _pil_limit_users == 0:
            _pil_limit_saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _pil_limit_users += 1
    try:
        yield
    finally:
        with _PIL_LIMIT_LOCK:
            _pil_limit_users -= 1
            if _pil_limit_users == 0:
                Image.MAX_IMAGE_PIXELS = _pil_limit_saved


def _pillow_limit_below(limit: int | None) -> bool:
    """Whether Pillow's own limit is stricter than ours (so it must be lifted while decoding)."""
    with _PIL_LIMIT_LOCK:
        pil_limit = _pil_limit_saved if _pil_limit_users else Image.MAX_IMAGE_PIXELS
    if pil_limit is None:
        return False
    return limit is None or limit > pil_limit


# --------------------------------------------------------------------------------------------
# Reading: entry points


def read_image(source: ImageSource, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file (or bytes / a binary file object) as float32 sRGB.

    ``max_pixels`` (``None`` = no limit) guards against decompression bombs; when left at the
    default, ``$COLORIZE_MAX_PIXELS`` replaces it.  Every problem with the file is raised as
    :class:`ImageError`.
    """
    path: Path | None
    if isinstance(source, (bytes, bytearray, memoryview)):
        path, label = None, "<bytes>"
        limit = _resolve_max_pixels(max_pixels, label)
        data = bytes(source)
    elif hasattr(source, "read"):
        name = getattr(source, "name", None)
        path, label = None, (name if isinstance(name, str) else "<stream>")
        limit = _resolve_max_pixels(max_pixels, label)
        try:
            if limit is not None and _seekable(source):
                start = source.tell()  # type: ignore[union-attr]
                _check_header(source, label, limit)  # type: ignore[arg-type]
                source.seek(start)  # type: ignore[union-attr]
            data = source.read()  # type: ignore[union-attr]
        except OSError as exc:
            raise ImageError(label, f"cannot read ({exc.strerror or exc})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("read_image needs a binary file object (opened with 'rb')")
        data = bytes(data)
    else:
        path = Path(source)  # type: ignore[arg-type]
        label = str(path)
        limit = _resolve_max_pixels(max_pixels, label)
        data = _read_file(path, limit)
    return _decode(data, path=path, label=label, limit=limit)


def load_image_from_pil(
    img: Image.Image,
    path: PathLike | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Same as :func:`read_image` for an image already opened by Pillow (e.g. a web upload).

    The caller's image is not modified.  16-bit colour precision is only available when reading
    from the file itself (Pillow has already reduced it to 8 bits).
    """
    label = "<image>" if path is None else os.fspath(path)
    limit = _resolve_max_pixels(max_pixels, label)
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageError(label, f"zero-sized image ({w}x{h} pixels)")
    if limit is not None and w * h > limit:
        raise _too_many_pixels(label, w * h, limit)
    try:
        result = _from_pil(img, label, limit, owned=False)
        return _finish(result, Path(path) if path is not None else None, img.format or "", label)
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(label, f"not enough memory for a {w}x{h} image") from None
    except Exception as exc:
        log.debug("%s: unexpected decoding error", label, exc_info=True)
        raise ImageError(label, _corrupt_reason(exc)) from None


def _read_file(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes; with a pixel ``limit``, only after its header has passed the limit."""
    label = str(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ImageError(label, "is a directory, not an image file")
        if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
            raise ImageError(label, "not a regular file")
        with open(path, "rb") as f:
            if limit is not None:
                _check_header(f, label, limit)  # a bomb header is refused before the rest is read
                f.seek(0)
            return f.read()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(label, "no such file") from None
    except IsADirectoryError:
        raise ImageError(label, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageError(label, "permission denied") from None
    except MemoryError:
        raise ImageError(label, "not enough memory to read the file") from None
    except OSError as exc:
        raise ImageError(label, f"cannot read file ({exc.strerror or exc})") from None


_HEADER_BYTES = 1 << 16
"""Bytes read for the pixel-limit check before a file is read in full (PNG/GIF/BMP/most JPEG headers)."""


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except Exception:
        return False


def _check_header(f: IO[bytes], label: str, limit: int) -> None:
    """Refuse an image whose header declares more than ``limit`` pixels, reading only the header.

    The first :data:`_HEADER_BYTES` are sniffed; formats whose size is not there (TIFF, WebP, JPEG
    with a large EXIF block) are opened lazily by Pillow, which reads only the header. Anything
    unparsable is left to the full decode, which reports it.
    """
    head = f.read(_HEADER_BYTES)
    if not isinstance(head, (bytes, bytearray)):
        return  # a text stream: read_image reports it
    _, size = _sniff(bytes(head))
    if size is None and len(head) >= 8:
        f.seek(0)
        try:
            with _pillow_limit_lifted():  # header only: our own check follows
                # Lazy: no pixel data is read. Not closed: Pillow's close() would close ``f`` too.
                size = Image.open(f, formats=_PIL_INPUT_FORMATS).size
        except MemoryError:
            raise ImageError(label, "not enough memory to read the image header") from None
        except Exception:  # unparsable here: the full decode gives the precise reason
            return
    if size is not None:
        w, h = size
        if w > 0 and h > 0 and w * h > limit:
            raise _too_many_pixels(label, w * h, limit)


# --------------------------------------------------------------------------------------------
# Reading: decoding


@dataclass
class _Pixels:
    """Decoded pixels before the float conversion: a PIL image (L/RGB/CMYK) or an array."""

    color: Image.Image | np.ndarray  # ndarray: uint16 / float32, HxW or HxWx3
    alpha: np.ndarray | None  # float32 HxW
    bit_depth: int
    icc: bytes | None


def _decode(data: bytes, *, path: Path | None, label: str, limit: int | None) -> LoadedImage:
    if not data:
        raise ImageError(label, "empty file (0 bytes)")
    sniffed, header_size = _sniff(data)
    if header_size is not None:
        w, h = header_size
        if w <= 0 or h <= 0:
            raise ImageError(label, f"zero-sized image ({w}x{h} pixels)")
        if limit is not None and w * h > limit:
            raise _too_many_pixels(label, w * h, limit)

    try:
        with _pillow_limit_lifted():  # header only; our own check follows immediately
            im = Image.open(io.BytesIO(data), formats=_PIL_INPUT_FORMATS)
    except UnidentifiedImageError:
        if sniffed is not None:
            raise ImageError(label, "truncated or corrupt image data (cannot parse header)") from None
        other = _identify_unsupported(data)
        if other:
            raise ImageError(label, f"unsupported image format ({other})") from None
        raise ImageError(label, "not an image file (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(label, exc, limit) from None
    except MemoryError:
        raise ImageError(label, "not enough memory to read the image header") from None
    except Exception as exc:  # a plugin choked on a malformed header
        raise ImageError(label, _corrupt_reason(exc)) from None

    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError(label, f"zero-sized image ({w}x{h} pixels)")
        if limit is not None and w * h > limit:
            raise _too_many_pixels(label, w * h, limit)
        fmt = im.format or sniffed or ""
        try:
            frames = _frame_count(im, fmt)
            if frames > 1:
                raise ImageError(label, _many_frames_reason(fmt, frames))
            pixels = _decode_opened(im, data, fmt, label, limit)
            return _finish(pixels, path, fmt, label)  # inside: a closed PIL image is unusable
        except ImageError:
            raise
        except MemoryError:
            raise ImageError(label, f"not enough memory to decode a {w}x{h} image") from None
        except Exception as exc:  # whatever a decoder throws, a bad file must not crash a batch
            log.debug("%s: unexpected decoding error", label, exc_info=True)
            raise ImageError(label, _corrupt_reason(exc)) from None


_MULTI_FRAME_FORMATS = frozenset({"GIF", "WEBP", "TIFF", "PNG"})  # not MPO: a phone photo plus its previews


def _frame_count(im: Image.Image, fmt: str) -> int:
    """Pictures in an animated GIF/WebP/PNG or a multi-page TIFF (1 for a still).

    TIFF pages marked reduced-resolution (NewSubfileType bit 0: the thumbnail scanners add) are
    not counted. Only headers are read.
    """
    if fmt not in _MULTI_FRAME_FORMATS:
        return 1
    n = int(getattr(im, "n_frames", 1) or 1)
    if n <= 1 or fmt != "TIFF":
        return max(n, 1)
    full = 0
    for i in range(n):
        im.seek(i)
        if not int(getattr(im, "tag_v2", {}).get(254, 0) or 0) & 1:
            full += 1
    im.seek(0)
    return max(full, 1)


def _many_frames_reason(fmt: str, frames: int) -> str:
    kind = "multi-page" if fmt == "TIFF" else "animated"
    if fmt == "GIF":
        return (f"{kind} image with {frames} frames: colorize it as a video (colorize FILE.gif -o OUT.mp4, "
                "or colorize.video.colorize_video), or save the frame you want as a still image")
    return (f"{kind} image with {frames} frames: only single pictures are colorized; "
            "save each frame you want as a still image (or make a video of them)")


def _decode_opened(im: Image.Image, data: bytes, fmt: str, label: str, limit: int | None) -> _Pixels:
    if fmt == "PNG" and len(data) > 24 and data[24] == 16:
        return _read_png16(data, label)
    if fmt == "TIFF":
        pixels = _read_tiff16(im, data, label)
        if pixels is not None:
            return pixels
        pixels = _from_pil(im, label, limit, owned=True)
        if _tiff_bits(im) == 16:
            pixels.bit_depth = 16  # the source's precision, even if only 8 bits could be decoded
        return pixels
    return _from_pil(im, label, limit, owned=True)


def _corrupt_reason(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return "truncated or corrupt image data" + (f" ({detail})" if detail else "")


def _from_pil(im: Image.Image, label: str, limit: int | None, *, owned: bool) -> _Pixels:
    """Force decoding (so truncation surfaces here), orient, and split colour from alpha."""
    try:
        with _pillow_limit_lifted(_pillow_limit_below(limit)):
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(label, exc, limit) from None
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError(label, _corrupt_reason(exc)) from None

    im = _exif_transpose(im, label, in_place=owned)
    icc = im.info.get("icc_profile") or None
    try:
        return _split_pil(im, icc)
    except ImageError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError(label, f"unsupported image mode {im.mode!r} ({exc})") from None


def _exif_transpose(im: Image.Image, label: str, *, in_place: bool) -> Image.Image:
    """Apply EXIF orientation; a broken EXIF block is ignored rather than losing the photo."""
    try:
        orientation = im.getexif().get(0x0112, 1)
        if orientation not in (2, 3, 4, 5, 6, 7, 8):
            return im
        if in_place:
            ImageOps.exif_transpose(im, in_place=True)
            return im
        return ImageOps.exif_transpose(im)
    except MemoryError:
        raise
    except Exception as exc:
        log.warning("%s: ignoring unreadable EXIF orientation (%s)", label, exc)
        return im


def _split_pil(im: Image.Image, icc: bytes | None) -> _Pixels:
    mode = im.mode
    if mode == "1":
        return _Pixels(im.convert("L"), None, 8, icc)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("LA" if mode == "L" else "RGBA")
        mode = im.mode
    if mode in ("La", "RGBa"):  # premultiplied alpha: un-premultiply
        im = im.convert("LA" if mode == "La" else "RGBA")
        mode = im.mode
    if mode in ("L", "RGB", "CMYK"):
        return _Pixels(im, None, 8, icc)
    if mode in ("LA", "RGBA"):
        alpha: np.ndarray | None = _to_unit_float(np.asarray(im.getchannel("A")))
        return _Pixels(im.convert(mode[:-1]), alpha, 8, icc)
    if mode == "RGBX":
        return _Pixels(im.convert("RGB"), None, 8, icc)
    if mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint16)
        alpha = None
        if isinstance(im.info.get("transparency"), int):
            alpha = (arr != im.info["transparency"]).astype(np.float32)
        return _Pixels(arr, alpha, 16, icc)
    if mode == "I":
        arr = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
        return _Pixels(arr, None, 16, icc)
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        peak = float(arr.max()) if arr.size else 0.0
        scale = 1.0 if peak <= 1.0 else (255.0 if peak <= 255.0 else 65535.0)
        return _Pixels(np.clip(arr / np.float32(scale), 0.0, 1.0), None, 16, None)
    # YCbCr, LAB, HSV, ...: let Pillow convert (it raises for what it cannot).
    if im.has_transparency_data:
        conv = im.convert("RGBA")
        alpha = _to_unit_float(np.asarray(conv.getchannel("A")))
        return _Pixels(conv.convert("RGB"), alpha, 8, None)
    return _Pixels(im.convert("RGB"), None, 8, None)


def _to_unit_float(arr: np.ndarray) -> np.ndarray:
    """uint8 / uint16 samples to float32 in ``[0, 1]`` (exact inverse of :func:`_quantize`)."""
    if arr.dtype == np.uint8:
        return np.divide(arr, np.float32(255.0), dtype=np.float32)
    if arr.dtype == np.uint16:
        return np.divide(arr, np.float32(65535.0), dtype=np.float32)
    return np.clip(np.asarray(arr, dtype=np.float32), 0.0, 1.0)


def _finish(pixels: _Pixels, path: Path | None, fmt: str, label: str) -> LoadedImage:
    """Colour-manage, convert to float RGB and decide whether the image has colour."""
    color, converted = _apply_icc(pixels.color, pixels.icc, label)
    gray_source = True
    if isinstance(color, Image.Image):
        if color.mode == "CMYK":  # no usable profile: Pillow's naive conversion
            color = color.convert("RGB")
        gray_source = color.mode == "L"
        arr = _to_unit_float(np.asarray(color))
    else:
        arr = _to_unit_float(color) if color.dtype != np.float32 else color
        gray_source = arr.ndim == 2
    if arr.ndim == 2:
        # A read-only view, not a copy: gray photos are most of the input, and .gray reads it back free.
        rgb = np.broadcast_to(arr[:, :, None], (*arr.shape, 3))
    else:
        rgb = np.ascontiguousarray(arr[:, :, :3], dtype=np.float32)
    is_color = False if gray_source else _has_color(rgb)
    alpha = pixels.alpha
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        bit_depth=pixels.bit_depth,
        is_color=is_color,
        path=path,
        format=fmt,
        icc_converted=converted,
    )


def _has_color(rgb: np.ndarray) -> bool:
    """More than 0.1% of pixels with a channel difference above ~2/255 (counted in row chunks)."""
    h, w = rgb.shape[:2]
    needed = _COLOR_MIN_FRACTION * h * w
    rows = max(1, 1_000_000 // max(w, 1))
    found = 0
    for y in range(0, h, rows):
        c = rgb[y : y + rows]
        diff = np.maximum(np.abs(c[..., 0] - c[..., 1]), np.abs(c[..., 1] - c[..., 2]))
        found += int(np.count_nonzero(diff > _COLOR_TOLERANCE))
        if found > needed:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Reading: sniffing file headers


_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _sniff(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """(format, size) from the first bytes, without Pillow.

    Lets us say "corrupt" rather than "not an image" when Pillow rejects a file that clearly
    is an image, report zero-sized images (Pillow refuses to open them at all), and apply the
    pixel limit before any plugin runs.
    """
    try:
        if data.startswith(_PNG_SIG):
            if len(data) >= 24 and data[12:16] == b"IHDR":
                w, h = struct.unpack(">II", data[16:24])
                return "PNG", (w, h)
            return "PNG", None
        if data[:3] == b"\xff\xd8\xff":
            return "JPEG", _jpeg_size(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return "GIF", (struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None)
        if data[:2] == b"BM" and len(data) >= 26:
            header = struct.unpack("<I", data[14:18])[0]
            if header == 12:
                return "BMP", struct.unpack("<HH", data[18:22])
            if header in (40, 52, 56, 64, 108, 124):
                w, h = struct.unpack("<ii", data[18:26])
                return "BMP", (w, abs(h))
            return None, None
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return "TIFF", None
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "WEBP", None
    except struct.error:
        pass
    if len(data) >= 2:  # a file cut off inside its signature is still a (truncated) image
        for fmt, sig in _SIGNATURES:
            if len(data) < len(sig) and sig.startswith(data):
                return fmt, None
    return None, None


_SIGNATURES = (("PNG", _PNG_SIG), ("JPEG", b"\xff\xd8\xff"), ("GIF", b"GIF89a"), ("GIF", b"GIF87a"))


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        seg_len = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (w, h)
        pos += 2 + seg_len
    return None


def _identify_unsupported(data: bytes) -> str | None:
    """Name of a format Pillow knows but we do not read (for a clearer message), else None."""
    try:
        with Image.open(io.BytesIO(data)) as other:  # header parsing only, never decoded
            return other.format or None
    except Exception:
        return None


# --------------------------------------------------------------------------------------------
# Reading: 16-bit PNG (Pillow reduces 16-bit colour PNG to 8 bits)


@dataclass
class _PngFile:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    idat: list[bytes]
    icc: bytes | None = None
    srgb: bool = False
    exif: bytes | None = None
    trns: bytes | None = None


_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


class _Corrupt(Exception):
    pass


def _parse_png(data: bytes) -> _PngFile:
    """Walk the chunks: pixel data, ICC profile, EXIF and transparency."""
    pos, n = 8, len(data)
    png: _PngFile | None = None
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body_end = pos + 8 + length
        if body_end + 4 > n:
            if ctype in (b"IHDR", b"IDAT") or png is None:
                raise _Corrupt("file ends inside a chunk")
            break  # a truncated ancillary chunk after the pixels: like Pillow, tolerate it
        body = data[pos + 8 : body_end]
        crc = struct.unpack(">I", data[body_end : body_end + 4])[0]
        critical = not (ctype[0] & 0x20)
        if zlib.crc32(ctype + body) != crc:
            if critical:
                raise _Corrupt(f"bad CRC in {ctype.decode('latin-1')} chunk")
        elif ctype == b"IHDR":
            w, h, depth, ctype_, _, _, interlace = struct.unpack(">IIBBBBB", body[:13])
            png = _PngFile(w, h, depth, ctype_, interlace, [])
        elif png is None:
            raise _Corrupt("missing IHDR chunk")
        elif ctype == b"IDAT":
            png.idat.append(body)
        elif ctype == b"iCCP":
            try:
                png.icc = zlib.decompress(body[body.index(b"\0") + 2 :])
            except (ValueError, zlib.error):
                log.warning("ignoring a corrupt embedded ICC profile")
        elif ctype == b"sRGB":
            png.srgb = True
        elif ctype == b"eXIf":
            png.exif = body
        elif ctype == b"tRNS":
            png.trns = body
        elif ctype == b"IEND":
            break
        pos = body_end + 4
    if png is None:
        raise _Corrupt("missing IHDR chunk")
    if not png.idat:
        raise _Corrupt("no image data")
    return png


def _read_png16(data: bytes, label: str) -> _Pixels:
    try:
        png = _parse_png(data)
        if png.bit_depth != 16 or png.color_type not in _PNG_CHANNELS:
            raise _Corrupt(f"invalid bit depth {png.bit_depth} for colour type {png.color_type}")
        channels = _PNG_CHANNELS[png.color_type]
        arr = None
        cv2 = _cv2()
        if cv2 is not None and png.trns is None:
            arr = _cv2_decode(cv2, data, channels)
        if arr is None:
            arr = _png_pixels(png, channels)
    except _Corrupt as exc:
        raise ImageError(label, f"truncated or corrupt image data ({exc})") from None
    except (ValueError, zlib.error, struct.error, IndexError) as exc:
        raise ImageError(label, _corrupt_reason(exc)) from None

    alpha = None
    if channels in (2, 4):
        alpha = _to_unit_float(arr[:, :, -1])
        arr = arr[:, :, :-1]
    elif png.trns is not None and len(png.trns) >= 2 * channels:
        key = np.array(struct.unpack(f">{channels}H", png.trns[: 2 * channels]), dtype=np.uint16)
        alpha = np.any(arr != key, axis=2).astype(np.float32)
    color = arr[:, :, 0] if arr.shape[2] == 1 else arr

    orientation = 1
    if png.exif:
        try:
            exif = Image.Exif()
            exif.load(png.exif)
            orientation = int(exif.get(0x0112, 1))
        except Exception as exc:  # broken EXIF must not lose the photo
            log.warning("%s: ignoring unreadable EXIF (%s)", label, exc)
    color = _orient(color, orientation)
    if alpha is not None:
        alpha = _orient(alpha, orientation)
    icc = None if png.srgb else png.icc
    return _Pixels(np.ascontiguousarray(color), alpha, 16, icc)


def _png_pixels(png: _PngFile, channels: int) -> np.ndarray:
    """Inflate and un-filter the IDAT stream (8 or 16 bits, any filter, optional Adam7)."""
    bpp = channels * png.bit_depth // 8
    w, h = png.width, png.height
    passes = _ADAM7 if png.interlace else ((0, 0, 1, 1),)
    sizes = []
    for x0, y0, dx, dy in passes:
        pw, ph = -(-(w - x0) // dx), -(-(h - y0) // dy)
        sizes.append((pw, ph) if pw > 0 and ph > 0 else (0, 0))
    expected = sum(ph * (1 + pw * bpp) for pw, ph in sizes)
    inflater = zlib.decompressobj()
    raw = inflater.decompress(b"".join(png.idat), expected)  # bounded: a zlib bomb cannot grow it
    if len(raw) < expected:
        raise _Corrupt(f"image data ends early ({len(raw)} of {expected} bytes)")
    buf = np.frombuffer(raw, dtype=np.uint8)
    out = np.empty((h, w, bpp), dtype=np.uint8)
    offset = 0
    for (x0, y0, dx, dy), (pw, ph) in zip(passes, sizes):
        if pw == 0:
            continue
        rows = buf[offset : offset + ph * (1 + pw * bpp)].reshape(ph, 1 + pw * bpp)
        offset += ph * (1 + pw * bpp)
        out[y0::dy, x0::dx] = _png_unfilter(rows[:, 1:].reshape(ph, pw, bpp), rows[:, 0])
    dtype = np.dtype(">u2") if png.bit_depth == 16 else np.dtype(np.uint8)
    return out.reshape(h, -1).view(dtype).reshape(h, w, channels).astype(dtype.newbyteorder("="))


_WAVEFRONT_BYTES = 192 << 20  # working memory of one wavefront band (taller images use several)


def _png_unfilter(filt: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Undo PNG row filters on an ``(rows, width, bytes_per_pixel)`` array.

    None/Sub/Up rows are vectorised per row.  Average and Paeth depend on the reconstructed left
    *and* upper neighbours, so they are solved along anti-diagonals (a wavefront): one numpy step
    per diagonal instead of one Python step per pixel.
    """
    if types.size and int(types.max()) > 4:
        raise _Corrupt(f"unknown PNG filter type {int(types.max())}")
    rows, width, bpp = filt.shape
    out = np.empty_like(filt)
    prev = np.zeros((width, bpp), dtype=np.uint8)
    y = 0
    while y < rows:
        if types[y] in (3, 4):
            end = y + 1
            budget = max(16, _WAVEFRONT_BYTES // max(1, 4 * bpp * (width + rows)))  # rows per band
            while end < rows and end - y < budget:
                end += 1
            out[y:end] = _unfilter_wavefront(filt[y:end], types[y:end], prev)
            prev = out[end - 1]
            y = end
            continue
        t = types[y]
        if t == 0:
            out[y] = filt[y]
        elif t == 1:
            out[y] = np.cumsum(filt[y], axis=0, dtype=np.uint8)  # uint8 wraps mod 256
        else:
            out[y] = filt[y] + prev
        prev = out[y]
        y += 1
    return out


def _unfilter_wavefront(filt: np.ndarray, types: np.ndarray, prev: np.ndarray) -> np.ndarray:
    k, w, bpp = filt.shape
    diagonals = w + k - 1
    # skew[d + 2, y + 1] holds pixel (y, x = d - y); row 0 is the row above the band (y = -1,
    # stored at d = x - 1); columns 0/1 and positions with x < 0 stay zero, as PNG requires.
    skew = np.zeros((diagonals + 2, k + 1, bpp), dtype=np.int16)
    skew[1 : w + 1, 0] = prev
    fskew = np.zeros((diagonals, k, bpp), dtype=np.int16)
    ys = np.arange(k)[:, None]
    xs = np.arange(w)[None, :]
    fskew[xs + ys, ys] = filt
    t = types.astype(np.int16)[:, None]
    is_sub, is_up, is_avg, is_paeth = t == 1, t == 2, t == 3, t == 4
    for d in range(diagonals):
        a = skew[d + 1, 1:]  # left
        b = skew[d + 1, :-1]  # up
        c = skew[d, :-1]  # up-left
        pa = np.abs(b - c)
        pb = np.abs(a - c)
        pc = np.abs(a + b - 2 * c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.where(is_sub, a, np.where(is_up, b, np.where(is_avg, (a + b) >> 1, 0)))
        pred = np.where(is_paeth, paeth, pred)
        skew[d + 2, 1:] = (fskew[d] + pred) & 0xFF
    return skew[xs + ys + 2, ys + 1].astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Reading: 16-bit TIFF (Pillow reduces 16-bit colour TIFF to 8 bits)


def _tiff_bits(im: Image.Image) -> int:
    bps = getattr(im, "tag_v2", {}).get(258)
    bps = tuple(bps) if isinstance(bps, (tuple, list)) else (bps,)
    return 16 if bps and all(b == 16 for b in bps) else 8


def _read_tiff16(im: Image.Image, data: bytes, label: str) -> _Pixels | None:
    """16-bit gray+alpha / RGB(A) TIFF at full precision, or None to let Pillow decode it."""
    tags = getattr(im, "tag_v2", None)
    if tags is None:
        return None
    bps = tags.get(258)
    bps = tuple(bps) if isinstance(bps, (tuple, list)) else (bps,)
    spp = int(tags.get(277, 1))
    if spp < 2 or any(b != 16 for b in bps) or tags.get(262) not in (1, 2):
        return None  # 8-bit, 16-bit single-channel (Pillow keeps I;16) or exotic photometrics
    base = 1 if tags.get(262) == 1 else 3
    if spp < base:
        return None
    arr = None
    try:
        arr = _tiff16_pixels(tags, data, im.size, spp)
    except _Corrupt as exc:
        raise ImageError(label, f"truncated or corrupt image data ({exc})") from None
    except (ValueError, zlib.error, struct.error, IndexError, TypeError) as exc:
        raise ImageError(label, _corrupt_reason(exc)) from None
    if arr is None:
        cv2 = _cv2()
        if cv2 is not None and base == 3:
            arr = _cv2_decode(cv2, data, min(spp, 4))
    if arr is None:
        log.warning("%s: 16-bit TIFF layout not supported here; reading it at 8 bits", label)
        return None

    extra = tags.get(338, (0,))
    extra = tuple(extra) if isinstance(extra, (tuple, list)) else (extra,)
    alpha = None
    color = arr[:, :, :base]
    if arr.shape[2] > base:
        alpha = _to_unit_float(arr[:, :, base])
        if extra and extra[0] == 1:  # associated (premultiplied) alpha
            safe = np.where(alpha > 0, alpha, 1.0)[:, :, None]
            color = np.clip(_to_unit_float(color) / safe, 0.0, 1.0).astype(np.float32)
    if base == 1:
        color = color[:, :, 0]
    try:
        orientation = int(tags.get(274, 1))
    except (TypeError, ValueError):
        orientation = 1
    color = _orient(color, orientation)
    if alpha is not None:
        alpha = _orient(alpha, orientation)
    icc = im.info.get("icc_profile") or None
    return _Pixels(np.ascontiguousarray(color), alpha, 16, icc)


def _tiff16_pixels(tags: Any, data: bytes, size: tuple[int, int], spp: int) -> np.ndarray | None:
    """Strips, chunky, uncompressed or Deflate, with or without horizontal predictor."""
    compression = int(tags.get(259, 1))
    predictor = int(tags.get(317, 1))
    if (
        322 in tags  # tiled
        or int(tags.get(284, 1)) != 1  # planar
        or compression not in (1, 8, 32946)
        or predictor not in (1, 2)
        or any(int(v) != 1 for v in (tags.get(339) or (1,)))  # unsigned integers only
    ):
        return None
    w, h = size
    offsets = tags.get(273)
    counts = tags.get(279)
    if offsets is None or counts is None:
        raise _Corrupt("missing strip offsets")
    offsets = tuple(offsets) if isinstance(offsets, (tuple, list)) else (offsets,)
    counts = tuple(counts) if isinstance(counts, (tuple, list)) else (counts,)
    row_bytes = w * spp * 2
    rows_per_strip = int(tags.get(278, h)) or h
    expected = h * row_bytes
    parts: list[bytes] = []
    got = 0
    for i, (off, cnt) in enumerate(zip(offsets, counts)):
        if got >= expected:
            break
        chunk = data[off : off + cnt]
        if len(chunk) < cnt:
            raise _Corrupt("file ends inside the pixel data")
        strip_bytes = min(rows_per_strip * row_bytes, expected - got)
        if compression != 1:
            chunk = zlib.decompressobj().decompress(chunk, strip_bytes)
        chunk = chunk[:strip_bytes]
        if len(chunk) < strip_bytes:
            raise _Corrupt(f"strip {i} is short")
        parts.append(chunk)
        got += len(chunk)
    if got < expected:
        raise _Corrupt(f"pixel data ends early ({got} of {expected} bytes)")
    endian = "<" if data[:2] == b"II" else ">"
    arr = np.frombuffer(b"".join(parts), dtype=np.dtype(endian + "u2")).reshape(h, w, spp)
    arr = arr.astype(np.uint16)
    if predictor == 2:
        arr = np.cumsum(arr, axis=1, dtype=np.uint16)  # uint16 wraps, as the predictor defines
    return arr[:, :, : min(spp, 4)]


# --------------------------------------------------------------------------------------------
# Reading: helpers shared by the 16-bit paths

_CV2_UNSET: Any = object()
_cv2_module: Any = _CV2_UNSET


def _cv2() -> Any:
    """OpenCV if installed (fast 16-bit decoding/encoding), else None.  Imported on first use."""
    global _cv2_module
    if _cv2_module is _CV2_UNSET:
        try:
            import cv2  # type: ignore[import-not-found]

            _cv2_module = cv2
        except Exception:
            _cv2_module = None
    return _cv2_module


def _cv2_decode(cv2: Any, data: bytes, channels: int) -> np.ndarray | None:
    """16-bit pixels via OpenCV as ``HxWxC`` RGB(A) order, or None if it did not give that."""
    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except Exception:
        return None
    if arr is None or arr.dtype != np.uint16:
        return None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    got = arr.shape[2]
    if channels == 1 and got == 1:
        return arr
    if channels == 2 and got == 4:  # OpenCV expands gray+alpha to BGRA
        return np.ascontiguousarray(arr[:, :, [0, 3]])
    if channels == 3 and got == 3:
        return np.ascontiguousarray(arr[:, :, ::-1])
    if channels == 4 and got == 4:
        return np.ascontiguousarray(arr[:, :, [2, 1, 0, 3]])
    return None


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation on an ``HxW[xC]`` array, identical to :func:`PIL.ImageOps.exif_transpose`."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(arr, -1)
    if orientation == 7:
        return np.rot90(arr, 2).swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(arr, 1)
    return arr


# --------------------------------------------------------------------------------------------
# Reading: ICC colour management

# sRGB primaries adapted to the ICC D50 white (Bradford), as littlecms' built-in sRGB uses them.
_SRGB_D50 = np.array(
    [
        [0.4360747, 0.3850649, 0.1430804],
        [0.2225045, 0.7168786, 0.0606169],
        [0.0139322, 0.0971045, 0.7141733],
    ]
)
_srgb_profile_cache: Any = None


def _srgb_profile() -> Any:
    global _srgb_profile_cache
    if _srgb_profile_cache is None:
        from PIL import ImageCms

        _srgb_profile_cache = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _srgb_profile_cache


def _apply_icc(color: Image.Image | np.ndarray, icc: bytes | None, label: str) -> tuple[Any, bool]:
    """Convert to sRGB if the profile is not sRGB already.  Never fails: warns and keeps pixels."""
    if not icc:
        return color, False
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (src.profile.profile_description or "").lower()
        if "srgb" in description:
            return color, False
        space = (src.profile.xcolor_space or "").strip().upper()
        if isinstance(color, Image.Image):
            return _icc_pil(color, src, space, icc, label)
        return _icc_array(color, space, icc, label)
    except Exception as exc:
        log.warning("%s: embedded ICC profile not applied, pixels used as they are (%s)", label, exc)
        return color, False


def _icc_pil(img: Image.Image, src: Any, space: str, icc: bytes, label: str) -> tuple[Any, bool]:
    from PIL import ImageCms

    wanted = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK"}.get(img.mode)
    if space != wanted:
        log.warning("%s: ICC profile is for %s but the image is %s; profile ignored", label, space, img.mode)
        return img, False
    if img.mode == "L":
        # Gray TRC profiles (e.g. "Gray Gamma 2.2", common on B&W scans): the maths is exact in
        # float and keeps a gray image exactly gray; other gray profiles go through littlecms.
        curve = _icc_parse(icc).get(b"kTRC")
        if curve is not None:
            lut = _srgb_encode(_icc_curve(curve)(np.arange(256) / 255.0)).astype(np.float32)
            return lut[np.asarray(img)], True
        out = ImageCms.profileToProfile(img, src, _srgb_profile(), outputMode="RGB")
        assert out is not None  # inPlace=False always returns the new image
        return np.asarray(out.getchannel("G")), True
    out = ImageCms.profileToProfile(img, src, _srgb_profile(), outputMode="RGB")
    return out, True


def _icc_array(arr: np.ndarray, space: str, icc: bytes, label: str) -> tuple[Any, bool]:
    """16-bit pixels: matrix/TRC maths in float (via 65536-entry curves), so no precision is lost."""
    if arr.dtype != np.uint16:
        return arr, False
    tags = _icc_parse(icc)
    levels = np.arange(65536) / 65535.0
    if arr.ndim == 2 and space == "GRAY" and b"kTRC" in tags:
        lut = _srgb_encode(_icc_curve(tags[b"kTRC"])(levels)).astype(np.float32)
        return lut[arr], True
    needed = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
    if arr.ndim == 3 and space == "RGB" and all(t in tags for t in needed):
        colorants = np.stack([_icc_xyz(tags[t]) for t in needed[:3]], axis=1)
        matrix = (np.linalg.inv(_SRGB_D50) @ colorants).astype(np.float32).T
        luts = [_icc_curve(tags[t])(levels).astype(np.float32) for t in needed[3:]]
        out = np.empty(arr.shape, dtype=np.float32)
        step = max(1, 2_000_000 // max(1, arr.shape[1]))  # bounded temporaries on huge scans
        for y in range(0, arr.shape[0], step):
            block = arr[y : y + step]
            linear = np.stack([luts[i][block[..., i]] for i in range(3)], axis=-1)
            out[y : y + step] = _srgb_encode(linear @ matrix)
        return out, True
    if arr.ndim == 3 and space == "RGB":  # LUT-based profile: littlecms at 8 bits beats ignoring it
        log.warning("%s: ICC profile is not matrix/TRC; converting colours at 8-bit precision", label)
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        img8 = Image.fromarray(_quantize(arr, 8))
        return ImageCms.profileToProfile(img8, src, _srgb_profile(), outputMode="RGB"), True
    log.warning("%s: ICC profile (%s) does not fit the image; profile ignored", label, space)
    return arr, False


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _icc_parse(icc: bytes) -> dict[bytes, bytes]:
    """Tag table of an ICC profile: signature -> tag data."""
    count = struct.unpack_from(">I", icc, 128)[0]
    tags = {}
    for i in range(min(count, 1000)):
        sig, off, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        tags[sig] = icc[off : off + size]
    return tags


def _icc_xyz(tag: bytes) -> np.ndarray:
    if tag[:4] != b"XYZ ":
        raise ValueError("bad XYZ tag")
    return np.array(struct.unpack_from(">3i", tag, 8), dtype=np.float64) / 65536.0


def _icc_curve(tag: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """An ICC tone curve ('curv' or 'para') as a function on ``[0, 1]``."""
    kind = tag[:4]
    if kind == b"curv":
        n = struct.unpack_from(">I", tag, 8)[0]
        if n == 0:
            return lambda x: np.asarray(x, dtype=np.float64)
        if n == 1:
            gamma = struct.unpack_from(">H", tag, 12)[0] / 256.0
            return lambda x: np.power(np.clip(x, 0.0, 1.0), gamma)
        table = np.frombuffer(tag, dtype=">u2", count=n, offset=12).astype(np.float64) / 65535.0
        grid = np.linspace(0.0, 1.0, n)
        return lambda x: np.interp(x, grid, table)
    if kind == b"para":
        ftype = struct.unpack_from(">H", tag, 8)[0]
        nparams = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}[ftype]
        p = [v / 65536.0 for v in struct.unpack_from(f">{nparams}i", tag, 12)]
        g, a, b, c, d, e, f = (p + [0.0] * 7)[:7]
        if ftype == 0:
            return lambda x: np.power(np.clip(x, 0.0, 1.0), g)
        if ftype in (1, 2):
            off = c if ftype == 2 else 0.0
            return lambda x: np.where(
                x >= -b / a, np.power(np.clip(a * x + b, 0.0, None), g) + off, off
            )
        if ftype == 3:
            return lambda x: np.where(x >= d, np.power(np.clip(a * x + b, 0.0, None), g), c * x)
        return lambda x: np.where(x >= d, np.power(np.clip(a * x + b, 0.0, None), g) + e, c * x + f)
    raise ValueError(f"unsupported ICC curve type {kind!r}")


# --------------------------------------------------------------------------------------------
# Writing


def write_image(
    path: PathLike,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    quality: int = 95,
    icc_profile: bytes | None = None,
) -> Path:
    """Write ``rgb`` (``HxWx3`` float in ``[0, 1]``, uint8 or uint16; ``HxW`` for gray) atomically.

    The format comes from the extension.  ``alpha`` (``HxW``) is written where the format has an
    alpha channel (PNG, WebP, TIFF) and dropped for JPEG/BMP.  ``bit_depth=16`` gives 16-bit PNG
    and TIFF; other formats have no 16-bit mode and are written at 8 bits.  ``quality`` applies to
    JPEG and WebP (WebP at 100 is lossless).  JPEG is written without chroma subsampling because
    colour is the whole point of the output.  Returns the path written.
    """
    out = Path(path)
    label = str(out)
    fmt, pixels, quality, icc_profile = _output_pixels(label, out.suffix, rgb, alpha, bit_depth, quality, icc_profile)

    if out.is_dir():
        raise ImageError(label, "is a directory")
    if not overwrite and os.path.lexists(out):
        raise OutputExistsError(out)
    _make_parent(out)

    started = False  # whether the temp file could be created (for the wording of errors)

    def encode(f: IO[bytes]) -> None:
        nonlocal started
        started = True
        try:
            _encode(f, fmt, pixels, int(quality), bytes(icc_profile) if icc_profile else None)
        except OSError as exc:
            if exc.errno is not None:
                raise
            raise ImageError(label, f"cannot encode as {fmt} ({exc})") from None
        except (ValueError, struct.error) as exc:  # e.g. too large for the format
            raise ImageError(label, f"cannot encode as {fmt} ({exc})") from None

    try:
        atomic_write(out, encode, overwrite=overwrite)
    except ImageError:
        raise
    except FileExistsError:  # appeared since the check above: still never clobbered
        raise OutputExistsError(out) from None
    except PermissionError:
        if not started:
            raise ImageError(out, f"cannot write to directory {out.parent}: permission denied") from None
        raise ImageError(label, "cannot write file: permission denied") from None
    except OSError as exc:
        if not started:
            raise ImageError(out, f"cannot create a file in {out.parent} ({exc.strerror or exc})") from None
        raise ImageError(label, f"cannot write file ({exc.strerror or exc})") from None
    except MemoryError:
        raise ImageError(label, "not enough memory to encode the image") from None
    return out


def _output_pixels(label: str, suffix: str, rgb: np.ndarray, alpha: np.ndarray | None, bit_depth: int, quality: int,
                   icc_profile: Any) -> tuple[str, np.ndarray, int, bytes | None]:
    """The checks and quantization :func:`write_image` and :func:`encode_image` share: (format, pixels, quality, ICC)."""
    fmt = _OUTPUT_FORMATS.get(suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_OUTPUT_EXTENSIONS))
        shown = repr(suffix) if suffix else "none"
        raise ImageError(label, f"unsupported output extension {shown} (supported: {supported})")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    quality = check_option("quality", quality)
    if icc_profile is not None and not isinstance(icc_profile, (bytes, bytearray)):
        icc_profile = icc_profile.tobytes()  # an ImageCms.ImageCmsProfile
    depth = bit_depth if fmt in _SIXTEEN_BIT_FORMATS else 8
    pixels = _prepare_pixels(rgb, alpha if fmt in _ALPHA_FORMATS else None, depth, keep_rgbx=fmt == "JPEG")
    return fmt, pixels, int(quality), bytes(icc_profile) if icc_profile else None


def encode_image(rgb: np.ndarray, suffix: str = ".png", *, alpha: np.ndarray | None = None, bit_depth: int = 8,
                 quality: int = 95, icc_profile: bytes | None = None, label: str = "<stdout>") -> bytes:
    """The bytes :func:`write_image` would write to a file ending in ``suffix``, for a stream
    (``colorize IN -o -`` writes them to standard output). Same formats, alpha and 16-bit rules.

    >>> encode_image(np.zeros((2, 3, 3), np.uint8))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    fmt, pixels, quality, icc = _output_pixels(label, suffix if suffix.startswith(".") else f".{suffix}", rgb, alpha,
                                               bit_depth, quality, icc_profile)
    buf = io.BytesIO()
    try:
        _encode(buf, fmt, pixels, quality, icc)
    except (OSError, ValueError, struct.error) as exc:
        raise ImageError(label, f"cannot encode as {fmt} ({exc})") from None
    except MemoryError:
        raise ImageError(label, "not enough memory to encode the image") from None
    return buf.getvalue()


def _rgbx_base(px: np.ndarray) -> np.ndarray | None:
    """The ``HxWx4`` uint8 buffer that ``px`` is the RGB view of, or None.

    The photo pipeline's ``rgbx=True`` output is such a view (:func:`colorize.kernels.guided_join_u8`):
    Pillow's own 4-byte pixel layout, which a JPEG encode wraps without the ~40 ms (12 MP) repacking
    that ``Image.fromarray`` of an ``HxWx3`` array costs."""
    base = px.base
    if (px.dtype == np.uint8 and px.ndim == 3 and px.shape[2] == 3 and isinstance(base, np.ndarray)
            and base.dtype == np.uint8 and base.shape == (*px.shape[:2], 4) and base.flags.c_contiguous
            and px.strides == base.strides and px.ctypes.data == base.ctypes.data):
        return base
    return None


def _prepare_pixels(rgb: np.ndarray, alpha: np.ndarray | None, depth: int, *, keep_rgbx: bool = False) -> np.ndarray:
    """Validate and quantize to ``HxWxC`` uint8/uint16 with C in 1..4 (gray, gray+A, RGB, RGBA).

    The result is contiguous, except an RGB view of an RGBX buffer with ``keep_rgbx`` (see :func:`_rgbx_base`)."""
    arr = np.asarray(rgb)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"rgb must be HxWx3 (or HxW gray), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"cannot write an empty image (shape {arr.shape})")
    q = _quantize(arr, depth)
    if q.ndim == 2:
        q = q[:, :, None]
    if alpha is not None:
        a = np.asarray(alpha)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.shape != arr.shape[:2]:
            raise ValueError(f"alpha must be {arr.shape[:2]} to match rgb, got {a.shape}")
        q = np.concatenate([q, _quantize(a, depth)[:, :, None]], axis=2)
    return q if keep_rgbx and _rgbx_base(q) is not None else np.ascontiguousarray(q)


def _quantize(x: np.ndarray, depth: int) -> np.ndarray:
    """Float ``[0, 1]`` (rounded, clipped, NaN -> 0), uint8 or uint16 to ``depth``-bit integers."""
    target = np.uint16 if depth == 16 else np.uint8
    if x.dtype == np.uint8:
        return x.astype(np.uint16) * np.uint16(257) if depth == 16 else x
    if x.dtype == np.uint16:
        if depth == 16:
            return x
        return ((x.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"pixel arrays must be float in [0, 1], uint8 or uint16, got {x.dtype}")
    peak = 65535.0 if depth == 16 else 255.0
    y = np.nan_to_num(x.astype(np.float32), copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(y, 0.0, 1.0, out=y)
    y *= np.float32(peak)
    y += np.float32(0.5)
    return np.floor(y, out=y).astype(target)


def _encode(f: IO[bytes], fmt: str, px: np.ndarray, quality: int, icc: bytes | None) -> None:
    if px.dtype == np.uint16:
        f.write(_encode_png16(px, icc) if fmt == "PNG" else _encode_tiff16(px, icc))
        return
    channels = px.shape[2]
    if fmt in ("JPEG", "BMP") and channels in (2, 4):  # callers pass no alpha here; be safe
        px, channels = px[:, :, : channels - 1], channels - 1
    if fmt == "WEBP" and channels in (1, 2):  # WebP has no gray mode
        px = np.concatenate([np.repeat(px[:, :, :1], 3, axis=2), px[:, :, 1:]], axis=2)
        channels = px.shape[2]
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    base = _rgbx_base(px) if fmt == "JPEG" else None
    if base is not None:  # no copy: the encoder reads RGBX as RGB
        img = Image.frombuffer("RGBX", (px.shape[1], px.shape[0]), base, "raw", "RGBX", 0, 1)
        mode = "RGBX"
    else:
        img = Image.fromarray(px[:, :, 0] if channels == 1 else px)
    if img.mode != mode:  # pragma: no cover - defensive
        img = img.convert(mode)
    options: dict[str, Any] = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0)
    elif fmt == "WEBP":
        options.update(quality=quality, lossless=quality >= 100, method=4, exact=True)
    elif fmt == "PNG":
        options.update(compress_level=6)
    elif fmt == "TIFF":
        from PIL import features

        if features.check("libtiff"):
            options.update(compression="tiff_deflate")
    img.save(f, format=fmt, **options)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _encode_png16(px: np.ndarray, icc: bytes | None) -> bytes:
    """16-bit PNG (gray, gray+A, RGB, RGBA) with the Sub filter, which decodes fast with numpy."""
    h, w, c = px.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = 2 * c
    raw = px.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, w * bpp)
    rows = np.empty((h, 1 + w * bpp), dtype=np.uint8)
    rows[:, 0] = 1  # Sub
    rows[:, 1 : 1 + bpp] = raw[:, :bpp]
    rows[:, 1 + bpp :] = raw[:, bpp:] - raw[:, :-bpp]
    compressed = zlib.compress(rows.tobytes(), 6)
    parts = [_PNG_SIG, _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))]
    if icc:
        parts.append(_png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc)))
    step = 1 << 20
    for i in range(0, len(compressed), step):
        parts.append(_png_chunk(b"IDAT", compressed[i : i + step]))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _encode_tiff16(px: np.ndarray, icc: bytes | None) -> bytes:
    """Baseline little-endian 16-bit TIFF: Deflate strips, horizontal predictor, unassociated alpha."""
    if px.shape[2] == 2:  # 16-bit gray+alpha TIFF is unreadable for Pillow and many viewers
        px = np.concatenate([np.repeat(px[:, :, :1], 3, axis=2), px[:, :, 1:]], axis=2)
    h, w, c = px.shape
    diff = px.astype("<u2")
    diff[:, 1:] -= px[:, :-1].astype("<u2")  # predictor 2 (wraps mod 2**16)
    row_bytes = w * c * 2
    rows_per_strip = max(1, (256 << 10) // row_bytes)
    strips = [
        zlib.compress(diff[y : y + rows_per_strip].tobytes(), 6) for y in range(0, h, rows_per_strip)
    ]
    body = bytearray(b"II*\x00\x00\x00\x00\x00")
    strip_offsets = []
    for s in strips:
        strip_offsets.append(len(body))
        body += s
        if len(body) % 2:
            body += b"\0"

    def put(blob: bytes) -> int:
        offset = len(body)
        body.extend(blob)
        if len(body) % 2:
            body.extend(b"\0")
        return offset

    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, packed values

    def tag(number: int, kind: int, values: list[int] | bytes) -> None:
        if kind == 7:
            entries.append((number, kind, len(values), bytes(values)))
            return
        fmt = {3: "<H", 4: "<I", 5: "<II"}[kind]
        if kind == 5:
            packed = b"".join(struct.pack(fmt, num, den) for num, den in values)  # type: ignore[misc, has-type]
        else:
            packed = b"".join(struct.pack(fmt, v) for v in values)
        entries.append((number, kind, len(values), packed))

    gray = c in (1, 2)
    tag(256, 4, [w])
    tag(257, 4, [h])
    tag(258, 3, [16] * c)
    tag(259, 3, [8])
    tag(262, 3, [1 if gray else 2])
    tag(273, 4, strip_offsets)
    tag(277, 3, [c])
    tag(278, 4, [rows_per_strip])
    tag(279, 4, [len(s) for s in strips])
    tag(282, 5, [(72, 1)])  # type: ignore[list-item]
    tag(283, 5, [(72, 1)])  # type: ignore[list-item]
    tag(284, 3, [1])
    tag(296, 3, [2])
    tag(317, 3, [2])
    if c in (2, 4):
        tag(338, 3, [2])
    tag(339, 3, [1] * c)
    if icc:
        tag(34675, 7, icc)

    fields = []
    for number, kind, count, packed in sorted(entries):
        if len(packed) <= 4:
            value = packed.ljust(4, b"\0")
        else:
            value = struct.pack("<I", put(packed))
        fields.append(struct.pack("<HHI", number, kind, count) + value)
    ifd = len(body)
    body += struct.pack("<H", len(fields)) + b"".join(fields) + b"\0\0\0\0"
    if len(body) >= 1 << 32:
        raise ValueError("image too large for a classic TIFF file (over 4 GB)")
    body[4:8] = struct.pack("<I", ifd)
    return bytes(body)


def _make_parent(out: Path) -> None:
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ImageError(out, f"cannot create directory {parent}: a file with that name exists") from None
    except NotADirectoryError:
        raise ImageError(out, f"cannot create directory {parent}: part of the path is a file") from None
    except PermissionError:
        raise ImageError(out, f"cannot create directory {parent}: permission denied") from None
    except OSError as exc:
        raise ImageError(out, f"cannot create directory {parent} ({exc.strerror or exc})") from None


def atomic_write(path: PathLike, write_fn: Callable[[IO[bytes]], object], *, overwrite: bool = True) -> Path:
    """Write a file so that it is either complete or absent: the one atomic-write helper of the package.

    ``write_fn(f)`` writes the content to ``f``, a hidden ``.<name>.<random>.tmp`` beside the
    target (same filesystem, so the rename is atomic). The temp file is created like a normal
    ``open()`` would create the file (mode ``0o666 & ~umask``, not ``mkstemp``'s 0600), flushed,
    fsynced and moved into place with :func:`os.replace`; when it replaces a file, that file's
    permissions are kept. With ``overwrite=False`` an existing target is never replaced, even one
    that appeared while writing (:class:`FileExistsError`). On any error, ``Ctrl-C`` included, the
    temp file is removed and the target is untouched. Errors are the caller's to word: ``OSError``
    from the filesystem, whatever ``write_fn`` raises. The parent folder must exist.
    """
    out = Path(path)
    tmp, fd = _open_temp(out)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        move_into_place(tmp, out, overwrite)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return out


def _open_temp(out: Path) -> tuple[Path, int]:
    """A new hidden ``.<name>.<random>.tmp`` beside the target, opened for writing (OSError on failure)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = out.parent / f".{out.name[:200]}.{secrets.token_hex(4)}.tmp"
        try:
            return tmp, os.open(tmp, flags, 0o666)  # 0o666 & ~umask, like a normal new file
        except FileExistsError:
            continue
    raise OSError(f"cannot create a temporary file in {out.parent}")  # pragma: no cover


def write_text_atomic(path: PathLike, text: str, *, overwrite: bool = True) -> Path:
    """:func:`atomic_write` of UTF-8 text (reports, JSON summaries)."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data), overwrite=overwrite)


def move_into_place(tmp: PathLike, out: PathLike, overwrite: bool) -> None:
    """Rename a finished temp file (or folder) ``tmp`` to ``out``: the last step of every atomic write.

    With ``overwrite`` the target is replaced (keeping a replaced file's permissions); without, an
    existing target is never replaced, even one that appeared meanwhile (:class:`FileExistsError`;
    ``tmp`` is left for the caller to remove).
    """
    tmp, out = Path(tmp), Path(out)
    if overwrite:
        try:  # keep the permissions of the file being replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(out).st_mode))
        except OSError:
            pass
        os.replace(tmp, out)
        return
    # No-clobber: a hard link fails atomically if the target appeared since the existence check.
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "already exists (use --overwrite)", str(out)) from None
    except OSError:  # filesystem without hard links
        if os.path.lexists(out):
            raise FileExistsError(errno.EEXIST, "already exists (use --overwrite)", str(out)) from None
        os.replace(tmp, out)
        return
    try:
        os.unlink(tmp)
    except OSError:  # pragma: no cover - the output is in place; a stray hidden .tmp is harmless
        pass


# --------------------------------------------------------------------------------------------
# Paths


def is_image_path(path: PathLike) -> bool:
    """Whether folder scanning should pick this name up (a name check; the file is not opened).

    Hidden files are skipped: macOS ``._photo.jpg`` companions are not images, and our own
    temporary files start with a dot too.
    """
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_INPUT_EXTENSIONS


def default_output_path(input_path: PathLike, suffix: str = "_colorized") -> Path:
    """``photo.jpg`` -> ``photo_colorized.jpg`` beside the input.

    Keeps the input's format so the result replaces it naturally in a photo library; inputs we
    cannot write (GIF, PNM) get ``.png``.
    """
    p = Path(input_path)
    ext = p.suffix if p.suffix.lower() in SUPPORTED_OUTPUT_EXTENSIONS else ".png"
    return p.with_name(f"{p.stem}{suffix}{ext}")

