"""The HTTP API of ``colorize web`` over real HTTP on 127.0.0.1, plus the page's job logic (no browser)."""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

from colorize.web import ColorizeService, Limits, WebError, create_app, match_reference, parse_color  # noqa: E402

MAX_BYTES = 150_000
MAX_PIXELS = 300_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _gray(h: int = 80, w: int = 120) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx * 2 + yy) % 256).astype(np.uint8)


@pytest.fixture(scope="module")
def server(tiny_model_path):
    app = create_app(tiny_model_path, backend="torch", limits=Limits(max_upload_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_files=5))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=120) as client:
        yield client, app
    srv.should_exit = True
    thread.join(timeout=30)


def test_health_and_models(server, tiny_model_path):
    client, _ = server
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["model"] == tiny_model_path and body["backend"] == "torch"
    r = client.get("/api/models")
    assert r.status_code == 200
    models = r.json()
    assert models["loaded"]["head"] == "distribution" and models["loaded"]["arch"] == "compact-small"
    assert models["limits"] == {"max_upload_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS, "max_files": 5}
    assert isinstance(models["bundled"], list)


def test_colorize_returns_an_image_of_the_same_size(server):
    client, _ = server
    gray = _gray()
    r = client.post("/api/colorize", files={"image": ("old photo.png", _png(gray), "image/png")},
                    data={"render_size": "128", "saturation": "1.5", "temperature": "0.3"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert 'filename="old photo_colorized.png"' in r.headers["content-disposition"]
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (120, 80) and out.mode == "RGB"
    rgb = np.asarray(out).astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(luma - gray).max() <= 1.5  # luminance kept; only colour added
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 0  # some colour

    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")}, data={"format": "jpeg"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (120, 80)


def test_api_errors_are_one_clear_message(server, tmp_path):
    client, _ = server
    r = client.post("/api/colorize", files={"image": ("notes.png", b"hello, I am text\n" * 10, "image/png")})
    assert r.status_code == 400 and r.json()["detail"] == "notes.png: not an image file (unrecognised format)"
    big = np.zeros((600, 600), np.uint8)  # 360,000 pixels > 300,000
    r = client.post("/api/colorize", files={"image": ("big.png", _png(big), "image/png")})
    assert r.status_code == 413 and "more than the limit" in r.json()["detail"]
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)  # ~270 kB PNG > 150 kB
    r = client.post("/api/colorize", files={"image": ("noise.png", _png(noise), "image/png")})
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    r = client.post("/api/colorize", files={"image": ("a.png", _png(_gray()), "image/png")}, data={"saturation": "9"})
    assert r.status_code == 422 and "saturation" in r.json()["detail"]
    r = client.post("/api/colorize", files={"image": ("a.png", _png(_gray()), "image/png")}, data={"format": "gif"})
    assert r.status_code == 422 and "format" in r.json()["detail"]
    assert client.post("/api/colorize").status_code == 422  # no file
    assert client.get("/api/health").status_code == 200  # still alive


def test_concurrent_requests_are_queued_not_dropped(server):
    client, app = server
    payload = _png(_gray(64, 64))

    def post(_):
        return client.post("/api/colorize", files={"image": ("a.png", payload, "image/png")}).status_code

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(post, range(3))) == [200, 200, 200]
    assert not app.state.service.lock.locked()


def test_openapi_docs_and_offline_page(server):
    client, _ = server
    spec = client.get("/api/openapi.json").json()
    assert {"/api/colorize", "/api/health", "/api/models"} <= set(spec["paths"])
    assert client.get("/api/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    for external in ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net", "unpkg.com", "googletagmanager"):
        assert external not in page.text


# ----------------------------------------------------------------------------- the page's job, without a browser


def test_page_job_mixes_good_and_bad_files(tiny_model_path, tmp_path):
    from colorize.pipeline import Colorizer

    service = ColorizeService(Colorizer.from_pretrained(tiny_model_path, device="cpu"), "tiny",
                              Limits(max_upload_bytes=MAX_BYTES, max_pixels=MAX_PIXELS), workdir=tmp_path / "work")
    good = tmp_path / "good.png"
    Image.fromarray(_gray()).save(good)
    rgba = tmp_path / "alpha.png"
    Image.fromarray(np.dstack([_gray(40, 50)] * 3 + [np.full((40, 50), 128, np.uint8)]), "RGBA").save(rgba)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    calls = []
    results, errors, download = service.process_files([str(good), str(bad), str(rgba)], service.check_options(None, None, None),
                                                      "png", progress=lambda *a, **k: calls.append(a))
    assert [r.name for r in results] == ["good.png", "alpha.png"]
    assert errors == ["bad.png: not an image file (unrecognised format)"]
    assert download is not None and download.suffix == ".zip" and calls
    with zipfile.ZipFile(download) as zf:
        assert sorted(zf.namelist()) == ["alpha_colorized.png", "good_colorized.png"]
        with Image.open(io.BytesIO(zf.read("alpha_colorized.png"))) as im:
            assert im.mode == "RGBA" and im.size == (50, 40)  # alpha kept
    results, errors, download = service.process_files([str(good)], service.check_options(256, 1, 0.38), "jpeg")
    assert download == results[0].output and download.suffix == ".jpg"
    with pytest.raises(WebError, match="between"):
        service.check_options(10_000, 1, 0.38)


def test_reference_and_hints_keep_luminance(tiny_hint_model_path, colour_photo):
    from colorize.pipeline import Colorizer, gray_of
    from colorize.web import colorize_with_hint_map

    colorizer = Colorizer.from_pretrained(tiny_hint_model_path, device="cpu")
    gray = gray_of(colour_photo)
    plain = colorizer.colorize_array(colour_photo)
    hinted = colorize_with_hint_map(colorizer, gray, [{"x": 0.3, "y": 0.4, "color": "#ff0000"}], {})
    assert hinted.shape == plain.shape and not np.allclose(hinted, plain)
    np.testing.assert_allclose(gray_of(hinted), gray, atol=2e-3)
    reference = np.zeros((30, 40, 3), np.float32)
    reference[..., 0], reference[..., 1], reference[..., 2] = 0.9, 0.4, 0.1  # orange
    matched = match_reference(plain, gray, reference)
    np.testing.assert_allclose(gray_of(matched), gray, atol=2e-3)
    assert matched[..., 0].mean() > plain[..., 0].mean()  # warmer
    assert parse_color("rgba(255, 0, 0, 1)") == (1.0, 0.0, 0.0) and parse_color("#00f") == (0.0, 0.0, 1.0)
