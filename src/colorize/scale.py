"""Archives bigger than one machine: the photo job on a Ray cluster (issue 17).

::

    from colorize.scale import colorize_on_ray

    summary = colorize_on_ray(["scans/"], "out/", recursive=True)             # a local Ray runtime
    summary = colorize_on_ray(["scans/"], "out/", address="auto", workers=64)  # the cluster in RAY_ADDRESS

or ``colorize scans/ -o out/ --recursive --ray [ADDRESS] [--workers N]``. The job is the local one,
run by Ray Data: the driver streams the planned (input, output) *path pairs* (never pixels) into
``map_batches`` over an actor pool; each actor loads the model once, then reads, colorizes and
writes its batches itself (atomically, :func:`colorize.io.write_image`) and sends back one small
status row per photo, which drives the progress bar and the summary.

Semantics are the local run's: the same output names and formats (the CLI plans them with the local
helpers), no overwrite without ``overwrite``, a bad photo is that photo's failure (caught in the
actor, never retried), the same ``--json`` summary and exit rule. Fault tolerance: the actors are
created with ``max_restarts``/``max_task_retries``, so a worker that dies has its batch re-run on a
restarted actor; since outputs appear only complete (atomic rename) and a re-run skips outputs that
are already complete, every photo is written exactly once or reported. ``skip_existing`` makes a
re-run of an interrupted job finish only what is missing.

Films (:func:`colorize_film_on_ray`): split at the shot cuts the local run detects (where its temporal
memory resets anyway), shots colorized in parallel, joined in order with the audio copied.

Ray is an optional extra (``pip install 'colorize-bw[ray]'``); without it these functions raise
:class:`RayMissingError`. See docs/scale.md.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ColorizeError, ImageError, UsageError
from .io import SUPPORTED_INPUT_EXTENSIONS, SUPPORTED_OUTPUT_EXTENSIONS, is_image_path

if TYPE_CHECKING:
    from .options import ColorizeOptions

__all__ = ["RayMissingError", "RayUnavailableError", "colorize_on_ray", "run_photo_jobs", "colorize_film_on_ray", "output_complete",
           "plan_photos", "ray_runtime", "RAY_EXTRA_MESSAGE"]

RAY_EXTRA_MESSAGE = "--ray needs the 'ray' extra: pip install 'colorize-bw[ray]'"
MAX_RESTARTS = 3
"""A worker process that dies is restarted this many times (its batch re-run each time); a photo that
*fails* (bad file, too big) is reported at once and never retried."""


class RayMissingError(UsageError):
    """Ray is not installed (the ``ray`` extra)."""

    def __init__(self) -> None:
        super().__init__(RAY_EXTRA_MESSAGE)


class RayUnavailableError(ColorizeError):
    """The Ray runtime could not be started, or the cluster could not be reached."""


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is the extra's other half)
    except ImportError:
        raise RayMissingError() from None
    return ray


# ----------------------------------------------------------------------------- the runtime


@contextmanager
def ray_runtime(address: str | None = "local", workers: int | None = None) -> Iterator[Any]:
    """Ray, connected: ``"local"`` (or ``None``) starts a quiet runtime on this machine (``workers``
    CPUs, no dashboard) and shuts it down afterwards; ``"auto"`` / ``"ray://head:10001"`` / ``"host:port"``
    connect to a running cluster. An already initialised Ray (a notebook, a test) is used as it is."""
    ray = _import_ray()
    with contextlib.redirect_stdout(sys.stderr):  # Ray prints its workers' notes (a worker died, retrying) on stdout:
        with _runtime(ray, address, workers):     # they go to stderr, so stdout stays the --json summary's alone
            yield ray


@contextmanager
def _runtime(ray: Any, address: str | None, workers: int | None) -> Iterator[None]:
    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                              "configure_logging": True}
    if address in (None, "", "local"):
        kwargs["num_cpus"] = workers or os.cpu_count() or 1
    else:
        kwargs["address"] = address
        kwargs.pop("include_dashboard")  # a cluster has its own
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no accelerator-env warning per worker
    logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)  # "token auth is on" note, each start
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the C++ core's notes stay in Ray's log files, off the terminal
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, or a bare Exception for a slow start
        where = "start a local Ray runtime" if "address" not in kwargs else f"connect to the Ray cluster at {address}"
        raise RayUnavailableError(f"--ray: cannot {where} ({' '.join(str(exc).split())[:300]})") from None
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_data(ray: Any) -> None:
    """Ray Data's own progress bars and execution logs off: the job has its one bar."""
    ctx = ray.data.DataContext.get_current()
    for name in ("enable_progress_bars", "enable_operator_progress_bars", "print_on_execution_start"):
        if hasattr(ctx, name):
            setattr(ctx, name, False)
    if hasattr(ctx, "verbose_stats_logs"):
        ctx.verbose_stats_logs = False
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ----------------------------------------------------------------------------- planning (the Python API)


