"""``colorize suggest PHOTO X,Y``: the model's most likely colours at one point, to use as ``--hint X,Y=COLOR``."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

from ..errors import ColorizeError, OptionError, UsageError
from .common import colorizer_from_args, err, read_input, user_options


def _point(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"point {text!r}: expected X,Y in pixels of the photo (e.g. 120,80)") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise UsageError(f"point {text!r}: x and y must be finite numbers")
    return x, y


def run_suggest(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="colorize suggest",
                                description="The colours the model finds most likely at one point of a photo (distribution-head "
                                            "models), best first, each at that pixel's own brightness: ready for --hint X,Y=COLOR.")
    p.add_argument("photo", help="the photo (any format colorize reads)")
    p.add_argument("point", metavar="X,Y", help="the point, in pixels of the photo (0,0 is the top-left corner)")
    p.add_argument("-k", type=int, default=5, help="how many colours (1-32, default %(default)s); look-alikes are merged")
    p.add_argument("-m", "--model", default="default", help="bundled model name or weights path (default: %(default)s)")
    p.add_argument("--render-size", type=int, default=None, help="long side at which the model sees the photo (default: the model's)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto", help="who runs the network (default: auto)")
    p.add_argument("--json", action="store_true", help="print the colours as JSON on stdout")
    args = p.parse_args(argv)
    x, y = _point(args.point)
    try:
        photo = read_input(args.photo, None)
        colors = colorizer_from_args(args).suggest_colors(photo.gray, x, y, k=args.k, **user_options(args))
    except OptionError as exc:
        err(exc.cli_message().replace("--k ", "-k ", 1))
        return 2
    except ColorizeError as exc:
        err(str(exc))
        return 1
    if args.json:
        print(json.dumps({"photo": str(args.photo), "x": x, "y": y,
                          "colors": [{"hex": c.hex, "rgb": list(c.rgb), "probability": c.probability} for c in colors]}, indent=2))
        return 0
    where = args.point.replace(" ", "")
    for c in colors:
        print(f"{c.hex}  {c.probability * 100:5.1f}%  rgb{c.rgb}   --hint {where}={c.hex}")
    return 0
