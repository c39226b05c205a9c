"""``colorize web``: a local web page and an HTTP API on one server (FastAPI + Gradio, offline).

::

    colorize web                                  # http://127.0.0.1:7860
    colorize web --model runs/mine/model.json --port 8000 --max-upload-mb 20

* ``/`` -- the Gradio page: drop one or many photos (shown as thumbnails; a re-run colorizes only what
  has no result for the current settings), compare before/after with a slider or side by side, adjust
  render size / saturation / temperature (the model's defaults shown), optionally match a reference photo's colours or click
  colour hints (when :mod:`colorize.hints` is installed), download a full-resolution PNG/JPEG (a
  ZIP for several photos).
* ``POST /api/colorize`` -- multipart image upload + form fields, returns the image bytes;
  ``GET /api/health``, ``GET /api/models``; OpenAPI at ``/api/openapi.json``, docs at ``/api/docs`` (Swagger UI served
  from this package's files, no CDN).

Everything is local: Gradio analytics are off, the theme uses system fonts (no Google Fonts), no
share link, bound to 127.0.0.1 unless ``--host`` says otherwise. One model call runs at a time
(the page's queue and the API share a lock; 2-core laptops gain nothing from parallel calls).
Every failure is reported as one message (``gr.Error`` on the page, a JSON ``detail`` from the
API); the server never crashes on a bad upload. Page events may name only this server's own uploads
(:class:`GradioFileGuard`), nothing is fetched for a caller, ``--max-upload-mb`` holds while a body streams
(:class:`UploadLimitMiddleware`), and the work folder goes on SIGINT and SIGTERM. See docs/web.md.
"""


import atexit
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import DistributionError, HintError, OptionError, ReferenceImageError, WebError
from .hints import parse_color

log = logging.getLogger("colorize.web")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_PIXELS = 24_000_000  # a 6000x4000 camera frame: roughly 1 GB of RAM (extrapolated from 3 MP: +65 MB)
DEFAULT_MAX_FILES = 100
MAX_UPLOAD_MB_CEILING = 10_240.0  # 10 GB: beyond this a "limit" is a typo
PREVIEW_MAX_SIDE = 2048  # the page's before/after images; downloads are always full resolution
KEEP_OUTPUTS_S = 3600  # results are deleted from the server's work folder after an hour
QUICK_PREVIEW_SIDE = 512  # the hint editor's live preview: the photo shrunk to this long side ...
QUICK_PREVIEW_RENDER = 128  # ... and seen by the model at most at this render size (docs/web.md: latency)
DEFAULT_SUGGESTIONS = 6

# format name -> (file suffix, media type)
OUTPUT_FORMATS = {"png": (".png", "image/png"), "jpeg": (".jpg", "image/jpeg"), "webp": (".webp", "image/webp")}
_FORMAT_ALIASES = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}



