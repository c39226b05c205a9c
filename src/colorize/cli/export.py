"""``colorize export OUT.onnx``: the network (with its chroma decode) as one ONNX file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ExportError
from ..export import DEFAULT_OPSET, compare_with_torch, export_onnx


def run_export_cli(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="colorize export",
        description="Export the colorization network (with its chroma decode) to a single ONNX file. "
        "Inputs: luma (N x C x H x W, dynamic batch/height/width) and, for distribution models, "
        "temperature (scalar). Output: chroma (N x 2 x H/4 x W/4) in [-1, 1]. "
        "Colour conversion and upsampling stay in the Python pipeline (see docs/web.md).",
    )
    p.add_argument("output", metavar="OUT.onnx", help="file to write")
    p.add_argument("-m", "--model", default="default", help="bundled model name or weights path (default: %(default)s)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch comparison")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = p.parse_args(argv)

    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        print(f"colorize export: error: {out}: the output name should end in .onnx", file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite:
        print(f"colorize export: error: {out}: already exists (use --overwrite)", file=sys.stderr)
        return 1
    from ..models.registry import resolve_weights
    from ..models.weights import load_model

    try:
        weights = resolve_weights(args.model)
        model, info = load_model(weights, device="cpu")
    except Exception as exc:  # WeightsError
        print(f"colorize export: error: {exc}", file=sys.stderr)
        return 1
    t0 = time.time()
    try:
        export_onnx(model, out, opset=args.opset, overwrite=args.overwrite,
                    metadata={"colorize_weights": str(weights), "colorize_arch": str(info.get("arch", ""))})
    except ExportError as exc:
        print(f"colorize export: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.time() - t0
    summary: dict[str, Any] = {"output": str(out), "bytes": out.stat().st_size, "opset": args.opset, "arch": info.get("arch"),
                               "head": model.config.head, "inputs": ["luma", "temperature"] if model.config.head == "distribution" else ["luma"],
                               "seconds": round(seconds, 2)}
    if not args.no_verify:
        try:
            summary["max_abs_diff_vs_torch"] = compare_with_torch(model, out)
        except ImportError:
            summary["max_abs_diff_vs_torch"] = None
            print("colorize export: onnxruntime is not installed; skipped the comparison with PyTorch", file=sys.stderr)
        except Exception as exc:
            print(f"colorize export: error: the exported file does not run: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        diff = summary.get("max_abs_diff_vs_torch")
        note = f"; onnxruntime vs PyTorch max |diff| {diff:.2e}" if isinstance(diff, float) else ""
        print(f"wrote {out} ({summary['bytes'] / 1e6:.1f} MB, opset {args.opset}, inputs {', '.join(summary['inputs'])}{note})")
    return 0
