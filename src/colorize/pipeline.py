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

All of it is numpy (:mod:`colorize.imaging`, the C kernel of :mod:`colorize.kernels`); only the
predictor may use PyTorch. The bundled model runs in onnxruntime from its shipped graph, so
``Colorizer.from_pretrained("default")`` works in an install without torch. Arrays are float32
NCHW; the methods also take torch tensors (films and references still hold some) and then give
tensors back.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from .backends import ChromaPredictor, OnnxPredictor, TorchPredictor, require_torch, resolve_backend
from .errors import WeightsError  # noqa: F401 (re-exported: the error from_pretrained raises)
from .imaging import AB_MAX, U_MAX, V_MAX, combine_yuv_gamut_safe, guided_coefficient_strips, lab_to_rgb, like, rgb_to_yuv, to_numpy, upsample_bilinear
from .io import check_option
from .kernels import guided_join_u8
from .options import ColorizeOptions, inference_defaults, merge_options
from .render import gray_of, model_luma, render_input, render_shape

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from .models import ColorModel
    from .suggest import SuggestedColor


def _is_color_model(obj: Any) -> bool:
    """A torch :class:`~colorize.models.ColorModel`? (Without torch imported, nothing can be one.)"""
    if "torch" not in sys.modules:
        return False
    from .models.base import ColorModel

    return isinstance(obj, ColorModel)


class ModelInfo:
    """What the pipeline, hints and the web page ask of a network that runs without PyTorch: its
    ``config`` (``space``, ``head``, ``hints``, ``grid``), ``in_channels``, ``num_parameters()`` and
    ``has_encoder_features`` -- read from the weights' JSON and the predictor.
    ``Colorizer.model`` is one of these when no torch model was loaded."""

    def __init__(self, info: dict[str, Any], predictor: ChromaPredictor) -> None:
        cfg = info.get("config") or {}
        self.config = SimpleNamespace(space=str(cfg.get("space", info.get("space", "lab"))),
                                      head=str(cfg.get("head", info.get("head", "distribution"))),
                                      hints=bool(cfg.get("hints", predictor.takes_hints)),
                                      grid=int(cfg.get("grid", 10)))
        self.in_channels = int(predictor.in_channels)
        self.has_encoder_features = bool(getattr(predictor, "has_encoder_features", False))
        self._parameters = int(info.get("parameters") or 0)

    def num_parameters(self) -> int:
        return self._parameters


def build_predictor(model: ColorModel, *, device: str | torch.device = "auto", backend: str = "torch",
                    weights_path: str | os.PathLike[str] | None = None) -> ChromaPredictor:
    """The predictor ``backend`` asks for from a torch model: ``"torch"``, ``"onnxruntime"`` (the network
    exported to the cache, keyed by the weights' hash) or ``"auto"`` (:func:`colorize.backends.resolve_backend`).

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
        warnings.warn(f"onnxruntime backend unavailable ({exc}); using PyTorch", RuntimeWarning, stacklevel=2)
        return torch_predictor


def load_predictor(path: str | os.PathLike[str], *, device: str = "auto", backend: str = "auto") -> tuple[ChromaPredictor, ColorModel | None]:
    """The predictor for a weights file, and its torch model when one was loaded.

    A ready ONNX graph beside the weights (``NAME.onnx``, exported from exactly this safetensors:
    the bundled models ship one) runs in onnxruntime with no torch import, unless ``backend="torch"``
    or a CUDA device asks for PyTorch. Otherwise the weights load into PyTorch (the ``[torch]``
    extra; without it a :class:`~colorize.backends.TorchMissingError` names it) and
    :func:`build_predictor` picks the runtime as before.
    """
    from .models.files import GRAPH_DIGEST_KEY, graph_path, ready_graph

    graph = graph_path(path)
    if resolve_backend(backend, device, graph=graph.is_file()) == "onnxruntime" and graph.is_file():
        try:
            predictor = OnnxPredictor(graph)
        except Exception as exc:  # a damaged file: say so, then go the PyTorch way
            warnings.warn(f"{graph}: cannot open the ONNX graph ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                          RuntimeWarning, stacklevel=2)
        else:
            if ready_graph(path, predictor.metadata.get(GRAPH_DIGEST_KEY)) is not None:
                return predictor, None
            warnings.warn(f"{graph}: stale ONNX graph (exported from other weights than {graph.with_suffix('.safetensors').name}); "
                          "not using it", RuntimeWarning, stacklevel=2)
    require_torch("--backend torch" if backend == "torch" else f"{path} (no ready ONNX graph beside it)")
    from .models.weights import load_model

    model, _ = load_model(path, device="cpu")
    return build_predictor(model, device=device, backend=backend, weights_path=path), model


def _finite_chroma(chroma: np.ndarray, predictor: Any) -> np.ndarray:
    """Non-finite chroma -> 0 (gray), with a warning. A NaN reaching the uint8 join becomes 0 on x86,
    so one bad value from a backend kernel would turn a photo black; gray keeps the photo's luminance."""
    bad = ~np.isfinite(chroma)
    if not bad.any():
        return chroma
    warnings.warn(f"the {getattr(predictor, 'name', 'model')} backend returned {int(bad.sum())} non-finite chroma values; "
                  "those pixels are left gray (try --backend onnxruntime or --backend torch)", RuntimeWarning, stacklevel=3)
    return np.where(bad, np.float32(0), chroma).astype(np.float32, copy=False)