def _offline_environment() -> None:
    """Before gradio is imported: no analytics, no telemetry, no hub access."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")


@dataclass
class Limits:
    max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_files: int = DEFAULT_MAX_FILES

    def describe(self) -> str:
        mp = f", {self.max_pixels / 1e6:g} megapixels" if self.max_pixels else ""
        return f"up to {self.max_upload_bytes / 2**20:g} MB{mp} per photo, {self.max_files} photos at a time"


def _format_mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _too_large(size: int, limit: int) -> str:
    """``"3.0 MB; the limit is 1.0 MB"``, with more digits when one decimal would show the two as equal."""
    for digits in (1, 2, 3):
        a, b = f"{size / 2**20:.{digits}f}", f"{limit / 2**20:.{digits}f}"
        if a != b:
            return f"{a} MB; the limit is {b} MB"
    return f"{size} bytes; the limit is {limit} bytes"


def to_hex(value: Any) -> str:
    """Any colour :func:`colorize.hints.parse_color` reads (what the page's picker sends) -> ``"#rrggbb"``."""
    try:
        r, g, b = parse_color(value)
        return f"#{r:02x}{g:02x}{b:02x}"
    except HintError as exc:
        raise WebError(str(exc)) from None


# ----------------------------------------------------------------------------- the service (no gradio here)


@dataclass
class Result:
    name: str
    output: Path
    before_preview: Path
    after_preview: Path
    width: int
    height: int
    seconds: float
    source: str = ""  # the path it was made from (the page matches results back to its uploads)


@dataclass
class ColorizeService:
    """One loaded colorizer, the limits, a lock and a work folder; shared by the page and the API."""

    colorizer: Any
    model_name: str
    limits: Limits = field(default_factory=Limits)
    workdir: Path | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._owns_workdir = self.workdir is None
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="colorize-web-"))
            atexit.register(shutil.rmtree, self.workdir, True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.started = time.time()
        self.requests = 0

    def close(self) -> None:
        """Delete the work folder (source previews and results: users' photos) now, not only at exit."""
        if self.workdir is not None and self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -------------------------------------------------------------- facts

    @property
    def head(self) -> str:
        return str(self.colorizer.model.config.head)

    @property
    def takes_hint_channels(self) -> bool:
        return bool(self.colorizer.model.config.hints)

    def model_summary(self) -> dict[str, Any]:
        info = dict(self.colorizer.info or {})
        prov = info.get("provenance") or {}
        return {
            "name": self.model_name,
            "arch": info.get("arch"),
            "space": self.colorizer.model.config.space,
            "head": self.head,
            "hints": self.takes_hint_channels,
            "parameters": int(self.colorizer.model.num_parameters()),
            "trained": bool(prov.get("trained", False)),
            "backend": getattr(self.colorizer, "backend", "torch"),
            "device": str(self.colorizer.device),
            "defaults": {"render_size": self.colorizer.options.render_size, "saturation": self.colorizer.options.saturation,
                         "temperature": self.colorizer.options.temperature,
                         "consensus_radius": self.colorizer.options.consensus_radius},
            "editor": {"preview_side": QUICK_PREVIEW_SIDE, "preview_render_size": QUICK_PREVIEW_RENDER,
                       "hint_point_radius": _default_point_radius(), "suggestions": self.head == "distribution"},
        }

    # -------------------------------------------------------------- steps

    def check_options(self, render_size: Any, saturation: Any, temperature: Any, consensus: Any = None) -> dict[str, Any]:
        o = self.colorizer.options
        try:
            rs = int(render_size) if render_size not in (None, "") else o.render_size
            sat = float(saturation) if saturation not in (None, "") else o.saturation
            temp = float(temperature) if temperature not in (None, "") else o.temperature
            cons = float(consensus) if consensus not in (None, "") else o.consensus_radius
        except (TypeError, ValueError):
            raise WebError("render_size and consensus must be integers, saturation and temperature numbers", 422) from None
        from .io import check_option  # the one rule the CLI and the Python API use too

        values = {"render_size": rs, "saturation": sat, "temperature": temp, "consensus_radius": cons}
        try:
            return {name: check_option(name, v) for name, v in values.items()}
        except OptionError as exc:
            raise WebError(str(exc), 422) from None

    def load(self, source: str | os.PathLike[str] | bytes, name: str) -> Any:
        """Read an upload (path or bytes) as a :class:`colorize.io.LoadedImage`, enforcing the limits."""
        from .io import ImageError, read_image

        size = len(source) if isinstance(source, (bytes, bytearray)) else _file_size(source)
        if size is None:
            raise WebError(f"{name}: the upload was lost; please try again")
        if size > self.limits.max_upload_bytes:
            raise WebError(f"{name}: file is too large ({_too_large(size, self.limits.max_upload_bytes)})", 413)
        if size == 0:
            raise WebError(f"{name}: empty file, not an image")
        try:
            return read_image(source if isinstance(source, (bytes, bytearray)) else Path(source), max_pixels=self.limits.max_pixels)
        except ImageError as exc:
            status = 413 if "more than the limit" in exc.reason else 400
            reason = exc.reason.replace(" (set --max-pixels / COLORIZE_MAX_PIXELS)", "")
            raise WebError(f"{name}: {reason}", status) from None

    def colorize(self, loaded: Any, options: dict[str, Any], *, reference: Any = None, reference_strength: float | None = None,
                 hints: Sequence[tuple[float, float, str]] | None = None, fmt: str | None = None) -> Any:
        """Colorize a loaded image -> HxWx3 float32 sRGB; serialised by the service lock.

        ``hints``: ``(x, y, "#rrggbb")`` in pixels of the photo; ``reference``: HxWx3 float sRGB. Both go
        to :meth:`Colorizer.colorize_array` (:mod:`colorize.hints`, :mod:`colorize.reference`). With the
        output format ``fmt`` known and 8-bit (all but a 16-bit source to PNG), the result is uint8 from
        the fused join (what :meth:`save` would round it to anyway, several times faster at 12 MP).
        """
        import numpy as np

        guided: dict[str, Any] = {}
        if hints or reference is not None:
            if hints:
                guided["hints"] = list(hints)
            if reference is not None:
                guided["reference"] = reference
                guided["reference_strength"] = reference_strength
        eight_bit = fmt is not None and _output_depth(fmt, loaded) == 8
        with self.lock:
            self.requests += 1
            try:
                rgb = self.colorizer.colorize_array(loaded.rgb, **guided, **options, uint8=eight_bit)
            except MemoryError:
                raise WebError("not enough memory for this image; try a smaller one or lower --max-pixels", 413) from None
            except (HintError, ReferenceImageError) as exc:
                if guided:
                    raise WebError(str(exc)) from None
                raise
        return rgb if eight_bit else np.asarray(rgb, dtype=np.float32)

    def check_k(self, k: Any) -> int:
        """The number of suggested colours, by the rule the Python API uses (:func:`colorize.io.check_option`)."""
        from .io import check_option

        try:
            return int(check_option("k", DEFAULT_SUGGESTIONS if k in (None, "") else k))
        except OptionError as exc:
            raise WebError(str(exc), 422) from None

    def suggest(self, loaded: Any, x: float, y: float, k: int, options: dict[str, Any]) -> list[dict[str, Any]]:
        """:meth:`Colorizer.suggest_colors` at ``(x, y)`` (pixels of the upload), as JSON-ready dicts."""
        with self.lock:
            self.requests += 1
            try:
                found = self.colorizer.suggest_colors(loaded.gray, x, y, k=k, render_size=options["render_size"])
            except (HintError, DistributionError) as exc:
                raise WebError(str(exc), 422) from None
        return [{"hex": c.hex, "rgb": list(c.rgb), "probability": c.probability} for c in found]

    def uncertainty(self, loaded: Any, options: dict[str, Any]) -> Any:
        """:meth:`Colorizer.uncertainty` of an upload: HxW float32 in [0, 1]."""
        with self.lock:
            self.requests += 1
            try:
                return self.colorizer.uncertainty(loaded.gray, render_size=options["render_size"])
            except DistributionError as exc:
                raise WebError(str(exc), 422) from None

    def quick_preview(self, loaded: Any, options: dict[str, Any], hints: Sequence[tuple[Any, ...]] | None = None) -> Any:
        """The hint editor's live preview: the photo shrunk to :data:`QUICK_PREVIEW_SIDE` (long side), seen at
        most at :data:`QUICK_PREVIEW_RENDER`, with ``hints`` (pixels of the upload) moved and scaled along.
        Returns HxWx3 uint8 at the shrunk size. Why: every click re-renders, so it must stay well under
        half a second on a laptop CPU; "Colorize" gives the full-resolution result."""
        import numpy as np

        from .imaging import resize_bilinear

        gray = np.asarray(loaded.gray, dtype=np.float32)
        H, W = gray.shape
        scale = min(1.0, QUICK_PREVIEW_SIDE / max(H, W))
        if scale < 1.0:
            h, w = max(1, round(H * scale)), max(1, round(W * scale))
            gray = np.clip(resize_bilinear(gray[None], (h, w))[0], 0, 1)
            sy, sx = h / H, w / W
            if hints:  # validated against the upload first, so the message names the photo the caller sent
                from .hints import Hints

                try:
                    Hints.from_points(hints).check(W, H)
                except HintError as exc:
                    raise WebError(str(exc)) from None
                hints = [(min(w - 1.0, max(0.0, (p[0] + 0.5) * sx - 0.5)), min(h - 1.0, max(0.0, (p[1] + 0.5) * sy - 0.5)), p[2],
                          *([p[3] * min(sx, sy)] if len(p) > 3 and p[3] is not None else [])) for p in hints]
        small = dict(options, render_size=min(int(options["render_size"]), QUICK_PREVIEW_RENDER))
        with self.lock:
            self.requests += 1
            try:
                return self.colorizer.colorize_array(gray, hints=list(hints) if hints else None, uint8=True, **small)
            except MemoryError:
                raise WebError("not enough memory for this image; try a smaller one or lower --max-pixels", 413) from None
            except HintError as exc:
                raise WebError(str(exc)) from None

    def save(self, rgb: Any, loaded: Any, name: str, fmt: str, quality: int = 95) -> Path:
        """Write the full-resolution result into a fresh folder of the work dir (alpha and 16 bits kept for PNG)."""
        from .io import write_image

        fmt = normalise_format(fmt)
        suffix = OUTPUT_FORMATS[fmt][0]
        folder = Path(tempfile.mkdtemp(dir=self.workdir))
        out = folder / f"{_safe_stem(name)}_colorized{suffix}"
        return write_image(out, rgb, alpha=loaded.alpha, bit_depth=_output_depth(fmt, loaded), overwrite=True, quality=quality)

    def encode(self, rgb: Any, loaded: Any, fmt: str, quality: int = 95) -> bytes:
        path = self.save(rgb, loaded, "api", fmt, quality)
        try:
            return path.read_bytes()
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)

    def preview(self, rgb: Any, folder: Path, name: str) -> Path:
        """A PNG of at most PREVIEW_MAX_SIDE pixels on the long side, for the page."""
        import numpy as np
        from PIL import Image

        arr = np.asarray(rgb)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        img = Image.fromarray(arr)
        if max(img.size) > PREVIEW_MAX_SIDE:
            img.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
        path = folder / f"{name}.png"
        img.save(path, compress_level=1)
        return path

    def prune(self) -> None:
        """Delete result folders older than KEEP_OUTPUTS_S."""
        assert self.workdir is not None
        cutoff = time.time() - KEEP_OUTPUTS_S
        for d in self.workdir.iterdir():
            try:
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink()
            except OSError:
                pass

    # -------------------------------------------------------------- the page's batch job

    def process_files(self, files: Sequence[str], options: dict[str, Any], fmt: str, *, reference: Any = None,
                      reference_strength: float | None = None, hints: Sequence[dict[str, Any]] | None = None,
                      progress: Any = None) -> tuple[list[Result], list[str], Path | None]:
        """Colorize uploaded files; returns (results, error messages, download path: the file or a ZIP).

        ``hints`` (``{"x": 0-1, "y": 0-1, "color": ...}``, relative to the image) apply to the first photo.
        """
        self.prune()
        results: list[Result] = []
        errors: list[str] = []
        n = len(files)
        for i, path in enumerate(files):
            name = _display_name(path)
            if progress is not None:
                progress((i, n), desc=f"Colorizing {name}", unit="photos")
            t0 = time.time()
            try:
                loaded = self.load(path, name)
                points = _hint_points(hints, loaded.rgb.shape[:2]) if hints and i == 0 else None  # first photo only
                rgb = self.colorize(loaded, options, reference=reference, reference_strength=reference_strength, hints=points,
                                    fmt=fmt)
                out = self.save(rgb, loaded, name, fmt)
                before = self.preview(loaded.rgb, out.parent, "before")
                after = self.preview(rgb, out.parent, "after")
            except WebError as exc:
                errors.append(exc.message)
                continue
            except Exception as exc:  # never let one photo take the page down
                log.exception("colorizing %s failed", name)
                errors.append(f"{name}: could not be colorized ({type(exc).__name__}: {exc})")
                continue
            h, w = loaded.rgb.shape[:2]
            results.append(Result(name, out, before, after, int(w), int(h), time.time() - t0, str(path)))
        if progress is not None:
            progress((n, n), desc="Done", unit="photos")
        download: Path | None = None
        if len(results) == 1:
            download = results[0].output
        elif len(results) > 1:
            download = _zip_results(results, Path(tempfile.mkdtemp(dir=self.workdir)) / "colorized.zip")
        return results, errors, download