def plan_photos(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *, recursive: bool = False,
                out_format: str | None = None) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """(input, output) pairs for files, folders and globs written into ``out_dir``, plus (input, reason)
    failures: the names ``colorize INPUTS -o OUT_DIR`` gives (a folder's tree is kept under ``out_dir``;
    the input's format when it can be written, else PNG; ``out_format`` overrides). Two inputs that
    would write one output raise :class:`UsageError`, as on the command line."""
    out = Path(out_dir)
    if out.suffix.lower() in SUPPORTED_INPUT_EXTENSIONS and not out.is_dir():
        raise UsageError(f"{out}: the Ray job needs an output folder, not a file name")
    found: list[tuple[Path, Path | None]] = []
    failures: list[tuple[str, str]] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if any(ch in text for ch in "*?[") and not path.exists():
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=recursive)) if Path(m).is_file()]
            if not matches:
                failures.append((text, "no files match this pattern"))
            found += [(m, None) for m in matches]
        elif path.is_dir():
            walker = sorted(path.rglob("*")) if recursive else sorted(path.iterdir())
            images = [f for f in walker if f.is_file() and is_image_path(f)]
            if not images:
                failures.append((text, "no images in this folder" + ("" if recursive else " (use --recursive for sub-folders)")))
            found += [(f, path) for f in images]
        else:
            found.append((path, None))
    pairs: list[tuple[Path, Path]] = []
    by_output: dict[str, Path] = {}
    for src, base in found:
        keep = src.suffix if src.suffix.lower() in SUPPORTED_OUTPUT_EXTENSIONS else ".png"
        rel = src.relative_to(base) if base is not None else Path(src.name)
        dst = (out / rel).with_suffix(f".{out_format}" if out_format else keep)
        key, src_key = os.path.normcase(os.path.realpath(dst)), os.path.normcase(os.path.realpath(src))
        if key in by_output:
            if os.path.normcase(os.path.realpath(by_output[key])) == src_key:
                continue  # the same file named twice
            raise UsageError(f"{by_output[key]} and {src} would both be written to {dst}; "
                             "colorize them into different -o folders, or rename one")
        by_output[key] = src
        if key == src_key:
            failures.append((str(src), "output would replace the input; choose another -o or --suffix"))
            continue
        pairs.append((src, dst))
    return pairs, failures


def output_complete(path: str | os.PathLike[str]) -> bool:
    """An output that a finished run wrote: a non-empty regular file whose image header decodes.

    Outputs only ever appear complete (atomic rename), so this is what ``skip_existing`` trusts;
    a damaged or foreign file that does not decode is not "complete" and is redone."""
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size == 0:
            return False
        from PIL import Image

        with Image.open(p) as im:
            im.verify()
        return True
    except Exception:
        return False


# ----------------------------------------------------------------------------- the workers


def _worker_threads() -> None:
    """One actor per CPU it was given: torch uses that many threads, not every core of the node."""
    try:
        import torch

        n = int(float(os.environ.get("OMP_NUM_THREADS") or 1))
        torch.set_num_threads(max(1, n))
    except Exception:  # pragma: no cover - threads are a speed matter, never a failure
        pass


