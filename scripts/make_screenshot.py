"""Make docs/screenshot.png: the page with the REAL bundled default model on a public-domain photo.

    python scripts/make_screenshot.py                      # -> docs/screenshot.png
    python scripts/make_screenshot.py --output /tmp/s.png --photo my_gray.jpg

Starts ``python -m colorize web --model default`` on a free 127.0.0.1 port, opens it in Debian's
Chromium through Playwright (``apt-get install chromium``, ``pip install playwright``; never
``playwright install``), uploads ``examples/astronaut_gray.jpg`` (scikit-image's astronaut sample,
NASA, public domain, desaturated), clicks Colorize, waits for the result and saves a screenshot of
the viewport. The PNG is optimised, and reduced to a 256-colour palette only when it would be over
``--max-kb``. The tests never write this file (tests/test_web.py screenshots into a temp folder).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 600_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.time() + timeout
    while True:
        try:
            with opener.open(url + "api/health", timeout=10):
                return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"make_screenshot: colorize web did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


def _save_small(png: bytes, out: Path, max_kb: int) -> tuple[int, str]:
    """Write ``png`` optimised; palette-reduce (then halve the size) only if still over ``max_kb``."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    attempts = [("optimised PNG", img), ("256-colour PNG", img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))]
    half = img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
    attempts.append(("half-size 256-colour PNG", half.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)))
    for how, candidate in attempts:
        buf = io.BytesIO()
        candidate.save(buf, format="PNG", optimize=True)
        if buf.tell() <= max_kb * 1024 or how == attempts[-1][0]:
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, out)
            return buf.tell(), how
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    p.add_argument("--photo", type=Path, default=ROOT / "examples" / "astronaut_gray.jpg")
    p.add_argument("--model", default="default", help="bundled model name or weights path (default: %(default)s)")
    p.add_argument("--width", type=int, default=1100)
    p.add_argument("--height", type=int, default=760)
    p.add_argument("--max-kb", type=int, default=390)
    p.add_argument("--chromium", default=CHROMIUM)
    args = p.parse_args(argv)
    if not args.photo.is_file():
        p.error(f"--photo {args.photo}: no such file")
    if not os.path.exists(args.chromium):
        p.error(f"--chromium {args.chromium}: not found (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    work = Path(tempfile.mkdtemp(prefix="colorize-screenshot-"))
    log = work / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost",
           "GRADIO_TEMP_DIR": str(work / "gradio"), "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "colorize", "web", "--port", str(port), "--model", args.model, "-q"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_up(url, proc, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.set_default_timeout(WAIT_MS)
                page.goto(url, wait_until="load")
                expect(page.locator("#run")).to_be_enabled(timeout=WAIT_MS)
                if "untrained" in page.inner_text("body"):
                    raise SystemExit(f"make_screenshot: model {args.model!r} has random weights; use a trained model")
                page.set_input_files("#photos input[type=file]", str(args.photo))
                expect(page.locator("#thumbs img")).to_have_count(1, timeout=WAIT_MS)
                page.click("#run")
                expect(page.locator("#status")).to_contain_text("Colorized 1 photo", timeout=WAIT_MS)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#result img')].length >= 2 && "
                    "[...document.querySelectorAll('#result img')].every(i => i.complete && i.naturalWidth > 0)")
                page.mouse.move(0, 0)  # no hover effects in the picture
                png = page.screenshot()
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    size, how = _save_small(png, args.output, args.max_kb)
    print(f"make_screenshot: wrote {args.output} ({size / 1024:.0f} kB, {how}; model {args.model}, photo {args.photo.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
