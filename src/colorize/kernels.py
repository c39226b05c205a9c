"""The pipeline's full-resolution step as one fused pass: guided chroma + gamut-safe join -> uint8 RGB.

At 12 megapixels the model is cheap (it runs at 256 px); the cost is everything done once per
output pixel. In torch that is a dozen whole-image float passes (coefficient upsampling, chroma,
YUV -> RGB, gamut check, rounding), about 0.3 s here. ``_kernels.c`` does them in one pass per
pixel and writes the uint8 image the encoder needs, several times faster. It is compiled by
``setup.py`` when a C compiler is present and loaded with ctypes (which releases the GIL, so row
bands run in parallel threads). Without it the same result comes from numpy, strip by strip
(:func:`guided_join_u8_numpy`; slower at full resolution, no PyTorch needed). The torch version
(:func:`guided_join_u8_torch`) is kept as the reference the tests hold both to.

>>> import numpy as np
>>> y = np.full((6, 8), 0.5, np.float32)
>>> rgb = guided_join_u8(y, np.full((1, 1, 3, 4), 0.5, np.float32), np.zeros((1, 2, 3, 4), np.float32))
>>> rgb.shape, rgb.dtype, int(rgb[0, 0, 0])
((6, 8, 3), dtype('uint8'), 128)
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .imaging import _YUV_TO_RGB, combine_yuv_gamut_safe, guided_coefficient_strips, guided_filter_coefficients, to_numpy
from .runtime import cpu_threads

__all__ = ["fast_kernel_available", "geodesic_dijkstra", "guided_join_u8", "guided_join_u8_numpy", "guided_join_u8_torch"]

_FLOAT_P = ctypes.POINTER(ctypes.c_float)
_U8_P = ctypes.POINTER(ctypes.c_uint8)
_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    """The compiled ``_kernels`` shared library next to this file, or None (set COLORIZE_NO_C=1 to refuse it)."""
    if os.environ.get("COLORIZE_NO_C") == "1":
        return None
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_kernels{suffix}"
        if path.is_file():
            try:
                lib = ctypes.CDLL(str(path))
                fn, dijkstra = lib.colorize_join_px, lib.colorize_geodesic
            except (OSError, AttributeError):  # unloadable, or a stale build from before these two
                return None
            fn.argtypes = [_FLOAT_P, ctypes.c_int, ctypes.c_int, ctypes.c_long, _FLOAT_P, ctypes.c_int, ctypes.c_int,
                           _FLOAT_P, _U8_P, ctypes.c_long, ctypes.c_int, ctypes.c_int, ctypes.c_int]
            fn.restype = ctypes.c_int
            dijkstra.argtypes = [_DOUBLE_P, _DOUBLE_P, _DOUBLE_P, _DOUBLE_P, ctypes.c_int, ctypes.c_int, _U8_P,
                                 ctypes.c_double, _DOUBLE_P]
            dijkstra.restype = ctypes.c_int
            return lib
    return None


def fast_kernel_available() -> bool:
    """Whether the compiled kernel is in use (``colorize models --json`` and the benchmarks report it)."""
    return _library() is not None


def _coefficients(y_low: np.ndarray, uv_low: np.ndarray, radius: int, eps: float) -> np.ndarray:
    a, b = guided_filter_coefficients(y_low, uv_low, radius, eps)
    return np.ascontiguousarray(np.concatenate([a, b], axis=1)[0], dtype=np.float32)  # (4, h, w)


def _output(H: int, W: int, rgbx: bool) -> np.ndarray:
    """The join's output buffer: H x W x 3, or H x W x 4 with the fourth byte 255 (RGBX)."""
    if not rgbx:
        return np.empty((H, W, 3), np.uint8)
    out = np.empty((H, W, 4), np.uint8)
    out[:, :, 3] = 255
    return out


def guided_join_u8_numpy(y: np.ndarray, y_low: Any, uv_low: Any, radius: int = 2, eps: float = 1e-3, *,
                         rgbx: bool = False) -> np.ndarray:
    """The fallback without the compiled kernel, in numpy (strips keep memory small); same contract as
    :func:`guided_join_u8`."""
    y = np.asarray(y, dtype=np.float32)
    y_low, _ = to_numpy(y_low)
    uv_low, _ = to_numpy(uv_low)
    H, W = y.shape
    out = _output(H, W, rgbx)
    for rows, a, b in guided_coefficient_strips(y_low, uv_low, (H, W), radius=radius, eps=eps):
        ys = y[None, None, rows]
        rgb = combine_yuv_gamut_safe(ys, b + a * ys)[0].transpose(1, 2, 0)
        rgb *= 255
        rgb += 0.5
        out[rows, :, :3] = rgb.astype(np.uint8)
    return out


