"""Video: colorize films with colours that stay put from frame to frame (issue #5).

::

    from colorize import Colorizer
    from colorize.video import TemporalOptions, colorize_video

    colorizer = Colorizer.from_pretrained("default")
    report = colorize_video("film.mp4", "film_color.mp4", colorizer, temporal=TemporalOptions(strength=0.85))
    print(report.frames, report.scene_cuts, report.processing_fps)

or ``colorize film.mp4 -o film_color.mp4`` on the command line.

How it works, per batch of decoded frames (memory stays flat whatever the film's length):

1. decode with PyAV and take each frame's luma (the Y plane, full range);
2. shrink it to the render size and let the model predict YUV chroma for the whole batch;
3. **temporal consistency**, at render size and on chroma only (cheap): estimate the motion from the
   previous frame to this one (OpenCV DIS optical flow on the gray frames, both directions), warp the
   previous frame's *output* chroma onto this frame and blend it with the new prediction. The blend
   weight is ``strength`` times a per-pixel confidence: forward-backward flow consistency times a
   photometric check (the warped previous luma must match this luma), zero where the motion points
   outside the frame. A scene cut (the luma histograms of consecutive frames differ by more than
   ``scene_threshold``) resets the memory. Blending keeps the chroma magnitude (the weighted mean of
   the two magnitudes), so averaging two hues never greys the picture;
4. full-resolution guided upsampling and gamut-safe recombination with the original luma
   (:meth:`colorize.pipeline.Colorizer.colorize_gray`), exactly as for photos;
5. encode (H.264/yuv420p by default) with each frame's original timestamp, copying the audio packets.

The output is written to a hidden temporary name beside the target and moved into place at the end,
so an error or Ctrl-C never leaves a half-written film.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageError, OutputExistsError, VideoError, VideoOptionError
from .guidance import check_hint_frame
from .io import SUPPORTED_INPUT_EXTENSIONS, is_image_path, move_into_place

if TYPE_CHECKING:  # heavy imports stay lazy: torch, av and cv2 load when a video is processed


    from .guidance import FilmGuidance
    from .hints import Hints
    from .options import ColorizeOptions
    from .pipeline import Colorizer

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoError",
    "TemporalOptions",
    "VideoReport",
    "TemporalColorizer",
    "colorize_video",
    "temporal_warp_error",
    "is_sequence_pattern",
    "VideoOptionError",
    "check_video_options",
    "encoder_for",
]

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif"}
_KEEP_CONTAINER = {".mp4", ".mov", ".mkv", ".m4v", ".webm"}  # default output keeps these; others -> .mp4
_DEFAULT_CODECS = {".webm": "libvpx-vp9", ".ogv": "libtheora", ".gif": "gif", ".mpg": "mpeg2video", ".mpeg": "mpeg2video"}
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}
# the encoders' own CRF ranges; other encoders get ``qscale = crf // 2`` clamped to 1..31, so 0..63 there
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63), "libaom-av1": (0, 63),
              "libsvtav1": (1, 63)}
_CRF_OTHER = (0, 63)
FPS_RANGE = (0.01, 1000.0)
"""Frame rates accepted for frame-sequence inputs (one frame per 100 s .. high-speed footage)."""
_PATTERN = re.compile(r"%(0?)(\d*)d")
DEFAULT_SEQUENCE_FPS = 25.0


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def encoder_for(dst: str | os.PathLike[str], codec: str | None = None) -> str:
    """The video encoder :func:`colorize_video` uses for the output file ``dst``."""
    return codec or _DEFAULT_CODECS.get(Path(dst).suffix.lower(), "libx264")


def check_video_options(*, fps: float | None = None, crf: int | None = None, codec: str | None = None,
                        batch_size: int | None = None) -> None:
    """Refuse bad numbers before any work (shared by :func:`colorize_video` and the command line).

    ``codec`` is the encoder the ``crf`` is for (see :func:`encoder_for`); raises :class:`VideoOptionError`.
    """
    if fps is not None:
        lo, hi = FPS_RANGE
        if not _finite(fps) or not lo <= float(fps) <= hi:
            raise VideoOptionError("fps", f"must be a frame rate from {lo:g} to {hi:g}, got {fps}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise VideoOptionError("batch-size", f"must be a whole number >= 1, got {batch_size}")
    if crf is not None:
        lo, hi = CRF_RANGES.get(codec or "libx264", _CRF_OTHER)
        if isinstance(crf, bool) or not _finite(crf) or float(crf) != int(crf) or not lo <= int(crf) <= hi:
            raise VideoOptionError("crf", f"must be a whole number from {lo} to {hi} for {codec or 'libx264'}, got {crf}")


@dataclass
class TemporalOptions:
    """The temporal-consistency knobs (see the module docstring)."""

    enabled: bool = True
    strength: float = 0.85
    """Weight of the propagated colour where the motion is fully trusted (0 = independent frames, <1)."""
    strength_with_reference: float = 0.92
    """The same on frames guided by a reference photo (and no hints). The reference is the same for the whole
    film, so most of a change between two such frames is the per-frame reference match's noise, not the
    content's: at 0.85 a reference film flickered 1.33x the automatic one on the pan benchmark, at 0.92
    1.07-1.08x, for 0.09 dB (docs/video.md). Hints keep ``strength``: a stronger memory holds a hint given
    mid-shot back for frames."""
    scene_threshold: float = 0.35
    """Luma-histogram distance (total variation, 0..1) between consecutive frames that counts as a cut."""
    flow: str = "dis"
    """``"dis"`` (OpenCV DIS optical flow, fast) or ``"farneback"``."""
    consistency: float = 1.0
    """Forward-backward flow mismatch, in render-size pixels, at which the confidence falls to 1/e."""
    photometric: float = 0.08
    """Luma difference (0..1, after warping) at which the confidence falls to 1/e."""
    keep_saturation: bool = True
    """Blend chroma directions but keep the weighted mean of the chroma magnitudes."""

    def __post_init__(self) -> None:
        # every comparison is written so that NaN fails it
        for name, label in (("strength", "strength"), ("strength_with_reference", "strength with a reference")):
            if not (_finite(getattr(self, name)) and 0.0 <= getattr(self, name) < 1.0):
                raise ValueError(f"temporal {label} must be in [0, 1), got {getattr(self, name)}")
        if not (_finite(self.scene_threshold) and 0.0 <= self.scene_threshold <= 1.0):
            raise ValueError(f"scene threshold must be in [0, 1], got {self.scene_threshold}")
        for name in ("consistency", "photometric"):
            if not (_finite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"temporal {name} must be a number > 0, got {getattr(self, name)}")
        if self.flow not in ("dis", "farneback"):
            raise ValueError(f"flow must be 'dis' or 'farneback', got {self.flow!r}")


@dataclass
class VideoReport:
    """What :func:`colorize_video` did."""

    input: str
    output: str
    frames: int = 0
    fps: float = 0.0
    """The film's frame rate (average, for variable-frame-rate films)."""
    seconds: float = 0.0
    """Wall time of the whole job."""
    width: int = 0
    height: int = 0
    rotation: int = 0
    """Display rotation (degrees counter-clockwise) copied to the output."""
    scene_cuts: list[int] = field(default_factory=list)
    """Frame indices at which the temporal memory was reset."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """``{"frame": i, "error": reason}`` for every frame that could not be decoded (``on_error="skip"``)."""
    declared_frames: int | None = None
    """The frame count the container declares (``None`` when it does not say)."""
    warnings: list[str] = field(default_factory=list)
    """Whole-film problems that ``on_error="skip"`` let through, e.g. a stream that ends early."""
    audio: list[str] = field(default_factory=list)
    """One note per audio stream, e.g. ``"aac: copied"``."""
    temporal: bool = True
    mean_confidence: float = 0.0
    """Mean per-pixel motion confidence over the frames that had a predecessor (diagnostic)."""
    hint_frames: list[int] = field(default_factory=list)
    """Frames that hints were put on."""
    reference: str | None = None
    """The reference photo every frame took colours from (its path; ``"array"`` for an image given in memory)."""
    guided_frames: int = 0
    """Frames whose colours the guidance changed (hints carried there, or the reference)."""

    @property
    def processing_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["processing_fps"] = round(self.processing_fps, 2)
        d["seconds"] = round(self.seconds, 3)
        d["fps"] = round(self.fps, 4)
        d["mean_confidence"] = round(self.mean_confidence, 4)
        return d


# ============================================================================ optical flow


class _Flow:
    """Dense optical flow between uint8 gray images: ``a(x) ~ b(x + flow(x))``."""

    def __init__(self, method: str = "dis", preset: str = "medium") -> None:
        import cv2

        self.cv2 = cv2
        self.method = method if (method != "dis" or hasattr(cv2, "DISOpticalFlow_create")) else "farneback"
        if self.method == "dis":
            presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                       "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
            self.dis = cv2.DISOpticalFlow_create(presets[preset])  # type: ignore[attr-defined]

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.method == "dis":
            return self.dis.calc(a, b, None)
        return self.cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return gx, gy


def _warp(img: np.ndarray, flow: np.ndarray, grid: tuple[np.ndarray, np.ndarray], cubic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``img`` at ``x + flow(x)`` (bilinear, or bicubic: less blur when warped again and again);
    also returns the in-frame mask of the sample points."""
    import cv2

    mx = grid[0] + flow[..., 0]
    my = grid[1] + flow[..., 1]
    h, w = flow.shape[:2]
    inside = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
    mode = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return cv2.remap(img, mx, my, mode, borderMode=cv2.BORDER_REPLICATE), inside


