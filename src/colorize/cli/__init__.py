"""The ``colorize`` command.

``colorize PHOTO...`` colorizes files, folders and globs; sub-commands do the rest (``models``,
``train``, ``evaluate``, ``export``, ``web``, ``suggest``). Only the standard library is imported until a command
runs, so ``colorize --help`` answers instantly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..errors import UsageError
from .photo import _err, build_colorize_parser, run_colorize

SUBCOMMANDS = ("models", "train", "evaluate", "export", "web", "suggest")

__all__ = ["SUBCOMMANDS", "build_colorize_parser", "console", "main"]


# ----------------------------------------------------------------------------- entry point


def _dispatch(name: str) -> Any:
    if name == "models":
        from .models import run_models

        return run_models
    if name == "train":
        from .train import run_train

        return run_train
    if name == "evaluate":
        from .evaluate import run_evaluate_cli

        return run_evaluate_cli
    if name == "export":
        from .export import run_export_cli

        return run_export_cli
    if name == "suggest":
        from .suggest import run_suggest

        return run_suggest
    from .web import run_web_cli

    return run_web_cli


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so every Ctrl-C clean-up (temporary files, partial
    checkpoints, ``--json`` summaries) runs for a plain ``kill`` too. Commands with their own
    handler (video, web) install it on top of this one."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import signal
    import threading

    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return int(_dispatch(argv[0])(argv[1:]) or 0)
        if not argv:
            build_colorize_parser().print_help()
            return 2
        return run_colorize(argv)
    except UsageError as exc:
        _err(str(exc))
        return 2
    except ModuleNotFoundError as exc:  # an optional extra is not installed: one line naming it, no traceback
        missing = (exc.name or "").split(".")[0]
        extra = {"torch": "train" if argv and argv[0] in ("train", "evaluate") else "torch", "safetensors": "torch",
                 "scipy": "train", "onnx": "export", "av": "video", "cv2": "video", "gradio": "web"}.get(missing)
        if extra is None:
            raise
        _err(f"{argv[0] if argv and argv[0] in SUBCOMMANDS else 'this'} needs {missing}, which is not installed "
             f"(the {extra} extra: pip install 'colorize-bw[{extra}]')")
        return 1
    except Terminated:
        print("\nterminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _can_skip_teardown(argv: Sequence[str]) -> bool:
    """Whether :func:`console` may end the process with ``os._exit``: after a photo run with no other
    thread, child process or Ray session alive (sub-commands such as ``train`` and ``web`` keep their
    atexit clean-ups), and not with ``COLORIZE_DEBUG``."""
    import os
    import threading

    if (argv and argv[0] in SUBCOMMANDS) or os.environ.get("COLORIZE_DEBUG") or "ray" in sys.modules:
        return False
    if threading.active_count() > 1:
        return False
    mp = sys.modules.get("multiprocessing")
    return not (mp is not None and mp.active_children())


def console() -> None:
    """The ``colorize`` command and ``python -m colorize``: :func:`main`, then a quick exit.

    Tearing the interpreter down after a photo run (onnxruntime's session and thread pool, every
    module's globals) took 65-100 ms here, a tenth of a cold 12 MP ``colorize photo.jpg``; every
    output is written, closed and renamed by then, so the process ends with ``os._exit`` once stdout
    and stderr are flushed, where :func:`_can_skip_teardown` allows it. A flush that fails (a closed
    pipe) exits the normal way, with Python's usual report.
    """
    import os

    code = main()
    if not _can_skip_teardown(sys.argv[1:]):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    console()
