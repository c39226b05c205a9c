"""``colorize evaluate FOLDER``: desaturate colour photos, colorize them, score against the truth.

The library side is :mod:`colorize.evaluate` (:func:`~colorize.evaluate.evaluate_folder`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..evaluate import (
    GRAY,
    REPORT_SUFFIXES,
    check_output_path,
    evaluate_folder,
    render_table,
    write_report,
)
from .common import add_no_color, apply_no_color, policy_from_args


def run_evaluate_cli(argv: list[str]) -> int:
    """``colorize evaluate FOLDER [--model M ...]``: desaturate, colorize, score against the truth."""
    import argparse
    import sys

    p = argparse.ArgumentParser(
        prog="colorize evaluate",
        description="Desaturate colour ground-truth photos, colorize them and score the result against the truth. "
        "The gray baseline (no colour) is always scored on the same images.",
        epilog="example (TRUTH/ is a placeholder: any folder of colour photos): "
        "colorize evaluate TRUTH/ --model default --report report.md. "
        "The table goes to stdout (plain text at full width when piped); progress only on a terminal.",
    )
    p.add_argument("folder", help="folder of colour photos; its sub-folders are reported separately")
    p.add_argument("-m", "--model", action="append", default=None, metavar="[LABEL=]MODEL",
                   help="bundled model name or weights path; repeat to compare several (default: default)")
    p.add_argument("--render-size", type=int, action="append", default=None,
                   help="render size; repeat to compare several sizes (default: the pipeline's)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--saturation", type=float, default=None)
    p.add_argument("--consensus-radius", "--consensus", dest="consensus_radius", type=int, default=None, metavar="RADIUS",
                   help="consensus radius of the distribution decode (0 = off; default: each model's)")
    p.add_argument("--max-images", type=int, default=None, help="at most this many images per sub-folder")
    p.add_argument("--no-recursive", action="store_true")
    p.add_argument("--report", help="write a Markdown (.md) or HTML (.html) report with thumbnails and AuC curves")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH", help="print JSON (or write it to PATH)")
    p.add_argument("--fid-weights", metavar="PATH",
                   help="also compute FID with pytorch-fid's Inception weights (pt_inception-2015-12-05-6726825d.pth); "
                   "never downloaded")
    p.add_argument("--lpips-weights", metavar="PATH",
                   help="also compute LPIPS with the lpips package's weights/v0.1/vgg.pth (needs --lpips-vgg-weights)")
    p.add_argument("--lpips-vgg-weights", metavar="PATH", help="torchvision's vgg16-397923af.pth, the LPIPS backbone")
    p.add_argument("--device", default="auto")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_no_color(p)
    args = p.parse_args(argv)
    apply_no_color(args)

    from ..errors import OptionError
    from ..models.backbones import WeightsError
    from ..options import ColorizeOptions, merge_options
    from ..pipeline import Colorizer

    def usage(msg: str) -> int:
        print(f"colorize: error: {msg}", file=sys.stderr)
        return 2

    # every value is checked before a model is loaded or an image read: one line, exit 2
    sizes: list[int | None] = list(args.render_size or [None])
    if len(set(sizes)) != len(sizes):
        return usage(f"--render-size: {next(x for x in sizes if sizes.count(x) > 1)} is given twice")
    if args.max_images is not None and args.max_images < 1:
        return usage(f"--max-images: must be at least 1, got {args.max_images}")
    user = {k: v for k, v in {"temperature": args.temperature, "saturation": args.saturation,
                              "consensus_radius": args.consensus_radius}.items() if v is not None}
    try:  # the one rule for option values (colorize.io.check_option), as for photos
        for size in sizes:
            ColorizeOptions(**user, **({} if size is None else {"render_size": size}))
    except OptionError as exc:
        return usage(exc.cli_message())
    specs: list[tuple[str, str]] = []  # (method name without @size, weights)
    for spec in args.model or ["default"]:
        label, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        if "=" in spec and not label:
            return usage(f"-m {spec}: empty label (use LABEL=MODEL)")
        if not path:
            return usage(f"-m {spec}: no model after the label")
        specs.append(((label or Path(path).stem) if path != "default" else (label or "default"), path))
    names = [n for n, _ in specs]
    for n in names:
        if n == GRAY:
            return usage(f"-m: the name {GRAY!r} is the gray baseline's; give the model another label (-m LABEL=MODEL)")
        if names.count(n) > 1:
            return usage(f"-m: two models are both called {n!r}; give each its own label (-m LABEL=MODEL)")
    if args.report and Path(args.report).suffix.lower() not in REPORT_SUFFIXES:
        return usage(f"--report {args.report}: must end in .md or .html")
    for out in [args.report] + ([args.json] if args.json and args.json != "-" else []):
        problem = check_output_path(out) if out else None
        if problem:  # an output that cannot be written: exit 1, but before the evaluation
            print(f"colorize: error: {problem}", file=sys.stderr)
            return 1

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"colorize: error: {folder}: no such folder", file=sys.stderr)
        return 1
    if args.lpips_weights and not args.lpips_vgg_weights:
        print("colorize: error: --lpips-weights needs --lpips-vgg-weights PATH (torchvision's vgg16-397923af.pth)", file=sys.stderr)
        return 2
    if args.lpips_vgg_weights and not args.lpips_weights:
        print("colorize: error: --lpips-vgg-weights needs --lpips-weights PATH (the lpips package's weights/v0.1/vgg.pth)", file=sys.stderr)
        return 2
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for base, path in specs:
        try:
            colorizer = Colorizer.from_pretrained(path, device=args.device)
        except (WeightsError, RuntimeError) as exc:
            print(f"colorize: error: {exc}", file=sys.stderr)
            return 1
        for size in sizes:
            # the model's inference defaults, then the user's values (the merge the photo path uses too)
            options = merge_options(colorizer.options, user, {"render_size": size})
            name = f"{base}@{options.render_size}" if len(sizes) > 1 else base
            fns[name] = (lambda c, o: (lambda gray_rgb: c.colorize_array(gray_rgb, o)))(colorizer, options)
    try:
        result = evaluate_folder(folder, fns, max_images=args.max_images, recursive=not args.no_recursive,
                                 progress=policy_from_args(args, machine=args.json == "-").progress, fid_weights=args.fid_weights,
                                 lpips_weights=args.lpips_weights, lpips_vgg_weights=args.lpips_vgg_weights)
    except WeightsError as exc:
        print(f"colorize: error: {exc}", file=sys.stderr)
        return 1
    if result.has_fid and "warning" in result.config["fid"]:
        print(f"warning: {result.config['fid']['warning']}", file=sys.stderr)
    if args.json == "-":
        print(result.to_json())
    else:
        if args.json:
            result.to_json(args.json)
        from ..progress import console

        console().print(render_table(result))
        for w in result.warnings:
            print(f"skipped: {w}", file=sys.stderr)
    for w in result.prediction_warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not result.overall.images:
        skipped = f" ({len(result.warnings)} skipped)" if result.warnings else ""
        print(f"colorize: error: {folder}: no image was scored{skipped}; no report written", file=sys.stderr)
        return 1
    if args.report:
        files = write_report(result, args.report)
        if args.json != "-":
            print(f"report written to {files['report']}", file=sys.stderr)
    return 0
