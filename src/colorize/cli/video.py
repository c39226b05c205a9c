"""``colorize FILM``: films, frame folders and frame patterns (output naming, checks, summary).

The library side is :mod:`colorize.video` (:func:`~colorize.video.colorize_video`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import HintError, ImageError, VideoError, VideoOptionError
from ..guidance import FilmGuidance
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


def temporal_from_args(args: argparse.Namespace) -> TemporalOptions:
    """The temporal options the command line asks for (raises ``ValueError`` naming a bad one).
    ``--temporal-strength S`` is one number for the user: it sets the strength with a reference too."""
    knobs: dict[str, Any] = {}
    strength = getattr(args, "temporal_strength", None)
    if strength is not None:
        knobs["strength"] = knobs["strength_with_reference"] = strength
    if getattr(args, "scene_threshold", None) is not None:
        knobs["scene_threshold"] = args.scene_threshold
    return TemporalOptions(enabled=not getattr(args, "no_temporal", False), **knobs)


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

    refused = film_refusals(args, [dst for _src, dst in planned])
    if refused:
        print(f"colorize: error: {refused}", file=sys.stderr)
        return 2
    guidance, code = guidance_from_args(args)
    if code:
        return code

    given = user_options(args)
    codec = getattr(args, "codec", None)
    crf = getattr(args, "crf", 18)
    batch_size = getattr(args, "batch_size", 8)
    try:
        ColorizeOptions(**given)  # whatever checks the options carry, before any work
        temporal = temporal_from_args(args)
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
    usage = False
    with _sigterm_raises():
        for src, dst in planned:
            try:
                report = colorize_video(src, dst, colorizer, options, temporal,  # type: ignore[arg-type]
                                        progress=policy.progress, overwrite=bool(args.overwrite),
                                        codec=codec, crf=crf, preset=getattr(args, "preset", None),
                                        batch_size=8 if batch_size is None else batch_size,
                                        on_error=getattr(args, "on_error", "stop") or "stop", fps=getattr(args, "fps", None),
                                        frame_format=getattr(args, "out_format", None) or "png",
                                        quality=getattr(args, "quality", None) or 95, max_pixels=getattr(args, "max_pixels", None),
                                        guidance=guidance)
            except HintError as exc:  # a hint outside this film's frames, or past its end: the user's input
                failures.append((str(src), str(exc).removeprefix(f"{src}: ")))
                if not json_out:
                    print(f"colorize: error: {exc}", file=sys.stderr)
                usage = True
                continue
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
    if usage:
        return 2
    return exit_code(reports, failures, skipped or ())


def film_refusals(args: argparse.Namespace, outputs: Sequence[Path]) -> str | None:
    """The first photo option given that a film cannot use, as one line (``None`` when all is usable).

    Never silently ignored: ``--quality`` only shapes JPEG/WebP frame outputs, ``--format`` only
    frame outputs (and must agree with a frame pattern's extension).
    """
    fmt = getattr(args, "out_format", None)
    for dst in outputs:
        frames = _is_frames_output(dst)
        if getattr(args, "_quality_given", False) and not (frames and _frame_suffix(dst, fmt) in (".jpg", ".jpeg", ".webp")):
            what = "a video file (its quality is --crf)" if not frames else f"{_frame_suffix(dst, fmt)} frames (lossless)"
            return f"--quality: {dst} is {what}; --quality is for photos and JPEG/WebP frames"
        if fmt and not frames:
            return f"--format {fmt}: {dst} is a video file; --format is for frame outputs (-o FOLDER or a pattern)"
        if fmt and is_sequence_pattern(dst) and dst.suffix.lower().lstrip(".") != fmt:
            return f"--format {fmt}: the frame pattern {dst.name} says {dst.suffix.lstrip('.')}; give one of them"
    return None


def _frame_suffix(dst: Path, fmt: str | None) -> str:
    return dst.suffix.lower() if is_sequence_pattern(dst) else f".{fmt or 'png'}"


def guidance_from_args(args: argparse.Namespace) -> tuple[FilmGuidance | None, int]:
    """``--hint``, ``--hints``, ``--hint-frame``, ``--hints-json``, ``--hint-method`` and ``--reference[-strength]``
    checked for films by :func:`colorize.guidance.film_guidance`: (guidance, 0), or (None, exit code) after one
    error line. Bad hints, frames and strengths are usage errors (2); a hints image or reference that
    cannot be used is an input error (1), as for photos."""
    from ..errors import OptionError, ReferenceImageError
    from ..guidance import film_guidance
    from ..hints import Hints

    hints: Hints | None = None
    try:
        hints = Hints.from_points(args.hint) if getattr(args, "hint", None) else None
    except HintError as exc:
        print(f"colorize: error: {exc}", file=sys.stderr)
        return None, 2
    if getattr(args, "hints", None):
        try:
            layer = Hints.from_image(args.hints)
        except HintError as exc:
            print(f"colorize: error: {exc}", file=sys.stderr)
            return None, 1
        hints = layer if hints is None else layer.merged(hints)
    try:
        guidance = film_guidance(hints=hints, hint_frame=getattr(args, "hint_frame", None),
                                 hints_json=getattr(args, "hints_json", None), hint_method=getattr(args, "hint_method", None),
                                 reference=getattr(args, "reference", None),
                                 reference_strength=getattr(args, "reference_strength", None))
    except OptionError as exc:
        print(f"colorize: error: {exc.cli_message()}", file=sys.stderr)
        return None, 2
    except HintError as exc:
        print(f"colorize: error: {exc}", file=sys.stderr)
        return None, 2
    except ReferenceImageError as exc:
        print(f"colorize: error: {exc}", file=sys.stderr)
        return None, 1
    return guidance, 0
