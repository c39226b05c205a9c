"""The inference pipeline: any size in, same size out, luminance untouched.

::

    from colorize import Colorizer
    colorizer = Colorizer.from_pretrained("default")      # bundled weights, no network
    colour = colorizer(Image.open("old_photo.jpg"))        # PIL in, PIL out (numpy in, numpy out)

Steps (:meth:`Colorizer.colorize_array`):

1. take the input's BT.601 luma ``Y`` (a colour photo is re-colorized from its luminance);
2. resize it to the render size (long side, default :data:`DEFAULT_RENDER_SIZE`), convert it to the
   model's luminance and predict chroma there;
3. turn the prediction into YUV chroma, scale it by ``saturation``;
4. upsample the chroma to full resolution with the fast guided filter, so colour edges follow the
   full-resolution luminance edges;
5. join it with the **original** ``Y``, scaling chroma down where it would leave sRGB, so the output
   desaturates back to exactly the input.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .color import AB_MAX, U_MAX, V_MAX, combine_yuv_gamut_safe, lab_to_rgb, rgb_to_yuv, srgb_to_linear
from .filters import guided_coefficient_strips
from .io import MAX_RENDER_SIZE, OPTION_RULES, OptionError, check_option  # noqa: F401 (re-exported)
from .kernels import guided_join_u8
from .models import ColorModel
from .models.backbones import WeightsError

DEFAULT_RENDER_SIZE = 256
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
_MULTIPLE = 16


@dataclass
class ColorizeOptions:
    """The knobs of one call. ``temperature`` only matters for distribution-head models.

    Every value is checked when the options are made (also by ``dataclasses.replace``), so a bad
    value fails at once with an :class:`OptionError` naming it, before any work.
    """

    render_size: int = DEFAULT_RENDER_SIZE
    saturation: float = 1.0
    temperature: float = 0.38
    guided_radius: int = 2
    guided_eps: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("render_size", "saturation", "temperature", "guided_radius", "guided_eps"):
            setattr(self, name, check_option(name, getattr(self, name)))


class ImageArrayError(ValueError):
    """An array given to the Python API is not an image the pipeline can use (empty, NaN, wrong range)."""


def render_shape(height: int, width: int, render_size: int) -> tuple[int, int]:
    """(h, w) with the long side ``render_size``, both multiples of 16 (the models' total stride).

    >>> render_shape(3000, 4000, 256)
    (192, 256)
    """
    if height <= 0 or width <= 0:
        raise ImageArrayError(f"empty image ({height}x{width} pixels)")
    scale = render_size / max(height, width)
    rh = max(_MULTIPLE, int(round(height * scale / _MULTIPLE)) * _MULTIPLE)
    rw = max(_MULTIPLE, int(round(width * scale / _MULTIPLE)) * _MULTIPLE)
    return rh, rw


def render_input(y: Tensor, render_size: int) -> Tensor:
    """Full-resolution gray (N,1,H,W) -> what the model sees: antialiased to :func:`render_shape`.

    Every path (photos, batches, hints, video) shrinks through here, so they all predict the same
    chroma for the same frame.
    """
    rh, rw = render_shape(y.shape[-2], y.shape[-1], render_size)
    return F.interpolate(y, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def pick_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU")
    return d


def resolve_weights(name_or_path: str | os.PathLike[str]) -> Path:
    """``"default"`` or another bundled name -> its JSON in the package; otherwise a path."""
    p = Path(name_or_path)
    if p.suffix in (".json", ".safetensors") or p.is_dir() or p.exists() or p.with_suffix(".json").exists():
        return p
    bundled = PRETRAINED_DIR / f"{name_or_path}.json"
    if bundled.is_file():
        return bundled
    available = sorted(x.stem for x in PRETRAINED_DIR.glob("*.json"))
    raise WeightsError(f"{name_or_path}: no such weights file or bundled model (bundled: {', '.join(available) or 'none'})")


def bundled_models() -> list[dict[str, Any]]:
    """The JSON of every bundled weights file (for ``colorize models``)."""
    from .models.weights import read_model_info

    out = []
    for p in sorted(PRETRAINED_DIR.glob("*.json")):
        info = read_model_info(p)
        info["name"] = p.stem
        out.append(info)
    return out


def inference_defaults(info: dict[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``inference`` settings of a weights JSON, checked like the user's options.

    A bad value is a broken weights file: :class:`WeightsError` naming the file and the key.
    """
    from .models.weights import weights_paths

    json_path = weights_paths(path)[1]
    section = info.get("inference") or {}
    if not isinstance(section, dict):
        raise WeightsError(f"{json_path}: 'inference' must be an object of option values")
    known = set(ColorizeOptions.__dataclass_fields__)
    out = {}
    for k, v in section.items():
        if k in known:
            try:
                out[k] = check_option(k, v)
            except OptionError as exc:
                raise WeightsError(f"{json_path}: inference.{k} = {exc._shown()}: {exc.rule}") from None
    return out


class Colorizer:
    """A model plus everything around it: colour spaces, resizing, guided upsampling, recombination."""

    def __init__(self, model: ColorModel, *, device: str | torch.device = "auto", info: dict[str, Any] | None = None,
                 options: ColorizeOptions | None = None, backend: str = "torch",
                 weights_path: str | os.PathLike[str] | None = None) -> None:
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.info = info or {}
        self.options = options or ColorizeOptions()
        self.use_bf16 = self.device.type == "cpu" and _cpu_has_fast_bf16()
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        # backend: "torch", "onnxruntime" (exported network, cached by weights hash) or "auto" (colorize.onnx_backend)
        self._onnx = None
        self.backend = "torch"
        if backend != "torch":
            from .onnx_backend import resolve_backend, runner_for_model

            if resolve_backend(backend, self.device) == "onnxruntime":
                self._onnx = runner_for_model(self.model, weights_path, required=backend == "onnxruntime")
                self.backend = "onnxruntime" if self._onnx is not None else "torch"

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = "default", *, device: str = "auto", backend: str = "torch",
                        **options: Any) -> "Colorizer":
        """Load bundled weights by name (``"default"``) or a ``.json``/``.safetensors`` path; never downloads.

        ``backend``: ``"torch"``, ``"onnxruntime"`` or ``"auto"`` (see :mod:`colorize.onnx_backend`).
        """
        from .models.weights import load_model

        path = resolve_weights(name_or_path)
        model, info = load_model(path, device="cpu")
        # The weights' JSON may carry the settings its evaluation chose (e.g. temperature); call options win.
        defaults = inference_defaults(info, path)
        options = {**defaults, **{k: v for k, v in options.items() if v is not None}}
        return cls(model, device=device, info=info, options=ColorizeOptions(**options), backend=backend, weights_path=path)

    @property
    def space(self) -> str:
        return self.model.config.space

    # ------------------------------------------------------------------ model side (render size)

    def model_luma(self, y: Tensor) -> Tensor:
        """BT.601 gray level (N,1,h,w) in [0,1] -> the model's normalised luminance for a gray pixel."""
        if self.space == "lab":
            lin = srgb_to_linear(y)
            f = torch.where(lin > 216 / 24389, lin.clamp(min=1e-12) ** (1 / 3), (24389 / 27 * lin + 16) / 116)
            return (116 * f - 16) / 100
        return y

    def predict_uv(self, y_low: Tensor, options: ColorizeOptions, hint_map: Tensor | None = None) -> Tensor:
        """Predict chroma for render-size gray ``y_low`` (N,1,h,w); returns YUV ``uv`` (N,2,h,w)."""
        luma = self.model_luma(y_low)
        x = luma
        if self.model.config.hints:
            x = torch.cat([luma, hint_map if hint_map is not None else torch.zeros_like(luma).expand(-1, 3, -1, -1)], dim=1)
        x = x.to(self.device).contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else x.to(self.device)
        if self._onnx is not None:  # onnxruntime backend: same contract, fp32
            chroma = self._onnx.predict_chroma(x, temperature=options.temperature)
        else:
            with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16 or self.device.type == "cuda"):
                chroma = self.model.predict_chroma(x, temperature=options.temperature)
        chroma = chroma.float()
        if chroma.shape[-2:] != luma.shape[-2:]:
            chroma = F.interpolate(chroma, size=luma.shape[-2:], mode="bilinear", align_corners=False)
        return self.chroma_to_uv(luma.to(chroma.device), chroma)

    def chroma_to_uv(self, luma: Tensor, chroma: Tensor) -> Tensor:
        """The model's normalised (luma, chroma) -> YUV chroma in YUV units."""
        if self.space == "lab":
            lab = torch.cat([luma * 100, chroma * AB_MAX], dim=1)
            return rgb_to_yuv(lab_to_rgb(lab, clip=True))[:, 1:]
        scale = torch.tensor([U_MAX, V_MAX], device=chroma.device).view(1, 2, 1, 1)
        return chroma * scale

    # ------------------------------------------------------------------ full resolution

    def colorize_gray(self, y: Tensor, options: ColorizeOptions | None = None, *, uv_low: Tensor | None = None,
                      hint_map: Tensor | None = None, y_low: Tensor | None = None) -> Tensor:
        """Colorize gray levels ``y`` (N,1,H,W) in [0,1]; returns float sRGB (N,3,H,W). All images share a size.

        ``y_low`` is ``render_input(y, render_size)`` when the caller has it already (no second shrink).
        """
        o = options or self.options
        y = y.float().cpu()
        if y_low is None:
            y_low = render_input(y, o.render_size)
        if uv_low is None:
            uv_low = self.predict_uv(y_low, o, hint_map).cpu()
        uv_low = uv_low * o.saturation
        # Full resolution, strip by strip: guided chroma, then the gamut-safe join with the original y.
        # The result is laid out (N, H, W, 3) so that out[i].permute(1, 2, 0) is a contiguous HxWx3 image.
        n, _, H, W = y.shape
        out = torch.empty(n, H, W, 3)
        for rows, a, b in guided_coefficient_strips(y_low, uv_low, (H, W), radius=o.guided_radius, eps=o.guided_eps):
            ys = y[:, :, rows]
            out[:, rows] = combine_yuv_gamut_safe(ys, torch.addcmul(b, a, ys)).permute(0, 2, 3, 1)
        return out.permute(0, 3, 1, 2)

    def colorize_gray_u8(self, y: np.ndarray, options: ColorizeOptions | None = None, *, uv_low: Tensor | None = None,
                         hint_map: Tensor | None = None, y_low: Tensor | None = None) -> np.ndarray:
        """Colorize one gray image ``y`` (HxW float32 in [0,1]) straight to 8-bit sRGB (HxWx3 uint8).

        The path for 8-bit outputs: the full-resolution work is one fused pass
        (:func:`colorize.kernels.guided_join_u8`), with no float RGB image in between.
        """
        o = options or self.options
        y = np.asarray(y, dtype=np.float32)
        if y_low is None:
            y_low = render_input(_as_tensor(y)[None, None], o.render_size)
        if uv_low is None:
            uv_low = self.predict_uv(y_low, o, hint_map).cpu()
        return guided_join_u8(y, y_low, uv_low * o.saturation, radius=o.guided_radius, eps=o.guided_eps)

    def colorize_array(self, rgb: np.ndarray, options: ColorizeOptions | None = None, *, hints: Any = None,
                       hint_method: str | None = None, reference: Any = None, reference_strength: float | None = None,
                       uint8: bool = False, **overrides: Any) -> np.ndarray:
        """HxW or HxWx3 float [0,1] (or uint8) -> HxWx3 float32 sRGB with the same luma (uint8 if ``uint8``).

        ``hints`` / ``reference`` guide the colours (see :mod:`colorize.hints`, :mod:`colorize.reference`).
        """
        o = _merge(options or self.options, overrides)
        y = gray_of(rgb)
        if uint8 and hints is None and reference is None:
            return self.colorize_gray_u8(y, o)
        if hints is not None or reference is not None:
            from .hints import colorize_guided

            out = colorize_guided(self, _as_tensor(y)[None, None], o, hints=hints, hint_method=hint_method,
                                  reference=reference, reference_strength=reference_strength)
            rgb = out[0].permute(1, 2, 0).numpy()
            return _float_to_u8(rgb) if uint8 else rgb
        out = self.colorize_gray(_as_tensor(y)[None, None], o)
        return out[0].permute(1, 2, 0).numpy()

    def __call__(self, image: Any, **overrides: Any) -> Any:
        """Colorize a PIL image, a numpy array, or a path (-> PIL). Same size out; alpha kept.

        Keyword overrides: ``render_size``, ``saturation``, ``temperature``. Guidance (issue #6):
        ``hints=[(x, y, "red"), ...]`` (or a :class:`~colorize.hints.Hints`, a hints-image path),
        ``hint_method="model" | "propagate" | "both"``, ``reference=`` a colour photo (PIL, array or
        path) and ``reference_strength=`` 0-1.
        """
        from PIL import Image

        if isinstance(image, (str, os.PathLike)):
            from .io import read_image

            loaded = read_image(image)
            return _to_pil(self.colorize_array(loaded.gray, uint8=True, **overrides), loaded.alpha)
        if isinstance(image, Image.Image):
            from .io import load_image_from_pil

            loaded = load_image_from_pil(image)
            return _to_pil(self.colorize_array(loaded.gray, uint8=True, **overrides), loaded.alpha)
        arr = np.asarray(image)
        return self.colorize_array(arr, uint8=arr.dtype == np.uint8, **overrides)

    def colorize_batch(self, grays: Sequence[np.ndarray], options: ColorizeOptions | None = None, batch_size: int = 8,
                       *, uint8: bool = False) -> list[np.ndarray]:
        """Colorize many gray images (HxW float [0,1]); images with equal render shapes share a forward pass.

        Returns HxWx3 float32 sRGB, or uint8 with ``uint8=True`` (faster: the fused 8-bit path)."""
        o = options or self.options
        batch_size = check_option("batch_size", batch_size)
        results: list[np.ndarray | None] = [None] * len(grays)
        groups: dict[tuple[int, int], list[int]] = {}
        lows: dict[int, Tensor] = {}
        for i, g in enumerate(grays):
            lows[i] = render_input(_as_tensor(g)[None, None], o.render_size)
            groups.setdefault(tuple(lows[i].shape[-2:]), []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                uv = self.predict_uv(torch.cat([lows[i] for i in chunk]), o).cpu()
                for j, i in enumerate(chunk):
                    known = {"uv_low": uv[j : j + 1], "y_low": lows[i]}
                    if uint8:
                        results[i] = self.colorize_gray_u8(grays[i], o, **known)
                    else:
                        results[i] = self.colorize_gray(_as_tensor(grays[i])[None, None], o, **known)[0].permute(1, 2, 0).numpy()
        return [r for r in results if r is not None]


def _merge(options: ColorizeOptions, overrides: dict[str, Any]) -> ColorizeOptions:
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not overrides:
        return options
    import dataclasses

    return dataclasses.replace(options, **overrides)


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
    gray = arr if arr.ndim == 2 else arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    if floating and not np.isfinite(gray).all():
        raise ImageArrayError("image contains NaN or infinite values")
    return gray


def _as_tensor(gray: np.ndarray) -> Tensor:
    """A float32 tensor sharing ``gray``'s memory, also for read-only arrays (a gray photo's
    plane is a read-only view; the pipeline only ever reads it, so no copy is needed)."""
    import warnings

    arr = np.ascontiguousarray(gray, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


def _float_to_u8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _to_pil(rgb: np.ndarray, alpha: np.ndarray | None):
    from PIL import Image

    u8 = rgb if rgb.dtype == np.uint8 else _float_to_u8(rgb)
    if alpha is not None:
        a = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
        return Image.fromarray(np.dstack([u8, a]), "RGBA")
    return Image.fromarray(u8, "RGB")


def _cpu_has_fast_bf16() -> bool:
    """bf16 autocast only pays off on CPUs with native bf16 dot products (AVX512-BF16 or AMX)."""
    if os.environ.get("COLORIZE_BF16") in ("0", "1"):
        return os.environ["COLORIZE_BF16"] == "1"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False
