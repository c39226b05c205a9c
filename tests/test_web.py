"""The web page in a real browser: ``colorize web`` in a subprocess, Debian's Chromium via Playwright.

Skipped (with the reason) when /usr/bin/chromium or the playwright package is missing. CI needs:
``apt-get install -y chromium`` and ``pip install playwright`` (never ``playwright install``).
Takes a screenshot into the test's temporary folder (1000x700 viewport, < 300 kB); the tracked
docs/screenshot.png is never rewritten by a test run.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not found (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("gradio", reason="gradio is not installed (pip install 'colorize-bw[web]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy
    with opener.open(url, timeout=10) as r:
        return r.read()


@pytest.fixture(scope="module")
def web_url(tiny_model_path, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("web") / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost",
           "GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio"))}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "colorize", "web", "--port", str(port), "--model", tiny_model_path,
                                 "--backend", "torch", "--max-upload-mb", "5"], stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            _get(url + "api/health")
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"colorize web did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_page_colorizes_rejects_bad_files_and_stays_offline(web_url, tmp_path):
    h, w = 150, 200
    yy, xx = np.mgrid[0:h, 0:w]
    gray = (40 + xx + (((yy - 75) ** 2 + (xx - 70) ** 2) < 900) * 60).clip(0, 255).astype(np.uint8)
    gray_png = tmp_path / "gray.png"
    Image.fromarray(gray).save(gray_png)
    bad_png = tmp_path / "notes.png"
    bad_png.write_text("just some text, not an image\n")

    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.set_default_timeout(120_000)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(web_url, wait_until="load")
            page.wait_for_selector("#run")

            # a gray PNG in, a colour PNG of the same size out
            page.set_input_files("#photos input[type=file]", str(gray_png))
            page.get_by_text("gray.png").first.wait_for()
            page.click("#run")
            link = page.wait_for_selector("#download a[href]")
            page.wait_for_function("() => [...document.querySelectorAll('#result img')].some(i => i.complete && i.naturalWidth > 0)")
            sizes = page.eval_on_selector_all("#result img", "els => els.map(e => [e.naturalWidth, e.naturalHeight])")
            assert [w, h] in sizes
            href = link.get_attribute("href")
            assert href
            data = page.request.get(href if href.startswith("http") else web_url.rstrip("/") + href).body()
            out = Image.open(io.BytesIO(data))
            assert out.format == "PNG" and out.size == (w, h) and out.mode == "RGB"
            rgb = np.asarray(out).astype(np.int16)
            assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 0  # colour was added
            assert "Colorized 1 photo" in page.inner_text("#status")

            shot = tmp_path / "screenshot.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size < 300_000

            # a text file renamed .png: one clear message, and the server keeps working
            page.reload(wait_until="load")
            page.wait_for_selector("#run")
            page.set_input_files("#photos input[type=file]", str(bad_png))
            page.get_by_text("notes.png").first.wait_for()
            page.click("#run")
            page.get_by_text("notes.png: not an image file").first.wait_for()
        finally:
            browser.close()

    assert _get(web_url + "api/health")  # still up
    external = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert not external, f"the page contacted other hosts: {external[:5]}"
