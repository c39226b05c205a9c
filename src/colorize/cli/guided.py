"""``colorize PHOTO --hint X,Y=COLOR`` / ``--hints IMG`` / ``--reference PHOTO``: the guided photo loop.

The library side (parsing hints, propagation, reference transfer) is :mod:`colorize.hints` and
:mod:`colorize.reference`; here are the argument checks, the file loop, the summary and exit codes.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import HintError
from ..hints import Hints
from .common import err as _err
from .common import exit_code, is_stdio, model_name, output_suffix, policy_from_args, print_summary, read_input, write_result


def check_guided_args(args: argparse.Namespace) -> int:
    """Validate the guided options before any photo is read; print one error line and return the exit code.

    Malformed ``--hint``, unknown colours and a strength outside 0-1 are usage errors (2); a hints
    image or reference that cannot be used is an input error (1). On success the parsed hints and the
    loaded reference are kept on ``args`` (``_hints``, ``_reference_rgb``) and 0 is returned.
    """
    from ..reference import ReferenceImageError, load_reference

    err = _err
    try:
        args._hints = Hints.from_points(args.hint) if args.hint else None
    except HintError as exc:
        err(str(exc))
        return 2
    if args.hints:
        try:
            layer = Hints.from_image(args.hints)
        except HintError as exc:
            err(str(exc))
            return 1
        args._hints = layer if args._hints is None else layer.merged(args._hints)
    s = args.reference_strength
    if s is not None and not (0.0 <= s <= 1.0):
        err(f"--reference-strength {s:g}: must be between 0 and 1")
        return 2
    if s is not None and not args.reference:
        err("--reference-strength needs --reference PATH")
        return 2
    if args.hint_method and not args._hints:
        err("--hint-method needs --hint or --hints")
        return 2
    args._reference_rgb = None
    if args.reference:
        try:
            args._reference_rgb = load_reference(args.reference)
        except ReferenceImageError as exc:
            err(str(exc))
            return 1
    return 0


def run_guided_cli(args: argparse.Namespace, planned: list[tuple[Any, Any]], failures: list[tuple[str, str]], colorizer: Any,
                   options: Any, t0: float, skipped: list[tuple[str, str]] | None = None) -> int:
    """The ``colorize`` file loop for guided runs (one photo at a time; hints are per photo).

    Every problem is one line ``colorize: error: INPUT: reason``; exit 1 if any photo failed.
    """
    import sys
    import time

    from ..io import ImageError
    from ..reference import ReferenceImageError

    err = _err
    hints = getattr(args, "_hints", None)  # parsed and checked by check_guided_args
    reference = getattr(args, "_reference_rgb", None)
    results: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = list(failures)
    usage = False
    show = policy_from_args(args).per_file
    if hints and args.hint_method == "model" and not colorizer.model.config.hints:
        print(f"colorize: error: --hint-method model: the model {args.model!r} was not trained with hints; "
              "use --hint-method both or propagate (or a hints model)", file=sys.stderr)
        return 2
    for src, dst in planned:
        try:
            img = read_input(src, args.max_pixels)
            start = time.time()
            bit_depth = img.bit_depth if output_suffix(dst, args.out_format) in (".png", ".tif", ".tiff") else 8
            rgb = colorizer.colorize_array(img.gray, options, hints=hints, hint_method=args.hint_method,
                                           reference=reference, reference_strength=args.reference_strength,
                                           uint8=bit_depth == 8)  # 8-bit outputs: the fused join, as for photos
            seconds = time.time() - start
            write_result(dst, rgb, alpha=img.alpha, bit_depth=bit_depth, overwrite=args.overwrite, quality=args.quality,
                         out_format=args.out_format)
        except (ImageError, HintError, ReferenceImageError) as exc:
            usage = usage or isinstance(exc, HintError)  # e.g. a hint outside this photo
            text = str(exc)
            failed.append((str(src), text[len(str(src)) + 2 :] if text.startswith(f"{src}: ") else text))
            continue
        results.append({"input": str(src), "output": str(dst), "width": img.rgb.shape[1], "height": img.rgb.shape[0],
                        "recolorized": bool(img.is_color), "seconds": round(seconds, 3),
                        "hints": len(hints.points) + (1 if hints and hints.dense_mask is not None else 0) if hints else 0,
                        "reference": getattr(args, "reference", None)})
        if show:
            print(f"{src} -> {'<stdout>' if is_stdio(dst) else dst}", file=sys.stderr)
    if args.json:
        print_summary(results, failed, t0, model_name(colorizer, args.model), skipped=skipped)
    for i, e in failed:
        err(f"{i}: {e}")
    if usage:
        return 2
    return exit_code(results, failed, skipped or ())