def _fast_png(arr: Any) -> bytes:
    """An 8-bit array as a PNG made for speed (zlib level 1: 512 px in a few ms instead of ~0.1 s at the
    default level): the editor's previews and maps are shown once and thrown away."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _default_point_radius() -> float:
    """Radius (render-size pixels) :mod:`colorize.hints` gives a point hint without one: the editor draws it."""
    from .hints import DEFAULT_POINT_RADIUS

    return float(DEFAULT_POINT_RADIUS)


def _file_size(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _display_name(path: Any) -> str:
    return Path(str(path)).name or "upload"


def _safe_stem(name: str) -> str:
    stem = Path(name).stem or "image"
    stem = re.sub(r"[^\w.\- ]+", "_", stem).strip(" .") or "image"
    return stem[:100]


def _output_depth(fmt: str, loaded: Any) -> int:
    """Bits per sample of a download in ``fmt``: the source's for PNG (16-bit kept), else 8."""
    return loaded.bit_depth if normalise_format(fmt) == "png" else 8


def normalise_format(fmt: str | None) -> str:
    key = (fmt or "png").strip().lower().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise WebError(f"format must be one of png, jpeg, webp (got {fmt!r})", 422)
    return _FORMAT_ALIASES[key]


def _zip_results(results: Sequence[Result], path: Path) -> Path:
    used: set[str] = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG/JPEG are compressed already
        for r in results:
            arc = r.output.name
            k = 1
            while arc in used:
                arc = f"{r.output.stem}_{k}{r.output.suffix}"
                k += 1
            used.add(arc)
            zf.write(r.output, arc)
    return path


# ----------------------------------------------------------------------------- hints


def _hint_points(hints: Sequence[dict[str, Any]], shape: tuple[int, int]) -> list[tuple[Any, ...]]:
    """Page hints (``{"x", "y", "color"[, "radius"]}``: x, y relative 0-1, radius relative to the long side) ->
    ``(x, y, "#rrggbb"[, radius])`` in pixels of a ``shape`` (h, w) photo."""
    h, w = shape
    out: list[tuple[Any, ...]] = []
    for p in hints:
        try:
            x, y = float(p["x"]), float(p["y"])
            radius = float(p["radius"]) * max(h, w) if p.get("radius") is not None else None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise WebError(f"hint {p!r}: expected x and y (0-1) and a colour") from None
        point = (min(w - 1.0, max(0.0, x * w)), min(h - 1.0, max(0.0, y * h)), to_hex(p.get("color")))
        out.append(point if radius is None else (*point, max(0.0, radius)))
    return out


def parse_hint_field(text: str | None) -> list[tuple[Any, ...]] | None:
    """The API's ``hints`` field: ``"X,Y=COLOR; X,Y=COLOR"`` (pixels; CSS name or #rrggbb) -> points."""
    if not text or not text.strip():
        return None
    from .hints import parse_hint

    points = []
    for item in re.split(r"[;\n]+", text):
        if item.strip():
            try:
                p = parse_hint(item.strip())
            except HintError as exc:
                raise WebError(str(exc).replace("--hint ", "hint "), 422) from None
            points.append((p.x, p.y, "#{:02x}{:02x}{:02x}".format(*p.rgb), p.radius))
    return points or None


# ----------------------------------------------------------------------------- the Gradio page


_CSS = """
#status p { margin: 0.25em 0; }
#status .error { color: var(--error-text-color, #b91c1c); font-weight: 600; }
#hint-editor iframe { width: 100%; height: 560px; border: 0; }
"""