class Colorizer:
    """A network plus everything around it: colour spaces, resizing, guided upsampling, recombination.

    ``model`` is a :class:`~colorize.models.ColorModel` (run by PyTorch on ``device``) or any
    :class:`~colorize.backends.ChromaPredictor`; for a predictor, ``torch_model`` (the torch model,
    if there is one) or ``info`` (the weights' JSON) says the network's colour space and hints.
    """

    def __init__(self, model: ColorModel | ChromaPredictor, *, device: str | torch.device = "auto",
                 info: dict[str, Any] | None = None, options: ColorizeOptions | None = None,
                 torch_model: ColorModel | None = None) -> None:
        self.predictor: ChromaPredictor = TorchPredictor(model, device) if _is_color_model(model) else model  # type: ignore[arg-type, assignment]
        # The torch model stays at hand when there is one (encoder features of films' references, the config).
        described: Any = model if _is_color_model(model) else torch_model
        if isinstance(self.predictor, TorchPredictor):
            described = self.predictor.model
        if described is None:
            if info is None:
                raise TypeError("Colorizer(predictor) needs torch_model= or info= (the weights' JSON) for the model's config")
            described = ModelInfo(info, self.predictor)
        self.model: Any = described
        self.device = self.predictor.device
        self.info = info or {}
        self.options = options or ColorizeOptions()
        self._last_logits: tuple[bytes, np.ndarray] | None = None  # (input digest, logits): see predict_logits

    @property
    def backend(self) -> str:
        """``"torch"`` or ``"onnxruntime"``: which runtime runs the network."""
        return self.predictor.name

    @property
    def use_bf16(self) -> bool:
        return bool(getattr(self.predictor, "use_bf16", False))

    @property
    def takes_hints(self) -> bool:
        """Whether the network was trained with hint channels (learned hints)."""
        return bool(self.model.config.hints)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = "default", *, device: str = "auto", backend: str = "auto",
                        **options: Any) -> Colorizer:
        """Load bundled weights by name (``"default"``) or a ``.json``/``.safetensors`` path; never downloads.

        Options: the defaults, then the weights' ``inference`` section, then ``options`` (see
        :func:`colorize.options.merge_options`). ``backend``: ``"auto"`` (the bundled models run in
        onnxruntime from their shipped graph, no PyTorch needed), ``"torch"`` or ``"onnxruntime"``
        (see :func:`load_predictor` and :mod:`colorize.backends`).
        """
        from .models.files import read_model_info, resolve_weights, weights_paths

        path = resolve_weights(name_or_path)
        info = read_model_info(path)
        merged = merge_options(None, inference_defaults(info, weights_paths(path)[1]), options)
        predictor, model = load_predictor(path, device=device, backend=backend)
        return cls(predictor, info=info, options=merged, torch_model=model)

    @property
    def space(self) -> str:
        return str(self.model.config.space)

    # ------------------------------------------------------------------ model side (render size)

    def model_luma(self, y: Any) -> Any:
        """BT.601 gray level (N,1,h,w) in [0,1] -> the model's normalised luminance (:func:`colorize.render.model_luma`)."""
        return model_luma(y, self.space)

    def predict_uv(self, y_low: Any, options: ColorizeOptions, hint_map: Any = None) -> Any:
        """Predict chroma for render-size gray ``y_low`` (N,1,h,w); returns YUV ``uv`` (N,2,h,w) (float32
        numpy; a tensor when ``y_low`` is one)."""
        y_arr, tensor = to_numpy(y_low)
        luma = model_luma(y_arr, self.space)
        x = luma
        if self.predictor.takes_hints:
            hints = to_numpy(hint_map)[0] if hint_map is not None else np.zeros((luma.shape[0], 3, *luma.shape[-2:]), np.float32)
            x = np.concatenate([luma, np.broadcast_to(hints, (luma.shape[0], 3, *luma.shape[-2:]))], axis=1)
        if options.consensus_radius and getattr(self.predictor, "has_logits", False):
            chroma = self._consensus_chroma(x, luma, options)
        else:
            chroma = to_numpy(self.predictor.predict_chroma(x, temperature=options.temperature))[0]
        chroma = _finite_chroma(chroma, self.predictor)
        if chroma.shape[-2:] != luma.shape[-2:]:
            chroma = upsample_bilinear(chroma, luma.shape[-2:])
        return like(self.chroma_to_uv(luma, chroma), tensor)

    @property
    def bin_centers(self) -> np.ndarray:
        """The ab bin centres (Q, 2) of the distribution head, Lab units, in the logits' channel order."""
        from .imaging import ab_bin_centers_np

        return ab_bin_centers_np(int(getattr(self.model.config, "grid", 10)))

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """The predictor's bin logits (N, Q, h, w) for model input ``x``, float32.

        The last answer is kept for the same input: a hinted photo asks for the automatic logits twice
        (its consensus decode and the hints' object features), and one forward pass serves both.
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        digest = hashlib.blake2b(str(x.shape).encode(), digest_size=16)
        digest.update(x.data)  # ~1 GB/s, against a forward pass of ~0.1 s per image
        key = digest.digest()
        if self._last_logits is None or self._last_logits[0] != key:
            predictor: Any = self.predictor  # callers check has_logits: a TorchPredictor or an OnnxPredictor
            logits = np.array(to_numpy(predictor.predict_logits(x))[0], dtype=np.float32)
            logits.setflags(write=False)  # shared by the callers: read-only, so none can change another's
            self._last_logits = (key, logits)
        return self._last_logits[1]

    def _consensus_chroma(self, x: np.ndarray, luma: np.ndarray, options: ColorizeOptions) -> np.ndarray:
        """The distribution decoded with the luminance-guided consensus (:mod:`colorize.decode`): the same
        numpy code after either backend's logits, so both decode alike."""
        from .decode import decode_logits

        ab = decode_logits(self.predict_logits(x), luma, self.bin_centers, options.temperature, 2 * options.consensus_radius + 1)
        return ab / np.float32(AB_MAX)

    def chroma_to_uv(self, luma: Any, chroma: Any) -> Any:
        """The model's normalised (luma, chroma) -> YUV chroma in YUV units."""
        c, tensor = to_numpy(chroma)
        if self.space == "lab":
            lab = np.concatenate([to_numpy(luma)[0] * 100, c * AB_MAX], axis=1)
            return like(rgb_to_yuv(lab_to_rgb(lab, clip=True))[:, 1:], tensor)
        return like(c * np.array([U_MAX, V_MAX], np.float32).reshape(1, 2, 1, 1), tensor)

    # ------------------------------------------------------------------ full resolution

    def colorize_gray(self, y: Any, options: ColorizeOptions | None = None, *, uv_low: Any = None,
                      hint_map: Any = None, y_low: Any = None) -> Any:
        """Colorize gray levels ``y`` (N,1,H,W) in [0,1]; returns float sRGB (N,3,H,W). All images share a size.

        ``y_low`` is ``render_input(y, render_size)`` when the caller has it already (no second shrink).
        Numpy in, numpy out (the result is a view of an (N,H,W,3) array: ``out[i].transpose(1, 2, 0)``
        is a contiguous image); a torch tensor ``y`` gives a tensor back.
        """
        o = options or self.options
        y_arr, tensor = to_numpy(y)
        low = render_input(y_arr, o.render_size) if y_low is None else to_numpy(y_low)[0]
        uv = self.predict_uv(low, o, hint_map) if uv_low is None else to_numpy(uv_low)[0]
        uv = uv * np.float32(o.saturation)
        # Full resolution, strip by strip: guided chroma, then the gamut-safe join with the original y.
        n, _, H, W = y_arr.shape
        out = np.empty((n, H, W, 3), np.float32)
        for rows, a, b in guided_coefficient_strips(low, uv, (H, W), radius=o.guided_radius, eps=o.guided_eps):
            ys = y_arr[:, :, rows]
            out[:, rows] = combine_yuv_gamut_safe(ys, b + a * ys).transpose(0, 2, 3, 1)
        if tensor:
            import torch

            return torch.from_numpy(out).permute(0, 3, 1, 2)
        return out.transpose(0, 3, 1, 2)

    def colorize_gray_u8(self, y: np.ndarray, options: ColorizeOptions | None = None, *, uv_low: Any = None,
                         hint_map: Any = None, y_low: Any = None, rgbx: bool = False) -> np.ndarray:
        """Colorize one gray image ``y`` (HxW float32 in [0,1]) straight to 8-bit sRGB (HxWx3 uint8).

        The path for 8-bit outputs: the full-resolution work is one fused pass
        (:func:`colorize.kernels.guided_join_u8`), with no float RGB image in between. With ``rgbx``
        the result is the RGB view of an HxWx4 RGBX buffer, which :func:`colorize.io.write_image`
        hands to the JPEG encoder without a copy (other consumers would rather have it contiguous).
        """
        o = options or self.options
        y = np.asarray(y, dtype=np.float32)
        low = render_input(y[None, None], o.render_size) if y_low is None else to_numpy(y_low)[0]
        uv = self.predict_uv(low, o, hint_map) if uv_low is None else to_numpy(uv_low)[0]
        out = guided_join_u8(y, low, uv * np.float32(o.saturation), radius=o.guided_radius, eps=o.guided_eps, rgbx=rgbx)
        return out[:, :, :3] if rgbx else out

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

            out = colorize_guided(self, np.ascontiguousarray(y, dtype=np.float32)[None, None], o, hints=hints, hint_method=hint_method,
                                  reference=reference, reference_strength=reference_strength, uint8=uint8)
            return out if uint8 else np.ascontiguousarray(to_numpy(out)[0][0].transpose(1, 2, 0))
        out = self.colorize_gray(np.ascontiguousarray(y, dtype=np.float32)[None, None], o)
        return out[0].transpose(1, 2, 0)

    @overload
    def __call__(self, image: Image.Image | str | os.PathLike[str], **overrides: Any) -> Image.Image: ...

    @overload
    def __call__(self, image: np.ndarray, **overrides: Any) -> np.ndarray: ...

    def __call__(self, image: Any, **overrides: Any) -> Any:
        """Colorize a PIL image, a numpy array, or a path (-> PIL). Same size out; alpha kept.

        Keyword overrides: ``render_size``, ``saturation``, ``temperature``, ``consensus_radius`` (0 turns
        off the decode's anti-blotch consensus, :mod:`colorize.decode`). Guidance (issue #6):
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

    # ------------------------------------------------------------------ the distribution (suggested colours)

    def suggest_colors(self, image: Any, x: float, y: float, k: int = 5, **overrides: Any) -> list[SuggestedColor]:
        """The ``k`` colours the model finds most likely at pixel ``(x, y)`` of ``image``, best first.

        ``image``: a path, PIL image or array (as for calling the colorizer); ``x``, ``y`` in its pixels.
        Each :class:`~colorize.suggest.SuggestedColor` has ``rgb``, ``hex`` (at that pixel's own
        luminance: the colour a hint of it gives there) and ``probability``; look-alike bins are merged.
        Why: a hint is most useful with a colour the model already thinks plausible (the red *or* the
        blue car). Needs a distribution-head model (else :class:`~colorize.errors.DistributionError`);
        a point outside the photo is a :class:`~colorize.errors.HintError`. ``render_size`` may be overridden.

        >>> [c.hex for c in colorizer.suggest_colors("photo.jpg", 120, 80, k=3)]  # doctest: +SKIP
        ['#7a6a58', '#5d6f86', '#6f7a52']
        """
        from .suggest import suggest_colors

        return suggest_colors(self, image, x, y, k=k, options=merge_options(self.options, overrides))

    def uncertainty(self, image: Any, **overrides: Any) -> np.ndarray:
        """How unsure the model is of each pixel's colour: HxW float32 in [0, 1] at the photo's size.

        The entropy of the predicted distribution over the Q ab bins divided by ``log Q`` (0: one
        colour, 1: all equally likely), so bright areas are where a hint changes most. Needs a
        distribution-head model (else :class:`~colorize.errors.DistributionError`).
        """
        from .suggest import uncertainty_map

        return uncertainty_map(self, image, options=merge_options(self.options, overrides))

    def colorize_batch(self, grays: Sequence[np.ndarray], options: ColorizeOptions | None = None, batch_size: int = 8,
                       *, uint8: bool = False, rgbx: bool = False,
                       lows: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """Colorize many gray images (HxW float [0,1]); images with equal render shapes share a forward pass.

        Returns HxWx3 float32 sRGB, or uint8 with ``uint8=True`` (faster: the fused 8-bit path; with
        ``rgbx`` as views of RGBX buffers, see :meth:`colorize_gray_u8`). ``lows`` may hand in
        ``render_input(gray[None, None], size)`` per image, made ahead (the CLI shrinks each photo
        in its reader thread while the model loads); an entry that is None, or whose shape is not
        this render size's, is made here."""
        o = options or self.options
        batch_size = check_option("batch_size", batch_size)
        results: list[np.ndarray | None] = [None] * len(grays)
        groups: dict[tuple[int, ...], list[int]] = {}
        low_of: dict[int, np.ndarray] = {}
        for i, g in enumerate(grays):
            given = lows[i] if lows is not None else None
            if given is not None and given.shape[-2:] == render_shape(g.shape[-2], g.shape[-1], o.render_size):
                low_of[i] = given  # the resize depends only on the output shape: the same array
            else:
                low_of[i] = render_input(np.asarray(g, dtype=np.float32)[None, None], o.render_size)
            groups.setdefault(tuple(low_of[i].shape[-2:]), []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                uv = self.predict_uv(np.concatenate([low_of[i] for i in chunk]), o)
                for j, i in enumerate(chunk):
                    known = {"uv_low": uv[j : j + 1], "y_low": low_of[i]}
                    if uint8:
                        results[i] = self.colorize_gray_u8(grays[i], o, **known, rgbx=rgbx)
                    else:
                        g = np.asarray(grays[i], dtype=np.float32)[None, None]
                        results[i] = self.colorize_gray(g, o, **known)[0].transpose(1, 2, 0)
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


__all__ = ["Colorizer", "ColorizeOptions", "ModelInfo", "build_predictor", "load_predictor"]
