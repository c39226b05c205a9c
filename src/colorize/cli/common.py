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


def err(msg: str, prog: str = "colorize") -> None:
    """One line on stderr: ``colorize: error: MESSAGE``."""
    print(f"{prog}: error: {msg}", file=sys.stderr)


def colorizer_from_args(args: argparse.Namespace) -> Colorizer:
    """The model ``--model`` names, on ``--device``, run by ``--backend`` (default ``auto``)."""
    from ..pipeline import Colorizer

    return Colorizer.from_pretrained(args.model, device=args.device, backend=getattr(args, "backend", "auto"))


def user_options(args: argparse.Namespace) -> dict[str, Any]:
    """The colorize options the user gave on the command line (absent ones are left out)."""
    return {k: v for k, v in {name: getattr(args, name, None) for name in ("render_size", "saturation", "temperature")}.items()
            if v is not None}


def options_from_args(args: argparse.Namespace, colorizer: Colorizer | None = None) -> ColorizeOptions:
    """The defaults <- the model's ``inference`` values (already in ``colorizer.options``) <- the user's."""
    from ..options import merge_options

    return merge_options(colorizer.options if colorizer is not None else None, user_options(args))


def model_name(colorizer: Any, fallback: str) -> str:
    return str(colorizer.info.get("name", fallback)) if colorizer is not None else fallback


def summary(outputs: list[dict[str, Any]], failures: Iterable[tuple[str, str]], t0: float, model: str,
            error: str | None = None) -> dict[str, Any]:
    """The ``--json`` summary of a run: counts, time, model, one entry per output and per failure."""
    failures = list(failures)
    out: dict[str, Any] = {
        "ok": len(outputs), "failed": len(failures), "seconds": round(time.time() - t0, 3), "model": model,
        "outputs": outputs, "errors": [{"input": i, "error": e} for i, e in failures],
    }
    if error is not None:
        out["error"] = error  # the run stopped before or during the work: why
    return out


def print_summary(outputs: list[dict[str, Any]], failures: Iterable[tuple[str, str]], t0: float, model: str,
                  error: str | None = None) -> None:
    print(json.dumps(summary(outputs, failures, t0, model, error), indent=2, default=str))


def exit_code(outputs: Iterable[Any] | Mapping[str, Any], failures: Iterable[Any]) -> int:
    """0 when something was written and nothing failed, else 1 (usage errors return 2 before this)."""
    return 0 if list(outputs) and not list(failures) else 1


__all__ = ["colorizer_from_args", "err", "exit_code", "model_name", "options_from_args", "print_summary", "summary",
           "user_options"]
