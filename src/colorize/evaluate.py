"""Evaluate colorizers on folders of colour images, against the gray baseline.

Each colour image is desaturated to BT.601 luma (``0.299 R + 0.587 G + 0.114 B``, replicated to 3
channels), given to every colorizer, and the outputs are scored against the original with
:mod:`colorize.metrics`. The gray baseline (prediction = the gray input itself) is always scored
on the same images, so every table has its reference row::

    from colorize.evaluate import evaluate_folder, render_table, write_report
    result = evaluate_folder("eval_dev", {"eccv16": fn_a, "mine": fn_b}, max_images=20)
    rich.print(render_table(result))
    write_report(result, "reports/eval.html")

A folder whose sub-folders hold images (``eval_dev/McMaster18``, ``eval_dev/CSet14``, ...) is
reported per sub-folder and over everything (group ``"all"``).

Means over a set: PSNR, SSIM, ΔE00 and colourfulness are means of the per-image values;
``ΔCF`` = mean predicted CF − mean true CF (signed: negative = duller than the truth) and
``|ΔCF|`` = mean over images of ``|CF_pred − CF_true|``; AuC and rebalanced AuC come from the
dataset-level curves (per-bin error histograms summed over the set's images), not from
per-image AuCs. See :mod:`colorize.metrics` for the metric definitions.

LPIPS and FID are computed only when their weights files are passed (``lpips_weights`` +
``lpips_vgg_weights``, ``fid_weights``; see :mod:`colorize.perceptual`); nothing is downloaded.
LPIPS is a per-image metric (mean over the set); FID compares the set of a method's outputs with
the set of truths, per group and overall.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .bins import ColorPrior
from .io import write_text_atomic
from .metrics import (
    MAX_THRESHOLD,
    ErrorHistogram,
    luma_gray,
    prepare_truth,
    score_image,
)

if TYPE_CHECKING:
    from .perceptual import PerceptualMetrics

__all__ = [
    "ColorizeFn",
    "GRAY",
    "ALL",
    "MethodSummary",
    "GroupResult",
    "Thumbnail",
    "EvalResult",
    "find_image_groups",
    "evaluate_folder",
    "fid_bias_warning",
    "render_table",
    "write_report",
]

ColorizeFn = Callable[[np.ndarray], np.ndarray]
"""``fn(gray_rgb) -> rgb``: both ``H x W x 3`` float32 in [0, 1]; the input has R = G = B."""

GRAY = "gray"
"""Name of the gray baseline method."""

ALL = "all"
"""Name of the group over every image."""

_ROOT_GROUP = "(root)"
_THUMB_MAX = 160


# --------------------------------------------------------------------------------------------
# Image I/O


def _io_funcs() -> tuple[Callable[[Path], Any], Callable[[Path], bool], type[Exception]]:
    """(read_image, is_image_path, ImageError) from :mod:`colorize.io`, imported lazily."""
    from . import io as cio

    return cio.read_image, cio.is_image_path, cio.ImageError


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class MethodSummary:
    """Means of one method over one group of images (see the module docstring)."""

    method: str
    images: int
    psnr: float
    ssim: float
    ciede2000: float
    cf_pred: float
    cf_true: float
    delta_cf: float
    abs_delta_cf: float
    auc: float
    auc_rebalanced: float
    seconds_per_image: float
    curve: list[float] = field(repr=False)
    curve_rebalanced: list[float] = field(repr=False)
    lpips: float | None = None
    """Mean LPIPS to the truth; ``None`` unless LPIPS weights were given."""
    fid: float | None = None
    """FID of the outputs against the truths; ``None`` unless FID weights were given."""
    blotchiness: float = float("nan")
    """Mean :func:`colorize.metrics.blotchiness` over the images that have a flat region."""


@dataclass
class GroupResult:
    """Summaries of every method over one group (a sub-folder, or ``"all"``)."""

    name: str
    images: int
    methods: dict[str, MethodSummary]


@dataclass
class Thumbnail:
    """Small uint8 previews of one evaluated image: ``images`` maps gray / methods / truth to arrays."""

    group: str
    path: str
    images: dict[str, np.ndarray]


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate_folder`.

    ``rows`` has one dict per (image, method) with the per-image scores; ``groups`` maps each
    sub-folder name and ``"all"`` to a :class:`GroupResult`; ``warnings`` lists skipped images;
    ``prediction_warnings`` has one line per method whose outputs were out of range (clipped), with counts.
    """

    folder: str
    methods: list[str]
    groups: dict[str, GroupResult]
    rows: list[dict[str, Any]]
    warnings: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    thumbnails: list[Thumbnail] = field(default_factory=list, repr=False)
    prediction_warnings: list[str] = field(default_factory=list)

    @property
    def overall(self) -> GroupResult:
        """The ``"all"`` group."""
        return self.groups[ALL]

    def summary(self, method: str, group: str = ALL) -> MethodSummary:
        """The :class:`MethodSummary` of ``method`` over ``group``."""
        return self.groups[group].methods[method]

    @property
    def has_lpips(self) -> bool:
        """Whether LPIPS was computed (its weights were given)."""
        return "lpips" in self.config

    @property
    def has_fid(self) -> bool:
        """Whether FID was computed (its weights were given)."""
        return "fid" in self.config

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """Plain JSON-able data (no thumbnails); NaN becomes ``None``.

        ``lpips`` and ``fid`` appear only when they were computed.
        """
        groups = {}
        for name, g in self.groups.items():
            methods = {}
            for m, s in g.methods.items():
                d = asdict(s)
                if not curves:
                    d.pop("curve")
                    d.pop("curve_rebalanced")
                for key, wanted in (("lpips", self.has_lpips), ("fid", self.has_fid)):
                    if not wanted:
                        d.pop(key)
                methods[m] = d
            groups[name] = {"images": g.images, "methods": methods}
        data = {
            "folder": self.folder,
            "methods": self.methods,
            "config": self.config,
            "groups": groups,
            "rows": self.rows,
            "warnings": self.warnings,
            "prediction_warnings": self.prediction_warnings,
        }
        return _json_safe(data)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """Serialise :meth:`to_dict` to JSON; also write it to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, Path):
        return str(x)
    return x


# --------------------------------------------------------------------------------------------
# Folder discovery


def _list_images(folder: Path, recursive: bool, is_image: Callable[[Path], bool]) -> list[Path]:
    it: Iterable[Path] = folder.rglob("*") if recursive else folder.iterdir()
    out = []
    for p in it:
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel):
            continue
        if p.is_file() and is_image(p):
            out.append(p)
    return sorted(out)


def find_image_groups(folder: str | Path, *, recursive: bool = True) -> dict[str, list[Path]]:
    """Images of ``folder`` grouped by immediate sub-folder.

    Each sub-folder with images is a group (searched recursively if ``recursive``); images lying
    directly in ``folder`` form the group ``"(root)"``. A folder without image sub-folders gives
    the single group ``"all"``. Hidden files and folders are skipped; files are sorted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    _, is_image, _ = _io_funcs()
    root = _list_images(folder, False, is_image)
    groups: dict[str, list[Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _list_images(sub, recursive, is_image)
        if files:
            groups[sub.name if sub.name != ALL else f"{ALL}/"] = files
    if not groups:
        return {ALL: root}
    return {_ROOT_GROUP: root, **groups} if root else groups


# --------------------------------------------------------------------------------------------
# Evaluation


def _thumb(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    im.thumbnail((_THUMB_MAX, _THUMB_MAX), Image.Resampling.LANCZOS)
    return np.asarray(im)


def _as_prediction(out: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, dict[str, float]]:
    """Validate a colorizer output: H x W x 3 (or H x W / H x W x 1, replicated), in [0, 1].

    NaN or inf is refused (``ValueError``: scoring it as black would hide a broken method). An
    integer array is read as 0-255. Values outside [0, 1] are clipped and reported in the returned
    ``issues`` (``"uint8"``, ``"above"``/``"below"`` with the extreme value), which the caller counts
    per method, so a 0-255 float output does not silently score as a white image.
    """
    raw = np.asarray(out)
    issues: dict[str, float] = {}
    if raw.dtype.kind in "ui":
        arr = raw.astype(np.float32) / 255.0
        issues["uint8"] = 1.0
    elif raw.dtype.kind in "fb":
        arr = raw.astype(np.float32)
    else:
        raise ValueError(f"output has dtype {raw.dtype}, expected floats in [0, 1]")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape != shape:
        raise ValueError(f"output shape {arr.shape} does not match the input {shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"output has {int((~finite).sum())} NaN or infinite values")
    hi, lo = float(arr.max(initial=0.0)), float(arr.min(initial=0.0))
    if hi > 1.0 + 1e-6:
        issues["above"] = hi
    if lo < -1e-6:
        issues["below"] = lo
    return np.clip(arr, 0.0, 1.0), issues


def _prediction_warnings(counts: dict[str, dict[str, Any]], scored: int) -> list[str]:
    """One line per method whose outputs needed fixing, with counts (see :func:`_as_prediction`)."""
    out = []
    for method, c in counts.items():
        parts = []
        if c.get("uint8"):
            parts.append(f"{c['uint8']} integer outputs read as 0-255")
        if c.get("above"):
            hint = " (they look like 0-255 values: return floats in [0, 1])" if c["max"] > 1.5 else ""
            parts.append(f"{c['above']} with values above 1 (max {c['max']:.4g}){hint}")
        if c.get("below"):
            parts.append(f"{c['below']} with values below 0 (min {c['min']:.4g})")
        if parts:
            out.append(f"{method}: of {scored} scored outputs, " + "; ".join(parts) + "; clipped to [0, 1] before scoring")
    return out


class _Accumulator:
    """Running per-method sums of one group."""

    def __init__(self, methods: list[str], grid: int, lpips: bool = False) -> None:
        self.images = 0
        self.lpips = lpips
        self.values: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
        self.hist = {m: ErrorHistogram.empty(grid) for m in methods}

    KEYS = ("psnr", "ssim", "ciede2000", "colorfulness_pred", "colorfulness_true", "delta_colorfulness", "blotchiness",
            "seconds")

    def add(self, method: str, row: dict[str, Any], hist: ErrorHistogram) -> None:
        for k in self.KEYS:
            self.values[method].setdefault(k, []).append(float(row[k]))
        if self.lpips:
            self.values[method].setdefault("lpips", []).append(float(row["lpips"]))
        self.hist[method] = self.hist[method] + hist

    def result(self, name: str, prior: ColorPrior | None) -> GroupResult:
        methods = {}
        for m, vals in self.values.items():

            def mean(key: str, vals: dict[str, list[float]] = vals) -> float:
                v = [x for x in vals.get(key, []) if not np.isnan(x)]  # blotchiness is nan without a flat region
                return float(np.mean(v)) if v else float("nan")

            cf_p, cf_t = mean("colorfulness_pred"), mean("colorfulness_true")
            h = self.hist[m]
            curve = h.curve()
            rcurve = h.rebalanced_curve(prior)
            methods[m] = MethodSummary(
                method=m,
                images=len(vals.get("psnr", [])),
                psnr=mean("psnr"),
                ssim=mean("ssim"),
                ciede2000=mean("ciede2000"),
                cf_pred=cf_p,
                cf_true=cf_t,
                delta_cf=cf_p - cf_t,
                abs_delta_cf=float(np.mean(np.abs(vals["delta_colorfulness"]))) if vals.get("delta_colorfulness") else float("nan"),
                auc=float(100 * np.mean(curve)),
                auc_rebalanced=float(100 * np.mean(rcurve)),
                seconds_per_image=mean("seconds"),
                curve=[round(float(v), 6) for v in curve],
                curve_rebalanced=[round(float(v), 6) for v in rcurve],
                lpips=mean("lpips") if self.lpips else None,
                blotchiness=mean("blotchiness"),
            )
        return GroupResult(name, self.images, methods)


def evaluate_folder(
    folder: str | Path,
    colorize_fn: ColorizeFn | Mapping[str, ColorizeFn] | None,
    *,
    name: str = "model",
    max_images: int | None = None,
    recursive: bool = True,
    progress: bool = True,
    prior: ColorPrior | None = None,
    skip_gray: bool = True,
    thumbnails: int = 12,
    fid_weights: str | Path | None = None,
    lpips_weights: str | Path | None = None,
    lpips_vgg_weights: str | Path | None = None,
) -> EvalResult:
    """Score ``colorize_fn`` (and always the gray baseline) on the colour images under ``folder``.

    ``colorize_fn`` is one callable (reported as ``name``), a ``{name: callable}`` dict, or
    ``None`` for the baseline alone. Each callable gets the truth desaturated to BT.601 luma as
    ``H x W x 3`` float32 in [0, 1] and returns ``H x W x 3`` in [0, 1]; its wall time per image is
    reported. ``max_images`` caps the images scored *per group* (the first ones in sorted order;
skipped files do not count). Unreadable
    images, gray truths (if ``skip_gray``) and images on which a colorizer raises or returns a
    wrong shape are skipped for every method and listed in ``result.warnings``. ``prior``
    switches the rebalanced AuC from "mean over bins present" to weights ``1 / prior(bin)``.
    ``thumbnails`` previews per group are kept for :func:`write_report`. Alpha is ignored.

    LPIPS (per image, every method including gray) needs ``lpips_weights`` (the lpips package's
    ``weights/v0.1/vgg.pth``) and ``lpips_vgg_weights`` (torchvision's ``vgg16-397923af.pth``);
    FID (per method and group) needs ``fid_weights`` (pytorch-fid's
    ``pt_inception-2015-12-05-6726825d.pth``). Without them neither is computed and nothing is
    downloaded; a bad file raises :class:`colorize.models.WeightsError` before any image is read.
    """
    if colorize_fn is None:
        fns: dict[str, ColorizeFn] = {}
    elif callable(colorize_fn):
        fns = {name: colorize_fn}
    else:
        fns = dict(colorize_fn)
    if GRAY in fns:
        raise ValueError(f"{GRAY!r} is reserved for the gray baseline; rename that method")
    methods = [GRAY, *fns]
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 0):
        raise ValueError(f"max_images must be a whole number >= 0, got {max_images!r}")
    read_image, _, image_error = _io_funcs()
    grid = prior.grid if prior is not None else 10

    groups = find_image_groups(folder, recursive=recursive)
    perceptual: PerceptualMetrics | None = None
    if fid_weights is not None or lpips_weights is not None or lpips_vgg_weights is not None:
        from .perceptual import PerceptualMetrics

        perceptual = PerceptualMetrics(fid_weights=fid_weights, lpips_weights=lpips_weights, lpips_vgg_weights=lpips_vgg_weights)
    with_lpips = perceptual is not None and perceptual.has_lpips
    limit = None if max_images is None else max(0, int(max_images))
    accs = {g: _Accumulator(methods, grid, with_lpips) for g in groups}
    if ALL not in accs:
        accs[ALL] = _Accumulator(methods, grid, with_lpips)
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    issue_counts: dict[str, dict[str, Any]] = {}
    thumbs: list[Thumbnail] = []
    thumbs_per_group = {g: 0 for g in groups}
    root = Path(folder)
    total = sum(len(f) if limit is None else min(len(f), limit) for f in groups.values())

    bar = None
    if progress and total:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
        task = bar.add_task("eval", total=total)
        bar.start()
    try:
        for group, files in groups.items():
            done = 0
            for i, path in enumerate(files):
                if limit is not None and done >= limit:
                    break
                try:
                    rel = str(path.relative_to(root))
                except ValueError:
                    rel = str(path)
                try:
                    item = _evaluate_one(path, rel, group, fns, read_image, image_error, grid, prior, skip_gray, perceptual)
                except _Skip as skip:
                    warnings.append(str(skip))
                    item = None
                if bar is not None:
                    if item is None and limit is not None and i + 1 < len(files):
                        total += 1  # a skipped image is replaced by the next one
                        bar.update(task, total=total)
                    bar.advance(task)
                if item is None:
                    continue
                done += 1
                image_rows, hists, previews, issues = item
                for method, found in issues.items():
                    c = issue_counts.setdefault(method, {"max": -math.inf, "min": math.inf})
                    for key in found:
                        c[key] = c.get(key, 0) + 1
                    c["max"] = max(c["max"], found.get("above", -math.inf))
                    c["min"] = min(c["min"], found.get("below", math.inf))
                rows.extend(image_rows)
                for acc in {id(a): a for a in (accs[group], accs[ALL])}.values():
                    acc.images += 1
                    for row in image_rows:
                        acc.add(row["method"], row, hists[row["method"]])
                if thumbs_per_group[group] < thumbnails:
                    thumbs_per_group[group] += 1
                    thumbs.append(Thumbnail(group, rel, {k: _thumb(v) for k, v in previews.items()}))
    finally:
        if bar is not None:
            bar.stop()

    result_groups = {g: accs[g].result(g, prior) for g in accs if g != ALL}
    result_groups[ALL] = accs[ALL].result(ALL, prior)
    if perceptual is not None and perceptual.has_fid:
        for g, res in result_groups.items():
            scores = perceptual.fid(None if g == ALL else g)
            for m, summary in res.methods.items():
                summary.fid = scores.get(m, float("nan"))
    config: dict[str, Any] = {
        "max_images": max_images,
        "recursive": recursive,
        "skip_gray": skip_gray,
        "prior": None if prior is None else "ColorPrior",
        "gray_input": "BT.601 luma 0.299R+0.587G+0.114B",
        "auc_thresholds": [0, MAX_THRESHOLD],
    }
    if with_lpips:
        config["lpips"] = {
            "version": "0.1", "net": "vgg", "weights": str(lpips_weights), "vgg_weights": str(lpips_vgg_weights),
            "size": "shorter side <= 256 px, longer <= 768 px",
        }
    if perceptual is not None and perceptual.has_fid:
        from .perceptual import FID_MIN_IMAGES

        n = result_groups[ALL].images
        config["fid"] = {"weights": str(fid_weights), "features": "Inception-v3 pool3 (2048-d), as pytorch-fid",
                         "images": n, "min_images": FID_MIN_IMAGES}
        if n < FID_MIN_IMAGES:
            config["fid"]["warning"] = fid_bias_warning(n)
    return EvalResult(str(folder), methods, result_groups, rows, warnings, config, thumbs,
                      _prediction_warnings(issue_counts, result_groups[ALL].images))


def fid_bias_warning(images: int) -> str:
    """The one-line caveat for FID on a small set."""
    return (f"FID on {images} images is strongly biased (upwards, more so for fewer images): "
            "compare only runs on the same images, not with published FIDs (which use >= 2000 images)")


class _Skip(Exception):
    pass


def _evaluate_one(path, rel, group, fns, read_image, image_error, grid, prior, skip_gray, perceptual=None):
    try:
        loaded = read_image(path)
        truth = np.asarray(loaded.rgb, dtype=np.float32)[..., :3]  # alpha, if any, is ignored
    except image_error as exc:
        raise _Skip(str(exc)) from None
    except Exception as exc:  # anything else a decoder throws
        raise _Skip(f"{rel}: unreadable ({type(exc).__name__}: {exc})") from None
    if truth.ndim != 3 or truth.shape[-1] != 3 or min(truth.shape[:2]) < 1:
        raise _Skip(f"{rel}: unexpected image shape {truth.shape}")
    if skip_gray and not getattr(loaded, "is_color", True):
        raise _Skip(f"{rel}: not a colour image, skipped")
    truth = np.clip(truth, 0.0, 1.0)
    gray = luma_gray(truth)
    prepared = prepare_truth(truth, grid)

    preds = {GRAY: gray}
    seconds = {GRAY: 0.0}
    issues: dict[str, dict[str, float]] = {}
    for method, fn in fns.items():
        t0 = time.perf_counter()
        try:
            out = fn(gray.copy())
            pred, found = _as_prediction(out, truth.shape)
        except Exception as exc:
            raise _Skip(f"{rel}: {method} failed ({type(exc).__name__}: {exc}); image skipped") from None
        seconds[method] = time.perf_counter() - t0
        preds[method] = pred
        if found:
            issues[method] = found

    h, w = truth.shape[:2]
    rows, hists = [], {}
    for method, pred in preds.items():
        s = score_image(pred, prepared, prior=prior)
        hists[method] = s.histogram
        rows.append({"group": group, "path": rel, "method": method, "width": w, "height": h, **s.as_dict(), "seconds": seconds[method]})
    if perceptual is not None:
        lpips = perceptual.add(group, preds, truth)
        if lpips:
            for row in rows:
                row["lpips"] = lpips[row["method"]]
    previews = {**preds, "truth": truth}
    return rows, hists, previews, issues


# --------------------------------------------------------------------------------------------
# Tables and reports

_COLUMNS = [
    ("Images", "images", "{:d}"),
    ("PSNR", "psnr", "{:.2f}"),
    ("SSIM", "ssim", "{:.4f}"),
    ("ΔE00", "ciede2000", "{:.2f}"),
    ("CF pred", "cf_pred", "{:.1f}"),
    ("CF true", "cf_true", "{:.1f}"),
    ("ΔCF", "delta_cf", "{:+.1f}"),
    ("AuC", "auc", "{:.2f}"),
    ("AuC rebal.", "auc_rebalanced", "{:.2f}"),
    ("Blotch", "blotchiness", "{:.2f}"),
    ("s/img", "seconds_per_image", "{:.3f}"),
]


def _columns(result: EvalResult) -> list[tuple[str, str, str]]:
    """:data:`_COLUMNS`, with LPIPS and FID when they were computed."""
    cols = list(_COLUMNS)
    if result.has_lpips:
        cols.insert([k for _, k, _ in cols].index("ciede2000") + 1, ("LPIPS", "lpips", "{:.4f}"))
    if result.has_fid:
        cols.insert([k for _, k, _ in cols].index("auc_rebalanced") + 1, ("FID", "fid", "{:.2f}"))
    return cols


def _fmt(fmt: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return fmt.format(v)


def _table_rows(result: EvalResult, groups: list[str]) -> list[tuple[str, str, list[str]]]:
    out = []
    columns = _columns(result)
    for g in groups:
        for m in result.methods:
            s = result.groups[g].methods[m]
            out.append((g, m, [_fmt(fmt, getattr(s, key)) for _, key, fmt in columns]))
    return out


def _report_groups(result: EvalResult, group: str | None) -> list[str]:
    if group is not None:
        return [group]
    return list(result.groups)


def render_table(result: EvalResult, group: str | None = None):
    """A :class:`rich.table.Table` with one row per method (per group when there are several).

    ``group`` restricts it to one group (e.g. ``"all"``).
    """
    from rich.table import Table

    groups = _report_groups(result, group)
    show_set = len(groups) > 1
    table = Table(title=f"Colorization evaluation: {result.folder}", title_justify="left")
    if show_set:
        table.add_column("Set")
    table.add_column("Method")
    for label, _, _ in _columns(result):
        table.add_column(label, justify="right")
    previous = None
    for g, m, cells in _table_rows(result, groups):
        if show_set and previous is not None and g != previous:
            table.add_section()
        previous = g
        table.add_row(*([g] if show_set else []), m, *cells)
    return table


def _plot_curves(result: EvalResult, path: Path, group: str = ALL) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    t = np.arange(MAX_THRESHOLD + 1)
    for ax, key, title in ((axes[0], "curve", "AuC"), (axes[1], "curve_rebalanced", "AuC rebalanced")):
        for m in result.methods:
            s = result.groups[group].methods[m]
            y = np.array([np.nan if v is None else v for v in getattr(s, key)], dtype=float)
            value = s.auc if key == "curve" else s.auc_rebalanced
            ax.plot(t, y, label=f"{m} ({_fmt('{:.1f}', value)})", linestyle="--" if m == GRAY else "-")
        ax.set_title(f"{title} ({group})")
        ax.set_xlabel("ab error threshold")
        ax.set_xlim(0, MAX_THRESHOLD)
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("fraction of pixels ≤ threshold")
    fig.tight_layout()
    fig.savefig(path)


def _pick_thumbnails(result: EvalResult, n: int) -> list[Thumbnail]:
    """Round-robin over groups, so every sub-folder is shown."""
    by_group: dict[str, list[Thumbnail]] = {}
    for t in result.thumbnails:
        by_group.setdefault(t.group, []).append(t)
    picked: list[Thumbnail] = []
    i = 0
    while len(picked) < n and any(i < len(v) for v in by_group.values()):
        for v in by_group.values():
            if i < len(v) and len(picked) < n:
                picked.append(v[i])
        i += 1
    return picked


def _contact_sheet(result: EvalResult, path: Path, n: int) -> bool:
    from PIL import Image, ImageDraw

    thumbs = _pick_thumbnails(result, n)
    if not thumbs:
        return False
    columns = [GRAY, *[m for m in result.methods if m != GRAY], "truth"]
    cell, gap, header = _THUMB_MAX, 4, 18
    heights = [max(t.images[c].shape[0] for c in columns) for t in thumbs]
    width = len(columns) * (cell + gap) + gap
    height = header + sum(h + gap for h in heights) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for j, c in enumerate(columns):
        draw.text((gap + j * (cell + gap) + 2, 3), c[:26], fill=(0, 0, 0))
    y = header
    for t, h in zip(thumbs, heights):
        for j, c in enumerate(columns):
            im = t.images[c]
            x = gap + j * (cell + gap) + (cell - im.shape[1]) // 2
            sheet.paste(Image.fromarray(im), (x, y + (h - im.shape[0]) // 2))
        y += h + gap
    sheet.save(path, "JPEG", quality=85, optimize=True)
    return True


_DEFINITIONS = [
    "Input: the truth desaturated to BT.601 luma (0.299R+0.587G+0.114B). 'gray' = that input, unchanged.",
    "PSNR: RGB, data range 1, capped at 100 dB. SSIM: Gaussian window σ=1.5, K1=0.01, K2=0.03, mean over RGB.",
    "ΔE00: CIEDE2000 (Sharma et al. 2005), mean over pixels, then over images.",
    "CF: Hasler & Süsstrunk colourfulness (0-255 scale); ΔCF = mean CF pred − mean CF true (negative = duller).",
    "AuC: area under the fraction-of-pixels-with-ab-error≤t curve, t = 0..150, in % (Zhang et al. 2016), "
    "from the dataset-level curve.",
    "AuC rebal.: the same curve averaged over the true ab bins (10-unit grid) present, so every colour counts equally.",
    "Blotch: where the truth's colour is flat (local ab std < 4 in a 33 px window at a 256 px shorter side), the mean "
    "local ab std of the prediction smoothed by a 3 px Gaussian (ab units, lower is cleaner; gray scores 0).",
]
_LPIPS_DEFINITION = ("LPIPS: learned perceptual distance to the truth (Zhang et al. 2018, v0.1, VGG16 trunk; lower is "
                     "better), images resized to a shorter side <= 256 px and longer <= 768 px; mean over images.")
_FID_DEFINITION = ("FID: Fréchet distance between the Inception-v3 pool3 features (pytorch-fid's network and weights) "
                   "of a method's outputs and of the truths, over the set (lower is better).")


def _definitions(result: EvalResult) -> list[str]:
    out = list(_DEFINITIONS)
    if result.has_lpips:
        out.append(_LPIPS_DEFINITION)
    if result.has_fid:
        warning = result.config["fid"].get("warning")
        out.append(_FID_DEFINITION + (f" Warning: {warning}." if warning else ""))
    return out


REPORT_SUFFIXES = (".md", ".html", ".htm")


def check_output_path(path: str | Path) -> str | None:
    """Why ``path`` cannot be written (one line naming it), or ``None``; creates nothing that stays."""
    import os
    import secrets

    path = Path(path)
    if path.is_dir():
        return f"{path}: is a folder"
    ancestor = path.parent
    while not ancestor.exists():
        if ancestor == ancestor.parent:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"{path}: cannot create folder {path.parent}: part of the path is a file"
    if ancestor != path.parent:  # the folder will be created: it only needs to be creatable
        return None if os.access(ancestor, os.W_OK | os.X_OK) else f"{path}: cannot write to folder {ancestor}: permission denied"
    probe = path.parent / f".{path.name[:100]}.{secrets.token_hex(4)}.probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except PermissionError:
        return f"{path}: cannot write to folder {path.parent}: permission denied"
    except OSError as exc:
        return f"{path}: cannot write to folder {path.parent} ({exc.strerror or exc})"
    return None


def check_report_path(path: str | Path) -> str | None:
    """Why :func:`write_report` could not write ``path`` (extension, folder), or ``None``: check before evaluating."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        return f"{path}: report must end in .md or .html"
    return check_output_path(path)


def write_report(result: EvalResult, path: str | Path, *, max_images: int = 12) -> dict[str, Path]:
    """Write a Markdown (``.md``) or HTML (``.html``/``.htm``) report, chosen by extension.

    Next to it go ``<stem>_auc.png`` (plain and rebalanced AuC curves over ``"all"``) and
    ``<stem>_samples.jpg`` (a contact sheet gray | methods | truth for up to ``max_images``
    images, thumbnails at most 160 px). Returns the written paths by role
    (``report``, ``plot``, ``samples`` when there were images).
    """
    path = Path(path)
    kind = path.suffix.lower()
    problem = check_report_path(path)
    if problem:
        raise ValueError(problem)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_name(f"{path.stem}_auc.png")
    sheet = path.with_name(f"{path.stem}_samples.jpg")
    written = {"report": path}
    if result.groups[ALL].images:
        _plot_curves(result, plot)
        written["plot"] = plot
    if _contact_sheet(result, sheet, max_images):
        written["samples"] = sheet

    groups = _report_groups(result, None)
    show_set = len(groups) > 1
    headers = (["Set"] if show_set else []) + ["Method"] + [label for label, _, _ in _columns(result)]
    body = [([g] if show_set else []) + [m] + cells for g, m, cells in _table_rows(result, groups)]
    if kind == ".md":
        text = _markdown(result, headers, body, written)
    else:
        text = _html(result, headers, body, written)
    write_text_atomic(path, text)
    return written


def _markdown(result: EvalResult, headers: list[str], body: list[list[str]], files: dict[str, Path]) -> str:
    lines = [f"# Colorization evaluation: `{result.folder}`", ""]
    lines.append(f"{result.groups[ALL].images} images; methods: {', '.join(result.methods)}.")
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    if "plot" in files:
        lines += ["", "## AuC curves", "", f"![AuC curves]({files['plot'].name})"]
    if "samples" in files:
        lines += ["", "## Samples", "", "Columns: " + " | ".join([GRAY, *result.methods[1:], "truth"]), "", f"![samples]({files['samples'].name})"]
    lines += ["", "## Definitions", ""] + [f"- {d}" for d in _definitions(result)]
    if result.prediction_warnings:
        lines += ["", "## Out-of-range outputs", ""] + [f"- {w}" for w in result.prediction_warnings]
    if result.warnings:
        lines += ["", f"## Skipped ({len(result.warnings)})", ""] + [f"- {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _html(result: EvalResult, headers: list[str], body: list[list[str]], files: dict[str, Path]) -> str:
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Colorization evaluation: {e(result.folder)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}th,td{padding:4px 10px;border-bottom:1px solid #ddd}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>Colorization evaluation: <code>{e(result.folder)}</code></h1>",
        f"<p>{result.groups[ALL].images} images; methods: {e(', '.join(result.methods))}.</p>",
        "<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead><tbody>",
    ]
    n_text = len(headers) - len(_columns(result))
    for row in body:
        cells = "".join(("<td class='n'>" if i >= n_text else "<td>") + f"{e(c)}</td>" for i, c in enumerate(row))
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    if "plot" in files:
        parts += ["<h2>AuC curves</h2>", f'<img src="{e(files["plot"].name)}" alt="AuC curves">']
    if "samples" in files:
        cols = " | ".join([GRAY, *result.methods[1:], "truth"])
        parts += ["<h2>Samples</h2>", f"<p>Columns: {e(cols)}</p>", f'<img src="{e(files["samples"].name)}" alt="samples">']
    parts += ["<h2>Definitions</h2>", "<ul>"] + [f"<li>{e(d)}</li>" for d in _definitions(result)] + ["</ul>"]
    if result.prediction_warnings:
        parts += ["<h2>Out-of-range outputs</h2>", "<ul>"] + [f"<li>{e(w)}</li>" for w in result.prediction_warnings] + ["</ul>"]
    if result.warnings:
        parts += [f"<h2>Skipped ({len(result.warnings)})</h2>", "<ul>"] + [f"<li>{e(w)}</li>" for w in result.warnings] + ["</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- command line