class _PhotoWorker:
    """A Ray Data actor: the model loaded once; per batch, read, colorize, write, report.

    Every problem with one photo is that photo's status row (``ok=False``): a task fails, and is
    retried by Ray, only when the worker process itself dies."""

    def __init__(self, model: str, device: str, backend: str, options: Mapping[str, Any], overwrite: bool,
                 quality: int, max_pixels: int | None, batch_size: int, started: float) -> None:
        from .options import merge_options
        from .pipeline import Colorizer

        _worker_threads()
        self.colorizer = Colorizer.from_pretrained(model, device=device, backend=backend)
        self.options = merge_options(self.colorizer.options, dict(options))
        self.overwrite = overwrite
        self.quality, self.max_pixels, self.batch_size = quality, max_pixels, batch_size
        self.started = started
        self.pid = os.getpid()

    def _already_written(self, dst: Path) -> bool:
        """This job's own output, written by an earlier attempt of a batch that is re-run after a worker died.

        Planned outputs were absent at the start (or are to be replaced, with ``overwrite``: then only a
        file newer than the job's start counts), so a complete file there now was written by this job."""
        if not os.path.lexists(dst):
            return False
        try:
            if self.overwrite and dst.stat().st_mtime < self.started:
                return False
        except OSError:
            return False
        return output_complete(dst)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from .io import read_image, write_image

        rows: list[dict[str, Any]] = []
        loaded = []
        for index, src_text, dst_text in zip(batch["index"], batch["input"], batch["output"]):
            src, dst = Path(str(src_text)), Path(str(dst_text))
            row = {"index": int(index), "input": str(src), "output": str(dst), "ok": False, "rerun": False, "error": "",
                   "width": 0, "height": 0, "recolorized": False, "seconds": 0.0, "pid": self.pid,
                   "model": str(self.colorizer.info.get("name", ""))}
            rows.append(row)
            try:
                img = read_image(src, max_pixels=self.max_pixels) if self.max_pixels else read_image(src)
                if self._already_written(dst):
                    row.update(ok=True, rerun=True, width=int(img.rgb.shape[1]), height=int(img.rgb.shape[0]),
                               recolorized=bool(img.is_color))
                    continue
                loaded.append((row, dst, img))
            except ImageError as exc:
                row["error"] = _reason(exc, src)
            except Exception as exc:  # a photo's problem, whatever it is
                row["error"] = f"{type(exc).__name__}: {exc}"
        if loaded:
            t0 = time.time()
            eight_bit = all(img.bit_depth == 8 or dst.suffix.lower() not in (".png", ".tif", ".tiff") for _, dst, img in loaded)
            outs: list[Any]
            try:
                outs = self.colorizer.colorize_batch([img.gray for _, _, img in loaded], self.options, batch_size=self.batch_size,
                                                     uint8=eight_bit)
            except Exception:  # e.g. out of memory: one by one, so only the photo that cannot be done fails
                outs = []
                for row, _, img in loaded:
                    try:
                        outs.append(self.colorizer.colorize_batch([img.gray], self.options, batch_size=1, uint8=eight_bit)[0])
                    except Exception as exc:
                        w, h = img.size
                        row["error"] = (f"not enough memory to colorize this {w}x{h} image (try a smaller --render-size or --batch-size)"
                                        if _out_of_memory(exc) else f"{type(exc).__name__}: {exc}")
                        outs.append(None)
            per_image = (time.time() - t0) / len(loaded)
            for (row, dst, img), rgb in zip(loaded, outs):
                if rgb is None:
                    continue
                try:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    bit_depth = img.bit_depth if dst.suffix.lower() in (".png", ".tif", ".tiff") else 8
                    write_image(dst, rgb, alpha=img.alpha, bit_depth=bit_depth, overwrite=self.overwrite, quality=self.quality)
                    row.update(ok=True, width=int(img.rgb.shape[1]), height=int(img.rgb.shape[0]), recolorized=bool(img.is_color),
                               seconds=round(per_image, 3))
                except ImageError as exc:
                    row["error"] = str(exc)
                except OSError as exc:
                    row["error"] = f"{dst}: cannot write ({exc.strerror or exc})"
        return {k: np.array([r[k] for r in rows], dtype=object if k in ("input", "output", "error", "model") else None)
                for k in rows[0]} if rows else {}


def _reason(exc: ImageError, src: Path) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith(str(src)) else text


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


# ----------------------------------------------------------------------------- the driver