def _motion_confidence(cur: np.ndarray, prev: np.ndarray, bw: np.ndarray, fw: np.ndarray, grid: tuple[np.ndarray, np.ndarray],
                       consistency: float, photometric: float) -> np.ndarray:
    """Per-pixel trust (0..1) in the backward flow ``bw`` (cur -> prev); ``cur``/``prev`` float luma."""
    import cv2

    fw_at, inside = _warp(fw, bw, grid)
    mismatch = np.square(bw + fw_at).sum(-1)
    scale = 0.01 * (np.square(bw).sum(-1) + np.square(fw_at).sum(-1)) + consistency**2
    conf = np.exp(-mismatch / scale)
    prev_at, _ = _warp(prev, bw, grid)
    diff = cv2.blur(np.abs(cur - prev_at), (3, 3))
    conf *= np.exp(-np.square(diff / photometric))
    conf *= inside
    return cv2.blur(conf.astype(np.float32), (3, 3))


def _chroma_colourfulness(uv: np.ndarray) -> float:
    """Colourfulness of a chroma field, Hasler & Süsstrunk style: spread plus 0.3 times the mean's length."""
    flat = uv.reshape(-1, 2).astype(np.float64)
    return float(np.sqrt(flat.var(0).sum()) + 0.3 * np.linalg.norm(flat.mean(0)))