_EDITOR_FRAME = '<iframe src="/editor/" title="Hint editor" loading="eager"></iframe>'
"""The hint editor (``web_static/editor``, served by this server at ``/editor/``) inside the page."""

_EDITOR_HANDOVER_JS = """(files) => {
  const list = Array.isArray(files) ? files : (files ? [files] : []);
  const f = list[0];
  const frame = document.querySelector('#hint-editor iframe');
  if (f && frame && frame.contentWindow) {
    const url = f.url || (f.path ? '/gradio_api/file=' + f.path : null);
    if (url) frame.contentWindow.postMessage({type: 'colorize-photo', url: url, name: f.orig_name || ''}, window.location.origin);
  }
  return [];
}"""
"""Browser-only handler of the photos box: hand the first photo (its URL on this server) to the editor."""

_RUN_WITH_EDITOR_HINTS_JS = """(...args) => {
  const frame = document.querySelector('#hint-editor iframe');
  const files = Array.isArray(args[0]) ? args[0] : (args[0] ? [args[0]] : []);
  const first = files[0];
  const take = frame && frame.contentWindow && frame.contentWindow.colorizeEditorHints;
  const url = first && (first.url || (first.path ? '/gradio_api/file=' + first.path : null));
  args[7] = (take && url) ? (take(url) || []) : [];
  return args;
}"""
"""Before the page's Colorize: the hints the editor holds for the first photo (relative x, y, radius) go with it."""


def _theme():
    import gradio as gr

    # System fonts: the default theme would load Inter / IBM Plex Mono from fonts.googleapis.com.
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def _status_markdown(results: Sequence[Result], errors: Sequence[str]) -> str:
    lines = []
    if results:
        total = sum(r.seconds for r in results)
        lines.append(f"Colorized {len(results)} photo{'s' if len(results) != 1 else ''} in {total:.1f} s "
                     f"({', '.join(f'{r.name} {r.width}x{r.height}' for r in results[:5])}{' ...' if len(results) > 5 else ''}).")
    for e in errors:
        lines.append(f'<span class="error">Error: {_escape(e)}</span>')
    return "\n\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reference_strength() -> float:
    try:
        from .reference import REFERENCE_STRENGTH

        return float(REFERENCE_STRENGTH)
    except ImportError:
        return 0.8


THUMB_MAX_SIDE = 192  # the upload thumbnails: small PNGs made here (TIFF and 16-bit PNG show too)
_THUMB_CACHE_ENTRIES = 2000


def _run_key(path: str, options: dict[str, Any], fmt: str, reference: Any, reference_strength: float,
             hints: Sequence[dict[str, Any]] | None) -> str:
    """What a result depends on: a photo already colorized with the same key is not colorized again."""
    return json.dumps([str(path), options, fmt, str(reference) if reference else None,
                       round(float(reference_strength), 4) if reference else None, list(hints or [])],
                      sort_keys=True, default=str)


def _defaults_note(o: Any) -> str:
    return (f"Model defaults: render size {o.render_size} px, saturation {o.saturation:g}, "
            f"temperature {o.temperature:g}, consensus {o.consensus_radius}.")


