"""What every ``colorize`` command shares: loading the model from the arguments, the option merge,
the one-line error, and the JSON summary + exit-code rule (one summary shape for photos, guided
photos and films).

Only the standard library is imported here, so ``colorize --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..options import ColorizeOptions
    from ..pipeline import Colorizer


#: ``-`` as an input is standard input, as ``-o`` standard output (one image; format from --format, default png)
STDIO = "-"


def is_stdio(path: object) -> bool:
    return str(path) == STDIO


def output_suffix(dst: object, out_format: str | None) -> str:
    """The extension that decides the output's format: the file's, or for ``-o -`` ``--format``'s (default png)."""
    from pathlib import Path

    return f".{out_format or 'png'}" if is_stdio(dst) else Path(str(dst)).suffix.lower()


def read_input(src: object, max_pixels: int | None) -> Any:
    """:func:`colorize.io.read_image` of a file, or of standard input for ``-``."""
    from ..io import read_image

    source: Any = sys.stdin.buffer if is_stdio(src) else src
    return read_image(source, max_pixels=max_pixels) if max_pixels else read_image(source)


def write_result(dst: Any, rgb: Any, *, alpha: Any, bit_depth: int, overwrite: bool, quality: int,
                 out_format: str | None) -> None:
    """:func:`colorize.io.write_image` (atomic), or the encoded image on standard output for ``-o -``."""
    from ..io import encode_image, write_image

    if is_stdio(dst):
        data = encode_image(rgb, output_suffix(dst, out_format), alpha=alpha, bit_depth=bit_depth, quality=quality)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_image(dst, rgb, alpha=alpha, bit_depth=bit_depth, overwrite=overwrite, quality=quality)


def err(msg: str, prog: str = "colorize") -> None:
    """One line on stderr: ``colorize: error: MESSAGE``."""
    print(f"{prog}: error: {msg}", file=sys.stderr)


def add_no_color(parser: argparse.ArgumentParser) -> None:
    """``--no-color``: the same as ``NO_COLOR=1`` (https://no-color.org) for this command."""
    parser.add_argument("--no-color", action="store_true", help="no colour in tables and progress bars (also: NO_COLOR=1)")


def apply_no_color(args: argparse.Namespace) -> None:
    """Make ``--no-color`` visible to :mod:`colorize.progress` (the one output policy) through ``NO_COLOR``."""
    import os

    if getattr(args, "no_color", False):
        os.environ["NO_COLOR"] = "1"


def policy_from_args(args: argparse.Namespace, *, machine: bool = False) -> Any:
    """The command's :class:`~colorize.progress.OutputPolicy` from ``--quiet``, ``--verbose``, ``--json``."""
    from ..progress import output_policy

    return output_policy(quiet=bool(getattr(args, "quiet", False)), verbose=bool(getattr(args, "verbose", False)),
                         machine=machine or getattr(args, "json", False) is True or is_stdio(getattr(args, "output", None)))


def colorizer_from_args(args: argparse.Namespace) -> Colorizer:
    """The model ``--model`` names, on ``--device``, run by ``--backend`` (default ``auto``)."""
    from ..pipeline import Colorizer

    return Colorizer.from_pretrained(args.model, device=args.device, backend=getattr(args, "backend", "auto"))


def user_options(args: argparse.Namespace) -> dict[str, Any]:
    """The colorize options the user gave on the command line (absent ones are left out)."""
    return {k: v for k, v in {name: getattr(args, name, None) for name in ("render_size", "saturation", "temperature", "consensus_radius")}.items()
            if v is not None}


def options_from_args(args: argparse.Namespace, colorizer: Colorizer | None = None) -> ColorizeOptions:
    """The defaults <- the model's ``inference`` values (already in ``colorizer.options``) <- the user's."""
    from ..options import merge_options

    return merge_options(colorizer.options if colorizer is not None else None, user_options(args))


def model_name(colorizer: Any, fallback: str) -> str:
    return str(colorizer.info.get("name", fallback)) if colorizer is not None else fallback


def summary(outputs: list[dict[str, Any]], failures: Iterable[tuple[str, str]], t0: float, model: str,
            error: str | None = None, skipped: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The ``--json`` summary of a run: counts, time, model, one entry per output and per failure
    (and, with ``--skip-existing``, per input skipped because its output exists)."""
    failures = list(failures)
    out: dict[str, Any] = {
        "ok": len(outputs), "failed": len(failures), "seconds": round(time.time() - t0, 3), "model": model,
        "outputs": outputs, "errors": [{"input": i, "error": e} for i, e in failures],
    }
    if skipped is not None:
        out["skipped"] = [{"input": i, "output": o} for i, o in skipped]
    if error is not None:
        out["error"] = error  # the run stopped before or during the work: why
    return out


def print_summary(outputs: list[dict[str, Any]], failures: Iterable[tuple[str, str]], t0: float, model: str,
                  error: str | None = None, skipped: Iterable[tuple[str, str]] | None = None) -> None:
    print(json.dumps(summary(outputs, failures, t0, model, error, skipped), indent=2, default=str))


def exit_code(outputs: Iterable[Any] | Mapping[str, Any], failures: Iterable[Any], skipped: Iterable[Any] = ()) -> int:
    """0 when something was written (or, with --skip-existing, was already there) and nothing failed,
    else 1 (usage errors return 2 before this)."""
    return 0 if (list(outputs) or list(skipped)) and not list(failures) else 1


__all__ = ["STDIO", "add_no_color", "apply_no_color", "colorizer_from_args", "is_stdio", "output_suffix", "policy_from_args",
           "read_input", "write_result", "err", "exit_code", "model_name", "options_from_args", "print_summary", "summary",
           "user_options"]