def guided_join_u8_torch(y: np.ndarray, y_low: Any, uv_low: Any, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Reference implementation in torch (needs PyTorch; tests compare the kernel and the numpy path with it)."""
    import torch

    from .color import combine_yuv_gamut_safe as combine_torch
    from .filters import guided_coefficient_strips as strips_torch

    y_low = torch.as_tensor(to_numpy(y_low)[0])
    uv_low = torch.as_tensor(to_numpy(uv_low)[0])
    H, W = y.shape
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None, None]
    out = np.empty((H, W, 3), np.uint8)
    for rows, a, b in strips_torch(y_low.float(), uv_low.float(), (H, W), radius=radius, eps=eps):
        ys = yt[:, :, rows]
        rgb = combine_torch(ys, torch.addcmul(b, a, ys))[0].permute(1, 2, 0)
        out[rows] = rgb.mul_(255).add_(0.5).to(torch.uint8).numpy()
    return out


def guided_join_u8(y: np.ndarray, y_low: Any, uv_low: Any, radius: int = 2, eps: float = 1e-3,
                   threads: int | None = None, *, rgbx: bool = False) -> np.ndarray:
    """Full-resolution sRGB uint8 (H, W, 3) from luma ``y`` (H, W float32 in [0, 1]) and chroma
    ``uv_low`` (1, 2, h, w, YUV units) predicted for ``y_low`` (1, 1, h, w), upsampled by a guided
    filter so colour edges follow ``y``; the output's BT.601 luma is ``y`` (gamut-safe join).
    ``y_low`` and ``uv_low`` are float32 arrays (torch tensors are accepted and copied to the CPU).

    ``rgbx=True`` gives (H, W, 4) with a fourth byte of 255: Pillow's own pixel layout, which
    :func:`colorize.io.write_image` hands to the JPEG encoder without a copy (an H x W x 3 array
    costs ~40 ms at 12 MP to repack)."""
    lib = _library()
    if lib is None:
        return guided_join_u8_numpy(y, y_low, uv_low, radius, eps, rgbx=rgbx)
    y = np.asarray(y, dtype=np.float32)
    if y.strides[1] != 4:
        y = np.ascontiguousarray(y)
    H, W = y.shape
    coef = _coefficients(to_numpy(y_low)[0], to_numpy(uv_low)[0], radius, eps)
    h, w = coef.shape[1:]
    m = np.ascontiguousarray(_YUV_TO_RGB[:, 1:], dtype=np.float32)
    out = np.empty((H, W, 4 if rgbx else 3), np.uint8)
    args = (y.ctypes.data_as(_FLOAT_P), H, W, y.strides[0] // 4, coef.ctypes.data_as(_FLOAT_P), h, w,
            m.ctypes.data_as(_FLOAT_P), out.ctypes.data_as(_U8_P), out.strides[0], out.shape[2])
    n = max(1, min(threads or cpu_threads(), H // 64 or 1))
    bands = [(H * i // n, H * (i + 1) // n) for i in range(n)]
    if n == 1:
        status = [lib.colorize_join_px(*args, 0, H)]
    else:
        with ThreadPoolExecutor(n) as pool:
            status = list(pool.map(lambda band: lib.colorize_join_px(*args, *band), bands))
    if any(status):
        raise MemoryError("not enough memory for the colour join")
    return out


def geodesic_dijkstra(costs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], seeds: np.ndarray,
                      limit: float = float("inf")) -> np.ndarray | None:
    """Multi-source shortest-path distances on the 8-connected grid, in C (Dijkstra); None without the
    compiled kernel. ``costs`` and the result follow :func:`colorize.gridgraph.geodesic_distance`,
    which calls this first and falls back to its numpy row sweeps."""
    lib = _library()
    if lib is None:
        return None
    seeds = np.ascontiguousarray(seeds, dtype=np.uint8)
    h, w = seeds.shape
    right, down, down_right, down_left = (np.ascontiguousarray(a, dtype=np.float64) for a in costs)
    expected = ((h, w - 1), (h - 1, w), (h - 1, w - 1), (h - 1, w - 1))
    if tuple(a.shape for a in (right, down, down_right, down_left)) != expected:
        raise ValueError(f"edge costs of shapes {expected} expected for a {h}x{w} grid")
    out = np.empty((h, w), np.float64)
    status = lib.colorize_geodesic(*(a.ctypes.data_as(_DOUBLE_P) for a in (right, down, down_right, down_left)), h, w,
                                   seeds.ctypes.data_as(_U8_P), float(limit), out.ctypes.data_as(_DOUBLE_P))
    if status:
        raise MemoryError("not enough memory for the geodesic distance")
    return out