def build_demo(service: ColorizeService):
    """The Gradio Blocks of the page (queued, one job at a time)."""
    _offline_environment()
    import gradio as gr

    show_hints = True  # colour hints and reference photos are always offered
    o = service.colorizer.options
    distribution = service.head == "distribution"
    summary = service.model_summary()
    thumbs: dict[str, str] = {}  # upload path -> its thumbnail (uploads are unique paths; kept for the server's life)

    def uploaded_only(paths: Sequence[Any]) -> None:
        """Second line behind :class:`GradioFileGuard`: open nothing outside Gradio's upload folder."""
        folder = _upload_folder()
        if not all(isinstance(p, (str, os.PathLike)) and _inside(str(p), folder) for p in paths):
            raise gr.Error(FILE_REFUSED)

    def as_list(files: Any) -> list[str]:
        if not files:
            return []
        if isinstance(files, (str, os.PathLike)):
            files = [files]
        return [str(f) for f in files]

    def thumbnail(path: str) -> str | None:
        """A small PNG of an upload (None when it is not a readable image: the run reports why)."""
        if path in thumbs and os.path.exists(thumbs[path]):
            return thumbs[path]
        try:
            loaded = service.load(path, _display_name(path))
        except WebError:
            return None
        from PIL import Image

        arr = loaded.rgb
        if arr.dtype != "uint8":
            import numpy as np

            arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
        img = Image.fromarray(arr)
        img.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.LANCZOS)
        out = Path(tempfile.mkdtemp(dir=service.workdir)) / "thumb.png"
        img.save(out, compress_level=1)
        if len(thumbs) >= _THUMB_CACHE_ENTRIES:
            thumbs.pop(next(iter(thumbs)))
        thumbs[path] = str(out)
        return str(out)

    def thumb_gallery(files: list[str], done_paths: set[str]):
        items = []
        for f in files:
            t = thumbnail(f)
            name = _display_name(f)
            if t is not None:
                items.append((t, f"{name} (colorized)" if f in done_paths else name))
        return gr.update(value=items, visible=bool(files))

    def on_files(files: list[str] | None, done: dict[str, Any] | None):
        files = as_list(files)
        uploaded_only(files)
        done_paths = {r.get("path") for r in (done or {}).values()}
        return thumb_gallery(files, done_paths)

    def on_reference(reference: str | None, strength: float):
        if not reference:
            return gr.update(visible=False), None, ""
        uploaded_only([reference])
        t = thumbnail(str(reference))
        note = (f"**Reference photo applied** to every batch: {_escape(_display_name(reference))} "
                f"(strength {float(strength):g}). Remove it to get the automatic colours.")
        return gr.update(visible=True), t, note

    def remove_reference():
        return None

    def reset_options():
        return o.render_size, o.saturation, o.temperature, o.consensus_radius

    def run(files, render_size, saturation, temperature, fmt, reference, reference_strength, hints, done, consensus=None,
            progress=gr.Progress()):
        files = as_list(files)
        if not files:
            raise gr.Error("Drop one or more photos first.")
        if len(files) > service.limits.max_files:
            raise gr.Error(f"Too many photos at once ({len(files)}; the limit is {service.limits.max_files}).")
        uploaded_only(list(files) + ([reference] if reference else []))
        try:
            options = service.check_options(render_size, saturation, temperature, consensus)
            ref = service.load(reference, "reference photo").rgb if reference else None
        except WebError as exc:
            raise gr.Error(exc.message) from None
        fmt = normalise_format(str(fmt))
        done = dict(done or {})
        keys = [_run_key(f, options, fmt, reference, reference_strength, hints if i == 0 else None)
                for i, f in enumerate(files)]
        todo = [f for f, k in zip(files, keys) if not (k in done and os.path.exists(done[k]["result"].output))]
        first_hints = (hints or None) if todo and todo[0] == files[0] else None  # hints belong to the first photo
        try:
            new, errors, _ = service.process_files(
                todo, options, fmt, reference=ref, reference_strength=float(reference_strength), hints=first_hints,
                progress=progress) if todo else ([], [], None)
        except Exception as exc:  # pragma: no cover - process_files already catches per photo
            log.exception("web job failed")
            raise gr.Error(f"Could not colorize: {type(exc).__name__}: {exc}") from None
        by_path = {r.source: r for r in new}
        for f, k in zip(files, keys):
            if f in by_path:
                done[k] = {"path": f, "result": by_path[f]}
        results = [done[k]["result"] for k in keys if k in done and os.path.exists(done[k]["result"].output)]
        reused = [done[k]["result"] for f, k in zip(files, keys) if k in done and f not in by_path]
        if not results:
            raise gr.Error(" ".join(errors) if len(errors) <= 3 else f"{errors[0]} (and {len(errors) - 1} more errors)")
        if errors:
            gr.Warning(f"{len(errors)} of {len(files)} photos failed; see the messages below the result.")
        download: Path | None = results[0].output if len(results) == 1 else _zip_results(
            results, Path(tempfile.mkdtemp(dir=service.workdir)) / "colorized.zip")
        pairs = [(str(r.before_preview), str(r.after_preview)) for r in results]
        gallery = [(str(r.after_preview), r.name) for r in results]
        lines = [_status_markdown(new, errors)] if new or errors else []
        if reused:
            lines.append(f"Already colorized with these settings (not run again): "
                         f"{_escape(', '.join(r.name for r in reused[:5]))}{' ...' if len(reused) > 5 else ''}.")
        if reference:
            lines.append(f"Reference photo: {_escape(_display_name(reference))} (strength {float(reference_strength):g}).")
        if hints:
            lines.append(f"Colour hints from the editor: {len(hints)} on {_escape(_display_name(files[0]))}.")
        done_paths = {v["path"] for v in done.values()}
        return (
            pairs[0], pairs[0][0], pairs[0][1],
            gr.Gallery(value=gallery, visible=len(results) > 1),
            str(download),
            "\n\n".join(lines),
            pairs,
            done,
            thumb_gallery(files, done_paths),
        )

    def pick(pairs: list[tuple[str, str]], evt: gr.SelectData):
        if not pairs or evt.index is None:
            return gr.skip(), gr.skip(), gr.skip()
        i = evt.index if isinstance(evt.index, int) else evt.index[0]
        pair = pairs[min(int(i), len(pairs) - 1)]
        return pair, pair[0], pair[1]

    shown_name = Path(summary["name"]).stem if any(c in summary["name"] for c in "/\\.") else summary["name"]
    with gr.Blocks(title="colorize", analytics_enabled=False, fill_width=True,
                   delete_cache=(KEEP_OUTPUTS_S, KEEP_OUTPUTS_S)) as demo:
        gr.Markdown(
            "## colorize\nBring black-and-white photos to colour. Luminance is kept exactly; only colour is added. "
            f"Model **{_escape(shown_name)}** ({summary['arch']}, {summary['head']} head, "
            f"{'trained' if summary['trained'] else 'untrained: random weights'}, {summary['backend']}). "
            f"Limits: {service.limits.describe()}. HTTP API: `POST /api/colorize` (docs at [/api/docs](/api/docs))."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                files = gr.File(label="Photos (drop one or many)", file_count="multiple",
                                file_types=["image"], type="filepath", elem_id="photos", height=150)
                thumbs_view = gr.Gallery(label="Photos to colorize", visible=False, columns=4, height=160,
                                         allow_preview=False, interactive=False, elem_id="thumbs", object_fit="contain",
                                         fit_columns=False)
                with gr.Row(visible=False, elem_id="reference-note", equal_height=True) as ref_row:
                    ref_thumb = gr.Image(label="Reference", type="filepath", interactive=False, height=90,
                                         elem_id="reference-thumb", scale=1, min_width=90)
                    with gr.Column(scale=3):
                        ref_note = gr.Markdown(elem_id="reference-text")
                        ref_remove = gr.Button("Remove reference photo", size="sm", elem_id="reference-remove")
                run_btn = gr.Button("Colorize", variant="primary", elem_id="run")
                with gr.Accordion("Options", open=True):
                    gr.Markdown(_defaults_note(o), elem_id="defaults")
                    render_size = gr.Slider(128, 1024, value=o.render_size, step=32, label="Render size (px, long side)",
                                            info=f"the size at which the model sees the photo; larger = finer colour "
                                                 f"detail, slower (model default {o.render_size})", elem_id="render-size")
                    saturation = gr.Slider(0.0, 2.0, value=o.saturation, step=0.05, elem_id="saturation",
                                           label="Saturation", info=f"1 = as predicted (model default {o.saturation:g})")
                    temperature = gr.Slider(0.05, 1.0, value=o.temperature, step=0.01, label="Temperature",
                                            info=f"lower = more vivid, distribution models only (model default "
                                                 f"{o.temperature:g})", interactive=distribution, elem_id="temperature")
                    consensus = gr.Slider(0, 15, value=o.consensus_radius, step=1, label="Consensus (against blotches)",
                                          info="neighbours of similar gray agree on one colour; 0 = off, distribution "
                                               f"models only (model default {o.consensus_radius})", interactive=distribution,
                                          elem_id="consensus")
                    reset_btn = gr.Button("Reset to the model's defaults", size="sm", elem_id="reset-options")
                    fmt = gr.Radio(["PNG", "JPEG"], value="PNG", label="Download format")
                with gr.Accordion("Reference photo (optional)", open=False, visible=show_hints):
                    reference = gr.Image(label="A colour photo whose colours to borrow", type="filepath",
                                         sources=["upload", "clipboard"], elem_id="reference", height=160)
                    reference_strength = gr.Slider(0.0, 1.0, value=_reference_strength(), step=0.05, label="Reference strength",
                                                   info="0 = the automatic result, 1 = the reference's colours")
            with gr.Column(scale=2, min_width=400):
                with gr.Tabs():
                    with gr.Tab("Slider", elem_id="tab-slider"):
                        slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="result", max_height=520)
                    with gr.Tab("Side by side", elem_id="tab-compare"):
                        with gr.Row(elem_id="compare"):
                            before_img = gr.Image(label="Before", type="filepath", interactive=False, elem_id="before",
                                                  height=420)
                            after_img = gr.Image(label="After", type="filepath", interactive=False, elem_id="after",
                                                 height=420)
                gallery = gr.Gallery(label="All results (click to compare)", visible=False, columns=6, height=140,
                                     elem_id="gallery", allow_preview=False)
                download = gr.File(label="Download (full resolution)", elem_id="download", interactive=False)
                status = gr.Markdown(elem_id="status")
        with gr.Accordion("Hint editor: colour hints with suggested colours and a live preview (the first photo)",
                          open=True, visible=show_hints, elem_id="hint-editor"):
            gr.HTML(_EDITOR_FRAME)
        # The first photo's hints, filled in the browser from the editor by _RUN_WITH_EDITOR_HINTS_JS just before a run
        # (a hidden JSON, not a gr.State: a State's value is the server's, whatever the browser sends).
        hint_state = gr.JSON(value=[], visible=False)
        pairs_state = gr.State([])
        done_state = gr.State({})  # run key -> {"path": upload, "result": Result}: what is already colorized

        files.change(on_files, [files, done_state], [thumbs_view], queue=False, show_progress="hidden")
        reference.change(on_reference, [reference, reference_strength], [ref_row, ref_thumb, ref_note], queue=False,
                         show_progress="hidden")
        reference_strength.release(on_reference, [reference, reference_strength], [ref_row, ref_thumb, ref_note],
                                   queue=False, show_progress="hidden")
        run_btn.click(run, [files, render_size, saturation, temperature, fmt, reference, reference_strength, hint_state,
                            done_state, consensus],
                      [slider, before_img, after_img, gallery, download, status, pairs_state, done_state, thumbs_view],
                      api_name="colorize_files", js=_RUN_WITH_EDITOR_HINTS_JS)
        # (registered after the run so its fn_index stays 3, as before)
        gallery.select(pick, [pairs_state], [slider, before_img, after_img], queue=False)
        files.change(None, [files], None, js=_EDITOR_HANDOVER_JS, queue=False)  # browser only: the editor opens photo 1
        ref_remove.click(remove_reference, None, [reference], queue=False)
        reset_btn.click(reset_options, None, [render_size, saturation, temperature, consensus], queue=False)
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


