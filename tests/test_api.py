"""The HTTP API of ``colorize web`` over real HTTP on 127.0.0.1, plus the page's job logic (no browser)."""

from __future__ import annotations

import io
import socket
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

from colorize.hints import parse_color  # noqa: E402
from colorize.web import ColorizeService, Limits, WebError, create_app, to_hex  # noqa: E402

MAX_BYTES = 150_000
MAX_PIXELS = 300_000


from tests.conftest import free_port as _free_port, serve_in_thread  # noqa: E402


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _gray(h: int = 80, w: int = 120) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx * 2 + yy) % 256).astype(np.uint8)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """OpenMP with 2 threads collapses on an oversubscribed machine (see benchmarks/bench_backends.py)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def server(tiny_model_path, _one_thread):
    app = create_app(tiny_model_path, backend="torch", limits=Limits(max_upload_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_files=5))
    with serve_in_thread(app) as client:
        yield client, app


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
    r = client.post("/api/colorize", files={"image": ("a.png", _png(_gray()), "image/png")}, data={"saturation": "12"})
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
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text
    try:
        import swagger_ui_bundle  # noqa: F401  (optional: Swagger UI served locally, not from a CDN)
    except ImportError:
        pass
    else:
        assert "cdn.jsdelivr.net" not in docs.text
        assert client.get("/api/_swagger/swagger-ui-bundle.js").status_code == 200
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
    with pytest.raises(WebError, match="render_size = 10000: must be a whole number of pixels from 16 to 4096"):
        service.check_options(10_000, 1, 0.38)  # the same rule and message as the CLI and ColorizeOptions
    with pytest.raises(WebError, match="temperature = nan"):
        service.check_options(256, 1, "nan")
    assert service.check_options(None, None, None)["consensus_radius"] == service.colorizer.options.consensus_radius
    assert service.check_options(None, None, None, "3")["consensus_radius"] == 3
    for bad in (16, 2.5, -1):
        with pytest.raises(WebError, match=f"consensus_radius = {bad}"):
            service.check_options(None, None, None, bad)
    with pytest.raises(WebError, match="consensus must be"):
        service.check_options(None, None, None, "lots")


def test_api_consensus_field(server):
    client, _ = server
    gray = _gray()
    shots = [client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")}, data={"consensus": str(r)})
             for r in (0, 4)]
    assert all(r.status_code == 200 for r in shots), shots[0].text
    a, b = (np.asarray(Image.open(io.BytesIO(r.content))).astype(np.int16) for r in shots)
    assert np.abs(a - b).max() > 0  # the pooling changed the decode of the (untrained) distribution head
    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")}, data={"consensus": "99"})
    assert r.status_code == 422 and "consensus_radius = 99" in r.json()["detail"]




def _orange_reference() -> np.ndarray:
    yy, xx = np.mgrid[0:40, 0:60]
    ref = np.zeros((40, 60, 3), np.uint8)
    ref[..., 0], ref[..., 1], ref[..., 2] = 200 + yy, 110 + xx // 2, 30
    return ref


@pytest.mark.slow
def test_api_hints_and_reference(server):
    client, _ = server
    gray = _gray()
    plain = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")})
    hinted = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")},
                         data={"hints": "20,20=red; 100,60=#0000ff"})
    assert plain.status_code == hinted.status_code == 200, hinted.text
    a, b = (np.asarray(Image.open(io.BytesIO(r.content))).astype(np.int16) for r in (plain, hinted))
    assert np.abs(a - b).max() > 10  # the hints changed the colours
    luma = b.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(luma - gray).max() <= 1.5  # but not the luminance
    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png"),
                                            "reference": ("ref.png", _png(_orange_reference()), "image/png")},
                    data={"reference_strength": "1"})
    assert r.status_code == 200, r.text
    warm = np.asarray(Image.open(io.BytesIO(r.content))).astype(np.float32)
    assert (warm[..., 0] - warm[..., 2]).mean() > (a[..., 0] - a[..., 2]).mean()  # warmer, like the reference
    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")}, data={"hints": "20,20=notacolour"})
    assert r.status_code == 422 and "unknown colour" in r.json()["detail"]
    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png")}, data={"hints": "500,20=red"})
    assert r.status_code == 400 and "outside" in r.json()["detail"]
    r = client.post("/api/colorize", files={"image": ("a.png", _png(gray), "image/png"),
                                            "reference": ("g.png", _png(gray), "image/png")})
    assert r.status_code == 400 and "gray" in r.json()["detail"]


def test_page_job_with_clicked_hints(tiny_hint_model_path, tmp_path):
    from colorize.pipeline import Colorizer

    service = ColorizeService(Colorizer.from_pretrained(tiny_hint_model_path, device="cpu"), "hints", workdir=tmp_path / "w")
    photo = tmp_path / "p.png"
    Image.fromarray(_gray()).save(photo)
    options = service.check_options(None, None, None)
    (plain,), _, _ = service.process_files([str(photo)], options, "png")
    clicks = [{"x": 0.25, "y": 0.5, "color": "rgb(255, 0, 0)"}, {"x": 0.75, "y": 0.5, "color": "#00ff00"}]
    (hinted,), errors, _ = service.process_files([str(photo)], options, "png", hints=clicks)
    assert not errors
    a, b = (np.asarray(Image.open(r.output)).astype(np.int16) for r in (plain, hinted))
    assert np.abs(a - b).max() > 10
    assert parse_color("rgba(255, 0, 0, 1)") == (255, 0, 0) and to_hex("#00f") == "#0000ff"


def test_web_cli_refuses_bad_arguments(tmp_path, capsys):
    from colorize.cli.web import run_web_cli

    assert run_web_cli(["--port", "0"]) == 2
    assert run_web_cli(["--max-upload-mb", "0"]) == 2
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert run_web_cli(["--port", str(busy.getsockname()[1])]) == 1
        assert "already in use" in capsys.readouterr().err
    assert run_web_cli(["--port", str(_free_port()), "--model", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
