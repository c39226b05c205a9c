"""Shared test set-up: offline, deterministic, small. Nothing here reads ../shared."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("COLORIZE_OFFLINE", "1")
# ONNX exports and optimized graphs of the test models go to a cache of this run (CLI subprocesses
# inherit it), never to the user's ~/.cache/colorize
_CACHE = tempfile.mkdtemp(prefix="colorize-test-cache-")
os.environ["COLORIZE_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> str:
    """A small compact model with random weights, saved in the project's format (JSON path)."""
    import torch

    from colorize.models import create_model
    from colorize.models.weights import save_model

    torch.manual_seed(0)
    model = create_model("compact-small")
    _, json_path = save_model(model, tmp_path_factory.mktemp("weights") / "tiny")
    return str(json_path)


@pytest.fixture(scope="session")
def tiny_hint_model_path(tmp_path_factory) -> str:
    """Like :func:`tiny_model_path`, with the hint input channels (Zhang et al. 2017)."""
    import torch

    from colorize.models import create_model
    from colorize.models.weights import save_model

    torch.manual_seed(0)
    model = create_model("compact-small", hints=True)
    _, json_path = save_model(model, tmp_path_factory.mktemp("weights") / "tiny_hints")
    return str(json_path)


@pytest.fixture()
def colour_photo() -> np.ndarray:
    """A 96x128 uint8 colour test picture: sky gradient, red disc, green ground (made here, no data)."""
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 60 + yy
    img[..., 1] = 120 + yy // 2
    img[..., 2] = 230 - yy
    ground = yy > 60
    img[ground] = (40, 150, 50)
    disc = (yy - 40) ** 2 + (xx - 40) ** 2 < 15**2
    img[disc] = (200, 30, 30)
    return img


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, timeout: float = 120):
    """Run an ASGI ``app`` with uvicorn on 127.0.0.1 in a thread; yields an httpx client for it."""
    import threading
    import time

    import httpx
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.config.port}", trust_env=False, timeout=timeout) as client:
            yield client
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
