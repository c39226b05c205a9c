"""Tests for colorize.io: formats, precision, orientation, colour management, errors, atomic writes.

Every fixture image is generated here at run time (tiny, so the whole file runs in seconds).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile, ImageOps

import colorize.io as cio
from colorize.io import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_INPUT_EXTENSIONS,
    SUPPORTED_OUTPUT_EXTENSIONS,
    ImageError,
    LoadedImage,
    OutputExistsError,
    default_output_path,
    is_image_path,
    load_image_from_pil,
    read_image,
    write_image,
)

try:
    import cv2  # noqa: F401

    HAVE_CV2 = True
except Exception:  # pragma: no cover - opencv is optional
    HAVE_CV2 = False

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
RNG = np.random.default_rng(1234)


# --------------------------------------------------------------------------------------------
# Helpers


def random_u8(h: int = 12, w: int = 10, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)


def smooth_u8(h: int = 32, w: int = 48) -> np.ndarray:
    """A smooth colourful image (lossy codecs reproduce it closely)."""
    y, x = np.mgrid[0:h, 0:w]
    r = 40 + 180 * x / (w - 1)
    g = 60 + 150 * y / (h - 1)
    b = 200 - 120 * (x + y) / (w + h - 2)
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


def save_pil(path: Path, img: Image.Image, fmt: str | None = None, **kw) -> Path:
    img.save(path, fmt, **kw)
    return path


def u16(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(rgb, dtype=np.float64) * 65535).astype(np.uint16)


def u8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(rgb, dtype=np.float64) * 255).astype(np.uint8)


def srgb_encode(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


@pytest.fixture
def own_decoders(monkeypatch):
    """Force the pure numpy+zlib 16-bit decoders (no OpenCV)."""
    monkeypatch.setattr(cio, "_cv2_module", None)


@pytest.fixture(params=["own", "cv2"])
def decoder(request, monkeypatch):
    """Run a test with the built-in 16-bit decoders and, when installed, with OpenCV."""
    if request.param == "own":
        monkeypatch.setattr(cio, "_cv2_module", None)
    elif not HAVE_CV2:
        pytest.skip("opencv not installed")
    else:
        monkeypatch.setattr(cio, "_cv2_module", cio._CV2_UNSET)
    return request.param


# ---- a reference PNG encoder with every filter type and Adam7, to test our decoder ----------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _filter_rows(raw: np.ndarray, bpp: int, types: np.ndarray) -> np.ndarray:
    r = raw.astype(np.int16)
    a = np.zeros_like(r)
    a[:, bpp:] = r[:, :-bpp]
    b = np.zeros_like(r)
    b[1:] = r[:-1]
    c = np.zeros_like(r)
    c[1:, bpp:] = r[:-1, :-bpp]
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    preds = [np.zeros_like(r), a, b, (a + b) >> 1, paeth]
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    for y, t in enumerate(types):
        out[y, 0] = t
        out[y, 1:] = (r[y] - preds[t][y]) & 255
    return out


def encode_png(
    arr: np.ndarray,
    *,
    depth: int = 16,
    interlace: bool = False,
    seed: int = 0,
    extra_chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """PNG with random per-row filter types (None/Sub/Up/Average/Paeth), optionally interlaced."""
    rng = np.random.default_rng(seed)
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = c * depth // 8
    dtype = ">u2" if depth == 16 else np.uint8

    def rows_of(sub: np.ndarray) -> bytes:
        sh, sw = sub.shape[:2]
        raw = np.ascontiguousarray(sub.astype(dtype)).view(np.uint8).reshape(sh, sw * bpp)
        return _filter_rows(raw, bpp, rng.integers(0, 5, sh)).tobytes()

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4)]
        passes += [(0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        subs = [arr[y0::dy, x0::dx] for x0, y0, dx, dy in passes]
        payload = b"".join(rows_of(sub) for sub in subs if sub.size)
    else:
        payload = rows_of(arr)
    header = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace))
    chunks = [_png_chunk(b"IHDR", header)]
    chunks += [_png_chunk(k, v) for k, v in extra_chunks]
    chunks += [_png_chunk(b"IDAT", zlib.compress(payload)), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


# ---- a minimal ICC v2 profile builder (no non-sRGB RGB profile ships with Pillow) ----------

_SRGB_D50_COLORANTS = (
    (0.4360747, 0.2225045, 0.0139322),
    (0.3850649, 0.7168786, 0.0971045),
    (0.1430804, 0.0606169, 0.7141733),
)
_D50 = (0.9642, 1.0, 0.8249)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def make_icc(description: str, gamma: float, *, gray: bool = False) -> bytes:
    """A matrix/TRC profile with sRGB primaries and a pure-gamma curve (gamma 1.0 = linear light).

    With sRGB primaries the conversion to sRGB is a pure tone change, so the expected result is
    simply ``srgb_encode(value ** gamma)``.
    """

    def xyz(v):
        return b"XYZ \0\0\0\0" + b"".join(_s15(x) for x in v)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text
    desc += struct.pack(">IIHB", 0, 0, 0, 0) + b"\0" * 67  # empty Unicode and ScriptCode parts
    tags = [(b"desc", desc), (b"wtpt", xyz(_D50)), (b"cprt", b"text\0\0\0\0none\0")]
    if gray:
        tags.append((b"kTRC", curve))
    else:
        tags += [(b"rXYZ", xyz(_SRGB_D50_COLORANTS[0])), (b"gXYZ", xyz(_SRGB_D50_COLORANTS[1]))]
        tags += [(b"bXYZ", xyz(_SRGB_D50_COLORANTS[2]))]
        tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += struct.pack(">4sII", sig, offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = (
        struct.pack(">I", offset + len(data))
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntr"
        + (b"GRAY" if gray else b"RGB ")
        + b"XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + b"".join(_s15(v) for v in _D50)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


LINEAR_RGB_ICC = make_icc("Linear RGB (test)", 1.0)
LINEAR_GRAY_ICC = make_icc("Linear Gray (test)", 1.0, gray=True)


def test_an_rgbx_view_encodes_like_the_contiguous_image(tmp_path):
    """The pipeline's JPEG-bound output is the RGB view of an RGBX buffer: JPEG wraps it without a copy,
    every format writes the same bytes as from a plain HxWx3 array; other views are not mistaken for one."""
    buf = np.random.default_rng(0).integers(0, 256, (40, 56, 4), dtype=np.uint8)
    view, plain = buf[:, :, :3], np.ascontiguousarray(buf[:, :, :3])
    assert cio._rgbx_base(view) is buf
    assert cio._rgbx_base(plain) is None and cio._rgbx_base(buf[:, 1:, :3]) is None and cio._rgbx_base(buf[1:, :, :3]) is None
    assert cio._rgbx_base(buf[:, :, 1:]) is None  # shares the buffer but starts at G: not RGBX
    for suffix in (".jpg", ".png", ".webp", ".bmp", ".tif"):
        assert cio.encode_image(view, suffix) == cio.encode_image(plain, suffix), suffix
    out = write_image(tmp_path / "v.jpg", view)
    assert out.read_bytes() == cio.encode_image(plain, ".jpg")
    assert Image.open(out).mode == "RGB"


def test_icc_builder_makes_a_profile_littlecms_accepts():
    profile = ImageCms.ImageCmsProfile(io.BytesIO(LINEAR_RGB_ICC))
    assert ImageCms.getProfileDescription(profile).strip() == "Linear RGB (test)"
    assert profile.profile.xcolor_space.strip() == "RGB"
    assert profile.profile.is_matrix_shaper


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(
    ("ext", "fmt"),
    [(".png", "PNG"), (".bmp", "BMP"), (".tif", "TIFF"), (".tiff", "TIFF"), (".webp", "WEBP")],
)
def test_lossless_round_trip_8bit(tmp_path, ext, fmt):
    pixels = random_u8()
    rgb = pixels.astype(np.float32) / 255
    kw = {"quality": 100} if ext == ".webp" else {}  # WebP at quality 100 is lossless
    out = write_image(tmp_path / f"a{ext}", rgb, **kw)
    assert out == tmp_path / f"a{ext}"
    with Image.open(out) as im:
        assert im.format == fmt
    loaded = read_image(out)
    assert isinstance(loaded, LoadedImage)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (12, 10, 3)
    assert np.array_equal(u8(loaded.rgb), pixels)
    assert loaded.size == (10, 12)
    assert loaded.bit_depth == 8
    assert loaded.format == fmt
    assert loaded.path == out
    assert loaded.alpha is None
    assert loaded.is_color
    assert not loaded.icc_converted


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp"])
def test_lossy_round_trip(tmp_path, ext):
    pixels = smooth_u8()
    out = write_image(tmp_path / f"a{ext}", pixels, quality=95)
    loaded = read_image(out)
    assert loaded.format == ("JPEG" if ext != ".webp" else "WEBP")
    err = np.abs(loaded.rgb * 255 - pixels.astype(np.float32))
    assert err.mean() < 2.0 and err.max() < 12
    assert loaded.is_color


def test_jpeg_is_written_without_chroma_subsampling(tmp_path):
    from PIL import JpegImagePlugin

    out = write_image(tmp_path / "a.jpg", smooth_u8())
    with Image.open(out) as im:
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4


def test_gray_array_round_trip_and_gray_stays_gray(tmp_path):
    gray = random_u8(c=0)
    for ext in (".png", ".jpg", ".tif", ".bmp", ".webp"):
        out = write_image(tmp_path / f"g{ext}", gray, quality=100)
        loaded = read_image(out)
        assert loaded.rgb.shape == (12, 10, 3)
        assert not loaded.is_color
        assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
        if ext in (".png", ".tif", ".bmp", ".webp"):
            assert np.array_equal(u8(loaded.rgb[..., 0]), gray)


def test_float_quantization_is_exact_rounding_and_clips(tmp_path):
    levels = np.arange(256, dtype=np.float32) / 255
    rgb = np.stack([levels, levels[::-1], levels], -1)[None]
    out = write_image(tmp_path / "q.png", rgb)
    assert np.array_equal(read_image(out).rgb, rgb)
    weird = np.array([[[np.nan, -0.5, 1.5], [0.5 / 255 + 1e-4, np.inf, 0.499 / 255]]], dtype=np.float32)
    out = write_image(tmp_path / "w.png", weird)
    assert u8(read_image(out).rgb).tolist() == [[[0, 0, 255], [1, 255, 0]]]


def test_uint16_and_uint8_inputs_convert_between_depths(tmp_path):
    px8 = random_u8(4, 5)
    out = write_image(tmp_path / "a.png", px8, bit_depth=16)
    assert np.array_equal(u16(read_image(out).rgb), px8.astype(np.uint16) * 257)
    px16 = px8.astype(np.uint16) * 257
    out = write_image(tmp_path / "b.png", px16, bit_depth=8)
    assert np.array_equal(u8(read_image(out).rgb), px8)


def test_bad_arrays_are_value_errors(tmp_path):
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((0, 4, 3), np.float32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3)), alpha=np.zeros((3, 4)))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.int64))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3)), bit_depth=12)
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    depth=st.sampled_from([8, 16]),
    ext=st.sampled_from([".png", ".tif"]),
    with_alpha=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(tmp_path, h, w, depth, ext, with_alpha, seed):
    rng = np.random.default_rng(seed)
    peak = 65535 if depth == 16 else 255
    rgb = (rng.integers(0, peak + 1, (h, w, 3)) / peak).astype(np.float32)
    alpha = (rng.integers(0, peak + 1, (h, w)) / peak).astype(np.float32) if with_alpha else None
    path = tmp_path / f"p{seed}_{depth}{ext}"
    out = write_image(path, rgb, alpha=alpha, bit_depth=depth, overwrite=True)
    loaded = read_image(out)
    assert np.array_equal(np.round(loaded.rgb * peak), np.round(rgb * peak))
    if with_alpha:
        assert np.array_equal(np.round(loaded.alpha * peak), np.round(alpha * peak))
    else:
        assert loaded.alpha is None
    assert loaded.bit_depth == depth


def test_read_accepts_bytes_and_file_objects(tmp_path):
    pixels = random_u8()
    path = save_pil(tmp_path / "a.png", Image.fromarray(pixels))
    data = path.read_bytes()
    for source in (data, bytearray(data), io.BytesIO(data)):
        loaded = read_image(source)
        assert loaded.path is None and loaded.format == "PNG"
        assert np.array_equal(u8(loaded.rgb), pixels)
    with open(path, "rb") as f:
        assert np.array_equal(u8(read_image(f).rgb), pixels)


@pytest.mark.parametrize("fmt,ext", [("GIF", ".gif"), ("PPM", ".ppm"), ("PPM", ".pgm")])
def test_other_input_formats(tmp_path, fmt, ext):
    if ext == ".pgm":
        img = Image.fromarray(random_u8(c=0))
    elif fmt == "GIF":
        img = Image.fromarray(random_u8()).convert("P")
    else:
        img = Image.fromarray(random_u8())
    path = save_pil(tmp_path / f"a{ext}", img)
    loaded = read_image(path)
    assert np.array_equal(u8(loaded.rgb), np.asarray(img.convert("RGB")))
    assert loaded.format == fmt


def test_multipage_tiff_is_refused_not_cut_to_its_first_page(tmp_path):
    # issue 12: reading only page 1 silently lost the others; a one-line refusal names the count
    first, second = Image.fromarray(random_u8(seed=1)), Image.fromarray(random_u8(seed=2))
    path = tmp_path / "pages.tif"
    first.save(path, save_all=True, append_images=[second])
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "multi-page image with 2 frames")


def _gray_tiff_pages(pages: list[tuple[np.ndarray, int]]) -> bytes:
    """A little-endian uncompressed 8-bit gray TIFF; each page is (pixels, NewSubfileType)."""
    body = bytearray(b"II*\x00\x00\x00\x00\x00")
    link = 4  # where the offset of the next IFD goes
    for arr, subfile in pages:
        h, w = arr.shape
        strip = len(body)
        body += arr.astype(np.uint8).tobytes()
        if len(body) % 2:
            body += b"\0"
        entries = [(254, 4, subfile), (256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                   (273, 4, strip), (277, 3, 1), (278, 4, h), (279, 4, h * w)]
        ifd = len(body)
        body[link : link + 4] = struct.pack("<I", ifd)
        body += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            body += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0))
        link = len(body)
        body += b"\0\0\0\0"
    return bytes(body)


def test_tiff_with_a_reduced_resolution_thumbnail_page_is_a_photo(tmp_path):
    full, thumb = random_u8(seed=1)[..., 0], random_u8(seed=2)[:4, :4, 0]
    path = tmp_path / "scan.tif"
    path.write_bytes(_gray_tiff_pages([(full, 0), (thumb, 1)]))  # page 2: a scanner's preview
    with Image.open(path) as im:
        assert im.n_frames == 2
    assert np.array_equal(u8(read_image(path).gray), full)
    path.write_bytes(_gray_tiff_pages([(full, 0), (full, 0)]))  # two real pages: refused
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "multi-page image with 2 frames")


@pytest.mark.parametrize("ext,fmt", [(".webp", "WEBP"), (".gif", "GIF"), (".png", "PNG")])
def test_animated_stills_are_refused_and_one_frame_is_a_photo(tmp_path, ext, fmt):
    frames = [Image.fromarray(np.full((12, 16, 3), 40 * i, np.uint8)) for i in range(3)]
    path = tmp_path / f"anim{ext}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as im:
        assert im.n_frames == 3
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "animated image with 3 frames")
    if fmt == "GIF":
        assert "as a video" in str(excinfo.value)
    still = tmp_path / f"still{ext}"
    frames[1].save(still, format=fmt, save_all=True, append_images=[], duration=100)
    with Image.open(still) as im:
        assert getattr(im, "n_frames", 1) == 1  # the container form of an animation, with one frame
    assert read_image(still).size == (16, 12)


# --------------------------------------------------------------------------------------------
# 16 bits


def test_16bit_gray_png_keeps_precision(tmp_path):
    values = (np.arange(60, dtype=np.uint16) + 30000).reshape(6, 10)  # neighbours differ by 1/65535
    path = save_pil(tmp_path / "g16.png", Image.fromarray(values))
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    loaded = read_image(path)
    assert loaded.bit_depth == 16 and not loaded.is_color
    assert np.array_equal(u16(loaded.rgb[..., 0]), values)
    assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 1])
    assert len(np.unique(loaded.gray)) == values.size


def test_16bit_rgb_png_keeps_precision(tmp_path, decoder):
    values = (np.arange(6 * 10 * 3, dtype=np.uint16) + 20000).reshape(6, 10, 3)
    out = write_image(tmp_path / "c16.png", values.astype(np.float32) / 65535, bit_depth=16)
    with Image.open(out) as im:  # Pillow itself only sees 8 bits here
        assert im.mode == "RGB"
    loaded = read_image(out)
    assert loaded.bit_depth == 16 and loaded.format == "PNG"
    assert np.array_equal(u16(loaded.rgb), values)


@pytest.mark.skipif(not HAVE_CV2, reason="opencv not installed")
def test_16bit_png_interoperates_with_opencv(tmp_path, own_decoders):
    import cv2

    values = RNG.integers(0, 65536, (9, 7, 4), dtype=np.uint16)
    path = tmp_path / "cv.png"
    cv2.imwrite(str(path), values[:, :, [2, 1, 0, 3]])
    loaded = read_image(path)
    assert np.array_equal(u16(loaded.rgb), values[..., :3])
    assert np.array_equal(u16(loaded.alpha), values[..., 3])
    ours = write_image(tmp_path / "ours.png", values[..., :3], alpha=values[..., 3], bit_depth=16)
    back = cv2.imread(str(ours), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back[:, :, [2, 1, 0, 3]], values)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("interlace", [False, True])
def test_png_decoder_handles_all_filters_and_adam7(channels, interlace, decoder):
    shape = (11, 13) if channels == 1 else (11, 13, channels)
    values = np.random.default_rng(channels).integers(0, 65536, shape, dtype=np.uint16)
    loaded = read_image(encode_png(values, interlace=interlace, seed=channels))
    color = values if channels == 1 else values[..., : 1 if channels == 2 else 3]
    if color.ndim == 2 or color.shape[-1] == 1:
        color = np.repeat(color.reshape(11, 13, 1), 3, axis=2)
    assert np.array_equal(u16(loaded.rgb), color)
    if channels in (2, 4):
        assert np.array_equal(u16(loaded.alpha), values[..., -1])
    else:
        assert loaded.alpha is None


@pytest.mark.parametrize("interlace", [False, True])
def test_png_unfilter_matches_pillow_on_8bit(interlace):
    values = random_u8(17, 23, 3, seed=5)
    data = encode_png(values, depth=8, interlace=interlace, seed=9)
    ours = cio._png_pixels(cio._parse_png(data), 3)
    assert np.array_equal(ours, values)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), values)


def test_png_wavefront_unfilter_in_several_bands(monkeypatch):
    """Tall images are un-filtered in bands; the row above each band must carry over."""
    monkeypatch.setattr(cio, "_WAVEFRONT_BYTES", 1)  # the minimum band: 16 rows
    values = np.random.default_rng(3).integers(0, 65536, (40, 9, 3), dtype=np.uint16)
    raw = np.ascontiguousarray(values.astype(">u2")).view(np.uint8).reshape(40, 54)
    filtered = _filter_rows(raw, 6, np.array([4, 3, 1, 2, 0] * 8))
    ours = cio._png_unfilter(filtered[:, 1:].reshape(40, 9, 6), filtered[:, 0])
    assert np.array_equal(ours, raw.reshape(40, 9, 6))


def test_16bit_png_transparency_key_becomes_alpha(own_decoders):
    values = np.full((3, 4), 1000, dtype=np.uint16)
    values[1, 2] = 4242
    data = encode_png(values, extra_chunks=((b"tRNS", struct.pack(">H", 4242)),))
    loaded = read_image(data)
    expected = np.ones((3, 4), np.float32)
    expected[1, 2] = 0
    assert np.array_equal(loaded.alpha, expected)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_tiff_round_trip(tmp_path, channels, decoder):
    values = np.random.default_rng(channels).integers(0, 65536, (7, 9, channels), dtype=np.uint16)
    color = values[..., : 1 if channels <= 2 else 3]
    alpha = values[..., -1] if channels in (2, 4) else None
    gray = color.shape[-1] == 1
    out = write_image(tmp_path / "t.tif", color[..., 0] if gray else color, alpha=alpha, bit_depth=16)
    loaded = read_image(out)
    assert loaded.bit_depth == 16 and loaded.format == "TIFF"
    assert np.array_equal(u16(loaded.rgb), np.repeat(color, 3, axis=2) if gray else color)
    assert loaded.is_color == (not gray)
    if alpha is None:
        assert loaded.alpha is None
    else:
        assert np.array_equal(u16(loaded.alpha), alpha)
    if channels == 1:  # Pillow reads our gray 16-bit TIFF identically
        with Image.open(out) as im:
            assert np.array_equal(np.asarray(im), values[..., 0])


@pytest.mark.skipif(not HAVE_CV2, reason="opencv not installed")
def test_16bit_tiff_interoperates_with_opencv(tmp_path, decoder):
    import cv2

    values = RNG.integers(0, 65536, (8, 6, 3), dtype=np.uint16)
    ours = write_image(tmp_path / "ours.tif", values, bit_depth=16)
    assert np.array_equal(cv2.imread(str(ours), cv2.IMREAD_UNCHANGED)[:, :, ::-1], values)
    theirs = tmp_path / "theirs.tif"  # OpenCV writes LZW: our reader defers to OpenCV, else 8-bit
    cv2.imwrite(str(theirs), values[:, :, ::-1])
    loaded = read_image(theirs)
    assert loaded.bit_depth == 16
    if decoder == "cv2":
        assert np.array_equal(u16(loaded.rgb), values)
    else:
        assert np.abs(u16(loaded.rgb).astype(int) - values).max() <= 257


def test_16bit_output_falls_back_to_8bit_for_other_formats(tmp_path):
    out = write_image(tmp_path / "a.jpg", np.full((4, 4, 3), 0.5, np.float32), bit_depth=16)
    assert read_image(out).bit_depth == 8


# --------------------------------------------------------------------------------------------
# Orientation


def test_exif_orientation_jpeg_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # a red band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save_pil(tmp_path / "o.jpg", Image.fromarray(pixels), exif=exif.tobytes(), quality=95)
    loaded = read_image(path)
    assert loaded.size == (20, 40)  # transposed
    assert loaded.rgb.shape == (40, 20, 3)
    assert loaded.rgb[:8, :, 0].mean() > 0.9  # the left band is now on top
    assert loaded.rgb[-8:, :, 0].mean() < 0.1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_on_arrays_matches_pillow(orientation):
    pixels = random_u8(5, 7, seed=orientation)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(cio._orient(pixels, orientation), expected)
    assert np.array_equal(u8(read_image(buf.getvalue()).rgb), expected)  # Pillow path


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_of_16bit_png(orientation, decoder):
    values = np.random.default_rng(0).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode_png(values, extra_chunks=((b"eXIf", exif.tobytes()),))
    loaded = read_image(data)
    assert np.array_equal(u16(loaded.rgb), cio._orient(values, orientation))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_does_not_lose_the_photo(tmp_path):
    pixels = smooth_u8(8, 8)
    path = save_pil(tmp_path / "e.jpg", Image.fromarray(pixels), exif=b"Exif\x00\x00MM\x00*garbage")
    loaded = read_image(path)
    assert loaded.size == (8, 8)


# --------------------------------------------------------------------------------------------
# Modes


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 3))
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    idx = np.array([[0, 1, 2, 0], [1, 2, 0, 1], [2, 0, 1, 2]], dtype=np.uint8)
    img.putdata(idx.flatten().tolist())
    path = save_pil(tmp_path / "p.png", img, transparency=1)
    loaded = read_image(path)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    assert np.array_equal(u8(loaded.rgb), palette[idx])
    assert loaded.alpha is not None
    assert np.array_equal(loaded.alpha, (idx != 1).astype(np.float32))
    assert loaded.is_color and loaded.bit_depth == 8
    gif = save_pil(tmp_path / "p.gif", img, transparency=1)
    assert np.array_equal(read_image(gif).alpha, (idx != 1).astype(np.float32))


def test_palette_without_transparency_and_gray_palette(tmp_path):
    gray_palette = Image.fromarray(random_u8(c=0)).convert("P")
    loaded = read_image(save_pil(tmp_path / "g.png", gray_palette))
    assert loaded.alpha is None
    assert not loaded.is_color


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.fromarray(smooth_u8()).convert("CMYK")
    path = save_pil(tmp_path / "c.jpg", cmyk, quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
        expected = np.asarray(im.convert("RGB")).astype(np.float32) / 255
    loaded = read_image(path)
    assert loaded.rgb.shape == (32, 48, 3)
    assert np.abs(loaded.rgb - expected).max() < 1e-6
    assert loaded.is_color


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_is_carried_bit_exactly_to_png(tmp_path, mode):
    base = random_u8(9, 11, 1 if mode == "LA" else 3, seed=7)
    alpha = random_u8(9, 11, 1, seed=8)
    pixels = np.concatenate([base, alpha], axis=2)
    src = save_pil(tmp_path / f"src_{mode}.png", Image.fromarray(pixels))  # 2 channels -> LA
    with Image.open(src) as im:
        assert im.mode == mode
    loaded = read_image(src)
    assert loaded.alpha is not None and loaded.alpha.dtype == np.float32
    assert loaded.alpha.shape == (9, 11)
    assert loaded.is_color == (mode == "RGBA")
    out = write_image(tmp_path / "out.png", loaded.rgb, alpha=loaded.alpha)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        written = np.asarray(im)
    assert np.array_equal(written[..., 3], alpha[..., 0])
    expected_rgb = np.repeat(base, 3, axis=2) if mode == "LA" else base
    assert np.array_equal(written[..., :3], expected_rgb)


@pytest.mark.parametrize("ext", [".webp", ".tif"])
def test_alpha_in_webp_and_tiff(tmp_path, ext):
    pixels = random_u8(6, 6)
    alpha = random_u8(6, 6, c=0, seed=3)
    out = write_image(tmp_path / f"a{ext}", pixels, alpha=alpha, quality=100)
    loaded = read_image(out)
    assert np.array_equal(u8(loaded.alpha), alpha)
    assert np.array_equal(u8(loaded.rgb), pixels)


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_dropped_for_formats_without_it(tmp_path, ext):
    out = write_image(tmp_path / f"a{ext}", smooth_u8(8, 8), alpha=np.zeros((8, 8), np.float32))
    with Image.open(out) as im:
        assert im.mode == "RGB"
    assert read_image(out).alpha is None


def test_16bit_alpha_png(tmp_path, decoder):
    rgb = RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    alpha = RNG.integers(0, 65536, (5, 6), dtype=np.uint16)
    out = write_image(tmp_path / "a16.png", rgb, alpha=alpha, bit_depth=16)
    loaded = read_image(out)
    assert np.array_equal(u16(loaded.alpha), alpha)


def test_modes_1_I_F_and_premultiplied():
    bits = Image.fromarray(random_u8(c=0) > 127)
    assert bits.mode == "1"
    loaded = load_image_from_pil(bits)
    assert set(np.unique(loaded.rgb)) <= {0.0, 1.0} and not loaded.is_color

    ints = Image.fromarray((np.arange(12, dtype=np.int32) * 5000).reshape(3, 4))
    assert ints.mode == "I"
    loaded = load_image_from_pil(ints)
    assert loaded.bit_depth == 16
    assert np.array_equal(u16(loaded.rgb[..., 0]), np.clip(np.arange(12) * 5000, 0, 65535).reshape(3, 4))

    floats = Image.fromarray(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    assert floats.mode == "F"
    loaded = load_image_from_pil(floats)
    assert np.allclose(loaded.rgb[..., 1], np.linspace(0, 1, 12).reshape(3, 4), atol=1e-6)

    premultiplied = Image.new("RGBA", (2, 2), (200, 100, 50, 128)).convert("RGBa")
    loaded = load_image_from_pil(premultiplied)
    assert loaded.alpha is not None and abs(float(loaded.alpha[0, 0]) - 128 / 255) < 1e-6
    assert abs(float(loaded.rgb[0, 0, 0]) * 255 - 200) <= 2


def test_tiff_float_and_int_modes(tmp_path):
    floats = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    path = save_pil(tmp_path / "f.tif", Image.fromarray(floats))
    assert np.allclose(read_image(path).gray, floats, atol=1e-6)


# --------------------------------------------------------------------------------------------
# ICC colour management


def test_srgb_tagged_image_loads_unchanged(tmp_path):
    pixels = random_u8()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save_pil(tmp_path / "s.png", Image.fromarray(pixels), icc_profile=srgb)
    loaded = read_image(path)
    assert not loaded.icc_converted
    assert np.array_equal(u8(loaded.rgb), pixels)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG", "WEBP"])
def test_non_srgb_profile_is_converted(tmp_path, fmt):
    pixels = np.repeat(np.repeat(random_u8(4, 4, seed=11), 4, 0), 4, 1)
    path = tmp_path / f"lin.{fmt.lower()}"
    save_pil(path, Image.fromarray(pixels), fmt, icc_profile=LINEAR_RGB_ICC, quality=95)
    with Image.open(path) as im:
        raw = np.asarray(im.convert("RGB")).astype(np.float64) / 255  # what the codec decoded
    loaded = read_image(path)
    assert loaded.icc_converted
    assert np.abs(loaded.rgb - srgb_encode(raw)).max() < 1.5 / 255
    assert np.abs(loaded.rgb - raw).max() > 0.1  # a real change, not a no-op


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_non_srgb_profile_on_16bit_keeps_precision(tmp_path, ext, decoder):
    values = (np.arange(4 * 6 * 3, dtype=np.uint16) * 300 + 1000).reshape(4, 6, 3)
    out = write_image(tmp_path / f"lin16{ext}", values, bit_depth=16, icc_profile=LINEAR_RGB_ICC)
    loaded = read_image(out)
    assert loaded.icc_converted and loaded.bit_depth == 16
    expected = srgb_encode(values / 65535.0)
    assert np.abs(loaded.rgb - expected).max() < 0.2 / 255  # float maths, not 8-bit littlecms


def test_gray_profile_is_converted_and_stays_gray(tmp_path):
    values = np.arange(0, 256, 5, dtype=np.uint8).reshape(1, -1).repeat(2, 0)
    path = save_pil(tmp_path / "g.png", Image.fromarray(values), icc_profile=LINEAR_GRAY_ICC)
    loaded = read_image(path)
    assert loaded.icc_converted and not loaded.is_color
    assert np.abs(loaded.rgb[..., 0] - srgb_encode(values / 255.0)).max() < 1e-5
    assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    values16 = values.astype(np.uint16) * 257
    out = write_image(tmp_path / "g16.png", values16, bit_depth=16, icc_profile=LINEAR_GRAY_ICC)
    loaded16 = read_image(out)
    assert loaded16.icc_converted
    assert np.abs(loaded16.rgb[..., 0] - srgb_encode(values16 / 65535.0)).max() < 1e-5


def test_broken_or_mismatched_profile_keeps_pixels(tmp_path, caplog):
    pixels = random_u8()
    broken = save_pil(tmp_path / "b.png", Image.fromarray(pixels), icc_profile=b"not ICC at all" * 10)
    loaded = read_image(broken)
    assert not loaded.icc_converted and np.array_equal(u8(loaded.rgb), pixels)
    gray = random_u8(c=0)
    mismatch = save_pil(tmp_path / "m.png", Image.fromarray(gray), icc_profile=LINEAR_RGB_ICC)
    loaded = read_image(mismatch)
    assert not loaded.icc_converted and np.array_equal(u8(loaded.rgb[..., 0]), gray)
    assert "ICC" in caplog.text


def test_icc_profile_is_written(tmp_path):
    out = write_image(tmp_path / "a.png", random_u8(), icc_profile=LINEAR_RGB_ICC)
    with Image.open(out) as im:
        assert im.info["icc_profile"] == LINEAR_RGB_ICC
    out16 = write_image(tmp_path / "b.png", random_u8(), icc_profile=LINEAR_RGB_ICC, bit_depth=16)
    with Image.open(out16) as im:
        assert im.info["icc_profile"] == LINEAR_RGB_ICC


# --------------------------------------------------------------------------------------------
# Colour detection and luma


def test_is_color_gray_stored_as_rgb_vs_colour(tmp_path):
    gray = np.repeat(random_u8(30, 30, c=0)[..., None], 3, axis=2)
    assert not read_image(save_pil(tmp_path / "g.png", Image.fromarray(gray))).is_color
    assert not read_image(save_pil(tmp_path / "g.jpg", Image.fromarray(gray), quality=90)).is_color
    noisy = gray.astype(int) + np.random.default_rng(0).integers(-1, 2, gray.shape)
    noisy = np.clip(noisy, 0, 255).astype(np.uint8)  # +-1 level of chroma noise is still gray
    assert not read_image(save_pil(tmp_path / "n.png", Image.fromarray(noisy))).is_color
    big = np.repeat(np.repeat(gray, 4, 0), 4, 1)  # 120x120
    big[0, 0] = (255, 0, 0)  # one coloured pixel (0.007%) does not make a colour photo
    assert not read_image(save_pil(tmp_path / "s.png", Image.fromarray(big))).is_color
    assert read_image(save_pil(tmp_path / "c.png", Image.fromarray(smooth_u8()))).is_color
    patch = big.copy()
    patch[:20, :20] = (200, 50, 50)
    assert read_image(save_pil(tmp_path / "p.png", Image.fromarray(patch))).is_color


def test_gray_property_is_bt601_luma():
    rgb = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]]], np.float32)
    loaded = load_image_from_pil(Image.fromarray(u8(rgb)))
    assert loaded.gray.dtype == np.float32 and loaded.gray.shape == (1, 4)
    expected = np.array([[0.299, 0.587, 0.114, 128 / 255]], np.float32)
    assert np.allclose(loaded.gray, expected, atol=1e-6)


def test_load_image_from_pil_does_not_modify_the_input():
    img = Image.fromarray(random_u8(4, 6))
    exif = img.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "PNG", exif=exif.tobytes())
    opened = Image.open(buf)
    loaded = load_image_from_pil(opened, path="upload.png")
    assert loaded.size == (4, 6)
    assert opened.size == (6, 4)
    assert loaded.path == Path("upload.png") and loaded.format == "PNG"
    assert load_image_from_pil(Image.new("RGB", (3, 2))).format == ""


# --------------------------------------------------------------------------------------------
# Errors


def assert_image_error(excinfo, path, reason: str) -> None:
    err = excinfo.value
    assert type(err) is ImageError, type(err)
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{path}: "), text
    assert reason in text, text


def _png_bytes(size=(10, 12)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(random_u8(size[1], size[0])).save(buf, "PNG")
    return buf.getvalue()


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(smooth_u8()).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "no such file")


def test_directory(tmp_path):
    path = tmp_path / "dir.png"
    path.mkdir()
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "is a directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_not_a_regular_file(tmp_path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)  # reading it would block forever
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "not a regular file")


@pytest.mark.parametrize(
    "content",
    [b"hello, this is text and not a picture\n" * 3, bytes(range(256)) * 4, b"\x00" * 100],
)
def test_not_an_image(tmp_path, content):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "not an image file (unrecognised format)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "empty file")


def test_image_format_we_do_not_read(tmp_path):
    path = tmp_path / "a.pcx"
    Image.fromarray(random_u8()).save(path, "PCX")
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "unsupported image format (PCX)")


@pytest.mark.parametrize("name", ["png", "jpeg", "png16"])
def test_truncated_file(tmp_path, name, own_decoders):
    if name == "png":
        data = _png_bytes()
    elif name == "jpeg":
        data = _jpeg_bytes()
    else:
        buf = io.BytesIO()
        cio._encode(buf, "PNG", RNG.integers(0, 65536, (12, 10, 3), dtype=np.uint16), 95, None)
        data = buf.getvalue()
    path = tmp_path / f"cut.{name}"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "truncated or corrupt image data")
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_corrupt_data(tmp_path):
    data = bytearray(_png_bytes())
    data[60:90] = b"\xff" * 30  # inside the pixel data
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "truncated or corrupt image data")


def test_zero_sized_image(tmp_path):
    header = struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b"")
    path = tmp_path / "zero.png"
    path.write_bytes(data)
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "zero-sized image")
    with pytest.raises(ImageError) as excinfo:
        load_image_from_pil(Image.new("RGB", (0, 3)))
    assert_image_error(excinfo, "<image>", "zero-sized image")


def test_decompression_bomb_small_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_bytes((10, 12)))
    with pytest.raises(ImageError) as excinfo:
        read_image(path, max_pixels=100)
    reason = "image has 120 pixels, more than the limit of 100 (set --max-pixels / COLORIZE_MAX_PIXELS)"
    assert_image_error(excinfo, path, reason)
    assert read_image(path, max_pixels=120).size == (10, 12)
    assert read_image(path, max_pixels=None).size == (10, 12)
    with pytest.raises(ImageError) as excinfo:
        load_image_from_pil(Image.new("RGB", (10, 12)), max_pixels=100)
    assert_image_error(excinfo, "<image>", "more than the limit of 100")


def test_decompression_bomb_checked_from_header_before_decoding(tmp_path, monkeypatch):
    """A 60000x60000 header with almost no data: rejected at once, nothing is allocated."""
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
    path = tmp_path / "bomb.png"
    path.write_bytes(data)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoder called")

    monkeypatch.setattr(cio, "_decode_opened", no_decoding)
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    reason = f"image has 3600000000 pixels, more than the limit of {DEFAULT_MAX_PIXELS}"
    assert_image_error(excinfo, path, reason)


def test_max_pixels_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    path.write_bytes(_png_bytes((10, 12)))
    monkeypatch.setenv("COLORIZE_MAX_PIXELS", "50")
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "more than the limit of 50")
    assert read_image(path, max_pixels=1000).size == (10, 12)  # an explicit argument wins
    monkeypatch.setenv("COLORIZE_MAX_PIXELS", "none")
    assert read_image(path).size == (10, 12)
    monkeypatch.setenv("COLORIZE_MAX_PIXELS", "lots")
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "invalid COLORIZE_MAX_PIXELS='lots'")


def test_our_limit_overrides_pillows_and_restores_it(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # Pillow alone would refuse 120 pixels
    path = tmp_path / "a.png"
    path.write_bytes(_png_bytes((10, 12)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path, max_pixels=1000).size == (10, 12)
        assert read_image(path, max_pixels=None).size == (10, 12)
    assert Image.MAX_IMAGE_PIXELS == 40
    with pytest.raises(ImageError) as excinfo:
        read_image(path, max_pixels=100)
    assert_image_error(excinfo, path, "image has 120 pixels, more than the limit of 100")
    assert Image.MAX_IMAGE_PIXELS == 40


def test_pillow_bomb_error_is_reported_in_our_words():
    exc = Image.DecompressionBombError("Image size (500 pixels) exceeds limit of 200 pixels, ...")
    err = cio._bomb_error("x.png", exc, None)
    expected = "x.png: image has 500 pixels, more than the limit of 200 (set --max-pixels / COLORIZE_MAX_PIXELS)"
    assert str(err) == expected


def test_permission_denied_simulated(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    path.write_bytes(_png_bytes())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cio, "open", denied, raising=False)  # the module's own open() only
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert_image_error(excinfo, path, "permission denied")


@pytest.mark.skipif(IS_ROOT or os.name == "nt", reason="root ignores file permissions")
def test_permission_denied_real(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(_png_bytes())
    path.chmod(0)
    try:
        with pytest.raises(ImageError) as excinfo:
            read_image(path)
        assert_image_error(excinfo, path, "permission denied")
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("kind", ["png", "jpeg", "webp", "tiff", "bmp", "gif", "png16", "tif16"])
def test_damaged_files_only_ever_raise_image_error(kind, own_decoders):
    """Cut and bit-flipped versions of every format: either a picture or an ImageError."""
    pixels = random_u8(9, 8)
    buf = io.BytesIO()
    if kind in ("png16", "tif16"):
        cio._encode(buf, "PNG" if kind == "png16" else "TIFF", pixels.astype(np.uint16) * 257, 95, None)
    else:
        Image.fromarray(pixels).save(buf, kind.upper())
    data = buf.getvalue()
    cuts = {1, 2, 5, 9, 17, 30, len(data) // 3, len(data) // 2, len(data) - 3}
    variants = [data[:n] for n in sorted(cuts)]
    for pos in np.linspace(0, len(data) - 1, 12).astype(int):
        flipped = bytearray(data)
        flipped[pos] ^= 0x55
        variants.append(bytes(flipped))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; not what is tested
        for variant in variants:
            try:  # a flipped size field can claim megapixels: keep the limit small
                loaded = read_image(variant, max_pixels=10_000)
            except ImageError as exc:
                assert str(exc).startswith("<bytes>: ") and "\n" not in str(exc)
            else:
                assert loaded.rgb.shape[2] == 3 and np.isfinite(loaded.rgb).all()


def test_image_error_pickles_for_worker_processes():
    for err in (ImageError("a.png", "no such file"), OutputExistsError("b.png")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
    assert str(OutputExistsError("b.png")) == "b.png: already exists (use --overwrite)"
    assert issubclass(OutputExistsError, ImageError)


# --------------------------------------------------------------------------------------------
# Writing: atomicity and errors


def test_unknown_extension(tmp_path):
    path = tmp_path / "out.xyz"
    with pytest.raises(ImageError) as excinfo:
        write_image(path, np.zeros((2, 2, 3), np.float32))
    assert_image_error(excinfo, path, "unsupported output extension '.xyz'")
    for ext in SUPPORTED_OUTPUT_EXTENSIONS:
        assert ext in str(excinfo.value)
    assert not path.exists()


def test_refuses_to_overwrite_and_keeps_the_original(tmp_path):
    path = tmp_path / "keep.png"
    write_image(path, random_u8(seed=1))
    before = path.read_bytes()
    with pytest.raises(OutputExistsError) as excinfo:
        write_image(path, random_u8(seed=2))
    assert str(excinfo.value) == f"{path}: already exists (use --overwrite)"
    assert isinstance(excinfo.value, ImageError)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]
    write_image(path, random_u8(seed=2), overwrite=True)
    assert np.array_equal(u8(read_image(path).rgb), random_u8(seed=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_target_appearing_during_the_write_is_not_clobbered(tmp_path, monkeypatch):
    path = tmp_path / "race.png"
    real_encode = cio._encode

    def encode_then_someone_writes(f, *args):
        real_encode(f, *args)
        path.write_bytes(b"someone else's file")

    monkeypatch.setattr(cio, "_encode", encode_then_someone_writes)
    with pytest.raises(OutputExistsError):
        write_image(path, random_u8())
    assert path.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.png"]


def test_no_temp_files_left_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "c.tif"
    write_image(target, random_u8(), bit_depth=16)
    write_image(target, random_u8(), overwrite=True)
    assert [p.name for p in target.parent.iterdir()] == ["c.tif"]


def test_temp_file_removed_when_encoding_fails(tmp_path, monkeypatch):
    seen = []

    def failing_encode(f, *args):
        seen.extend(tmp_path.iterdir())
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cio, "_encode", failing_encode)
    path = tmp_path / "full.png"
    with pytest.raises(ImageError) as excinfo:
        write_image(path, random_u8())
    assert_image_error(excinfo, path, "cannot write file (No space left on device)")
    assert seen and seen[0].parent == tmp_path
    assert seen[0].name.startswith(".full.png.") and seen[0].name.endswith(".tmp")
    assert list(tmp_path.iterdir()) == []


def test_temp_file_removed_on_keyboard_interrupt(tmp_path, monkeypatch):
    def interrupted(f, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cio, "_encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "x.png", random_u8())
    assert list(tmp_path.iterdir()) == []


def test_encoder_refusal_is_an_image_error(tmp_path):
    path = tmp_path / "huge.webp"  # WebP cannot hold an image wider than 16383 pixels
    with pytest.raises(ImageError) as excinfo:
        write_image(path, np.zeros((1, 17000, 3), np.uint8))
    assert_image_error(excinfo, path, "cannot encode as WEBP")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory_simulated(tmp_path, monkeypatch):
    real_open = os.open

    def deny_temp(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", deny_temp)
    path = tmp_path / "out.png"
    with pytest.raises(ImageError) as excinfo:
        write_image(path, random_u8())
    assert_image_error(excinfo, path, f"cannot write to directory {tmp_path}: permission denied")


@pytest.mark.skipif(IS_ROOT or os.name == "nt", reason="root ignores directory permissions")
def test_unwritable_directory_real(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ImageError) as excinfo:
            write_image(locked / "out.png", random_u8())
        assert_image_error(excinfo, locked / "out.png", "permission denied")
        with pytest.raises(ImageError) as excinfo:
            write_image(locked / "sub" / "out.png", random_u8())
        assert_image_error(excinfo, locked / "sub" / "out.png", "permission denied")
    finally:
        locked.chmod(0o755)


def test_parent_is_a_file_and_target_is_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "out.png"
    with pytest.raises(ImageError) as excinfo:
        write_image(path, random_u8())
    assert_image_error(excinfo, path, "cannot create directory")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(ImageError) as excinfo:
        write_image(folder, random_u8(), overwrite=True)
    assert_image_error(excinfo, folder, "is a directory")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_written_file_has_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    out = write_image(tmp_path / "a.png", random_u8())
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask)
    out.chmod(0o600)
    write_image(out, random_u8(), overwrite=True)
    assert (out.stat().st_mode & 0o777) == 0o600


# --------------------------------------------------------------------------------------------
# Paths and module hygiene


def test_is_image_path_and_extensions():
    assert {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"} <= SUPPORTED_INPUT_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in SUPPORTED_INPUT_EXTENSIONS)
    assert is_image_path("photos/a.JPG")
    assert is_image_path(Path("b.tiff"))
    assert not is_image_path("notes.txt")
    assert not is_image_path("no_extension")
    assert not is_image_path("._a.jpg")  # macOS resource-fork companion
    assert not is_image_path(".a.png.1234abcd.tmp")


def test_default_output_path():
    assert default_output_path("photo.jpg") == Path("photo_colorized.jpg")
    assert default_output_path(Path("dir/scan.TIF")) == Path("dir/scan_colorized.TIF")
    assert default_output_path("a/b.png", suffix="_c") == Path("a/b_c.png")
    assert default_output_path("anim.gif") == Path("anim_colorized.png")  # GIF is not written


def test_module_imports_without_torch():
    code = "import sys, colorize.io; sys.exit(1 if 'torch' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