def _model_name(model: str) -> str:
    """The model's name for the summary, read on the driver (bad weights: one line before any work)."""
    from .models.registry import resolve_weights
    from .models.weights import read_model_info

    path = resolve_weights(model)
    return str(read_model_info(path).get("name", model))


def _summary(results: list[dict[str, Any]], failures: Iterable[tuple[str, str]], t0: float, model: str,
             skipped: list[dict[str, str]] | None, error: str | None = None) -> dict[str, Any]:
    """The local CLI's ``--json`` summary (``colorize.cli.common.summary``: same keys, same order), plus
    ``skipped`` (complete outputs left as they were) when ``skip_existing`` was asked for."""
    failures = list(failures)
    out: dict[str, Any] = {"ok": len(results), "failed": len(failures), "seconds": round(time.time() - t0, 3), "model": model,
                           "outputs": results, "errors": [{"input": i, "error": e} for i, e in failures]}
    if skipped is not None:
        out["skipped"] = skipped
    if error is not None:
        out["error"] = error
    return out


def exit_code(summary: Mapping[str, Any]) -> int:
    """The local rule: 0 when the job's outputs all exist (written now, or complete already and skipped)
    and nothing failed, else 1."""
    done = summary["ok"] + len(summary.get("skipped") or [])
    return 0 if done and not summary["failed"] else 1


def run_photo_jobs(pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]], *,
                   failures: Iterable[tuple[str, str]] = (), model: str = "default", device: str = "cpu",
                   backend: str = "auto", options: ColorizeOptions | Mapping[str, Any] | None = None,
                   address: str | None = "local", workers: int | None = None, overwrite: bool = False,
                   skip_existing: bool = False, batch_size: int = 8, quality: int = 95, max_pixels: int | None = None,
                   progress: bool = True, on_result: Any = None, t0: float | None = None) -> dict[str, Any]:
    """Colorize planned (input, output) pairs on Ray; returns the summary (see :func:`colorize_on_ray`).

    ``failures`` are the planning's own (kept in the summary). An output that exists is redone with
    ``overwrite``, left as it is with ``skip_existing`` when complete (listed in ``skipped``), and
    otherwise that input's failure "already exists (use --overwrite)", as locally. ``on_result(row)``,
    if given, is called on the driver for every status row as it arrives (benchmarks, tests)."""
    from .io import check_option

    t0 = time.time() if t0 is None else t0
    failures = list(failures)
    batch_size = check_option("batch_size", batch_size)
    quality = check_option("quality", quality)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"--workers {workers}: must be a whole number >= 1")
    user = _user_options(options)
    name = _model_name(model)
    skipped: list[dict[str, str]] | None = [] if skip_existing else None
    todo: list[dict[str, Any]] = []
    for src, dst in pairs:
        src, dst = Path(src), Path(dst)
        if os.path.lexists(dst) and not overwrite:
            if skip_existing and output_complete(dst):
                assert skipped is not None
                skipped.append({"input": str(src), "output": str(dst)})
                continue
            failures.append((str(src), f"{dst} already exists (use --overwrite)"))
            continue
        todo.append({"index": len(todo), "input": str(src), "output": str(dst)})
    results: list[dict[str, Any]] = []
    if not todo:
        return _summary(results, failures, t0, name, skipped)
    _import_ray()
    rows: list[dict[str, Any]] = []
    stopped: str | None = None
    with ray_runtime(address, workers) as ray:
        _quiet_data(ray)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        pool = workers or cpus
        batches = (len(todo) + batch_size - 1) // batch_size
        pool = min(pool, batches)  # no actor (and no model load) without a batch for it
        ds = ray.data.from_items(todo, override_num_blocks=max(1, min(batches, pool * 4)))
        with warnings.catch_warnings():
            # Ray 2.60 takes the actor's fault-tolerance knobs only as plain remote args (deprecated
            # there, with no named replacement yet); its default would be to restart and retry forever.
            warnings.simplefilter("ignore")
            ds = ds.map_batches(
                _PhotoWorker,
                fn_constructor_kwargs={"model": str(model), "device": device, "backend": backend, "options": user,
                                       "overwrite": overwrite, "quality": quality,
                                       "max_pixels": max_pixels, "batch_size": batch_size, "started": t0},
                batch_size=batch_size, batch_format="numpy", concurrency=pool, num_cpus=1,
                max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS,
            )
        from .progress import progress_bar

        start = time.time()
        with progress_bar(len(todo), "colorize (ray)", enabled=progress and len(todo) > 1,
                          extra="{task.fields[images_per_s]:.1f} img/s") as bar, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray Data's notes on block counts and pool sizes are not the user's concern
            seen: set[int] = set()
            try:
                for row in ds.iter_rows():
                    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                    rows.append(row)
                    if on_result is not None:
                        on_result(row)
                    if row["index"] not in seen:  # a re-run batch reports its photos again
                        seen.add(row["index"])
                        bar.advance(1, images_per_s=len(seen) / max(1e-6, time.time() - start))
            except Exception as exc:  # the job itself stopped (workers cannot start, restarts used up, cluster lost)
                stopped = f"the Ray job stopped: {_one_line(exc)}"
    by_index: dict[int, dict[str, Any]] = {}
    for row in rows:  # a re-run batch may report a photo twice: its last word counts
        prev = by_index.get(row["index"])
        if prev is None or row["ok"] or not prev["ok"]:
            by_index[row["index"]] = row
    for job in todo:
        row = by_index.get(job["index"])
        if row is None:
            failures.append((job["input"], "not done: " + (stopped or "no result from the Ray workers (lost)")))
        elif not row["ok"]:
            failures.append((row["input"], row["error"]))
        else:
            results.append({"input": row["input"], "output": row["output"], "width": row["width"], "height": row["height"],
                            "recolorized": bool(row["recolorized"]), "seconds": row["seconds"]})
    return _summary(results, failures, t0, name, skipped, error=stopped)