# ----------------------------------------------------------------------------- request guards (pure ASGI)

# One answer for every file the server will not read: the same for a missing file, an existing file outside
# the uploads, a ../ path and a URL, so a caller learns nothing about the server's disk.
FILE_REFUSED = "file refused: only photos uploaded to this page can be used"
_GRADIO_UPLOAD_ROUTE = "/gradio_api/upload"
_MAX_EVENT_JSON_BYTES = 2 * 2**20  # an event's JSON body (file references and settings, never file contents)
_MULTIPART_SLACK = 64 * 1024  # form fields and multipart headers around the photo


def _upload_folder() -> Path:
    """Gradio's upload/cache folder (``GRADIO_TEMP_DIR``), resolved: the only place the page's files come from."""
    try:
        from gradio.utils import get_upload_folder

        folder = get_upload_folder()
    except ImportError:  # pragma: no cover - build_demo needs gradio anyway
        folder = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return Path(os.path.realpath(folder))


def _inside(path: str, folder: Path) -> bool:
    """Is ``path`` (symlinks and ``..`` resolved) a regular file inside ``folder``?"""
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):
        return False
    return real != folder and folder in real.parents and real.is_file()


def _is_url_like(text: str) -> bool:
    t = text.strip().lower()
    return "://" in t or t.startswith(("data:", "//", "\\\\"))


def _own_file_url(url: Any, path: str) -> bool:
    """A FileData ``url`` is accepted only as this server's own ``/gradio_api/file=<path>`` link for the same
    path (what the page sends back for an upload); it is never fetched."""
    if url is None:
        return True
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("", "http", "https"):
        return False
    return unquote(parts.path).endswith("/gradio_api/file=" + path) or unquote(parts.path).endswith("/file=" + path)


