"""``colorize web``: start the local page and HTTP API (argument checks, port check, SIGTERM).

The app itself is :mod:`colorize.web` (:func:`~colorize.web.create_app`).
"""

from __future__ import annotations

import argparse
import math
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from ..web import (
    DEFAULT_HOST,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_PORT,
    MAX_UPLOAD_MB_CEILING,
    ColorizeService,
    Limits,
    _offline_environment,
    create_app,
)


def build_web_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="colorize web",
        description="Start the local web page and HTTP API (offline; bound to 127.0.0.1 by default). "
        "There is no public share link and no authentication: only expose it with --host on a network you trust.",
        epilog="API: POST /api/colorize (multipart: image, render_size, saturation, temperature, format), "
        "GET /api/health, GET /api/models; docs at /api/docs. See docs/web.md.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default: %(default)s; 0.0.0.0 = every interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    p.add_argument("-m", "--model", default="default", help="bundled model name or weights path (default: %(default)s)")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="network runtime (default: auto = torch on GPUs and bf16-capable CPUs, else onnxruntime when installed)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, help="largest upload per photo, in MB (default: %(default)g)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="refuse photos with more pixels (default: %(default)s; 0 = no limit)")
    p.add_argument("--max-files", type=int, default=DEFAULT_MAX_FILES, help="photos per batch on the page (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    return p


def run_web_cli(argv: Sequence[str]) -> int:
    args = build_web_parser().parse_args(argv)
    if not (math.isfinite(args.max_upload_mb) and 0 < args.max_upload_mb <= MAX_UPLOAD_MB_CEILING):
        print(f"colorize web: error: --max-upload-mb must be a number of MB above 0 and at most {MAX_UPLOAD_MB_CEILING:g} "
              f"(got {args.max_upload_mb:g})", file=sys.stderr)
        return 2
    if args.max_files < 1 or args.max_pixels < 0:
        print("colorize web: error: --max-files must be positive and --max-pixels >= 0", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"colorize web: error: --port {args.port} is not a valid port", file=sys.stderr)
        return 2
    problem = _port_problem(args.host, args.port)
    if problem:
        print(f"colorize web: error: {problem}", file=sys.stderr)
        return 1
    _offline_environment()
    limits = Limits(max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), max_pixels=args.max_pixels or None,
                    max_files=args.max_files)
    try:
        import uvicorn
    except ImportError:
        print("colorize web: error: the web page needs gradio (and its uvicorn): pip install 'colorize-bw[web]'", file=sys.stderr)
        return 1
    main = threading.current_thread() is threading.main_thread()  # signals can only be handled there
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None
    try:
        return _serve(args, limits, uvicorn)
    except SystemExit as exc:
        if exc.code != _SIGTERM_EXIT:
            raise
        return 0
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _serve(args: argparse.Namespace, limits: Limits, uvicorn: Any) -> int:
    if not args.quiet:
        print(f"colorize web: loading model {args.model} ...", file=sys.stderr)
    try:
        app = create_app(args.model, limits=limits, backend=args.backend, device=args.device)
    except ImportError as exc:
        print(f"colorize web: error: missing package {exc.name!r}: pip install 'colorize-bw[web]'", file=sys.stderr)
        return 1
    except Exception as exc:  # WeightsError, ValueError(backend/device)
        print(f"colorize web: error: {exc}", file=sys.stderr)
        return 1
    service: ColorizeService = app.state.service
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{args.port}/"
    if not args.quiet:
        s = service.model_summary()
        print(f"colorize web: {s['name']} ({s['arch']}, {s['backend']}) on {url}  -  API {url}api/colorize, docs {url}api/docs"
              "  (Ctrl+C to stop)", file=sys.stderr)
        if not _is_loopback(args.host):
            print(f"colorize web: warning: listening on {args.host}: anyone who can reach this machine can use the page "
                  "(there is no authentication)", file=sys.stderr)
    try:
        # uvicorn stops gracefully on SIGINT/SIGTERM, restores our handler and re-raises the signal: SIGTERM then
        # becomes SystemExit (see run_web_cli); the default action would kill the process before any cleanup.
        uvicorn.run(app, host=args.host, port=args.port, log_level="error" if args.quiet else "warning", access_log=False)
    finally:
        service.close()
    return 0


_SIGTERM_EXIT = 128 + signal.SIGTERM


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM -> SystemExit, so ``finally`` blocks and atexit (the work folder's removal) run as on Ctrl+C."""
    raise SystemExit(_SIGTERM_EXIT)


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _port_problem(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE (Linux, macOS, Windows)
                return f"port {port} on {host} is already in use (another 'colorize web'?); choose another with --port"
            return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return None
