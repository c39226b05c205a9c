"""``colorize PHOTO...``: files, folders and globs of photos (films go to :mod:`colorize.cli.video`,
guided photos to :mod:`colorize.cli.guided`). Argument checks, output naming, the batch loop, the summary.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import UsageError
from .common import (
    STDIO,
    add_no_color,
    apply_no_color,
    colorizer_from_args,
    err,
    exit_code,
    is_stdio,
    model_name,
    options_from_args,
    output_suffix,
    policy_from_args,
    read_input,
    summary,
    write_result,
)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif"}


class _Parser(argparse.ArgumentParser):
    """argparse whose errors raise :class:`UsageError`: one line, exit 2, and ``--json`` still answers in JSON."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def _err(msg: str) -> None:
    err(msg)


# ----------------------------------------------------------------------------- colorize files


def build_colorize_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="colorize",
        description="Bring black-and-white photos to colour. Luminance is kept exactly; only colour is added.",
        epilog=(
            "sub-commands:\n"
            "  colorize models              list architectures and bundled weights (with provenance)\n"
            "  colorize train ...           train a model on folders of colour photos\n"
            "  colorize evaluate FOLDER     measure quality on colour ground truth\n"
            "  colorize export OUT.onnx     export the network to ONNX\n"
            "  colorize web                 start the local web page\n"
            "  colorize suggest PHOTO X,Y   the model's likely colours at a point (for --hint)\n"
            "run 'colorize SUBCOMMAND --help' for its options.\n\n"
            "examples (old_photo.jpg, scans/ and out/ stand for your own files and folders):\n"
            "  colorize old_photo.jpg                 -> old_photo_colorized.jpg beside it\n"
            "  colorize scans/ -o out/ --recursive    a whole folder tree\n"
            "  colorize 'scans/**/*.tif' -o out/      globs (** matches sub-folders at any depth)\n"
            "  colorize scans/ -o out/ --skip-existing    re-run: do only what is missing\n"
            "  cat old_photo.jpg | colorize - -o - > color.png    standard input/output (PNG unless --format)\n\n"
            "output: only results go to stdout (the image with -o -, the summary with --json); messages go to\n"
            "stderr. On a terminal a progress bar and one line per file; in a pipe or log only notes, errors and\n"
            "the final count (-v/--verbose adds the per-file lines, -q removes all but errors). NO_COLOR=1 or\n"
            "--no-color: no colour."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns; - reads one image from standard input")
    p.add_argument("-o", "--output", help="output file (one input) or folder (default: beside each input, with --suffix); "
                   "- writes the one image to standard output (format: --format, default png)")
    p.add_argument("--suffix", default="_colorized", help="added to output names written beside the input (default: %(default)s)")
    p.add_argument("--format", dest="out_format", choices=["jpg", "png", "webp", "tif", "bmp"],
                   help="output format (default: the input's, or the -o file's extension)")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose output already exists (outputs are written atomically, so an existing one is "
                   "complete); exit 0 when everything is done. The model is loaded only if there is work")
    p.add_argument("-m", "--model", default="default", help="bundled model name or weights path (default: %(default)s)")
    p.add_argument("--render-size", type=int, default=None, help="long side, in pixels, at which the model sees the photo (default: the model's)")
    p.add_argument("--saturation", type=float, default=None, help="scale the predicted colour (1 = as predicted)")
    p.add_argument("--temperature", type=float, default=None, help="annealed-mean temperature of distribution models (lower = more vivid)")
    p.add_argument("--consensus-radius", "--consensus", dest="consensus_radius", type=int, default=None, metavar="RADIUS",
                   help="distribution models: neighbours within RADIUS (at the model's stride 4) of similar gray agree on one "
                   "colour, against blotches; 0 = off (default: the model's)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="network runtime (default: auto = torch on GPUs and bf16-capable CPUs, else onnxruntime when installed)")
    p.add_argument("--batch-size", type=int, default=8, help="photos per forward pass for folders")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images larger than this (decompression-bomb guard)")
    p.add_argument("--quality", type=int, default=None, help="JPEG/WebP quality (default: 95)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, notes or per-file messages (errors only)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per file written, also when stderr is not a terminal")
    add_no_color(p)
    g = p.add_argument_group("guided colorization (see docs/guided.md)")
    g.add_argument("--hint", action="append", default=[], metavar="X,Y=COLOR",
                   help="colour hint at pixel X,Y of the photo (repeatable); COLOR is a CSS name or #rgb/#rrggbb, "
                   "e.g. --hint 120,80=#b22222 --hint 300,40=skyblue; X,Y,RADIUS=COLOR sets a radius in pixels")
    g.add_argument("--hints", metavar="HINTS.png", help="hints image: coloured strokes on a transparent background, the photo's size")
    g.add_argument("--hint-method", choices=["model", "propagate", "both"], default=None,
                   help="every method changes only the region around a hint (bounded by luminance edges) and keeps the "
                   "automatic colours elsewhere; model: the network's learned hints (needs a hints model); propagate (default): "
                   "spread the hint's correction along luminance; both: the first, then the second")
    g.add_argument("--reference", metavar="PATH", help="a colour photo whose colours to use (any size or content)")
    g.add_argument("--reference-strength", type=float, default=None, metavar="0-1",
                   help="how strongly the reference's colours override the automatic ones (default: 0.8)")
    g.add_argument("--hint-frame", default=None, metavar="N",
                   help="films: the frame (0 = the first, the default) that --hint / --hints are put on; they are "
                   "carried through that shot by the motion")
    g.add_argument("--hints-json", metavar="HINTS.json",
                   help='films: hints for several frames, e.g. {"0": ["120,80=red"], "150": ["40,20=skyblue"]} '
                   "(see docs/video.md)")
    v = p.add_argument_group("video (films, frame folders with --sequence, frame patterns like frames/%05d.png; see docs/video.md)")
    v.add_argument("--codec", default=None, help="video encoder (default: libx264 yuv420p; libvpx-vp9 for .webm)")
    v.add_argument("--crf", type=int, default=18, help="encoder quality, lower = better (default: %(default)s)")
    v.add_argument("--temporal-strength", type=float, default=None, metavar="S",
                   help="0..<1: how strongly colour follows the motion from frame to frame (default: 0.85; 0.92 with a "
                        "reference)")
    v.add_argument("--no-temporal", action="store_true", help="colorize every frame independently")
    v.add_argument("--scene-threshold", type=float, default=None, metavar="T",
                   help="luma-histogram change (0..1) that counts as a scene cut and resets the colour memory (default: 0.35)")
    v.add_argument("--on-error", choices=["stop", "skip"], default="stop",
                   help="undecodable frame: stop (default), or skip it and repeat the last good frame")
    v.add_argument("--sequence", action="store_true",
                   help="treat input folders as the frames of one film; without a video -o, the colorized frames go to a "
                   "folder (FOLDER_colorized/) keeping each frame's stem, with --format's extension (default png): "
                   "1415.jpg -> 1415.png")
    v.add_argument("--fps", type=float, default=None, help="frame rate of frame-sequence inputs (default: 25)")
    s = p.add_argument_group("scale out (Ray; see docs/scale.md)")
    s.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the job on Ray: alone, a local Ray runtime; 'auto' (RAY_ADDRESS) or ray://head:10001 for a cluster")
    s.add_argument("--workers", type=int, default=None, metavar="N", help="with --ray: model workers (actors), one CPU each (default: all CPUs)")
    p.add_argument("--version", action="version", version=f"colorize {__version__}")
    return p


def _is_sequence_input(text: str, args: argparse.Namespace) -> bool:
    """A frame sequence colorized as one film: a printf pattern, or a folder with --sequence or a video -o."""
    import re

    if re.search(r"%0?\d*d", Path(text).name):
        return True
    out = args.output or ""
    return Path(text).is_dir() and (args.sequence or Path(out).suffix.lower() in VIDEO_SUFFIXES or bool(re.search(r"%0?\d*d", Path(out).name)))


def _is_film(path: Path) -> bool:
    """A video file; a GIF only when it has more than one frame (a one-frame GIF is a photo)."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return False
    if suffix != ".gif":
        return True
    try:
        from PIL import Image

        with Image.open(path, formats=["GIF"]) as im:  # frame headers only, no pixels decoded
            return int(getattr(im, "n_frames", 1)) > 1
    except Exception:  # unreadable: the photo reader says why, in one line
        return False


def _expand_inputs(patterns: Sequence[str], recursive: bool,
                   notes: list[str] | None = None) -> tuple[list[tuple[Path, Path | None]], list[tuple[str, str]]]:
    """Expand files, folders and globs into (file, base folder or None) pairs, plus (input, reason) errors.

    ``**`` in a glob always matches sub-folders at any depth (as in the shell's globstar); a folder
    without ``--recursive`` is scanned one level deep and ``notes`` gets one line saying how many
    sub-folders were left out.
    """
    found: list[tuple[Path, Path | None]] = []
    errors: list[tuple[str, str]] = []
    for pattern in patterns:
        if pattern == STDIO:
            found.append((Path(STDIO), None))
            continue
        if any(ch in pattern for ch in "*?[") and not Path(pattern).exists():
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                errors.append((pattern, "no files match this pattern"))
            base = _glob_base(pattern) if "**" in pattern else None  # tree/**/*.png: keep the tree under -o
            for m in matches:
                if Path(m).is_file():
                    found.append((Path(m), base))
            continue
        path = Path(pattern)
        if path.is_dir():
            walker = sorted(path.rglob("*")) if recursive else sorted(path.iterdir())
            from ..io import is_image_path  # one list of image extensions for every folder scan

            images = [f for f in walker if f.is_file() and is_image_path(f)]
            subfolders = 0 if recursive else sum(1 for f in walker if f.is_dir())
            if subfolders and notes is not None:
                notes.append(f"note: {path}: {subfolders} sub-folder{'s' if subfolders > 1 else ''} skipped (use --recursive)")
            if not images:
                errors.append((str(path), "no images in this folder" + ("" if recursive else " (use --recursive for sub-folders)")))
            found += [(f, path) for f in images]
        else:
            found.append((path, None))  # missing files, dangling links and link loops are reported by the reader
    return found, errors


def _glob_base(pattern: str) -> Path:
    """The folder a glob starts from (its leading parts without wildcards): ``tree/**/*.png`` -> ``tree``."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _output_path(src: Path, base: Path | None, args: argparse.Namespace, many: bool) -> Path:
    from ..io import SUPPORTED_INPUT_EXTENSIONS, SUPPORTED_OUTPUT_EXTENSIONS

    # The input's format when it can be written; else PNG (GIF, PGM/PPM/PNM, JFIF, MPO: read-only here).
    keep = src.suffix if src.suffix.lower() in SUPPORTED_OUTPUT_EXTENSIONS else ".png"
    ext = f".{args.out_format}" if args.out_format else keep
    if args.output:
        out = Path(args.output)
        if not many and not out.is_dir() and out.suffix.lower() in SUPPORTED_INPUT_EXTENSIONS:
            return out.with_suffix(f".{args.out_format}") if args.out_format else out
        rel = src.relative_to(base) if base is not None else Path(src.name)
        return (out / rel).with_suffix(ext)
    return src.with_name(f"{src.stem}{args.suffix}{ext}")


def _same_file_key(path: Path) -> str:
    """One key per file: absolute, links followed (loops left as they are: realpath never raises)."""
    return os.path.normcase(os.path.realpath(path))


def check_colorize_args(args: argparse.Namespace) -> None:
    """Every option checked once, before any file is read or the model is loaded; :class:`UsageError` if bad.

    The numeric rules are :data:`colorize.io.OPTION_RULES`, shared with the Python and web APIs
    (torch-free, so a bad value is refused before anything heavy is imported).
    """
    from ..io import OptionError, check_option

    args._quality_given = args.quality is not None  # films refuse a --quality they cannot use
    if args.quality is None:
        args.quality = 95
    try:
        for name in ("render_size", "saturation", "temperature", "consensus_radius", "batch_size", "quality", "max_pixels"):
            value = getattr(args, name, None)
            if value is not None:
                setattr(args, name, check_option(name, value))
    except OptionError as exc:
        raise UsageError(exc.cli_message()) from None
    if args.skip_existing and args.overwrite:
        raise UsageError("--skip-existing and --overwrite: choose one (skip the outputs that exist, or replace them)")
    if args.output == STDIO:
        if args.json:
            raise UsageError("--json with -o -: standard output carries the image; drop --json (or write to a file)")
        if args.skip_existing:
            raise UsageError("--skip-existing with -o -: standard output always gets the image")
        if sys.stdout.isatty():
            raise UsageError("-o -: standard output is a terminal; redirect it to a file or a pipe (> color.png)")
    if args.inputs.count(STDIO) > 1 or (STDIO in args.inputs and len(args.inputs) > 1):
        raise UsageError("-: standard input must be the only input")
    if STDIO in args.inputs:
        from ..io import SUPPORTED_INPUT_EXTENSIONS

        out = args.output
        if not out or (out != STDIO and (Path(out).is_dir() or Path(out).suffix.lower() not in SUPPORTED_INPUT_EXTENSIONS)):
            raise UsageError("-: an image from standard input needs -o FILE.png (or -o - for standard output)")
        if sys.stdin.isatty():
            raise UsageError("-: standard input is a terminal; pipe an image into it (cat photo.jpg | colorize - -o out.png)")
    suffix = args.suffix
    if any(sep and sep in suffix for sep in (os.sep, os.altsep, "/")) or "\0" in suffix:
        raise UsageError(f"--suffix {suffix!r}: must not contain a path separator (use -o to write into another folder)")
    if not suffix and not args.output and not args.out_format:
        raise UsageError("--suffix '': the outputs would replace their inputs; give a suffix, -o or --format")
    workers, address = getattr(args, "workers", None), getattr(args, "ray", None)
    if workers is not None and (address is None or workers < 1):
        raise UsageError(f"--workers {workers}: " + ("must be 1 or more" if address is not None else "only with --ray"))
    if address is not None and (not address.strip() or address.startswith("-") or (address not in ("auto", "local") and os.path.exists(address))):
        raise UsageError(f"--ray {address!r}: give a cluster address (auto, ray://head:10001, host:port), or --ray after the inputs "
                         "for a local runtime")
    if address is not None and (args.hint or args.hints or args.reference or args.hint_method or args.reference_strength is not None
                                or args.hints_json or args.hint_frame is not None):
        raise UsageError("--ray: guided colorization (--hint, --hints, --reference) runs locally only; drop --ray")
    if address is not None and (is_stdio(args.output) or any(is_stdio(i) for i in args.inputs)):
        raise UsageError("--ray: standard input/output (-) is for one photo on this machine; give files or folders")


def _plan_outputs(jobs: list[tuple[Path, Path | None]], args: argparse.Namespace, many: bool,
                  failures: list[tuple[str, str]], skipped: list[tuple[str, str]] | None = None) -> list[tuple[Path, Path]]:
    """(input, output) pairs to colorize. Clashes are refused before any work (:class:`UsageError`);
    inputs whose output exists (without --overwrite) are recorded in ``failures``, or with
    ``--skip-existing`` in ``skipped`` (``(input, output)`` pairs, not an error)."""
    if args.output == STDIO:  # one image to standard output: nothing on disk to clash with
        if len(jobs) != 1:
            raise UsageError(f"-o -: standard output takes one image, but the inputs name {len(jobs)}")
        return [(jobs[0][0], Path(STDIO))]
    inputs = {_same_file_key(src): src for src, _ in jobs if str(src) != STDIO}
    by_output: dict[str, Path] = {}
    planned: list[tuple[Path, Path]] = []
    for src, base in jobs:
        dst = _output_path(src, base, args, many)
        key, src_key = _same_file_key(dst), _same_file_key(src)
        if key in by_output:
            if _same_file_key(by_output[key]) == src_key:
                continue  # the same file named twice (e.g. a folder and one of its files)
            raise UsageError(f"{by_output[key]} and {src} would both be written to {dst}; "
                             "colorize them into different -o folders, or rename one")
        by_output[key] = src
        if key == src_key:
            failures.append((str(src), "output would replace the input; choose another -o or --suffix"))
            continue
        if args.overwrite and key in inputs:
            raise UsageError(f"the output of {src}, {dst}, is another input ({inputs[key]}); with --overwrite it would be "
                             "replaced: choose another -o or --suffix")
        if os.path.lexists(dst) and not args.overwrite:
            if skipped is not None and args.skip_existing:
                skipped.append((str(src), str(dst)))
            else:
                failures.append((str(src), f"{dst} already exists (use --overwrite)"))
            continue
        planned.append((src, dst))
    return planned


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or PyTorch's allocator failing (a RuntimeError on CPU, OutOfMemoryError on CUDA)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                             or "not enough memory" in text)


class _Run:
    """What a ``colorize`` run has done so far, and its one summary: JSON on stdout with ``--json``,
    whatever ends the run (success, failed files, a bad option, a crash, Ctrl-C)."""

    def __init__(self, want_json: bool, model: str, quiet: bool = False) -> None:
        self.t0 = time.time()
        self.json, self.model, self.quiet = want_json, model, quiet
        self.results: list[dict[str, Any]] = []
        self.failures: list[tuple[str, str]] = []
        self.skipped: list[tuple[str, str]] | None = None  # (input, existing output) with --skip-existing
        self.colorizer: Any = None
        self.policy: Any = None  # colorize.progress.OutputPolicy, once the arguments are parsed

    def print_json(self, error: str | None = None) -> None:
        print(json.dumps(summary(self.results, self.failures, self.t0, model_name(self.colorizer, self.model), error,
                                 self.skipped), indent=2, default=str))

    def stop(self, message: str, code: int) -> int:
        """The run cannot go on: one line on stderr (and the JSON summary); returns the exit code."""
        _err(message)
        if self.json:
            self.print_json(error=message)
        return code

    def finish(self) -> int:
        elapsed = time.time() - self.t0
        skipped = self.skipped or []
        if self.json:
            self.print_json()
        elif not self.quiet:
            if self.failures:
                print(f"{len(self.failures)} of {len(self.failures) + len(self.results)} failed:", file=sys.stderr)
                for i, e in self.failures:
                    print(f"  {i}: {e}", file=sys.stderr)
            if self.policy is None or self.policy.messages:
                if len(self.results) > 1 or (skipped and self.results):
                    print(f"colorized {len(self.results)} images in {elapsed:.1f}s", file=sys.stderr)
                if skipped:
                    print(f"skipped {len(skipped)} input{'s' if len(skipped) > 1 else ''} whose output exists "
                          f"(--skip-existing){'; nothing to do' if not self.results and not self.failures else ''}",
                          file=sys.stderr)
        return exit_code(self.results, self.failures, skipped)


def run_colorize(argv: Sequence[str]) -> int:
    argv = list(argv)
    run = _Run("--json" in argv, "default")
    try:
        args = build_colorize_parser().parse_args(argv)
        apply_no_color(args)
        run.model, run.quiet = args.model, args.quiet
        run.policy = policy_from_args(args)
        if is_stdio(args.output):
            run.json = False  # stdout carries the image and nothing else: even a refused --json answers on stderr only
        check_colorize_args(args)
        return _colorize_files(args, run)
    except UsageError as exc:
        return run.stop(str(exc), 2)
    except KeyboardInterrupt:
        if run.json:
            run.print_json(error="interrupted")
        raise
    except Exception as exc:  # a bug: still one line (and valid JSON); COLORIZE_DEBUG=1 shows the traceback
        if os.environ.get("COLORIZE_DEBUG"):
            raise
        return run.stop(f"unexpected {type(exc).__name__}: {exc} (please report this; COLORIZE_DEBUG=1 shows where)", 1)


def _colorize_files(args: argparse.Namespace, run: _Run) -> int:
    guided = bool(args.hint or args.hints or args.reference or args.hint_method or args.reference_strength is not None)
    sequences = [(Path(s), None) for s in args.inputs if _is_sequence_input(s, args)]
    notes: list[str] = []
    jobs, failures = _expand_inputs([s for s in args.inputs if not _is_sequence_input(s, args)], args.recursive, notes)
    run.failures = failures
    if not args.quiet:  # notes are for people: stderr, also with --json (stdout stays the summary)
        for note in notes:
            print(note, file=sys.stderr)
    many = len(jobs) > 1 or any(base is not None for _, base in jobs) or len(args.inputs) > 1
    from ..io import SUPPORTED_INPUT_EXTENSIONS

    if args.output and many and Path(args.output).suffix.lower() in SUPPORTED_INPUT_EXTENSIONS and not Path(args.output).is_dir():
        raise UsageError(f"{args.output}: several inputs need an output folder, not a file name")
    videos = [j for j in jobs if not is_stdio(j[0]) and _is_film(j[0])] + sequences
    if (args.hints_json or args.hint_frame is not None) and not videos:
        raise UsageError(f"{'--hints-json' if args.hints_json else '--hint-frame'}: only for films (a photo's hints are "
                         "--hint and --hints)")
    if guided and not videos:  # films check their guidance in cli/video.py. Bad --hint syntax, colours,
        from .guided import check_guided_args  # strength: usage errors (2); unusable files: 1

        code = check_guided_args(args)
        if code:
            if run.json:
                run.print_json(error="a guidance option was refused (the reason is on stderr)")
            return code
    if getattr(args, "ray", None) is not None:  # issue 17: the same job on a Ray cluster
        from .scale import run_on_ray

        return run_on_ray(args, run, jobs, sequences, many)
    if videos and is_stdio(args.output):
        raise UsageError("-o -: films are not written to standard output; give a file name (film.mp4) or a folder")
    if videos:
        if len(videos) < len(jobs) + len(sequences):
            raise UsageError("give photos and films in separate commands")
        if failures:
            return run.stop("; ".join(f"{i}: {e}" for i, e in failures), 1)
        from .video import run_video_jobs

        return run_video_jobs(videos, args)
    if not args.output and args.suffix:  # never re-colorize our own outputs on a second run over a folder
        jobs = [j for j in jobs if not (j[1] is not None and j[0].stem.endswith(args.suffix))]

    run.skipped = [] if args.skip_existing else None
    planned = _plan_outputs(jobs, args, many, failures, run.skipped)  # before the model: nothing is loaded for no work
    if run.skipped and run.policy.per_file:
        for src, dst in run.skipped:
            print(f"{src}: skipped, {dst} exists", file=sys.stderr)
    if not planned:
        return run.finish()
    reader = ThreadPoolExecutor(1, thread_name_prefix="colorize-read")
    try:
        # The first photos decode while the model loads (Pillow and onnxruntime release the GIL): on a
        # cold 12 MP `colorize photo.jpg` that hides the decode. Guided runs read their own inputs.
        from ..render import DEFAULT_RENDER_SIZE

        # the first batch is shrunk before the model says its render size: a guess (shrunk again if the
        # model's differs); the later batches are submitted once it is known
        render = {"size": args.render_size or DEFAULT_RENDER_SIZE}
        batches = None if guided else _read_ahead(reader, _chunks(planned, args.batch_size), args.max_pixels,
                                                  lambda: render["size"])
        try:
            run.colorizer = colorizer = colorizer_from_args(args)
        except Exception as exc:  # WeightsError (bad file or inference values), RuntimeError (device)
            return run.stop(str(exc), 1)

        options = options_from_args(args, colorizer)
        render["size"] = options.render_size
        if guided:
            from .guided import run_guided_cli

            return run_guided_cli(args, planned, failures, colorizer, options, run.t0, run.skipped)
        assert batches is not None
        _colorize_planned(args, run, batches, len(planned), options)
    finally:
        reader.shutdown(wait=True, cancel_futures=True)  # an early stop does not decode the rest
    return run.finish()


def _read_chunk(chunk: list[tuple[Path, Path]], max_pixels: int | None,
                render_size: int) -> tuple[list[tuple[Path, Path, Any, Any]], list[tuple[str, str]]]:
    """Decode one batch of inputs: (input, output, image, its shrink to ``render_size``) for the
    images that could be read, and (input, reason) for the others. The shrink (~25 ms at 12 MP) is
    done here, in the reader thread, so a cold start does it while the model loads."""
    from ..io import ImageError
    from ..render import render_input

    loaded, failed = [], []
    for src, dst in chunk:
        try:
            img = read_input(src, max_pixels)
        except ImageError as exc:
            failed.append((str(src), str(exc).split(": ", 1)[-1] if str(exc).startswith(str(src)) else str(exc)))
            continue
        loaded.append((src, dst, img, render_input(img.gray[None, None], render_size)))
    return loaded, failed


def _read_ahead(reader: ThreadPoolExecutor, chunks: Iterator[list[tuple[Path, Path]]], max_pixels: int | None,
                render_size: Callable[[], int]) -> Iterator[Future]:
    """Futures of :func:`_read_chunk`: the first batch is submitted now (it decodes while the model
    loads), each later one while the batch before it is colorized and written; none is kept here once
    handed out, so at most two batches of images are in memory. ``render_size()`` is asked at each
    submission (the model's size is known from the second batch on)."""
    first = next(chunks, None)
    pending = [] if first is None else [reader.submit(_read_chunk, first, max_pixels, render_size())]

    def futures() -> Iterator[Future]:
        for chunk in chunks:
            pending.append(reader.submit(_read_chunk, chunk, max_pixels, render_size()))
            yield pending.pop(0)
        if pending:
            yield pending.pop()

    return futures()


def _colorize_planned(args: argparse.Namespace, run: _Run, batches: Iterable[Future], total: int, options: Any) -> None:
    """Colorize (a forward pass per batch) and write the batches :func:`_read_ahead` decodes; every
    problem is that file's failure."""
    from ..progress import progress_bar

    policy = run.policy or policy_from_args(args)
    with progress_bar(total, "colorize", enabled=policy.progress and total > 1) as bar:
        for batch in batches:
            loaded, unreadable = batch.result()
            run.failures.extend(unreadable)
            for _ in unreadable:
                bar.advance()
            if loaded:
                _colorize_and_write(args, run, loaded, options, policy, bar)
            del batch, loaded  # before the next batch is asked for: at most two batches of images in memory


def _colorize_and_write(args: argparse.Namespace, run: _Run, loaded: list[tuple[Path, Path, Any, Any]], options: Any, policy: Any,
                        bar: Any) -> None:
    """One batch: colorize the decoded images, write each atomically, record results and failures."""
    from ..io import ImageError

    colorizer, failures, results = run.colorizer, run.failures, run.results
    t_batch = time.time()
    # 8-bit outputs (all but 16-bit PNG/TIFF from 16-bit sources) take the fused uint8 path.
    eight_bit = all(img.bit_depth == 8 or output_suffix(dst, args.out_format) not in (".png", ".tif", ".tiff")
                    for _, dst, img, _ in loaded)
    # JPEG outputs take the join's RGBX buffers, which the encoder wraps without a copy (-40 ms at 12 MP)
    rgbx = eight_bit and all(output_suffix(dst, args.out_format) in (".jpg", ".jpeg") for _, dst, _, _ in loaded)
    outs: list[Any]
    try:
        outs = colorizer.colorize_batch([img.gray for _, _, img, _ in loaded], options, batch_size=args.batch_size,
                                        uint8=eight_bit, rgbx=rgbx, lows=[low for *_, low in loaded])
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        outs = []  # the batch does not fit: one by one, so only an image that does not fit alone fails
        for src, _, img, low in loaded:
            try:
                outs.append(colorizer.colorize_batch([img.gray], options, batch_size=1, uint8=eight_bit, rgbx=rgbx,
                                                     lows=[low])[0])
            except Exception as exc1:
                if not _out_of_memory(exc1):
                    raise
                outs.append(None)
                w, h = img.size
                failures.append((str(src), f"not enough memory to colorize this {w}x{h} image "
                                           "(try a smaller --render-size or --batch-size)"))
    per_image = (time.time() - t_batch) / len(loaded)
    for (src, dst, img, _), rgb in zip(loaded, outs):
        if rgb is None:
            bar.advance()
            continue
        try:
            bit_depth = img.bit_depth if output_suffix(dst, args.out_format) in (".png", ".tif", ".tiff") else 8
            write_result(dst, rgb, alpha=img.alpha, bit_depth=bit_depth, overwrite=args.overwrite, quality=args.quality,
                         out_format=args.out_format)
            results.append({"input": str(src), "output": str(dst), "width": img.rgb.shape[1], "height": img.rgb.shape[0],
                            "recolorized": bool(img.is_color), "seconds": round(per_image, 3)})
            shown_src, shown_dst = ("<stdin>" if is_stdio(src) else src), ("<stdout>" if is_stdio(dst) else dst)
            if policy.per_file:
                note = " (had colour: re-colorized from its luminance)" if img.is_color else ""
                bar_print(f"{shown_src} -> {shown_dst}{note}")
            elif img.is_color and not args.quiet and not args.json:  # a note, not a per-file line: always
                bar_print(f"note: {shown_src} had colour: re-colorized from its luminance")
        except ImageError as exc:
            failures.append((str(src), str(exc)))
        bar.advance()


def bar_print(msg: str) -> None:
    print(msg, file=sys.stderr)


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