def _event_files_allowed(data: Any, uploaded: set[str] | frozenset[str], folder: Path) -> bool:
    """Every file reference in an event's ``data`` must be one of this server's uploads: a path Gradio's
    upload route returned, resolving inside the upload folder, with no URL except its own link."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            is_file = "path" in item or "url" in item or (isinstance(meta, dict) and meta.get("_type") == "gradio.FileData")
            if is_file:
                path = item.get("path")
                if not isinstance(path, str) or not path or _is_url_like(path) or path not in uploaded:
                    return False
                if not _inside(path, folder) or not _own_file_url(item.get("url"), path):
                    return False
                continue  # its own url was checked above; names, sizes and types are only labels
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _is_url_like(item):
            return False
    return True


async def _send_json(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class GradioFileGuard:
    """Refuse a page event (queue/join, call, run, ...) that names any file other than this server's own
    uploads, before Gradio sees it: Gradio would otherwise copy any server path into its cache, tell missing
    from existing files apart, and download URLs. One generic message (:data:`FILE_REFUSED`), status 400."""

    def __init__(self, app: Any, uploaded: Any) -> None:
        self.app = app
        self.uploaded = uploaded  # () -> the set of paths Gradio's upload route has written

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope.get("method") != "POST" or path.startswith("/api/")
                or path.rstrip("/").endswith(_GRADIO_UPLOAD_ROUTE)):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > _MAX_EVENT_JSON_BYTES:
                await _send_json(send, 413, {"detail": "request is too large"})
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            payload = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            payload = None  # not JSON: Gradio's own parser refuses it too
        if isinstance(payload, dict) and "data" in payload:
            if not _event_files_allowed(payload["data"], frozenset(self.uploaded()), _upload_folder()):
                log.warning("refused a page request naming a file that was not uploaded here (%s)", path)
                await _send_json(send, 400, {"detail": FILE_REFUSED})
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


UPLOAD_ROUTES = frozenset({"/api/colorize", "/api/preview", "/api/suggest", "/api/uncertainty"})
"""The API routes that take a photo upload: ``--max-upload-mb`` holds on each while its body streams."""


class _TooLarge(Exception):
    pass


class UploadLimitMiddleware:
    """``--max-upload-mb`` for the uploads (:data:`UPLOAD_ROUTES`) while the body streams in: a declared Content-Length over
    the limit is refused at once, and a chunked (or lying) body is cut off as soon as it passes the limit, so
    no more than the limit (plus the form's few kB) is ever spooled to disk. Status 413 naming the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    def _refusal(self, size: int | None) -> dict[str, Any]:
        limit = _format_mb(self.max_bytes)
        if size is None:  # chunked: the real size is unknown, and is never read to find out
            return {"detail": f"upload is too large (over the limit of {limit})"}
        return {"detail": f"upload is too large ({_too_large(size, self.max_bytes)})"}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") not in UPLOAD_ROUTES:
            await self.app(scope, receive, send)
            return
        cap = self.max_bytes + _MULTIPART_SLACK
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > cap:
            await _send_json(send, 413, self._refusal(int(length)))
            return
        seen = 0
        over = False

        async def counted() -> dict[str, Any]:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not over:  # once over the limit, only our 413 goes out
                await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not over:
                raise
        if over:
            await _send_json(send, 413, self._refusal(None))


# ----------------------------------------------------------------------------- the FastAPI app


def create_app(model: str | os.PathLike[str] | Any = "default", *, limits: Limits | None = None, backend: str = "auto",
               device: str = "cpu", ui: bool = True):
    """The FastAPI app: ``/api/*`` routes plus (``ui=True``) the Gradio page at ``/``.

    ``model``: a bundled name, a weights path, or a ready :class:`colorize.pipeline.Colorizer`.
    """
    _offline_environment()
    from fastapi import FastAPI, File, Form, UploadFile
    from fastapi.responses import JSONResponse, Response

    from ._version import __version__

    limits = limits or Limits()
    if hasattr(model, "colorize_array"):
        colorizer, name = model, str(getattr(model, "info", {}).get("name", "custom"))
    else:
        from .pipeline import Colorizer

        colorizer = Colorizer.from_pretrained(model, device=device, backend=backend)
        name = str(model)
    service = ColorizeService(colorizer, name, limits)

    app = FastAPI(
        title="colorize",
        version=__version__,
        description="Colorize black-and-white photos. The page is at `/`; this API is under `/api`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.service = service

    app.add_middleware(UploadLimitMiddleware, max_bytes=limits.max_upload_bytes)

    @app.get("/api/health", tags=["api"], summary="Is the server up, and which model does it run?")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "model": name, "backend": service.model_summary()["backend"],
                "busy": service.lock.locked(), "uptime_s": round(time.time() - service.started, 1)}

    @app.get("/api/models", tags=["api"], summary="The loaded model, the bundled models and the limits")
    def models() -> dict[str, Any]:
        from .models.registry import list_pretrained as bundled_models

        try:
            bundled = [{"name": b["name"], "arch": b.get("arch"), "space": b.get("space"), "head": b.get("head"),
                        "trained": bool((b.get("provenance") or {}).get("trained"))} for b in bundled_models()]
        except Exception:  # a broken bundled file must not break the endpoint
            bundled = []
        return {"loaded": service.model_summary(), "bundled": bundled,
                "limits": {"max_upload_bytes": limits.max_upload_bytes, "max_pixels": limits.max_pixels,
                           "max_files": limits.max_files}}

    @app.post(
        "/api/colorize",
        tags=["api"],
        summary="Colorize one image; returns the image bytes",
        response_class=Response,
        responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
                         "description": "the colorized image, same size as the upload"},
                   400: {"description": "not an image"}, 413: {"description": "file or pixel count over the limit"},
                   422: {"description": "bad form field"}},
    )
    def colorize_endpoint(
        image: UploadFile = File(..., description="the photo (JPEG, PNG, WebP, TIFF, BMP, GIF)"),
        render_size: int | None = Form(None, description="long side at which the model sees the photo (default: the model's, 256)"),
        saturation: float | None = Form(None, description="scale the predicted colour (default 1.0)"),
        temperature: float | None = Form(None, description="annealed-mean temperature, distribution models (default: the model's, 0.38 for the bundled one)"),
        consensus: int | None = Form(None, description="consensus radius of the distribution decode, 0 = off "
                                     "(against blotches; default: the model's, 5 for the bundled one)"),
        format: str = Form("png", description="png (default; keeps alpha and 16 bits), jpeg or webp"),
        quality: int = Form(95, ge=1, le=100, description="JPEG/WebP quality"),
        hints: str | None = Form(None, description='colour hints "X,Y=COLOR; X,Y=COLOR" (pixels of the photo; '
                                 'CSS colour name or #rrggbb), when colorize.hints is installed'),
        reference: UploadFile | None = File(None, description="a colour photo whose colours to borrow (optional)"),
        reference_strength: float | None = Form(None, ge=0, le=1, description="0 = automatic result, 1 = the reference's colours (default 0.8)"),
    ) -> Response:
        label = _display_name(image.filename or "upload")
        try:
            fmt = normalise_format(format)
            options = service.check_options(render_size, saturation, temperature, consensus)
            points = parse_hint_field(hints)
            data = _read_upload(image, label, limits.max_upload_bytes)
            t0 = time.time()
            loaded = service.load(data, label)
            ref = None
            if reference is not None and reference.filename:
                ref_label = _display_name(reference.filename)
                ref = service.load(_read_upload(reference, ref_label, limits.max_upload_bytes), ref_label).rgb
            rgb = service.colorize(loaded, options, hints=points, reference=ref, reference_strength=reference_strength, fmt=fmt)
            body = service.encode(rgb, loaded, fmt, quality)
        except WebError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        except Exception as exc:
            log.exception("API colorize failed")
            return JSONResponse({"detail": f"{label}: could not be colorized ({type(exc).__name__}: {exc})"}, status_code=500)
        suffix, media = OUTPUT_FORMATS[fmt]
        h, w = loaded.rgb.shape[:2]
        headers = {"Content-Disposition": f'attachment; filename="{_safe_stem(label)}_colorized{suffix}"',
                   "X-Colorize-Seconds": f"{time.time() - t0:.3f}", "X-Colorize-Size": f"{w}x{h}"}
        return Response(content=body, media_type=media, headers=headers)

    image_field = File(..., description="the photo (JPEG, PNG, WebP, TIFF, BMP, GIF)")
    render_field = Form(None, description="long side at which the model sees the photo (default: the model's, 256)")

    def _loaded_upload(image: Any) -> tuple[str, Any]:
        label = _display_name(image.filename or "upload")
        return label, service.load(_read_upload(image, label, limits.max_upload_bytes), label)

    def _failed(label: str, what: str, exc: Exception) -> Any:
        log.exception("API %s failed", what)
        return JSONResponse({"detail": f"{label}: {what} failed ({type(exc).__name__}: {exc})"}, status_code=500)

    @app.post(
        "/api/preview",
        tags=["api"],
        summary="A quick low-resolution colorization (the hint editor's live preview); returns a PNG",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": f"the result at most {QUICK_PREVIEW_SIDE} px on the long side"},
                   400: {"description": "not an image, or a hint outside it"}, 413: {"description": "over the limits"},
                   422: {"description": "bad form field"}},
    )
    def preview_endpoint(
        image: UploadFile = image_field,
        render_size: int | None = Form(None, description=f"render size, capped at {QUICK_PREVIEW_RENDER} for the preview"),
        saturation: float | None = Form(None, description="scale the predicted colour (default 1.0)"),
        temperature: float | None = Form(None, description="annealed-mean temperature (default: the model's)"),
        consensus: int | None = Form(None, description="consensus radius of the decode, 0 = off (default: the model's)"),
        hints: str | None = Form(None, description='colour hints "X,Y=COLOR; X,Y,RADIUS=COLOR" in pixels of the upload'),
    ) -> Response:
        label = _display_name(image.filename or "upload")
        try:
            options = service.check_options(render_size, saturation, temperature, consensus)
            points = parse_hint_field(hints)
            t0 = time.time()
            label, loaded = _loaded_upload(image)
            rgb = service.quick_preview(loaded, options, points)
            body = _fast_png(rgb)
        except WebError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        except Exception as exc:
            return _failed(label, "preview", exc)
        h, w = rgb.shape[:2]
        return Response(content=body, media_type="image/png",
                        headers={"X-Colorize-Seconds": f"{time.time() - t0:.3f}", "X-Colorize-Size": f"{w}x{h}"})

    @app.post("/api/suggest", tags=["api"], summary="The model's most likely colours at one point of the photo",
              responses={422: {"description": "bad form field, a point outside the photo, or a model without a colour distribution"}})
    def suggest_endpoint(
        image: UploadFile = image_field,
        x: float = Form(..., description="column, in pixels of the upload"),
        y: float = Form(..., description="row, in pixels of the upload"),
        k: int | None = Form(None, description=f"how many colours (1-32, default {DEFAULT_SUGGESTIONS}); look-alikes are merged"),
        render_size: int | None = render_field,
    ) -> Any:
        label = _display_name(image.filename or "upload")
        try:
            options = service.check_options(render_size, None, None)
            count = service.check_k(k)
            t0 = time.time()
            label, loaded = _loaded_upload(image)
            colors = service.suggest(loaded, x, y, count, options)
        except WebError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        except Exception as exc:
            return _failed(label, "suggest", exc)
        return {"x": x, "y": y, "k": count, "colors": colors, "seconds": round(time.time() - t0, 3)}

    @app.post(
        "/api/uncertainty",
        tags=["api"],
        summary="Where the model is unsure of the colour (where a hint helps most); an 8-bit gray PNG",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "normalised entropy x 255, the upload's size"},
                   422: {"description": "bad form field, or a model without a colour distribution"}},
    )
    def uncertainty_endpoint(image: UploadFile = image_field, render_size: int | None = render_field) -> Response:
        label = _display_name(image.filename or "upload")
        try:
            options = service.check_options(render_size, None, None)
            t0 = time.time()
            label, loaded = _loaded_upload(image)
            u = service.uncertainty(loaded, options)
            import numpy as np

            body = _fast_png((u * 255 + 0.5).astype(np.uint8))
        except WebError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        except Exception as exc:
            return _failed(label, "uncertainty", exc)
        return Response(content=body, media_type="image/png", headers={"X-Colorize-Seconds": f"{time.time() - t0:.3f}"})

    _mount_editor(app)
    swagger_assets = _mount_swagger_assets(app)

    @app.get("/api/docs", include_in_schema=False)
    def docs():
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="colorize API", **swagger_assets)

    if ui:
        import gradio as gr

        demo = build_demo(service)
        gr.mount_gradio_app(
            app, demo, path="/", server_name="127.0.0.1", footer_links=["api", "settings"],
            allowed_paths=[str(service.workdir)], max_file_size=limits.max_upload_bytes, ssr_mode=False,
            theme=_theme(), css=_CSS, show_error=True,
        )
        # Gradio only checks that an event's files were uploaded (instead of copying any server path into
        # its cache) once the Blocks "has launched", which mount_gradio_app never sets.
        demo.has_launched = True
        app.add_middleware(GradioFileGuard, uploaded=lambda: demo.upload_file_set)
    return app