def _luma_histogram(y8: np.ndarray, bins: int = 32) -> np.ndarray:
    h = np.bincount((y8 >> 3).ravel() if bins == 32 else (y8.astype(np.int32) * bins // 256).ravel(), minlength=bins)
    return h.astype(np.float64) / max(1, y8.size)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance (0..1) between the 32-bin luma histograms of two uint8 gray images."""
    return 0.5 * float(np.abs(_luma_histogram(a) - _luma_histogram(b)).sum())


# ============================================================================ frame-level API


class TemporalColorizer:
    """Colorize consecutive frames of one film, keeping colours consistent over time.

    Stateful: call :meth:`colorize_frames` (images) or :meth:`colorize_gray` (N,1,H,W luma arrays) with consecutive
    batches; :meth:`reset` forgets the previous frame (a new film). ``scene_cuts`` lists the frame
    indices (counted from the first frame given since construction) where the memory was reset.

    >>> tc = TemporalColorizer(colorizer)                      # doctest: +SKIP
    >>> rgb = tc.colorize_frames(gray_frames)  # -> (N,H,W,3) float32  # doctest: +SKIP
    """

    def __init__(self, colorizer: Colorizer, options: ColorizeOptions | None = None, temporal: TemporalOptions | None = None,
                 *, flow_preset: str = "medium", guidance: FilmGuidance | None = None) -> None:
        self.colorizer = colorizer
        self.options = options or colorizer.options
        self.temporal = temporal if temporal is not None else TemporalOptions()
        self.guidance = guidance if guidance else None
        """Hints per frame (carried through their shot by the motion) and a reference (every frame):
        :func:`colorize.guidance.film_guidance`. Frame numbers count from the first frame given."""
        need_flow = self.temporal.enabled or bool(self.guidance and self.guidance.hints)
        self._flow = _Flow(self.temporal.flow, flow_preset) if need_flow else None
        self.frame_index = 0
        self.scene_cuts: list[int] = []
        self.confidences: list[float] = []
        self.guided_frames = 0
        """Frames whose colours the guidance (live hints or the reference) changed."""
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._full: tuple[int, int] | None = None  # the frames' full size as displayed (H, W)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next one is colorized on its own (carried hints end too)."""
        self._luma: tuple[np.ndarray, np.ndarray] | None = None  # the previous frame's (y8, y float)
        self._uv: np.ndarray | None = None  # the previous frame's output chroma (h,w,2)
        self._colourful = 0.0  # running colourfulness of the raw predictions
        self._tracks: list[_HintTrack] = []

    # ------------------------------------------------------------------ render-size steps

    def render_gray(self, y: Any) -> Any:
        """(N,1,H,W) luma -> render-size luma, as every photo path shrinks it (:func:`colorize.render.render_input`)."""
        from .render import render_input

        return render_input(y, self.options.render_size)

    def predict(self, y_low: Any, rotation: int = 0) -> Any:
        """Model chroma (N,2,h,w) for render-size luma; ``rotation`` (CCW degrees) is undone for the model.

        numpy (a torch tensor in gives one back)."""
        from .imaging import like, to_numpy

        y, tensor = to_numpy(y_low)
        k = (int(round(rotation / 90)) % 4) if rotation % 90 == 0 else 0
        if k:
            uv = to_numpy(self.colorizer.predict_uv(np.ascontiguousarray(np.rot90(y, k, axes=(-2, -1))), self.options))[0]
            return like(np.ascontiguousarray(np.rot90(uv, -k, axes=(-2, -1))), tensor)
        return like(to_numpy(self.colorizer.predict_uv(y, self.options))[0], tensor)

    def step(self, y_low: np.ndarray, uv_pred: np.ndarray) -> np.ndarray:
        """One frame of temporal blending at render size: luma (h,w) in [0,1], chroma (h,w,2) -> chroma (h,w,2)."""
        if not self.temporal.enabled:
            self.frame_index += 1
            return np.ascontiguousarray(uv_pred, dtype=np.float32)
        return self._blend(self._motion(y_low, self.temporal.strength > 0), uv_pred)

    def _motion(self, y_low: np.ndarray, need_flow: bool) -> _Motion:
        """This frame against the previous one: scene cut, and (``need_flow``) the flows and their confidence."""
        t = self.temporal
        index = self.frame_index
        self.frame_index += 1
        y = np.ascontiguousarray(y_low, dtype=np.float32)
        y8 = (y * 255 + 0.5).astype(np.uint8)
        prev = self._luma
        if prev is not None and prev[0].shape != y8.shape:
            prev = None
        if prev is not None and histogram_distance(y8, prev[0]) > t.scene_threshold:
            self.scene_cuts.append(index)
            prev = None
        m = _Motion(index, y8, y, fresh=prev is None)
        if prev is not None and need_flow:
            p8, py = prev
            if self._grid is None or self._grid[0].shape != y8.shape:
                self._grid = _grid(*y8.shape)
            assert self._flow is not None
            m.bw = self._flow(y8, p8)
            m.fw = self._flow(p8, y8)
            m.conf = _motion_confidence(y, py, m.bw, m.fw, self._grid, t.consistency, t.photometric)
            if t.enabled and t.strength > 0:
                self.confidences.append(float(m.conf.mean()))
        self._luma = (y8, y)  # what the next frame is compared with (a batch's motion runs ahead of its blending)
        return m

    def _blend(self, m: _Motion, uv_pred: np.ndarray, strength: float | None = None) -> np.ndarray:
        """The previous output chroma carried along ``m``'s motion and blended into ``uv_pred`` (see the module docs);
        ``strength`` defaults to the options' (frames with a reference pass ``strength_with_reference``)."""
        t = self.temporal
        strength = t.strength if strength is None else strength
        uv = np.ascontiguousarray(uv_pred, dtype=np.float32)
        puv = self._uv
        out = uv
        if (t.enabled and not m.fresh and m.bw is not None and m.conf is not None and strength > 0 and puv is not None
                and puv.shape == uv.shape):
            assert self._grid is not None
            conf = m.conf
            warped, _ = _warp(puv, m.bw, self._grid, cubic=True)
            w = (strength * conf)[..., None]
            out = (1 - w) * uv + w * warped
            if t.keep_saturation:
                # per pixel: blend the directions, keep the weighted mean of the magnitudes (two hues never average to grey)
                target = (1 - w[..., 0]) * np.linalg.norm(uv, axis=-1) + w[..., 0] * np.linalg.norm(warped, axis=-1)
                norm = np.linalg.norm(out, axis=-1)
                gain = np.minimum(target / np.maximum(norm, 1e-6), 4.0)
                out = out * np.where(norm > 1e-4, gain, 1.0)[..., None]
                # per frame: averaging over time removes the chroma variance that flickered; give the frame back the
                # (temporally smoothed) chroma energy of the raw predictions so the film is not duller than its frames
                a = strength * float(conf.mean())
                cf_target = (1 - a) * _chroma_colourfulness(uv) + a * self._colourful
                cf_out = _chroma_colourfulness(out)
                if cf_out > 1e-6:
                    out = out * float(np.clip(cf_target / cf_out, 0.8, 1.25))
                self._colourful = cf_target
            out = out.astype(np.float32)
        else:
            self._colourful = _chroma_colourfulness(uv)
        self._uv = out
        return out

    def blend(self, y_low: Any, uv_pred: Any) -> Any:
        """:meth:`step` over a batch, in order: (N,1,h,w) and (N,2,h,w) -> (N,2,h,w) (numpy; tensors give a tensor)."""
        from .imaging import like, to_numpy

        if not self.temporal.enabled:
            self.frame_index += y_low.shape[0]
            return uv_pred
        ys, tensor = to_numpy(y_low)
        uvs = to_numpy(uv_pred)[0].transpose(0, 2, 3, 1)
        out = [self.step(ys[i, 0], uvs[i]) for i in range(ys.shape[0])]
        return like(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)), tensor)

    # ------------------------------------------------------------------ guidance (issue 16)

    def _chroma(self, y_low: Any, rotation: int, full: tuple[int, ...]) -> Any:
        """Render-size chroma of a batch: predicted and blended over time, and guided when there is guidance."""
        if self.guidance is None:
            return self.blend(y_low, self.predict(y_low, rotation))
        from .imaging import like, to_numpy

        y, tensor = to_numpy(y_low)
        k = (int(round(rotation / 90)) % 4) if rotation % 90 == 0 else 0
        # the film as displayed (upright), where the hints' coordinates are: motion, hints and blending all happen there
        self._full = (int(full[1]), int(full[0])) if k % 2 else (int(full[0]), int(full[1]))
        up = np.ascontiguousarray(np.rot90(y, k, axes=(-2, -1))) if k else y
        out = self._guided_batch(up)
        if k:
            out = np.ascontiguousarray(np.rot90(out, -k, axes=(-2, -1)))
        return like(out, tensor)

    def _guided_batch(self, y: np.ndarray) -> np.ndarray:
        """(N,1,h,w) upright render-size luma -> (N,2,h,w) chroma, with the hints carried and the reference applied."""
        from .imaging import to_numpy

        g = self.guidance
        assert g is not None
        t = self.temporal
        n, _, h, w = y.shape
        motions: list[_Motion] = []
        live: list[Hints | None] = []
        for i in range(n):
            m = self._motion(y[i, 0], (t.enabled and (t.strength > 0 or t.strength_with_reference > 0)) or bool(self._tracks))
            if m.fresh:
                self._tracks = []  # a cut (or the first frame) ends every hint's life
            elif self._tracks:
                assert self._grid is not None
                for track in self._tracks:
                    track.advance(m, self._grid)
                self._tracks = [tr for tr in self._tracks if tr.alive]
            given = g.hints.get(m.index)
            if given:
                full = self._full or (h, w)
                given.check(full[1], full[0], f"frame {m.index}")
                self._tracks.append(_HintTrack(given, (h, w), full))
            motions.append(m)
            live.append(_carried_hints(self._tracks))
        uv = np.empty((n, 2, h, w), np.float32)
        guided = [i for i in range(n) if live[i] is not None or g.reference is not None]
        plain = [i for i in range(n) if i not in guided]
        if plain:
            uv[plain] = to_numpy(self.colorizer.predict_uv(np.ascontiguousarray(y[plain]), self.options))[0]
        for i in guided:
            uv[i] = self._guide(y[i : i + 1], live[i], motions[i].index)
        self.guided_frames += len(guided)
        # frames with the reference alone take their own strength; hints keep the usual one, so that a hint given
        # mid-shot is not held back by the frames before it
        out = [self._blend(motions[i], uv[i].transpose(1, 2, 0),
                           t.strength_with_reference if g.reference is not None and live[i] is None else None)
               for i in range(n)]
        return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2))

    def _guide(self, y: np.ndarray, hints: Hints | None, index: int) -> np.ndarray:
        """One frame's chroma (2,h,w) guided exactly as a photo is (:func:`colorize.hints.colorize_guided`),
        at the render size (the hints are already in render-size pixels)."""
        from .hints import colorize_guided
        from .imaging import to_numpy

        g = self.guidance
        assert g is not None
        o = dataclasses.replace(self.options, render_size=max(y.shape[-2:]))  # y is already at the render size
        uv = colorize_guided(_ChromaOnly(self.colorizer), y, o, hints=hints, hint_method=g.hint_method,  # type: ignore[arg-type]
                             reference=g.reference, reference_strength=g.reference_strength, label=f"frame {index}")
        return to_numpy(uv)[0][0]

    # ------------------------------------------------------------------ full frames

    def colorize_gray_iter(self, y: Any, rotation: int = 0) -> Iterator[Any]:
        """Like :meth:`colorize_gray`, yielding frames (1,3,H,W) one by one (full-res memory for one frame)."""
        from .imaging import like, to_numpy

        y, tensor = to_numpy(y)
        y_low = self.render_gray(y)
        uv = self._chroma(y_low, rotation, y.shape[-2:])
        for i in range(y.shape[0]):
            out = self.colorizer.colorize_gray(y[i : i + 1], self.options, uv_low=uv[i : i + 1], y_low=y_low[i : i + 1])
            yield like(np.ascontiguousarray(to_numpy(out)[0]), tensor) if tensor else out

    def colorize_u8_iter(self, y: np.ndarray, rotation: int = 0) -> Iterator[np.ndarray]:
        """Consecutive luma frames (N,H,W) float32 in [0,1] -> 8-bit sRGB frames (H,W,3), one by one, through
        the photo path's fused 8-bit pass (:meth:`Colorizer.colorize_gray_u8`): what films are encoded from."""
        y = np.asarray(y, dtype=np.float32)
        y_low = self.render_gray(y[:, None])
        uv = self._chroma(y_low, rotation, y.shape[-2:])
        fused = getattr(self.colorizer, "colorize_gray_u8", None)
        for i in range(y.shape[0]):
            known = {"uv_low": uv[i : i + 1], "y_low": y_low[i : i + 1]}
            if fused is not None:
                yield fused(y[i], self.options, **known)
            else:  # a duck-typed colorizer with only the float path: same rounding as the fused pass
                rgb = np.asarray(self.colorizer.colorize_gray(y[i : i + 1, None], self.options, **known))[0]
                yield (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)

    def colorize_gray(self, y: Any, rotation: int = 0) -> Any:
        """Consecutive luma frames (N,1,H,W) in [0,1] -> sRGB (N,3,H,W); one model pass for the batch
        (numpy; a torch tensor in gives a tensor back)."""
        frames = list(self.colorize_gray_iter(y, rotation))
        if frames and hasattr(frames[0], "detach"):
            import torch

            return torch.cat(frames)
        return np.concatenate(frames) if frames else np.zeros((0, 3, *y.shape[-2:]), np.float32)

    def colorize_frames(self, frames: Sequence[np.ndarray] | np.ndarray, rotation: int = 0) -> np.ndarray:
        """Consecutive frames (gray HxW or RGB HxWx3, uint8/uint16/float) -> (N,H,W,3) float32 sRGB."""
        from .render import gray_of

        if len(frames) == 0:
            return np.zeros((0, 0, 0, 3), np.float32)
        y = np.stack([gray_of(f) for f in frames]).astype(np.float32)[:, None]
        return np.ascontiguousarray(self.colorize_gray(y, rotation).transpose(0, 2, 3, 1))


