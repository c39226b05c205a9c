"""What the model sees: the gray level of any image, the render size it is shrunk to, and the
model's luminance for it. Photos, batches, hints, references, films and training all go through
here, so they predict the same chroma for the same picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageArrayError
from .imaging import BT601, lab_f, like, resize_bilinear, srgb_to_linear, to_numpy

if TYPE_CHECKING:
    from torch import Tensor

DEFAULT_RENDER_SIZE = 256
"""Long side (pixels) the model predicts at; chroma is upsampled to full size afterwards."""
MULTIPLE = 16
"""The models' total stride: render sizes are rounded to multiples of it."""


def render_shape(height: int, width: int, render_size: int) -> tuple[int, int]:
    """(h, w) with the long side ``render_size``, both multiples of 16 (the models' total stride).

    >>> render_shape(3000, 4000, 256)
    (192, 256)
    """
    if height <= 0 or width <= 0:
        raise ImageArrayError(f"empty image ({height}x{width} pixels)")
    scale = render_size / max(height, width)
    rh = max(MULTIPLE, int(round(height * scale / MULTIPLE)) * MULTIPLE)
    rw = max(MULTIPLE, int(round(width * scale / MULTIPLE)) * MULTIPLE)
    return rh, rw


def render_input(y: Any, render_size: int) -> Any:
    """Full-resolution gray (N,1,H,W) -> what the model sees: antialiased to :func:`render_shape`.

    Every path (photos, batches, hints, video) shrinks through here, so they all predict the same
    chroma for the same frame. Numpy in, numpy out (a torch tensor in gives a tensor back); the
    shrink is Pillow's antialiased bilinear, the same filter as torch's ``antialias=True``.
    """
    rh, rw = render_shape(y.shape[-2], y.shape[-1], render_size)
    arr, tensor = to_numpy(y)
    return like(np.clip(resize_bilinear(arr, (rh, rw)), 0, 1), tensor)


def model_luma(y: Any, space: str) -> Any:
    """BT.601 gray level (N,1,h,w) in [0,1] -> the model's normalised luminance for a gray pixel.

    For ``"lab"`` models this is L*/100 of the gray sRGB colour (what ``ChromaSpace.split`` gives the
    training side for a gray image); ``"yuv"`` models see ``y`` itself.

    >>> round(model_luma(np.full((1, 1, 1, 1), 0.5, np.float32), "lab").item(), 4)
    0.5339
    """
    if space != "lab":
        return y
    arr, tensor = to_numpy(y)
    return like((116 * lab_f(srgb_to_linear(arr)) - 16) / 100, tensor)


def gray_of(image: np.ndarray) -> np.ndarray:
    """BT.601 luma (HxW float32 in [0,1]) of a gray (HxW) or RGB (HxWx3/4) array.

    The dtype says the scale: uint16 is 0..65535; every other integer type is 8-bit levels 0..255
    (an int64 array of 0..255 values is common after numpy arithmetic; values outside are refused
    rather than coming out white); float is 0..1. Empty arrays, bool and NaN/infinite values are
    refused with an :class:`ImageArrayError`.
    """
    arr = np.asarray(image)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ImageArrayError(f"expected an HxW or HxWx3 image, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageArrayError(f"empty image (shape {arr.shape})")
    floating = False
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535
    elif arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ImageArrayError(f"unsupported image dtype {arr.dtype} (use uint8, uint16, or float in [0, 1])")
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ImageArrayError(f"{arr.dtype} image values must be 8-bit levels 0..255, got {lo}..{hi} "
                                  "(use uint16 for 16-bit, or float in [0, 1])")
        arr = arr.astype(np.float32) / 255
    else:
        arr = arr.astype(np.float32, copy=False)
        floating = True
    wr, wg, wb = BT601
    gray = arr if arr.ndim == 2 else arr[..., 0] * wr + arr[..., 1] * wg + arr[..., 2] * wb
    if floating and not np.isfinite(gray).all():
        raise ImageArrayError("image contains NaN or infinite values")
    return gray


def as_tensor(gray: np.ndarray) -> Tensor:
    """A float32 tensor sharing ``gray``'s memory, also for read-only arrays (a gray photo's
    plane is a read-only view; the pipeline only ever reads it, so no copy is needed). For the
    callers that work in torch (films, references); the photo path stays in numpy."""
    import warnings

    import torch

    arr = np.ascontiguousarray(gray, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


__all__ = ["DEFAULT_RENDER_SIZE", "as_tensor", "gray_of", "model_luma", "render_input", "render_shape"]
