"""``colorize FILM``: films, frame folders and frame patterns (output naming, checks, summary).

The library side is :mod:`colorize.video` (:func:`~colorize.video.colorize_video`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import ImageError, VideoError, VideoOptionError
from ..io import SUPPORTED_INPUT_EXTENSIONS
from ..video import (
    _KEEP_CONTAINER,
    VIDEO_SUFFIXES,
    TemporalOptions,
    VideoReport,
    _check_encoder,
    _is_frames_output,
    _sigterm_raises,
    _Terminated,
    check_video_options,
    colorize_video,
    encoder_for,
    is_sequence_pattern,
)
from .common import colorizer_from_args, exit_code, model_name, policy_from_args, print_summary, user_options


def _video_output(src: Path, args: argparse.Namespace, many: bool) -> Path:
    """Where ``colorize`` writes a film (see docs/video.md: output naming)."""
    suffix = getattr(args, "suffix", "_colorized")
    fmt = getattr(args, "out_format", None)
    is_seq = is_sequence_pattern(src) or src.is_dir()
    if is_seq:
        folder = src.parent if is_sequence_pattern(src) else src
        name = folder.name or "frames"
    else:
        name = src.stem
    ext = src.suffix.lower() if src.suffix.lower() in _KEEP_CONTAINER else ".mp4"
    if args.output:
        out = Path(args.output)
        if is_sequence_pattern(out) or out.suffix.lower() in VIDEO_SUFFIXES:
            return out
        if out.suffix.lower() in SUPPORTED_INPUT_EXTENSIONS:
            raise VideoError(out, "a film needs a video file (.mp4), a folder or a frame pattern (frames/%05d.png) as output")
        if many:
            return out / (name if (is_seq or fmt) else f"{name}{ext}")
        if is_seq or fmt:
            return out
        return out / f"{name}{ext}"
    if is_seq:
        return folder.with_name(f"{name}{suffix}")
    if fmt:
        return src.with_name(f"{name}{suffix}")
    return src.with_name(f"{name}{suffix}{ext}")


def run_video_jobs(videos: Sequence[tuple[Path, Path | None]], args: argparse.Namespace) -> int:
    """The ``colorize`` command for films (files, frame folders, frame patterns); returns the exit code."""
    t0 = time.time()
    json_out = bool(getattr(args, "json", False))
    quiet = bool(getattr(args, "quiet", False))
    policy = policy_from_args(args)
    show = policy.per_file
    failures: list[tuple[str, str]] = []
    skip_existing = bool(getattr(args, "skip_existing", False))
    skipped: list[tuple[str, str]] | None = [] if skip_existing else None
    many = len(videos) > 1
    planned: list[tuple[Path, Path]] = []
    if many and args.output and (Path(args.output).suffix.lower() in VIDEO_SUFFIXES or is_sequence_pattern(args.output)):
        failures.append((args.output, "several films need an output folder, not a file name"))
        videos = []
    seen: set[Path] = set()
    for src, _base in videos:
        try:
            dst = _video_output(Path(src), args, many)
        except VideoError as exc:
            failures.append((exc.path, exc.reason))
            continue
        if not Path(src).exists() and not is_sequence_pattern(src):
            failures.append((str(src), "no such file"))
            continue
        if dst.exists() and Path(src).exists() and dst.resolve() == Path(src).resolve():
            failures.append((str(src), "output would replace the input; choose another -o or --suffix"))
            continue
        if not _is_frames_output(dst) and dst.exists() and not args.overwrite:
            if skipped is not None:  # a film is renamed into place when complete: one that exists is whole
                skipped.append((str(src), str(dst)))
            else:
                failures.append((str(dst), "already exists (use --overwrite)"))
            continue
        if dst in seen:
            failures.append((str(src), f"another input already writes {dst}"))
            continue
        seen.add(dst)
        planned.append((Path(src), dst))

    # every number is checked before the model is loaded or a frame decoded: one line, exit 2
    from ..options import ColorizeOptions, merge_options

    given = user_options(args)
    knobs = {k: v for k, v in {"strength": getattr(args, "temporal_strength", None),
                                "scene_threshold": getattr(args, "scene_threshold", None)}.items() if v is not None}
    codec = getattr(args, "codec", None)
    crf = getattr(args, "crf", 18)
    batch_size = getattr(args, "batch_size", 8)
    try:
        ColorizeOptions(**given)  # whatever checks the options carry, before any work
        temporal = TemporalOptions(enabled=not getattr(args, "no_temporal", False), **knobs)
        check_video_options(fps=getattr(args, "fps", None), batch_size=8 if batch_size is None else batch_size)
        for _src, dst in planned:
            if not _is_frames_output(dst):
                name = encoder_for(dst, codec)
                _check_encoder(dst, name)
                check_video_options(crf=crf, codec=name)
    except VideoOptionError as exc:
        print(f"colorize: error: --{exc.option}: {exc.reason}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"colorize: error: {exc}", file=sys.stderr)
        return 2
    if not json_out:
        for p, r in failures:
            print(f"{p}: {r}", file=sys.stderr)
        if skipped and policy.messages:
            print(f"skipped {len(skipped)} film{'s' if len(skipped) > 1 else ''} whose output exists (--skip-existing)",
                  file=sys.stderr)

    colorizer = None
    if planned:
        try:
            colorizer = colorizer_from_args(args)
        except Exception as exc:  # WeightsError, RuntimeError(device)
            print(f"colorize: error: {exc}", file=sys.stderr)
            return 1
    # the model's own inference defaults (its JSON's "inference" block), then the user's: as for photos
    options = merge_options(colorizer.options if colorizer is not None else None, given)
    reports: list[VideoReport] = []
    terminated = False
    with _sigterm_raises():
        for src, dst in planned:
            try:
                report = colorize_video(src, dst, colorizer, options, temporal,  # type: ignore[arg-type]
                                        progress=policy.progress, overwrite=bool(args.overwrite),
                                        codec=codec, crf=crf, preset=getattr(args, "preset", None),
                                        batch_size=8 if batch_size is None else batch_size,
                                        on_error=getattr(args, "on_error", "stop") or "stop", fps=getattr(args, "fps", None),
                                        frame_format=getattr(args, "out_format", None) or "png")
            except ImageError as exc:
                failures.append((exc.path, exc.reason))
                if not json_out:
                    print(f"{exc.path}: {exc.reason}", file=sys.stderr)
                continue
            except _Terminated:
                failures.append((str(src), "terminated (SIGTERM); no output written"))
                if not json_out:
                    print(f"{src}: terminated (SIGTERM); no output written", file=sys.stderr)
                terminated = True
                break
            reports.append(report)
            if show:
                cuts = f", {len(report.scene_cuts)} scene cut(s)" if report.scene_cuts else ""
                print(f"{src} -> {dst}: {report.frames} frames at {report.fps:.3g} fps in {report.seconds:.1f}s "
                      f"({report.processing_fps:.1f} frames/s{cuts})", file=sys.stderr)
            if not json_out:
                for w in report.warnings:  # shown even with -q: the film is incomplete
                    print(f"{src}: warning: {w}; wrote the {report.frames} there are (--on-error skip)", file=sys.stderr)
            if not json_out and not quiet:
                for e in report.errors:
                    print(f"{src}: frame {e['frame']}: {e['error']} (repeated the previous frame)", file=sys.stderr)

    if json_out:
        print_summary([r.as_dict() for r in reports], failures, t0, model_name(colorizer, args.model), skipped=skipped)
    if terminated:
        return 143  # 128 + SIGTERM, as the shell reports a process ended by it
    return exit_code(reports, failures, skipped or ())