@dataclass
class _Motion:
    """One frame against the previous: ``fresh`` (first frame or a scene cut), flows and their confidence."""

    index: int
    y8: np.ndarray
    y: np.ndarray
    fresh: bool
    bw: np.ndarray | None = None
    """Backward flow: this frame's pixel ``x`` was at ``x + bw(x)`` in the previous frame."""
    fw: np.ndarray | None = None
    """Forward flow: the previous frame's pixel ``x`` is at ``x + fw(x)`` in this one."""
    conf: np.ndarray | None = None


HINT_CONFIDENCE = 0.3
"""Motion confidence (0..1, see :func:`_motion_confidence`) below which a carried hint is dropped: the
spot it was on is occluded, left the picture, or the motion there cannot be trusted."""


class _HintTrack:
    """Hints put on one frame, followed through the shot by the motion (render-size pixels, as displayed).

    Points move with the forward flow sampled at their position (sub-pixel, no drift from
    resampling); a hints image is carried as a map from each pixel to where it was on the hints'
    frame (the backward flows composed), so the strokes are never resampled again and again.
    """

    def __init__(self, hints: Hints, shape: tuple[int, int], full: tuple[int, int]) -> None:
        h, w = shape
        sy, sx = h / full[0], w / full[1]
        self.shape = shape
        self.pos = np.array([[min(max((p.x + 0.5) * sx - 0.5, 0.0), w - 1.0), min(max((p.y + 0.5) * sy - 0.5, 0.0), h - 1.0)]
                             for p in hints.points], np.float32).reshape(-1, 2)
        self.rgb = [p.rgb for p in hints.points]
        self.radius = [None if p.radius is None else p.radius * min(sx, sy) for p in hints.points]
        self.layer: tuple[np.ndarray, np.ndarray] | None = None
        self.map: np.ndarray | None = None
        self.valid: np.ndarray | None = None
        if hints.dense_mask is not None:
            from .hints import Hints as _Hints

            rgb, mask = _Hints(dense_rgb=hints.dense_rgb, dense_mask=hints.dense_mask).rasterize(full[0], full[1], h, w)
            self.layer = (rgb, mask.astype(np.uint8))
            gx, gy = _grid(h, w)
            self.map = np.dstack([gx, gy])
            self.valid = np.ones((h, w), np.float32)

    @property
    def alive(self) -> bool:
        return len(self.rgb) > 0 or (self.valid is not None and bool((self.valid > 0.5).any()))

    def advance(self, m: _Motion, grid: tuple[np.ndarray, np.ndarray]) -> None:
        """Carry the hints from the previous frame onto ``m``'s frame."""
        import cv2

        assert m.bw is not None and m.fw is not None and m.conf is not None
        h, w = self.shape
        if len(self.rgb):
            px = np.ascontiguousarray(self.pos[:, 0].reshape(1, -1))
            py = np.ascontiguousarray(self.pos[:, 1].reshape(1, -1))
            d = cv2.remap(m.fw, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)
            new = self.pos + d
            inside = (new[:, 0] >= 0) & (new[:, 0] <= w - 1) & (new[:, 1] >= 0) & (new[:, 1] <= h - 1)
            ix = np.clip(np.round(new[:, 0]), 0, w - 1).astype(int)
            iy = np.clip(np.round(new[:, 1]), 0, h - 1).astype(int)
            keep = inside & (m.conf[iy, ix] >= HINT_CONFIDENCE)
            self.pos = new[keep].astype(np.float32)
            self.rgb = [c for c, k in zip(self.rgb, keep) if k]
            self.radius = [r for r, k in zip(self.radius, keep) if k]
        if self.map is not None and self.valid is not None:
            self.map, inside = _warp(self.map, m.bw, grid)
            valid, _ = _warp(self.valid, m.bw, grid)
            self.valid = (valid * inside * (m.conf >= HINT_CONFIDENCE)).astype(np.float32)

    def points(self) -> list[Any]:
        from .hints import HintPoint

        return [HintPoint(float(x), float(y), rgb, r) for (x, y), rgb, r in zip(self.pos, self.rgb, self.radius)]

    def layer_now(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The hints image on this frame: (rgb (h,w,3), mask (h,w) bool), or ``None``."""
        import cv2

        if self.layer is None or self.map is None or self.valid is None:
            return None
        mx, my = np.ascontiguousarray(self.map[..., 0]), np.ascontiguousarray(self.map[..., 1])
        rgb = cv2.remap(self.layer[0], mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.remap(self.layer[1], mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return rgb, (mask > 0) & (self.valid > 0.5)


def _carried_hints(tracks: list[_HintTrack]) -> Hints | None:
    """The live hints of every track on this frame as one :class:`~colorize.hints.Hints` (later tracks on top)."""
    from .hints import Hints

    points: list[Any] = []
    rgb: np.ndarray | None = None
    mask: np.ndarray | None = None
    for track in tracks:
        points += track.points()
        layer = track.layer_now()
        if layer is not None and layer[1].any():
            if rgb is None or mask is None:
                rgb, mask = layer[0].copy(), layer[1].copy()
            else:
                rgb[layer[1]] = layer[0][layer[1]]
                mask |= layer[1]
    if not points and mask is None:
        return None
    return Hints(points=points, dense_rgb=rgb, dense_mask=mask, source="the carried hints")


class _ChromaOnly:
    """The colorizer as :func:`colorize.hints.colorize_guided` sees it for one film frame at render size.

    Every attribute is the real colorizer's, except that the "picture" it returns is the guided
    render-size chroma: a film blends that over time before the full-resolution pass. So a film
    frame is guided by exactly the code that guides a photo (hints, hint method, reference).
    """

    def __init__(self, colorizer: Colorizer) -> None:
        self._colorizer = colorizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._colorizer, name)

    def colorize_gray(self, y: Any, options: ColorizeOptions | None = None, *, uv_low: Any = None, hint_map: Any = None,
                      y_low: Any = None) -> Any:
        if uv_low is not None:
            return uv_low
        from .render import render_input

        o = options or self._colorizer.options
        low = y_low if y_low is not None else render_input(y, o.render_size)
        return self._colorizer.predict_uv(low, o, hint_map)


# ============================================================================ consistency metric


def temporal_warp_error(rgb_frames: Sequence[np.ndarray], gray_frames: Sequence[np.ndarray] | None = None, *,
                        flows: Sequence[np.ndarray | None] | None = None, masks: Sequence[np.ndarray | None] | None = None,
                        return_per_frame: bool = False) -> Any:
    """Mean CIELAB ab distance between frame t's chroma and frame t-1's chroma warped onto frame t.

    The motion comes from ``flows`` (known backward flows ``t -> t-1``, e.g. of a synthetic pan; entry
    ``t`` for the pair (t-1, t)) or is estimated with Farneback on ``gray_frames`` (the ground-truth or
    input luma, never the colorized frames, so every method is judged on the same motion). Only
    confident pixels count: inside the frame and, for estimated motion, forward-backward consistent
    (Sundaram et al. 2010) with a matching warped luma (within 0.05). ``rgb_frames`` are HxWx3 float
    in [0, 1] or uint8. Returns the mean over all counted pixels (or also the per-pair means).
    """
    import cv2

    from .metrics import rgb_to_lab_np
    from .render import gray_of

    n = len(rgb_frames)
    if n < 2:
        return (0.0, []) if return_per_frame else 0.0
    grays = [gray_of(g) for g in (gray_frames if gray_frames is not None else rgb_frames)]
    h, w = grays[0].shape
    grid = _grid(h, w)
    flow = _Flow("farneback")
    total, count, per = 0.0, 0, []
    prev_ab = rgb_to_lab_np(_unit(rgb_frames[0]))[..., 1:].astype(np.float32)
    for t in range(1, n):
        ab = rgb_to_lab_np(_unit(rgb_frames[t]))[..., 1:].astype(np.float32)
        known = flows[t] if flows is not None else None
        if known is not None:
            bw = known.astype(np.float32)
            _, mask = _warp(grays[t - 1], bw, grid)
        else:
            a8 = (grays[t] * 255 + 0.5).astype(np.uint8)
            b8 = (grays[t - 1] * 255 + 0.5).astype(np.uint8)
            bw = flow(a8, b8)
            fw = flow(b8, a8)
            fw_at, inside = _warp(fw, bw, grid)
            ok = np.square(bw + fw_at).sum(-1) < 0.01 * (np.square(bw).sum(-1) + np.square(fw_at).sum(-1)) + 0.5
            prev_at, _ = _warp(grays[t - 1], bw, grid)
            mask = inside & ok & (cv2.blur(np.abs(grays[t] - prev_at), (3, 3)) < 0.05)
        if masks is not None and masks[t] is not None:
            mask = mask & masks[t]
        warped, _ = _warp(prev_ab, bw, grid)
        err = np.linalg.norm(ab - warped, axis=-1)[mask]
        per.append(float(err.mean()) if err.size else float("nan"))
        total += float(err.sum())
        count += int(err.size)
        prev_ab = ab
    mean = total / count if count else float("nan")
    return (mean, per) if return_per_frame else mean


def _unit(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255
    return a.astype(np.float32, copy=False)


# ============================================================================ sources


@dataclass
class _Frame:
    gray: np.ndarray  # HxW uint8, uint16 or float32 in [0, 1]
    pts: int | None
    time_base: Fraction | None
    repeat_of_error: str | None = None


def is_sequence_pattern(text: str | os.PathLike[str]) -> bool:
    """``frames/frame_%05d.png``: a printf-style image-sequence pattern."""
    return bool(_PATTERN.search(Path(text).name))


def _pattern_name(pattern: str, number: int) -> str:
    return _PATTERN.sub(lambda m: f"{number:{'0' if m.group(1) else ''}{m.group(2) or ''}d}", pattern, count=1)


def _natural_key(p: Path) -> list[Any]:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


class _SequenceSource:
    """A folder of frames, or a ``%05d`` pattern, read in (natural / numeric) order with :func:`read_image`."""

    kind = "sequence"

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        if is_sequence_pattern(path):
            folder, name = path.parent, path.name
            m = _PATTERN.search(name)
            assert m is not None
            regex = re.compile(re.escape(name[: m.start()]) + r"(\d+)" + re.escape(name[m.end():]) + r"\Z")
            numbered = []
            if folder.is_dir():
                for f in folder.iterdir():
                    mm = regex.match(f.name)
                    if mm and f.is_file():
                        numbered.append((int(mm.group(1)), f))
            self.files = [f for _, f in sorted(numbered)]
            self.start_number = min((n for n, _ in numbered), default=0)
            if not self.files:
                raise VideoError(path, "no frames match this pattern")
        elif path.is_dir():
            self.files = sorted((f for f in path.iterdir() if f.is_file() and is_image_path(f)), key=_natural_key)
            self.start_number = 0
            if not self.files:
                raise VideoError(path, "no frames (images) in this folder")
        else:
            raise VideoError(path, "no such file or folder")
        self.rate = Fraction(fps if fps else DEFAULT_SEQUENCE_FPS).limit_denominator(1001)
        self.time_base = 1 / self.rate
        self.total = len(self.files)
        self.declared: int | None = None  # every file is a frame: nothing can go missing unnoticed
        self.declared_end: float | None = None
        self.audio_streams: list[Any] = []
        self.rotation = 0
        self.display_matrix: list[int] | None = None
        self._first: tuple[int, np.ndarray] | None = None  # the first readable frame sets the size
        first_error: ImageError | None = None
        for i in range(self.total):
            try:
                self._first = (i, self._read(i))
                break
            except ImageError as exc:
                first_error = first_error or exc
        if self._first is None:
            assert first_error is not None
            raise VideoError(path, f"no readable frames ({first_error})")
        self.height, self.width = self._first[1].shape

    def _read(self, i: int) -> np.ndarray:
        from .io import read_image

        img = read_image(self.files[i])
        return img.gray

    def items(self) -> Iterator[tuple[str, Any]]:
        assert self._first is not None
        for i in range(self.total):
            try:
                g = self._first[1] if i == self._first[0] else self._read(i)
                if g.shape != (self.height, self.width):
                    raise ImageError(self.files[i], f"is {g.shape[1]}x{g.shape[0]}, the sequence is {self.width}x{self.height}")
            except ImageError as exc:
                yield "error", (i, str(exc))
                continue
            yield "frame", _Frame(g, i, self.time_base)

    def close(self) -> None:
        pass


class _AvSource:
    """A film read with PyAV: the first video stream, plus its audio streams for copying."""

    kind = "video"

    def __init__(self, path: Path) -> None:
        import av

        self.path = path
        if not path.exists():
            raise VideoError(path, "no such file")
        if path.is_dir():
            raise VideoError(path, "is a folder (to colorize a folder of frames as one film, give --sequence or a video -o)")
        try:
            self.container = av.open(str(path), metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"not a readable video ({_av_reason(exc)})") from None
        except OSError as exc:
            raise VideoError(path, f"cannot read file ({exc.strerror or exc})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(path, "no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO" if self.stream.codec_context.name not in ("png", "ffv1") else "SLICE"
        self.audio_streams = [s for s in self.container.streams.audio]
        cc = self.stream.codec_context
        self.width, self.height = int(cc.width), int(cc.height)
        self.rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate or Fraction(25)
        self.time_base = self.stream.time_base or (1 / Fraction(self.rate))
        self.total = int(self.stream.frames or 0) or self._estimate_frames()
        # what the container itself declares (header frame count, stream end time): a shorter stream is truncated
        self.declared = int(self.stream.frames or 0) or None
        self.declared_end: float | None = None
        try:
            if self.stream.duration and self.stream.time_base:
                self.declared_end = float((self.stream.duration + (self.stream.start_time or 0)) * self.stream.time_base)
        except (TypeError, ValueError):
            pass
        self.rotation = 0
        self.display_matrix: list[int] | None = None

    def _estimate_frames(self) -> int | None:
        try:
            if self.stream.duration and self.stream.time_base:
                return int(round(float(self.stream.duration * self.stream.time_base * self.rate)))
            if self.container.duration:
                return int(round(self.container.duration / 1e6 * float(self.rate)))
        except (TypeError, ValueError, ZeroDivisionError):
            pass
        return None

    def _gray(self, frame: Any) -> np.ndarray:
        if not (self.width and self.height):  # the container did not say: the first frame does
            self.width, self.height = int(frame.width), int(frame.height)
        if (frame.width, frame.height) != (self.width, self.height):
            frame = frame.reformat(width=self.width, height=self.height)
        deep = any(c.bits > 8 for c in frame.format.components)
        if deep:
            return frame.to_ndarray(format="gray16le").astype(np.float32) / 65535
        return frame.to_ndarray(format="gray")

    def _take_display(self, frame: Any) -> None:
        if self.display_matrix is not None:
            return
        try:
            self.rotation = int(frame.rotation)
            for sd in frame.side_data:
                if "DISPLAYMATRIX" in str(sd.type):
                    m = np.frombuffer(bytes(sd), dtype="<i4")
                    if m.size == 9:
                        self.display_matrix = [int(v) for v in m]
        except Exception:  # side data is best effort: never fail a film over it
            pass
        if self.display_matrix is None:
            self.display_matrix = []

    def items(self) -> Iterator[tuple[str, Any]]:
        """Yields ("audio", packet), ("frame", _Frame) and ("error", (pts, reason)) in file order."""
        import av

        streams = [self.stream, *self.audio_streams]
        demux = self.container.demux(*streams)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                yield "error", (None, f"unreadable container data, reading stopped ({_av_reason(exc)})")
                yield "stop", None
                break
            if packet.stream.type == "audio":
                if packet.dts is not None and packet.size:
                    yield "audio", packet
                continue
            pts = packet.pts
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                yield "error", (pts, f"corrupt video data ({_av_reason(exc)})")
                continue
            for f in frames:
                self._take_display(f)
                yield "frame", _Frame(self._gray(f), f.pts, f.time_base)
        try:  # demux ends with empty packets that flush the decoder; this only catches what is left
            for f in self.stream.decode(None):
                self._take_display(f)
                yield "frame", _Frame(self._gray(f), f.pts, f.time_base)
        except av.error.EOFError:
            pass
        except av.error.FFmpegError as exc:
            yield "error", (None, f"corrupt video data at the end ({_av_reason(exc)})")

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:
            pass


def _ended_early(frames: int, last_time: float | None, declared: int | None, declared_end: float | None,
                 rate: float) -> str | None:
    """Why the stream looks truncated (``None`` if it does not): clearly fewer frames than declared.

    A shortfall of up to max(1, 2 %) frames is tolerated (edit lists, a dropped trailing frame); when the
    container also declares the stream's end time, the decoded frames must stop short of it too, so a
    header count that an editor left stale does not fail a film that plays to its end.
    """
    if not declared or frames >= declared - max(1, declared // 50):
        return None
    if declared_end is not None and last_time is not None and rate > 0:
        missing_time = declared_end - (last_time + 1 / rate)
        if missing_time * rate <= max(1, declared // 50):
            return None
    return f"stream ends early: {frames} of {declared} frames decoded"


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()).rstrip(":") or type(exc).__name__


def _open_source(src: Path, fps: float | None) -> _AvSource | _SequenceSource:
    if is_sequence_pattern(src) or src.is_dir():
        return _SequenceSource(src, fps)
    return _AvSource(src)


# ============================================================================ sinks


class _Terminated(SystemExit):
    """SIGTERM, raised in the main thread so every ``except``/``finally`` cleanup runs, as for Ctrl-C."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`_Terminated` (exit code 143) instead of killing the process
    outright, so the hidden temporary output is removed; the previous handler comes back afterwards."""
    import signal
    import threading

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    previous = None
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.signal(signal.SIGTERM, handler)
        except (ValueError, OSError):  # not allowed here (embedded interpreter): keep the default
            previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back for a moment that must not be cut in two (moving the output into place)."""
    import signal

    previous = None
    if hasattr(signal, "pthread_sigmask"):
        try:
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        except (ValueError, OSError):
            previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _temp_name(out: Path, suffix: str = "") -> Path:
    return out.parent / f".{out.stem[:180]}.{secrets.token_hex(4)}.tmp{suffix}"


def _prepare_parent(out: Path) -> None:
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise VideoError(out, f"cannot create folder {parent}: part of the path is a file") from None
    except PermissionError:
        raise VideoError(out, f"cannot create folder {parent}: permission denied") from None
    except OSError as exc:
        raise VideoError(out, f"cannot create folder {parent} ({exc.strerror or exc})") from None
    probe = _temp_name(out)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except PermissionError:
        raise VideoError(out, f"cannot write to folder {parent}: permission denied") from None
    except OSError as exc:
        raise VideoError(out, f"cannot write to folder {parent} ({exc.strerror or exc})") from None


@dataclass
class _StreamInfo:
    width: int
    height: int
    rate: Fraction
    time_base: Fraction
    rotation: int = 0
    display_matrix: list[int] | None = None


class _AvSink:
    """Encode frames into a temporary file beside ``out``; :meth:`commit` moves it into place."""

    def __init__(self, out: Path, info: _StreamInfo, audio_in: Sequence[Any], *, codec: str | None, crf: int | None,
                 preset: str | None, overwrite: bool) -> None:
        import av

        self.out, self.overwrite = out, overwrite
        self.tmp = _temp_name(out, out.suffix)
        self.audio_notes: list[str] = []
        try:
            self.container = av.open(str(self.tmp), "w")
        except (av.error.FFmpegError, OSError) as exc:
            self.tmp.unlink(missing_ok=True)
            raise VideoError(out, f"cannot write video ({_av_reason(exc)})") from None
        try:
            self._setup(info, audio_in, codec, crf, preset)
        except BaseException:
            self.abort()
            raise

    def _setup(self, info: _StreamInfo, audio_in: Sequence[Any], codec: str | None, crf: int | None, preset: str | None) -> None:
        import av

        name = codec or _DEFAULT_CODECS.get(self.out.suffix.lower(), "libx264")
        if name not in av.codecs_available:
            raise VideoError(self.out, f"video encoder {name!r} is not available in this FFmpeg build")
        try:
            supported = [f.name for f in (av.Codec(name, "w").video_formats or [])]
        except Exception as exc:
            raise VideoError(self.out, f"{name!r} is not a video encoder ({_av_reason(exc)})") from None
        odd = info.width % 2 or info.height % 2
        pix_fmt = next((f for f in (("yuv444p", "yuv420p") if odd else ("yuv420p",)) if f in supported), None)
        pix_fmt = pix_fmt or (supported[0] if supported else "yuv420p")
        options: dict[str, str] = {}
        if crf is not None and name in _CRF_CODECS:
            options["crf"] = str(crf)
            if name in ("libvpx-vp9", "libvpx"):
                options["b"] = "0"
        elif crf is not None:
            options["qscale"] = str(max(1, min(31, crf // 2)))
        if preset and name in ("libx264", "libx265"):
            options["preset"] = preset
        try:
            vs = self.container.add_stream(name, rate=info.rate, options=options)
        except (ValueError, av.error.FFmpegError) as exc:
            raise VideoError(self.out, f"cannot encode {name} in {self.out.suffix or 'this container'} ({_av_reason(exc)})") from None
        vs.width, vs.height, vs.pix_fmt = info.width, info.height, pix_fmt
        vs.codec_context.time_base = info.time_base
        vs.time_base = info.time_base
        cc = vs.codec_context
        if pix_fmt.startswith("yuv"):
            try:
                cc.colorspace, cc.color_range = 6, 1  # BT.601 matrix (what swscale writes), limited range
                cc.color_primaries, cc.color_trc = 1, 1  # BT.709 = sRGB primaries
            except (AttributeError, ValueError):
                pass
        if info.display_matrix:
            vs.set_display_matrix(info.display_matrix)
        elif info.rotation:
            vs.set_display_rotation(info.rotation)
        self.video = vs
        self.audio: dict[int, tuple[Any, str, Any]] = {}
        for a in audio_in:
            cname = a.codec_context.name
            if cname in self.container.supported_codecs:
                try:
                    oa = self.container.add_stream_from_template(a)
                    self.audio[a.index] = (oa, "copy", None)
                    self.audio_notes.append(f"{cname}: copied")
                    continue
                except (ValueError, av.error.FFmpegError):
                    pass
            target = self.container.default_audio_codec
            if not target or target == "none":
                self.audio_notes.append(f"{cname}: dropped (the {self.out.suffix} container takes no audio)")
                continue
            rate = a.codec_context.sample_rate or 48000
            try:
                rates = av.Codec(target, "w").audio_rates or []
            except Exception:
                rates = []
            if rates and rate not in rates:  # e.g. Opus: 8-48 kHz steps only; the encoder resamples
                rate = min((r for r in rates if r >= rate), default=max(rates))
            oa = self.container.add_stream(target, rate=rate)
            try:
                oa.layout = a.codec_context.layout
            except (AttributeError, ValueError):
                pass
            self.audio[a.index] = (oa, "encode", a)
            self.audio_notes.append(f"{cname}: re-encoded as {target} ({cname} cannot go in {self.out.suffix})")
        self._last_pts: int | None = None
        self.frames = 0

    def mux_audio(self, packet: Any) -> None:
        import av

        entry = self.audio.get(packet.stream.index)
        if entry is None:
            return
        oa, mode, _ = entry
        if mode == "copy":
            packet.stream = oa
            self.container.mux(packet)
            return
        try:
            for frame in packet.decode():
                frame.pts = None
                for p in oa.encode(frame):
                    self.container.mux(p)
        except av.error.FFmpegError:
            pass  # a damaged audio packet is dropped, the picture goes on

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        tb = self.video.codec_context.time_base
        if pts is not None and time_base is not None and time_base != tb:
            pts = int(round(pts * time_base / tb))
        if pts is None:
            step = max(1, int(round(1 / (float(self.video.codec_context.framerate or 25) * float(tb)))))
            pts = 0 if self._last_pts is None else self._last_pts + step
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        frame.pts, frame.time_base = pts, tb
        self._last_pts = pts
        for p in self.video.encode(frame):
            self.container.mux(p)
        self.frames += 1

    def commit(self) -> None:
        for p in self.video.encode(None):
            self.container.mux(p)
        for oa, mode, _ in self.audio.values():
            if mode == "encode":
                for p in oa.encode(None):
                    self.container.mux(p)
        self.container.close()
        try:
            move_into_place(self.tmp, self.out, self.overwrite)
        except FileExistsError:
            self.tmp.unlink(missing_ok=True)
            raise OutputExistsError(self.out) from None

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:
            pass
        self.tmp.unlink(missing_ok=True)


class _SequenceSink:
    """Write frames into a hidden temporary folder; :meth:`commit` moves them to their names."""

    def __init__(self, out: Path, names: list[str] | None, fmt: str, start_number: int, overwrite: bool,
                 quality: int = 95) -> None:
        self.out, self.overwrite, self.quality = out, overwrite, quality
        self.pattern: str | None
        if is_sequence_pattern(out):
            self.folder, self.pattern = out.parent, out.name
        else:
            self.folder, self.pattern = out, None
        self.names = names
        self.fmt = fmt
        self.start = start_number
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = self.folder.parent / f".{self.folder.name}.{secrets.token_hex(4)}.tmp"
            self.tmp.mkdir()
        except OSError as exc:
            raise VideoError(out, f"cannot write frames ({exc.strerror or exc})") from None
        self.written: list[str] = []
        self.audio_notes: list[str] = []
        self.frames = 0

    def name(self, i: int) -> str:
        if self.pattern:
            return _pattern_name(self.pattern, self.start + i)
        if self.names and i < len(self.names):
            return f"{self.names[i]}.{self.fmt}"
        return f"frame_{i + self.start:06d}.{self.fmt}"

    def mux_audio(self, packet: Any) -> None:
        pass

    def write(self, rgb: np.ndarray, pts: Any, time_base: Any) -> None:
        from .io import write_image

        name = self.name(self.frames)
        write_image(self.tmp / name, rgb, overwrite=True, quality=self.quality)
        self.written.append(name)
        self.frames += 1

    def commit(self) -> None:
        if not self.folder.exists():
            os.replace(self.tmp, self.folder)
            return
        if not self.overwrite:
            clash = next((n for n in self.written if (self.folder / n).exists()), None)
            if clash:
                raise OutputExistsError(self.folder / clash)
        for n in self.written:
            os.replace(self.tmp / n, self.folder / n)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _is_frames_output(dst: Path) -> bool:
    return is_sequence_pattern(dst) or dst.suffix.lower() not in VIDEO_SUFFIXES


# ============================================================================ the job


def colorize_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], colorizer: Colorizer,
                   options: ColorizeOptions | None = None, temporal: TemporalOptions | None = None, progress: bool = True,
                   overwrite: bool = False, *, codec: str | None = None, crf: int | None = 18, preset: str | None = None,
                   batch_size: int = 8, on_error: str = "stop", fps: float | None = None,
                   frame_format: str = "png", quality: int = 95, max_pixels: int | None = None,
                   hints: Any = None, hint_frame: int | None = None, hints_json: str | os.PathLike[str] | None = None,
                   hint_method: str | None = None, reference: Any = None, reference_strength: float | None = None,
                   guidance: FilmGuidance | None = None) -> VideoReport:
    """Colorize the film ``src`` into ``dst`` and return a :class:`VideoReport`.

    ``src``: any file FFmpeg reads, a folder of frames or a pattern like ``frames/frame_%05d.png``.
    ``dst``: a video file (container from the extension; ``codec`` default H.264/yuv420p at ``crf``),
    a folder or a pattern (frames as ``frame_format`` images). Frame count, timestamps (variable frame
    rate included), resolution and rotation metadata are kept; audio packets are copied unchanged.
    ``fps`` is the frame rate of a frame-sequence input (default 25). ``on_error``: ``"stop"`` raises
    :class:`VideoError` at the first undecodable frame, ``"skip"`` repeats the last good frame in its
    place and lists it in ``report.errors``. A stream that ends clearly before the frame count (or end
    time) its container declares, e.g. a truncated download, raises :class:`VideoError` with the counts;
    with ``"skip"`` the frames there are are written and the shortfall is listed in ``report.warnings``.
    Raises :class:`VideoError` (``"path: reason"``) for bad input or output and
    :class:`VideoOptionError` for bad numbers (before any work); ``dst`` is only created when the
    whole film was written. ``quality``: JPEG/WebP quality of frame outputs; ``max_pixels``: refuse
    films whose frames are larger (as :func:`colorize.io.read_image` does for photos).

    Guidance (issue 16; checked by :func:`colorize.guidance.film_guidance`, or pass its result as
    ``guidance``): ``hints`` for frame ``hint_frame`` (default 0; points, ``"X,Y=COLOR"`` strings or a
    hints image, in the frame's pixels as displayed), or a mapping frame -> hints, or ``hints_json``
    (a JSON file, see :func:`colorize.guidance.read_hints_json`). Hints are carried through their shot
    by the motion and end at a scene cut. ``reference``: a colour photo whose colours every frame
    takes (``reference_strength`` 0-1), carried by the temporal memory like the model's colours.
    ``hint_method`` as for photos. A hint frame past the film's end is a :class:`HintError`.
    """
    from .progress import progress_bar

    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
    from .guidance import film_guidance
    from .io import check_option

    quality = check_option("quality", quality)
    if max_pixels is not None:
        max_pixels = check_option("max_pixels", max_pixels)
    given = {"hints": hints, "hint_frame": hint_frame, "hints_json": hints_json, "hint_method": hint_method,
             "reference": reference, "reference_strength": reference_strength}
    if guidance is not None and any(v is not None for v in given.values()):
        raise ValueError("give either guidance= or the hints/reference arguments, not both")
    if guidance is None:
        guidance = film_guidance(**given)  # type: ignore[arg-type]
    if guidance.hints:
        from .hints import resolve_method

        resolve_method(colorizer, guidance.hint_method)  # e.g. "model" with a model trained without hints
    t0 = time.time()
    src, dst = Path(src), Path(dst)
    options = options or colorizer.options
    temporal = temporal if temporal is not None else TemporalOptions()
    frames_out = _is_frames_output(dst)
    check_video_options(fps=fps, batch_size=batch_size, crf=None if frames_out else crf,
                        codec=None if frames_out else encoder_for(dst, codec))
    if frames_out and not is_sequence_pattern(dst) and dst.suffix.lower() in SUPPORTED_INPUT_EXTENSIONS:
        raise VideoError(dst, "a film needs a video file (.mp4), a folder or a frame pattern (frames/%05d.png) as output")
    if not frames_out and dst.is_dir():
        raise VideoError(dst, "is a folder")
    if not frames_out and not overwrite and os.path.lexists(dst):
        raise OutputExistsError(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise VideoError(dst, "output would replace the input")
    if not frames_out:
        _prepare_parent(dst)
    source = _open_source(src, fps)
    if max_pixels is not None and source.width * source.height > max_pixels:
        w, h = source.width, source.height
        source.close()
        raise VideoError(src, f"frames are {w}x{h} ({w * h} pixels), more than the limit of {max_pixels} (max_pixels)")
    known = source.total if isinstance(source, _SequenceSource) else source.declared
    if guidance.hints and known is not None:
        try:
            for f in guidance.hints:
                check_hint_frame(f, known, str(src))
        except BaseException:
            source.close()
            raise
    sink: _AvSink | _SequenceSink | None = None
    report = VideoReport(str(src), str(dst), width=source.width, height=source.height, fps=float(source.rate),
                         temporal=temporal.enabled)
    tc = TemporalColorizer(colorizer, options, temporal, guidance=guidance if guidance else None)
    pending: list[_Frame] = []
    audio_backlog: list[Any] = []
    lost: list[tuple[int | None, str]] = []  # undecodable frames before the first good one
    last_good: np.ndarray | None = None
    index = 0
    last_time: float | None = None  # presentation time of the last decoded frame (seconds)

    def open_sink() -> _AvSink | _SequenceSink:
        if frames_out:
            names = [f.stem for f in source.files] if isinstance(source, _SequenceSource) and not is_sequence_pattern(src) else None
            fmt = dst.suffix.lstrip(".").lower() if is_sequence_pattern(dst) else frame_format
            start = source.start_number if isinstance(source, _SequenceSource) else 0
            frames = _SequenceSink(dst, names, fmt, start, overwrite, quality)
            if not overwrite and (frames.folder / frames.name(0)).exists():
                frames.abort()
                raise OutputExistsError(frames.folder / frames.name(0))
            return frames
        info = _StreamInfo(source.width, source.height, Fraction(source.rate), Fraction(source.time_base),
                           source.rotation, source.display_matrix or None)
        return _AvSink(dst, info, source.audio_streams, codec=codec, crf=crf, preset=preset, overwrite=overwrite)

    def flush(bar: Any) -> None:
        nonlocal sink
        if not pending:
            return
        if sink is None:
            sink = open_sink()
            report.rotation = source.rotation
            if guidance.hints:  # the rotation is known now: check the hints against the frames as displayed
                w, h = (source.height, source.width) if (source.rotation // 90) % 2 else (source.width, source.height)
                for f, hs in guidance.hints.items():
                    hs.check(w, h, f"frame {f} of {src}")
            for p in audio_backlog:
                sink.mux_audio(p)
            audio_backlog.clear()
        grays = [f.gray for f in pending]
        if grays[0].dtype == np.uint8:
            y = np.stack(grays).astype(np.float32) / np.float32(255)
        else:
            y = np.stack(grays).astype(np.float32)
        for j, u8 in enumerate(tc.colorize_u8_iter(y, source.rotation)):
            sink.write(u8, pending[j].pts, pending[j].time_base)
        bar.advance(len(pending), rate=(tc.frame_index / max(1e-6, time.time() - t0)))
        pending.clear()

    total = source.total
    label = src.name or str(src)
    try:
        if frames_out:
            sink = open_sink()
        with progress_bar(total, label[:40], enabled=progress, extra="{task.fields[rate]:.1f} fps") as bar:
            for kind, item in source.items():
                if kind == "audio":
                    if sink is None:
                        audio_backlog.append(item)
                    else:
                        sink.mux_audio(item)
                    continue
                if kind == "stop":
                    break
                if kind == "error":
                    pts, reason = item
                    if on_error == "stop":
                        of = f" of {source.declared}" if source.declared else ""
                        raise VideoError(src, f"frame {index}: {reason} ({index}{of} frames decoded before it)")
                    report.errors.append({"frame": index, "error": reason})
                    if last_good is None:
                        lost.append((pts, reason))
                    else:
                        pending.append(_Frame(last_good, pts, source.time_base if pts is not None else None, reason))
                        index += 1
                else:
                    frame: _Frame = item
                    if lost:  # frames lost before the first good one: repeat the first good frame
                        for pts, reason in lost:
                            pending.append(_Frame(frame.gray, pts, source.time_base if pts is not None else None, reason))
                            index += 1
                        lost.clear()
                    last_good = frame.gray
                    pending.append(frame)
                    index += 1
                    if frame.pts is not None and frame.time_base is not None:
                        t = float(frame.pts * frame.time_base)
                        last_time = t if last_time is None else max(last_time, t)
                if len(pending) >= batch_size:
                    flush(bar)
            flush(bar)
        if sink is None or sink.frames == 0:
            if report.errors:
                raise VideoError(src, f"no decodable video frames ({report.errors[0]['error']})")
            raise VideoError(src, "no video frames")
        report.declared_frames = source.declared
        for f in sorted(guidance.hints):
            check_hint_frame(f, index, str(src))  # the count was not declared: now it is known
        short = _ended_early(index, last_time, source.declared, source.declared_end, float(source.rate))
        if short:
            if on_error == "stop":
                raise VideoError(src, f"{short} (truncated or damaged file; --on-error skip keeps the frames there are)")
            report.warnings.append(short)
        with _signals_deferred():  # a SIGTERM here would leave both names; it is handled right after
            sink.commit()
    except BaseException as exc:
        if sink is not None:
            sink.abort()
        if isinstance(exc, (ImageError, KeyboardInterrupt, SystemExit)) or not isinstance(exc, Exception):
            raise
        import av

        if isinstance(exc, av.error.FFmpegError):
            raise VideoError(dst, f"cannot encode the video ({_av_reason(exc)})") from None
        if isinstance(exc, OSError):
            raise VideoError(dst, f"cannot write ({exc.strerror or exc})") from None
        raise
    finally:
        source.close()
    report.frames = sink.frames
    report.width, report.height = source.width, source.height
    report.audio = list(sink.audio_notes)
    report.scene_cuts = sorted(set(tc.scene_cuts))
    report.mean_confidence = float(np.mean(tc.confidences)) if tc.confidences else 0.0
    report.hint_frames = sorted(guidance.hints)
    report.reference = guidance.reference_label or ("array" if guidance.reference is not None else None)
    report.guided_frames = tc.guided_frames
    report.seconds = time.time() - t0
    return report


# ============================================================================ command line


def _check_encoder(dst: Path, name: str) -> None:
    """Refuse an encoder this FFmpeg build lacks, before any work (``--codec``)."""
    import av

    if name not in av.codecs_available:
        raise VideoOptionError("codec", f"video encoder {name!r} is not available in this FFmpeg build")
    try:
        codec = av.Codec(name, "w")
    except Exception as exc:
        raise VideoOptionError("codec", f"{name!r} is not an encoder ({_av_reason(exc)})") from None
    if codec.type != "video":
        raise VideoOptionError("codec", f"{name!r} is not a video encoder")
