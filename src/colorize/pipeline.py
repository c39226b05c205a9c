"""The inference pipeline: any size in, same size out, luminance untouched.

::

    from colorize import Colorizer
    colorizer = Colorizer.from_pretrained("default")      # bundled weights, no network
    colour = colorizer(Image.open("old_photo.jpg"))        # PIL in, PIL out (numpy in, numpy out)

Steps (:meth:`Colorizer.colorize_array`):

1. take the input's BT.601 luma ``Y`` (a colour photo is re-colorized from its luminance);
2. resize it to the render size (long side, default :data:`~colorize.render.DEFAULT_RENDER_SIZE`), convert it to the
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
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .backends import ChromaPredictor, OnnxPredictor, TorchPredictor, resolve_backend
from .color import AB_MAX, U_MAX, V_MAX, combine_yuv_gamut_safe, lab_to_rgb, rgb_to_yuv
from .errors import WeightsError  # noqa: F401 (re-exported: the error from_pretrained raises)
from .filters import guided_coefficient_strips
from .io import check_option
from .kernels import guided_join_u8
from .models import ColorModel
from .options import ColorizeOptions, inference_defaults, merge_options
from .render import as_tensor, gray_of, model_luma, render_input

if TYPE_CHECKING:
    from PIL import Image


def build_predictor(model: ColorModel, *, device: str | torch.device = "auto", backend: str = "torch",
                    weights_path: str | os.PathLike[str] | None = None) -> ChromaPredictor:
    """The predictor ``backend`` asks for: ``"torch"``, ``"onnxruntime"`` (the network exported to the
    cache, keyed by the weights' hash) or ``"auto"`` (:func:`colorize.backends.resolve_backend`).

    With ``"auto"`` a failed export warns and falls back to PyTorch; an explicit ``"onnxruntime"`` raises.
    """
    torch_predictor = TorchPredictor(model, device)
    if backend == "torch" or resolve_backend(backend, torch_predictor.device) != "onnxruntime":
        return torch_predictor
    from .export import cached_onnx_path

    try:
        return OnnxPredictor(cached_onnx_path(model, weights_path))
    except Exception as exc:
        if backend == "onnxruntime":
            raise
        import warnings

        warnings.warn(f"onnxruntime backend unavailable ({exc}); using PyTorch", RuntimeWarning, stacklevel=2)
        return torch_predictor


class Colorizer:
    """A model plus everything around it: colour spaces, resizing, guided upsampling, recombination.

    ``model`` is a :class:`~colorize.models.ColorModel` (run by PyTorch on ``device``) or any
    :class:`~colorize.backends.ChromaPredictor`; ``model_config`` is the network's config when the
    predictor is not a torch model (for the colour space and hints).
    """

    def __init__(self, model: ColorModel | ChromaPredictor, *, device: str | torch.device = "auto",
                 info: dict[str, Any] | None = None, options: ColorizeOptions | None = None,
                 torch_model: ColorModel | None = None) -> None:
        self.predictor: ChromaPredictor = TorchPredictor(model, device) if isinstance(model, ColorModel) else model
        # The torch model stays at hand for what only it can do (config, encoder features for references).
        self.model: ColorModel = model if isinstance(model, ColorModel) else torch_model  # type: ignore[assignment]
        if isinstance(self.predictor, TorchPredictor):
            self.model = self.predictor.model
        if self.model is None:
            raise TypeError("Colorizer(predictor) needs torch_model= for the model's config")
        self.device = self.predictor.device
        self.info = info or {}
        self.options = options or ColorizeOptions()

    @property
    def backend(self) -> str:
        """``"torch"`` or ``"onnxruntime"``: which runtime runs the network."""
        return self.predictor.name

    @property
    def use_bf16(self) -> bool:
        return bool(getattr(self.predictor, "use_bf16", False))

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = "default", *, device: str = "auto", backend: str = "torch",
                        **options: Any) -> Colorizer:
        """Load bundled weights by name (``"default"``) or a ``.json``/``.safetensors`` path; never downloads.

        Options: the defaults, then the weights' ``inference`` section, then ``options`` (see
        :func:`colorize.options.merge_options`). ``backend``: ``"torch"``, ``"onnxruntime"`` or
        ``"auto"`` (see :mod:`colorize.backends`).
        """
        from .models.registry import resolve_weights
        from .models.weights import load_model, weights_paths

        path = resolve_weights(name_or_path)
        model, info = load_model(path, device="cpu")
        merged = merge_options(None, inference_defaults(info, weights_paths(path)[1]), options)
        predictor = build_predictor(model, device=device, backend=backend, weights_path=path)
        return cls(predictor, info=info, options=merged, torch_model=model)

    @property
    def space(self) -> str:
        return self.model.config.space

    # ------------------------------------------------------------------ model side (render size)

    def model_luma(self, y: Tensor) -> Tensor:
        """BT.601 gray level (N,1,h,w) in [0,1] -> the model's normalised luminance (:func:`colorize.render.model_luma`)."""
        return model_luma(y, self.space)

    def predict_uv(self, y_low: Tensor, options: ColorizeOptions, hint_map: Tensor | None = None) -> Tensor:
        """Predict chroma for render-size gray ``y_low`` (N,1,h,w); returns YUV ``uv`` (N,2,h,w)."""
        luma = self.model_luma(y_low)
        x = luma
        if self.predictor.takes_hints:
            x = torch.cat([luma, hint_map if hint_map is not None else torch.zeros_like(luma).expand(-1, 3, -1, -1)], dim=1)
        chroma = self.predictor.predict_chroma(x, temperature=options.temperature).float()
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
            y_low = render_input(as_tensor(y)[None, None], o.render_size)
        if uv_low is None:
            uv_low = self.predict_uv(y_low, o, hint_map).cpu()
        return guided_join_u8(y, y_low, uv_low * o.saturation, radius=o.guided_radius, eps=o.guided_eps)

    def colorize_array(self, rgb: np.ndarray, options: ColorizeOptions | None = None, *, hints: Any = None,
                       hint_method: str | None = None, reference: Any = None, reference_strength: float | None = None,
                       uint8: bool = False, **overrides: Any) -> np.ndarray:
        """HxW or HxWx3 float [0,1] (or uint8) -> HxWx3 float32 sRGB with the same luma (uint8 if ``uint8``).

        ``hints`` / ``reference`` guide the colours (see :mod:`colorize.hints`, :mod:`colorize.reference`).
        """
        o = merge_options(options or self.options, overrides)
        y = gray_of(rgb)
        if uint8 and hints is None and reference is None:
            return self.colorize_gray_u8(y, o)
        if hints is not None or reference is not None:
            from .hints import colorize_guided

            out = colorize_guided(self, as_tensor(y)[None, None], o, hints=hints, hint_method=hint_method,
                                  reference=reference, reference_strength=reference_strength)
            rgb = out[0].permute(1, 2, 0).numpy()
            return _float_to_u8(rgb) if uint8 else rgb
        out = self.colorize_gray(as_tensor(y)[None, None], o)
        return out[0].permute(1, 2, 0).numpy()

    @overload
    def __call__(self, image: Image.Image | str | os.PathLike[str], **overrides: Any) -> Image.Image: ...

    @overload
    def __call__(self, image: np.ndarray, **overrides: Any) -> np.ndarray: ...

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
        groups: dict[tuple[int, ...], list[int]] = {}
        lows: dict[int, Tensor] = {}
        for i, g in enumerate(grays):
            lows[i] = render_input(as_tensor(g)[None, None], o.render_size)
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
                        results[i] = self.colorize_gray(as_tensor(grays[i])[None, None], o, **known)[0].permute(1, 2, 0).numpy()
        return [r for r in results if r is not None]


def _float_to_u8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _to_pil(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    from PIL import Image

    u8 = rgb if rgb.dtype == np.uint8 else _float_to_u8(rgb)
    if alpha is not None:
        a = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
        return Image.fromarray(np.dstack([u8, a]), "RGBA")
    return Image.fromarray(u8, "RGB")


__all__ = ["Colorizer", "ColorizeOptions", "build_predictor"]