def _read_upload(upload: Any, label: str, max_bytes: int) -> bytes:
    """An UploadFile's bytes, refusing one over the limit with its real size (never reading more than the limit)."""
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise WebError(f"{label}: file is too large ({_too_large(size, max_bytes)})", 413)
    return upload.file.read(max_bytes + 1)


SWAGGER_DIR = Path(__file__).resolve().parent / "web_static" / "swagger-ui"
"""Swagger UI 5's two dist files and a favicon, vendored (Apache-2.0, see the README there): offline API docs."""
SWAGGER_ROUTE = "/api/_swagger"


def _mount_swagger_assets(app: Any) -> dict[str, Any]:
    """Serve the vendored Swagger UI from this server, so ``/api/docs`` makes no request to another host
    (FastAPI's default page loads its JS/CSS from cdn.jsdelivr.net and its favicon from fastapi.tiangolo.com).
    Without the files (a broken install) the page says so instead of silently using the CDN."""
    from fastapi.staticfiles import StaticFiles

    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        log.warning("Swagger UI files missing from %s: /api/docs will not render", SWAGGER_DIR)
    app.mount(SWAGGER_ROUTE, StaticFiles(directory=SWAGGER_DIR, check_dir=False), name="swagger")
    return {"swagger_js_url": f"{SWAGGER_ROUTE}/swagger-ui-bundle.js", "swagger_css_url": f"{SWAGGER_ROUTE}/swagger-ui.css",
            "swagger_favicon_url": f"{SWAGGER_ROUTE}/favicon-32x32.png",
            # no badge from validator.swagger.io (the online validator would be sent the schema)
            "swagger_ui_parameters": {"validatorUrl": None}}


EDITOR_DIR = Path(__file__).resolve().parent / "web_static" / "editor"
"""The hint editor: one HTML page, its script and style (no framework, nothing from another host)."""
EDITOR_ROUTE = "/editor"


def _mount_editor(app: Any) -> None:
    """Serve the hint editor at ``/editor/`` (before Gradio's catch-all ``/`` mount; the page embeds it)."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    @app.get(EDITOR_ROUTE, include_in_schema=False)
    def editor_redirect() -> Any:
        return RedirectResponse(EDITOR_ROUTE + "/")

    app.mount(EDITOR_ROUTE + "/", StaticFiles(directory=EDITOR_DIR, html=True, check_dir=False), name="editor")


# ----------------------------------------------------------------------------- CLI


__all__ = [
    "FILE_REFUSED", "ColorizeService", "GradioFileGuard", "Limits", "UploadLimitMiddleware", "WebError", "build_demo",
    "create_app", "parse_hint_field", "to_hex",
]

