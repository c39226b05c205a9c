"""The web page in a real browser: ``colorize web`` in a subprocess, Debian's Chromium via Playwright.

Skipped (with the reason) when /usr/bin/chromium or the playwright package is missing. CI needs:
``apt-get install -y chromium`` and ``pip install playwright`` (never ``playwright install``).
Takes a screenshot into the test's temporary folder (1000x700 viewport, < 300 kB); the tracked
docs/screenshot.png is made by scripts/make_screenshot.py with the real model, never by a test run.

Robust under load (the full suite on 2 busy cores): every wait is one of Playwright's auto-retrying
expectations on the element that changes (thumbnails, the status line, the result image), with
generous timeouts; no fixed sleeps, no waiting on a file name that Gradio may render late.
"""

from __future__ import annotations

import io
import os
import re
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
WAIT_MS = 180_000  # a model call on a loaded 2-core machine; the expectations return as soon as they hold
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # starting the server (model, gradio) took 55-97 s on the shared, loaded 2-core machine
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not found (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
expect = sync_api.expect
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


def _external(requests: list[str]) -> list[str]:
    return [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def _gray(path: Path, h: int = 150, w: int = 200, vertical: bool = False) -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = yy if vertical else xx
    gray = (40 + ramp + (((yy - 75) ** 2 + (xx - 70) ** 2) < 900) * 60).clip(0, 255).astype(np.uint8)
    Image.fromarray(gray).save(path)
    return path


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (launching it takes seconds on a busy machine)."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def browser_page(browser):
    """A fresh page in its own browser context, recording every request URL (``page.requests``)."""
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.requests = requests  # type: ignore[attr-defined]
        yield page
    finally:
        context.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load")
    expect(page.locator("#run")).to_be_enabled(timeout=WAIT_MS)


def _upload(page, *paths: Path, thumbnails: int) -> None:
    """Add photos and wait until the page shows their thumbnails (the server has read them)."""
    page.set_input_files("#photos input[type=file]", [str(p) for p in paths])
    expect(page.locator("#thumbs img")).to_have_count(thumbnails, timeout=WAIT_MS)


def _run(page, status: str | re.Pattern[str]) -> None:
    """Click Colorize and wait for a status line that only this run can produce (the previous run's line
    stays on the page while the new one is computed, under a progress timer)."""
    page.click("#run")
    expect(page.locator("#status")).to_contain_text(status, timeout=WAIT_MS)


def test_page_colorizes_rejects_bad_files_and_stays_offline(web_url, tmp_path, browser_page):
    page = browser_page
    w, h = 200, 150
    gray_png = _gray(tmp_path / "gray.png", h, w)
    second_png = _gray(tmp_path / "second.png", h, w, vertical=True)
    bad_png = tmp_path / "notes.png"
    bad_png.write_text("just some text, not an image\n")

    _open(page, web_url)
    # the CLI's knobs, with the loaded model's defaults shown (random-weights test model: 256, 1, 0.38)
    expect(page.locator("#defaults")).to_contain_text("render size 256 px, saturation 1, temperature 0.38")
    expect(page.locator("#render-size input[type=number]")).to_have_value("256")

    # a gray PNG in (shown as a thumbnail), a colour PNG of the same size out
    _upload(page, gray_png, thumbnails=1)
    _run(page, "Colorized 1 photo")
    link = page.locator("#download a[href]").first
    expect(link).to_be_attached(timeout=WAIT_MS)
    result_img = page.locator("#result img").first
    expect(result_img).to_be_visible(timeout=WAIT_MS)
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
    expect(page.locator("#thumbs")).to_contain_text("gray.png (colorized)", timeout=WAIT_MS)

    # the compare view: before and after side by side (the slider stays)
    page.get_by_role("tab", name="Side by side").click()
    for side in ("#before img", "#after img"):
        expect(page.locator(side).first).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("tab", name="Slider").click()
    expect(result_img).to_be_visible(timeout=WAIT_MS)

    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size < 300_000

    # adding a photo after a run colorizes only the new one
    _upload(page, second_png, thumbnails=2)
    _run(page, "Already colorized with these settings (not run again): gray.png")
    status = page.inner_text("#status")
    assert "Colorized 1 photo" in status and "second.png 200x150" in status and "gray.png 200x150" not in status
    expect(page.locator("#gallery img")).to_have_count(2, timeout=WAIT_MS)
    # nothing new, same settings: nothing is run again, both results stay
    _run(page, "Already colorized with these settings (not run again): gray.png, second.png")
    assert "Colorized" not in page.inner_text("#status").replace("Already colorized", "")
    expect(page.locator("#gallery img")).to_have_count(2, timeout=WAIT_MS)

    # a text file renamed .png: one clear message, and the server keeps working
    page.reload(wait_until="load")
    expect(page.locator("#run")).to_be_enabled(timeout=WAIT_MS)
    page.set_input_files("#photos input[type=file]", str(bad_png))
    expect(page.locator("#photos")).to_contain_text("notes.png", timeout=WAIT_MS)
    page.click("#run")
    expect(page.get_by_text("notes.png: not an image file").first).to_be_visible(timeout=WAIT_MS)

    assert _get(web_url + "api/health")  # still up
    assert not _external(page.requests), f"the page contacted other hosts: {_external(page.requests)[:5]}"


def test_reference_photo_is_shown_while_applied_and_removable(web_url, tmp_path, browser_page):
    page = browser_page
    photo = _gray(tmp_path / "street.png")
    ref = np.zeros((60, 80, 3), np.uint8)
    ref[..., 0], ref[30:, :, 1], ref[:, 40:, 2] = 210, 170, 120
    ref_png = tmp_path / "sunset.png"
    Image.fromarray(ref).save(ref_png)

    _open(page, web_url)
    _upload(page, photo, thumbnails=1)
    note = page.locator("#reference-note")
    expect(note).to_be_hidden()
    page.get_by_text("Reference photo (optional)").click()
    page.set_input_files("#reference input[type=file]", str(ref_png))
    # visible next to the Colorize button, with its picture, even once its section is folded away
    expect(note).to_be_visible(timeout=WAIT_MS)
    expect(note).to_contain_text("sunset.png")
    expect(page.locator("#reference-thumb img").first).to_be_visible(timeout=WAIT_MS)
    page.get_by_text("Reference photo (optional)").click()
    expect(note).to_be_visible()
    _run(page, "Reference photo: sunset.png")

    page.click("#reference-remove")
    expect(note).to_be_hidden(timeout=WAIT_MS)
    # the settings changed (no reference), so the photo is colorized again, and the status says no reference
    _run(page, re.compile(r"^(?![\s\S]*Reference photo)[\s\S]*Colorized 1 photo"))
    assert not _external(page.requests), f"the page contacted other hosts: {_external(page.requests)[:5]}"


def test_api_docs_render_offline(web_url, browser_page):
    page = browser_page
    page.goto(web_url + "api/docs", wait_until="load")
    expect(page.locator(".opblock-summary-path", has_text="/api/colorize").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".opblock-summary-path", has_text="/api/health").first).to_be_visible(timeout=WAIT_MS)
    assert any("/api/_swagger/swagger-ui-bundle.js" in u for u in page.requests)
    assert not _external(page.requests), f"/api/docs contacted other hosts: {_external(page.requests)[:5]}"


def _two_regions(path: Path, h: int = 180, w: int = 240) -> Path:
    """A dark left half and a bright right half: a strong luminance edge no hint colour should cross."""
    gray = np.full((h, w), 70, np.uint8)
    gray[:, w // 2:] = 185
    Image.fromarray(gray).save(path)
    return path


_PIXEL_JS = """async (img, [fx, fy]) => {
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const x = Math.round(fx * (c.width - 1)), y = Math.round(fy * (c.height - 1));
  const d = g.getImageData(x - 1, y - 1, 3, 3).data;
  const out = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) out[k] += d[i + k] / 9;
  return [out, c.width, c.height];
}"""


def test_hint_editor_places_moves_deletes_and_undoes_hints(web_url, tmp_path, browser_page):
    """The editor inside the page: the page's first photo opens in it; a blue hint turns its region blue in the
    live preview, moving it across the edge moves the blue with it, deleting it gives the automatic colours back."""
    page = browser_page
    photo = _two_regions(tmp_path / "halves.png")
    a, b = (0.25, 0.5), (0.75, 0.5)  # relative points in the dark and the bright half

    _open(page, web_url)
    _upload(page, photo, thumbnails=1)  # the page hands its first photo to the editor
    frame = page.frame_locator("#hint-editor iframe")
    body = frame.locator("body")
    expect(body).to_have_attribute("data-previews", "1", timeout=WAIT_MS)  # the automatic preview
    editor = frame.locator("#photo")
    assert editor.evaluate("e => [e.naturalWidth, e.naturalHeight]") == [240, 180]

    def pixel(point):
        rgb, w, h = frame.locator("#preview").evaluate(_PIXEL_JS, list(point))
        assert (w, h) == (240, 180)
        return np.asarray(rgb)

    def at(point):
        editor.scroll_into_view_if_needed()
        box = editor.bounding_box()
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    def bluish(rgb):
        return rgb[2] - max(rgb[0], rgb[1]) > 30

    base_a, base_b = pixel(a), pixel(b)
    assert not bluish(base_a) and not bluish(base_b)

    frame.locator("#hint-color").fill("#1e50ff")
    page.mouse.click(*at(a))  # place
    expect(body).to_have_attribute("data-previews", "2", timeout=WAIT_MS)
    expect(body).to_have_attribute("data-hints", "1")
    expect(frame.locator(".marker")).to_have_count(1)
    expect(frame.locator("#hint-list li")).to_have_count(1)
    expect(frame.locator("#suggestions .swatch").first).to_be_visible(timeout=WAIT_MS)  # the model's colours there
    blue_a = pixel(a)
    assert bluish(blue_a) and np.abs(blue_a - base_a).max() > 30, (blue_a, base_a)
    assert np.abs(pixel(b) - base_b).max() <= 12  # the other side of the edge keeps its colour

    marker = frame.locator(".marker")
    mbox = marker.bounding_box()
    assert mbox["width"] >= 10  # visible, sized to the radius (at least 12 px on screen)
    page.mouse.move(mbox["x"] + mbox["width"] / 2, mbox["y"] + mbox["height"] / 2)
    page.mouse.down()
    page.mouse.move(*at(b), steps=8)  # drag across the edge
    page.mouse.up()
    expect(body).to_have_attribute("data-previews", "3", timeout=WAIT_MS)
    expect(body).to_have_attribute("data-hints", "1")
    moved_b = pixel(b)
    assert bluish(moved_b) and np.abs(moved_b - base_b).max() > 30, (moved_b, base_b)
    assert np.abs(pixel(a) - base_a).max() <= 12  # the blue left with the hint

    frame.locator("#hint-list .delete").first.click()  # delete
    expect(body).to_have_attribute("data-previews", "4", timeout=WAIT_MS)
    expect(body).to_have_attribute("data-hints", "0")
    expect(frame.locator(".marker")).to_have_count(0)
    assert np.abs(pixel(a) - base_a).max() <= 2 and np.abs(pixel(b) - base_b).max() <= 2  # the automatic colours again

    frame.locator("#undo").click()  # the hint comes back where it was
    expect(body).to_have_attribute("data-previews", "5", timeout=WAIT_MS)
    expect(body).to_have_attribute("data-hints", "1")
    assert bluish(pixel(b))

    frame.locator("#show-uncertainty").check()  # the uncertainty overlay
    expect(frame.locator("#uncertainty")).to_be_visible(timeout=WAIT_MS)
    assert frame.locator("#uncertainty").evaluate("c => [c.width, c.height]") == [240, 180]

    frame.locator("#editor-run").click()  # full resolution, with the hint
    expect(frame.locator("#editor-download")).to_be_visible(timeout=WAIT_MS)
    expect(frame.locator("#result-title")).to_contain_text("full resolution, 240x180")
    assert bluish(pixel(b))

    # the page's own Colorize takes the editor's hints for its first photo
    _run(page, "Colour hints from the editor: 1 on halves.png")
    href = page.locator("#download a[href]").first.get_attribute("href")
    assert href
    out = np.asarray(Image.open(io.BytesIO(page.request.get(href if href.startswith("http") else web_url.rstrip("/") + href).body())))
    assert out.shape == (180, 240, 3)
    ya, xb, xa = 90, int(b[0] * 239), int(a[0] * 239)
    assert bluish(out[ya - 1:ya + 2, xb - 1:xb + 2].reshape(-1, 3).mean(0).astype(int))
    assert not bluish(out[ya - 1:ya + 2, xa - 1:xa + 2].reshape(-1, 3).mean(0).astype(int))
    assert not _external(page.requests), f"the page contacted other hosts: {_external(page.requests)[:5]}"
