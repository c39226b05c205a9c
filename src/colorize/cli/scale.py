"""``colorize INPUTS -o OUT --ray [ADDRESS]``: the photo and film job on Ray (issue 17; docs/scale.md).

The planning is the local command's own (:func:`colorize.cli.photo._plan_outputs`: the same names,
clash checks and overwrite rule); the work is :mod:`colorize.scale`'s; the summary and exit code
follow the local rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import err, user_options


def run_on_ray(args: argparse.Namespace, run: Any, jobs: list[tuple[Path, Path | None]], sequences: Sequence[tuple[Path, None]],
               many: bool) -> int:
    """The ``--ray`` branch of :func:`colorize.cli.photo._colorize_files`; returns the exit code."""
    from .. import scale
    from ..errors import UsageError
    from .photo import _is_film, _output_path, _plan_outputs

    scale._import_ray()  # RayMissingError (a UsageError: one line, exit 2) before any work
    skip_existing = bool(getattr(args, "skip_existing", False))
    show = not args.quiet and not args.json
    jobs = jobs + _films_in_folders(args, run)
    films = [j for j in jobs if _is_film(j[0])]
    if films or sequences:
        if sequences or len(films) < len(jobs):
            raise UsageError("--ray: give films (video files) and photos in separate commands; frame sequences run locally")
        return _films_on_ray(args, run, films, many, skip_existing, show)
    if not args.output and args.suffix:  # never re-colorize our own outputs on a second run over a folder
        jobs = [j for j in jobs if not (j[1] is not None and j[0].stem.endswith(args.suffix))]
    done: list[tuple[Path, Path]] = []  # (input, output) pairs whose output is complete
    if skip_existing and not args.overwrite:  # left alone and listed as skipped, not failures
        keep = []
        for src, base in jobs:
            dst = _output_path(src, base, args, many)
            if scale.output_complete(dst) and _key(dst) != _key(src):
                done.append((src, dst))
            else:
                keep.append((src, base))
        jobs = keep
    planned = _plan_outputs(jobs, args, many, run.failures)

    def on_result(row: dict[str, Any]) -> None:
        if show and row["ok"]:  # as locally: one line per photo written; the failures are listed at the end
            note = " (had colour: re-colorized from its luminance)" if row["recolorized"] else ""
            print(f"{row['input']} -> {row['output']}{note}", file=sys.stderr)

    try:
        summary = scale.run_photo_jobs(
            planned + done, failures=run.failures, model=args.model, device=args.device, backend=getattr(args, "backend", "auto"),
            options=user_options(args), address=args.ray, workers=args.workers, overwrite=args.overwrite,
            skip_existing=skip_existing, batch_size=args.batch_size, quality=args.quality, max_pixels=args.max_pixels,
            progress=show and sys.stderr.isatty(), on_result=on_result, t0=run.t0)
    except scale.RayUnavailableError as exc:
        return run.stop(str(exc), 1)
    return _finish(args, summary)


def _films_in_folders(args: argparse.Namespace, run: Any) -> list[tuple[Path, Path | None]]:
    """``colorize films/ --ray``: a folder scan finds photos only; a folder with no photo but films gives its films."""
    from .photo import VIDEO_SUFFIXES, _is_film

    found: list[tuple[Path, Path | None]] = []
    for text in args.inputs:
        folder = Path(text)
        if not folder.is_dir() or not any(i == str(folder) and e.startswith("no images in this folder") for i, e in run.failures):
            continue
        walker = sorted(folder.rglob("*")) if args.recursive else sorted(folder.iterdir())
        films = [(f, folder) for f in walker if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES and _is_film(f)]
        if films:
            run.failures[:] = [(i, e) for i, e in run.failures if i != str(folder)]
            found += films
    return found


def _key(path: Path) -> str:
    import os

    return os.path.normcase(os.path.realpath(path))


def _finish(args: argparse.Namespace, summary: dict[str, Any], what: str = "images") -> int:
    """As the local run ends: JSON on stdout with ``--json``, else the failures and a count on stderr."""
    from ..scale import exit_code

    if summary.get("error"):
        err(summary["error"])
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    elif not args.quiet:
        errors = summary["errors"]
        if errors:
            print(f"{len(errors)} of {len(errors) + summary['ok']} failed:", file=sys.stderr)
            for e in errors:
                print(f"  {e['input']}: {e['error']}", file=sys.stderr)
        if summary.get("skipped"):
            print(f"skipped {len(summary['skipped'])} complete output(s) (--skip-existing)", file=sys.stderr)
        if summary["ok"] > 1:
            print(f"colorized {summary['ok']} {what} in {summary['seconds']:.1f}s on Ray", file=sys.stderr)
    return exit_code(summary)


def _films_on_ray(args: argparse.Namespace, run: Any, films: list[tuple[Path, Path | None]], many: bool, skip_existing: bool,
                  show: bool) -> int:
    """Films on Ray, one after the other, each split into shots across the workers (docs/scale.md)."""
    from .. import scale
    from ..errors import ImageError, UsageError, VideoOptionError
    from ..options import ColorizeOptions
    from ..video import _check_encoder, check_video_options, encoder_for
    from .common import summary
    from .video import _video_output, temporal_from_args

    if getattr(args, "on_error", "stop") != "stop":
        raise UsageError("--ray: films must decode (--on-error skip runs locally)")
    failures = list(run.failures)
    planned: list[tuple[Path, Path]] = []
    skipped: list[dict[str, str]] = []
    for src, _ in films:
        dst = _video_output(src, args, many)
        if dst.exists() and not args.overwrite:
            if skip_existing:  # films are written atomically too: one that exists is complete
                skipped.append({"input": str(src), "output": str(dst)})
            else:
                failures.append((str(dst), "already exists (use --overwrite)"))
            continue
        planned.append((src, dst))
    given = user_options(args)
    try:
        ColorizeOptions(**given)
        temporal = temporal_from_args(args)
        for _, dst in planned:
            name = encoder_for(dst, args.codec)
            _check_encoder(dst, name)
            check_video_options(crf=args.crf, codec=name)
    except VideoOptionError as exc:
        raise UsageError(f"--{exc.option}: {exc.reason}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    reports: list[dict[str, Any]] = []
    if planned:
        try:
            with scale.ray_runtime(args.ray, args.workers):
                for src, dst in planned:
                    try:
                        report = scale.colorize_film_on_ray(
                            src, dst, model=args.model, device=args.device, backend=getattr(args, "backend", "auto"), options=given,
                            temporal=temporal, address=args.ray, workers=args.workers, overwrite=args.overwrite, codec=args.codec,
                            crf=args.crf, batch_size=args.batch_size, progress=show and sys.stderr.isatty())
                    except ImageError as exc:  # VideoError, OutputExistsError: that film's failure
                        failures.append((exc.path, exc.reason))  # listed at the end
                        continue
                    reports.append(report)
                    if show:
                        print(f"{src} -> {dst}: {report['frames']} frames in {report['shots']} shot(s) on Ray in {report['seconds']:.1f}s",
                              file=sys.stderr)
        except scale.RayUnavailableError as exc:
            return run.stop(str(exc), 1)
    out = summary(reports, failures, run.t0, scale._model_name(args.model))
    if skip_existing:
        out["skipped"] = skipped
    return _finish(args, out, "films")