def _one_line(exc: BaseException) -> str:
    """A Ray error's last meaningful line (its tracebacks are many lines), at most 300 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.startswith(" ")]
    text = lines[-1] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _user_options(options: ColorizeOptions | Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's values only (the model's inference defaults are merged in on each worker, as locally)."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        given = dict(options)
    else:
        import dataclasses

        given = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    from .options import ColorizeOptions

    ColorizeOptions(**{k: v for k, v in given.items() if v is not None})  # bad values refused here, before any work
    return {k: v for k, v in given.items() if v is not None}


def colorize_on_ray(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
                    options: ColorizeOptions | Mapping[str, Any] | None = None, model: str = "default",
                    device: str = "cpu", backend: str = "auto", address: str | None = "local", workers: int | None = None,
                    recursive: bool = False, overwrite: bool = False, skip_existing: bool = False, batch_size: int = 8,
                    out_format: str | None = None, quality: int = 95, max_pixels: int | None = None,
                    progress: bool = True) -> dict[str, Any]:
    """Colorize photos (files, folders, globs) into ``out_dir`` on Ray; returns the ``--json`` summary.

    The summary is the local CLI's (``ok``, ``failed``, ``seconds``, ``model``, ``outputs``,
    ``errors``; plus ``skipped`` with ``skip_existing``); :func:`exit_code` applies the CLI's rule to it.
    ``options``: a :class:`~colorize.options.ColorizeOptions` or a mapping of ``render_size``,
    ``saturation``, ``temperature``. ``address``: ``"local"`` (a runtime on this machine, ``workers``
    CPUs), ``"auto"``, ``"ray://head:10001"``. Raises :class:`RayMissingError` without Ray,
    :class:`UsageError` for clashing outputs or an unreachable cluster,
    :class:`~colorize.errors.WeightsError` for bad weights.
    """
    t0 = time.time()
    pairs, failures = plan_photos(inputs, out_dir, recursive=recursive, out_format=out_format)
    return run_photo_jobs(pairs, failures=failures, model=model, device=device, backend=backend, options=options,
                          address=address, workers=workers, overwrite=overwrite, skip_existing=skip_existing,
                          batch_size=batch_size, quality=quality, max_pixels=max_pixels, progress=progress, t0=t0)


# ----------------------------------------------------------------------------- films


def find_shots(src: str | os.PathLike[str], render_size: int, scene_threshold: float, *, temporal: bool = True,
               max_frames: int = 240) -> list[dict[str, Any]]:
    """Split a film at the cuts a local run would find: ``[{"shot", "start", "stop", "pts"}]`` (frame
    indices ``[start, stop)`` and the first frame's timestamp, for seeking).

    The cut rule is :meth:`colorize.video.TemporalColorizer.step`'s own, on the same render-size luma
    (the 32-bin luma-histogram distance of consecutive frames above ``scene_threshold``), so each shot
    starts exactly where the local run's temporal memory resets. Without temporal blending every frame
    is on its own: the film is cut every ``max_frames`` frames."""
    import numpy as np
    import torch

    from .errors import VideoError
    from .render import render_input
    from .video import _AvSource, histogram_distance

    source = _AvSource(Path(src))
    starts: list[tuple[int, int | None]] = []
    prev: Any = None
    index = 0
    try:
        for kind, item in source.items():
            if kind == "audio":
                continue
            if kind in ("error", "stop"):
                reason = item[1] if kind == "error" else "unreadable data"
                raise VideoError(src, f"frame {index}: {reason} (--ray needs a film that decodes; run it locally with --on-error skip)")
            g = item.gray
            y = torch.from_numpy(g).float().div_(255) if g.dtype == np.uint8 else torch.from_numpy(g.astype(np.float32))
            y8 = (render_input(y[None, None], render_size)[0, 0].numpy() * 255 + 0.5).astype(np.uint8)
            if index == 0:
                cut = True
            elif not temporal:
                cut = index - starts[-1][0] >= max_frames
            else:
                cut = prev.shape != y8.shape or histogram_distance(y8, prev) > scene_threshold
            if cut:
                starts.append((index, item.pts))
            prev = y8
            index += 1
    finally:
        source.close()
    if not starts:
        raise VideoError(src, "no video frames")
    bounds = [s for s, _ in starts] + [index]
    return [{"shot": i, "start": bounds[i], "stop": bounds[i + 1], "pts": starts[i][1]} for i in range(len(starts))]


def _shot_frames(src: Path, start: int, stop: int, pts: int | None) -> Iterator[Any]:
    """The decoded frames ``[start, stop)`` of a film: a seek to the key frame before the shot, then
    decoding forward to its first timestamp (from the beginning when the film has no timestamps)."""
    from .video import _AvSource

    source = _AvSource(src)
    try:
        seeked = False
        if start > 0 and pts is not None:
            try:
                source.container.seek(int(pts), stream=source.stream, backward=True, any_frame=False)
                seeked = True
            except Exception:  # not seekable: decode from the start
                source.close()
                source = _AvSource(src)
        index, taken = 0, 0
        for kind, item in source.items():
            if kind != "frame":
                continue
            if seeked:
                if item.pts is None or item.pts < pts:
                    continue
            elif index < start:
                index += 1
                continue
            yield source, item
            taken += 1
            if taken >= stop - start:
                return
    finally:
        source.close()


class _ShotWorker:
    """A Ray Data actor for films: the model loaded once; per shot, a fresh temporal memory (as a local
    run has after the cut), the frames colorized and written losslessly (FFV1) to the job's temp folder."""

    def __init__(self, model: str, device: str, backend: str, options: Mapping[str, Any], temporal: Mapping[str, Any],
                 batch_size: int) -> None:
        from .options import merge_options
        from .pipeline import Colorizer
        from .video import TemporalOptions

        _worker_threads()
        self.colorizer = Colorizer.from_pretrained(model, device=device, backend=backend)
        self.options = merge_options(self.colorizer.options, dict(options))
        self.temporal = TemporalOptions(**dict(temporal))
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        rows = [self._shot(**{k: (batch[k][i].item() if hasattr(batch[k][i], "item") else batch[k][i]) for k in batch})
                for i in range(len(batch["shot"]))]
        return {k: np.array([r[k] for r in rows], dtype=object if k in ("segment", "error") else None) for k in rows[0]}

    def _shot(self, shot: int, start: int, stop: int, pts: Any, src: str, segment: str) -> dict[str, Any]:
        import av
        import numpy as np
        import torch

        from .video import TemporalColorizer

        pts = None if pts is None or (isinstance(pts, float) and np.isnan(pts)) else int(pts)
        tc = TemporalColorizer(self.colorizer, self.options, self.temporal)
        seg = Path(segment)
        tmp = seg.with_name(f".{seg.name}.{os.getpid()}.tmp")
        frames = 0
        out: Any = None
        try:
            out = av.open(str(tmp), "w", format="matroska")
            stream = None
            pending: list[np.ndarray] = []
            rotation = 0

            def flush() -> None:
                nonlocal frames, stream
                if not pending:
                    return
                if pending[0].dtype == np.uint8:
                    y = torch.from_numpy(np.stack(pending)).float().div_(255)[:, None]
                else:
                    y = torch.from_numpy(np.stack(pending).astype(np.float32))[:, None]
                for rgb in tc.colorize_gray_iter(y, rotation):
                    u8 = rgb[0].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
                    if stream is None:
                        stream = out.add_stream("ffv1", rate=25)
                        stream.width, stream.height, stream.pix_fmt = u8.shape[1], u8.shape[0], "bgr0"
                    for packet in stream.encode(av.VideoFrame.from_ndarray(u8, format="rgb24")):
                        out.mux(packet)
                    frames += 1
                pending.clear()

            for source, frame in _shot_frames(Path(src), start, stop, pts):
                rotation = source.rotation
                pending.append(frame.gray)
                if len(pending) >= self.batch_size:
                    flush()
            flush()
            if stream is not None:
                for packet in stream.encode(None):
                    out.mux(packet)
            out.close()
            out = None
            if frames != stop - start:
                raise RuntimeError(f"decoded {frames} frames of shot {shot}, expected {stop - start}")
            os.replace(tmp, seg)  # a re-run of this shot (its worker died) simply writes it again
            return {"shot": shot, "frames": frames, "segment": str(seg), "error": "",
                    "confidence": float(np.sum(tc.confidences)), "pairs": len(tc.confidences)}
        except Exception as exc:
            return {"shot": shot, "frames": frames, "segment": str(seg), "error": f"{type(exc).__name__}: {exc}",
                    "confidence": 0.0, "pairs": 0}
        finally:
            if out is not None:
                try:
                    out.close()
                except Exception:
                    pass
            tmp.unlink(missing_ok=True)


def _segment_frames(path: Path) -> Iterator[Any]:
    import av

    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def colorize_film_on_ray(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, model: str = "default",
                         device: str = "cpu", backend: str = "auto", options: ColorizeOptions | Mapping[str, Any] | None = None,
                         temporal: Any = None, address: str | None = "local", workers: int | None = None,
                         overwrite: bool = False, codec: str | None = None, crf: int | None = 18, preset: str | None = None,
                         batch_size: int = 8, progress: bool = True) -> dict[str, Any]:
    """Colorize the film ``src`` into the video file ``dst`` on Ray, shots in parallel; returns the
    :class:`colorize.video.VideoReport` of the film as a dict (what ``--json`` lists for a film).

    The film is cut where a local run's temporal memory resets (:func:`find_shots`); each shot is
    colorized by a worker with a fresh memory, exactly as the local run continues after that cut;
    the driver then encodes the frames in order with the film's own timestamps and copies the audio,
    as :func:`colorize.video.colorize_video` does. Film files in and out only (frame folders and
    patterns run locally), and the film must decode (no ``on_error="skip"``). A film with one long shot
    gains nothing: a shot is one worker's."""
    import dataclasses
    import secrets
    import shutil
    from fractions import Fraction

    from .errors import OutputExistsError, VideoError
    from .options import merge_options
    from .video import TemporalOptions, VideoReport, _AvSink, _AvSource, _is_frames_output, _prepare_parent, _signals_deferred

    t0 = time.time()
    src, dst = Path(src), Path(dst)
    temporal = temporal if temporal is not None else TemporalOptions()
    if _is_frames_output(dst):
        raise VideoError(dst, "--ray writes films as video files (.mp4, .mkv, ...); frame folders run locally")
    if not overwrite and os.path.lexists(dst):
        raise OutputExistsError(dst)
    user = _user_options(options)
    info = read_model_info_for(model)
    render_size = merge_options(None, info, user).render_size
    shots = find_shots(src, render_size, temporal.scene_threshold, temporal=temporal.enabled)
    _prepare_parent(dst)
    work = dst.parent / f".{dst.stem[:100]}.{secrets.token_hex(4)}.shots"
    work.mkdir()
    report = VideoReport(str(src), str(dst), temporal=temporal.enabled)
    try:
        jobs = [{**s, "src": str(src), "segment": str(work / f"shot_{s['shot']:06d}.mkv")} for s in shots]
        for job in jobs:  # one type per column for Arrow: timestamps as floats, NaN for none
            job["pts"] = float("nan") if job["pts"] is None else float(job["pts"])
        rows: list[dict[str, Any]] = []
        with ray_runtime(address, workers) as ray:
            _quiet_data(ray)
            pool = max(1, min(workers or int(ray.cluster_resources().get("CPU", 1)), len(jobs)))
            ds = ray.data.from_items(jobs, override_num_blocks=len(jobs))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = ds.map_batches(
                    _ShotWorker,
                    fn_constructor_kwargs={"model": str(model), "device": device, "backend": backend, "options": user,
                                           "temporal": dataclasses.asdict(temporal), "batch_size": batch_size},
                    batch_size=1, batch_format="numpy", concurrency=pool, num_cpus=1,
                    max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS,
                )
                from .progress import progress_bar

                total = sum(j["stop"] - j["start"] for j in jobs)
                done = 0
                with progress_bar(total, (src.name or str(src))[:30] + " (ray)", enabled=progress,
                                  extra="{task.fields[rate]:.1f} fps") as bar:
                    try:
                        for row in ds.iter_rows():
                            row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                            rows.append(row)
                            done += int(row["frames"])
                            bar.advance(int(row["frames"]), rate=done / max(1e-6, time.time() - t0))
                    except Exception as exc:  # the job itself stopped: this film's failure, no output
                        raise VideoError(src, f"the Ray job stopped: {_one_line(exc)}") from None
        by_shot = {int(r["shot"]): r for r in rows}
        bad = [by_shot.get(j["shot"], {"error": "no result from the Ray workers (lost)"}) for j in jobs
               if by_shot.get(j["shot"], {}).get("error", "lost") != ""]
        if bad:
            raise VideoError(src, f"a shot failed on Ray: {bad[0]['error']}")

        # the join: the film's own timestamps and audio, the workers' frames, in order
        source = _AvSource(src)
        sink = None
        backlog: list[Any] = []
        segments = (frame for j in jobs for frame in _segment_frames(Path(j["segment"])))
        try:
            for kind, item in source.items():
                if kind == "audio":
                    (backlog.append(item) if sink is None else sink.mux_audio(item))
                    continue
                if kind != "frame":
                    continue
                if sink is None:
                    from .video import _StreamInfo

                    stream_info = _StreamInfo(source.width, source.height, Fraction(source.rate), Fraction(source.time_base),
                                              source.rotation, source.display_matrix or None)
                    sink = _AvSink(dst, stream_info, source.audio_streams, codec=codec, crf=crf, preset=preset, overwrite=overwrite)
                    for packet in backlog:
                        sink.mux_audio(packet)
                    backlog.clear()
                rgb = next(segments, None)
                if rgb is None:
                    raise VideoError(src, "the shots have fewer frames than the film")
                sink.write(rgb, item.pts, item.time_base)
            if sink is None:
                raise VideoError(src, "no video frames")
            with _signals_deferred():
                sink.commit()
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        finally:
            source.close()
        report.frames = sink.frames
        report.width, report.height, report.fps, report.rotation = source.width, source.height, float(source.rate), source.rotation
        report.audio = list(sink.audio_notes)
        report.scene_cuts = [j["start"] for j in jobs[1:]] if temporal.enabled else []
        pairs = sum(int(r["pairs"]) for r in rows)
        report.mean_confidence = sum(float(r["confidence"]) for r in rows) / pairs if pairs else 0.0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.seconds = time.time() - t0
    out = report.as_dict()
    out["shots"] = len(shots)
    return out


def read_model_info_for(model: str) -> dict[str, Any]:
    """The model's ``inference`` defaults (render size...), read on the driver without loading the network."""
    from .models.registry import resolve_weights
    from .models.weights import read_model_info, weights_paths
    from .options import inference_defaults

    path = resolve_weights(model)
    return dict(inference_defaults(read_model_info(path), weights_paths(path)[1]))
