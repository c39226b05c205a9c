"""``colorize web`` under attack, over real HTTP on 127.0.0.1: the page's Gradio API reads only this server's
uploads (one generic refusal, no existence oracle), never fetches a URL, enforces --max-upload-mb while a
chunked body streams in, removes its work folder on SIGTERM, and refuses a nonsense --max-upload-mb."""

from __future__ import annotations

import http.server
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

from colorize.cli.web import run_web_cli  # noqa: E402
from colorize.web import FILE_REFUSED, Limits, create_app  # noqa: E402

LIMIT = 2**20  # --max-upload-mb 1
META = {"_type": "gradio.FileData"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


from tests.conftest import free_port as _free_port  # noqa: E402
from tests.conftest import serve_in_thread  # noqa: E402


def _png(h: int = 40, w: int = 60) -> bytes:
    yy, xx = np.mgrid[0:h, 0:w]
    buf = io.BytesIO()
    Image.fromarray(((xx * 3 + yy) % 256).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class _OutboundLog:
    """Records every name lookup and connection that is not to loopback, made by anything in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lookups: list[str] = []
        self.connects: list[object] = []
        real_getaddrinfo, real_connect, real_connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

        def getaddrinfo(host, *a, **k):
            if host is not None and str(host if not isinstance(host, bytes) else host.decode()) not in LOOPBACK:
                self.lookups.append(str(host))
            return real_getaddrinfo(host, *a, **k)

        def outside(address) -> bool:
            return isinstance(address, tuple) and str(address[0]) not in LOOPBACK

        def connect(sock, address):
            if outside(address):
                self.connects.append(address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            if outside(address):
                self.connects.append(address)
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="module")
def gradio_dir(tmp_path_factory):
    """A private Gradio upload folder for this module's server (restored afterwards)."""
    folder = tmp_path_factory.mktemp("gradio-uploads")
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = before


@pytest.fixture(scope="module")
def server(tiny_model_path, gradio_dir):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    outbound = _OutboundLog(mp)  # from model load through start-up and the first page view
    app = create_app(tiny_model_path, backend="torch", limits=Limits(max_upload_bytes=LIMIT, max_pixels=300_000, max_files=5))
    with serve_in_thread(app, timeout=60) as client:
        assert client.get("/").status_code == 200
        started = (list(outbound.lookups), list(outbound.connects))
        mp.undo()
        yield client, app, started
    torch.set_num_threads(threads)


def _event(client, name: str, data: list) -> httpx.Response:
    return client.post(f"/gradio_api/call/{name}", json={"data": data})


def _colorize_event(files: list, reference=None) -> list:
    """The page's run event: photos, render size, saturation, temperature, format, reference, its strength,
    the hints state, the already-colorized state (None = nothing done yet) and the consensus radius."""
    return [files, 256, 1.0, 0.38, "PNG", reference, 0.8, None, None, 5]


def _result(client, name: str, response: httpx.Response) -> str:
    """The event stream of an accepted /call request."""
    event_id = response.json()["event_id"]
    return client.get(f"/gradio_api/call/{name}/{event_id}").text


def _upload(client, data: bytes, name: str = "photo.png") -> str:
    r = client.post("/gradio_api/upload", files={"files": (name, data, "image/png")})
    assert r.status_code == 200, r.text
    return r.json()[0]


def test_server_starts_without_outbound_requests(server):
    _, _, (lookups, connects) = server
    assert lookups == [] and connects == [], f"start-up contacted other hosts: {lookups} {connects}"


def test_page_api_reads_only_its_own_uploads(server, tmp_path, gradio_dir):
    client, _, _ = server
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png())
    inside_not_uploaded = gradio_dir / "planted" / "p.png"  # in the upload folder, but not uploaded
    inside_not_uploaded.parent.mkdir()
    inside_not_uploaded.write_bytes(_png())
    link = gradio_dir / "link"
    link.mkdir()
    (link / "s.png").symlink_to(secret)  # a symlink escaping the upload folder
    relative = os.path.relpath(secret, gradio_dir)
    attempts = {
        "absolute": {"path": str(secret), "meta": META},
        "dotdot": {"path": f"{gradio_dir}/x/../{relative}", "meta": META},
        "relative": {"path": relative, "meta": META},
        "missing": {"path": str(tmp_path / "missing.png"), "meta": META},
        "missing inside": {"path": str(gradio_dir / "nothing" / "here.png"), "meta": META},
        "planted": {"path": str(inside_not_uploaded), "meta": META},
        "symlink": {"path": str(link / "s.png"), "meta": META},
        "no meta": {"path": str(secret)},
    }
    answers = {}
    for label, fd in attempts.items():
        for name, data in (("colorize_files", _colorize_event([fd])), ("on_files", [[fd]])):
            r = _event(client, name, data)
            answers[(label, name)] = (r.status_code, r.text)
            assert r.status_code == 400 and r.json() == {"detail": FILE_REFUSED}, (label, name, r.text)
        # the reference photo slot, and the queue the page itself uses
        good = _upload(client, _png(), "good.png")
        r = _event(client, "colorize_files", _colorize_event([{"path": good, "meta": META}], reference=fd))
        assert r.status_code == 400 and r.json() == {"detail": FILE_REFUSED}, (label, "reference", r.text)
        r = client.post("/gradio_api/queue/join", json={"data": _colorize_event([fd]), "fn_index": 3, "session_hash": "abc"})
        assert r.status_code == 400 and r.json() == {"detail": FILE_REFUSED}, (label, "queue", r.text)
    assert len(set(answers.values())) == 1  # one answer: nothing tells a missing file from an existing one
    assert client.get(f"/gradio_api/file={secret}").status_code in (403, 404)

    # a real upload still works, and only the uploaded copy is read
    path = _upload(client, _png())
    r = _event(client, "colorize_files", _colorize_event([{"path": path, "meta": META}]))
    assert r.status_code == 200, r.text
    stream = _result(client, "colorize_files", r)
    assert "event: complete" in stream and "Colorized 1 photo" in stream


def test_file_urls_are_never_fetched(server, monkeypatch):
    client, _, _ = server
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = _png()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    bait = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=bait.serve_forever, daemon=True).start()
    try:
        outbound = _OutboundLog(monkeypatch)
        url = f"http://127.0.0.1:{bait.server_address[1]}/photo.png"
        remote = "http://colorize-test.invalid/photo.png"
        uploaded = _upload(client, _png())
        attempts = [
            {"path": url, "url": url, "meta": META},
            {"path": url, "meta": META},
            {"path": "photo.png", "url": url, "meta": META},
            {"path": uploaded, "url": url, "meta": META},  # a real upload with someone else's url
            {"path": remote, "url": remote, "meta": META},
            {"path": uploaded, "url": remote, "meta": META},
        ]
        for fd in attempts:
            for name, data in (("colorize_files", _colorize_event([fd])), ("on_files", [[fd]])):
                r = _event(client, name, data)
                assert r.status_code == 400 and r.json() == {"detail": FILE_REFUSED}, (fd, r.text)
        assert client.get(f"/gradio_api/proxy={url}").status_code >= 400  # Gradio's proxy route: not for us
        time.sleep(0.3)
        assert hits == [], f"the server fetched {hits}"
        assert "colorize-test.invalid" not in outbound.lookups and outbound.connects == []
    finally:
        bait.shutdown()
        bait.server_close()


def test_chunked_upload_is_cut_off_at_the_limit(server, monkeypatch):
    from starlette.datastructures import UploadFile

    client, _, _ = server
    written = [0]
    real_write = UploadFile.write

    async def counting_write(self, data: bytes) -> None:
        written[0] += len(data)
        await real_write(self, data)

    monkeypatch.setattr(UploadFile, "write", counting_write)
    boundary = "colorizeboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    chunk = b"\0" * 65536
    total = 3 * LIMIT

    def body():
        yield head
        for _ in range(total // len(chunk)):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/api/colorize", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "upload is too large (over the limit of 1.0 MB)"
    assert written[0] <= LIMIT + 2 * len(chunk), f"{written[0]} bytes spooled for a {LIMIT}-byte limit"

    # a declared Content-Length over the limit is refused before anything is read
    written[0] = 0
    r = client.post("/api/colorize", files={"image": ("big.png", b"\0" * total, "image/png")})
    assert r.status_code == 413 and r.json()["detail"] == "upload is too large (3.0 MB; the limit is 1.0 MB)"
    assert written[0] == 0
    # just over the limit (inside the form's slack): refused by the endpoint, with the file's real size
    over = [head, b"\0" * (LIMIT + 20_000), f"\r\n--{boundary}--\r\n".encode()]
    r = client.post("/api/colorize", content=iter(over), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["detail"] == "big.png: file is too large (1.02 MB; the limit is 1.00 MB)"
    # and under the limit, chunked uploads still work
    small = _png()
    parts = [head, small, f"\r\n--{boundary}--\r\n".encode()]
    r = client.post("/api/colorize", content=iter(parts), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-3"])
def test_bad_max_upload_mb_is_one_line_exit_2(value, capsys):
    with socket.socket() as busy:  # the port is taken: without the check, this would fail later with exit 1
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert run_web_cli([f"--max-upload-mb={value}", "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--max-upload-mb" in err and "Traceback" not in err


@pytest.mark.slow
def test_sigterm_removes_the_work_folder(tiny_model_path, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost", "OMP_NUM_THREADS": "1"}
    log = tmp_path / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "colorize", "web", "--port", str(port), "--model", tiny_model_path,
                                 "--backend", "torch", "--max-upload-mb", "1"], stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=60) as client:
            deadline = time.time() + 120
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.time() < deadline, log.read_text()[-2000:]
                time.sleep(0.3)
            assert client.post("/api/colorize", files={"image": ("a.png", _png(), "image/png")}).status_code == 200
            path = _upload(client, _png())  # the page's way: upload, then the Colorize button's event
            r = _event(client, "colorize_files", _colorize_event([{"path": path, "meta": META}]))
            assert r.status_code == 200 and "event: complete" in _result(client, "colorize_files", r)
        (work,) = [p for p in tmp.iterdir() if p.name.startswith("colorize-web-")]
        assert any(f.is_file() for f in work.rglob("*")), "the job left no result to clean up"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not work.exists(), f"{work} survived SIGTERM: {[str(p) for p in work.rglob('*')]}"
    assert [p.name for p in tmp.iterdir() if p.name.startswith("colorize-web-")] == []
    assert "Traceback" not in log.read_text()
    # Gradio's cache (uploads, previews) goes too, via delete_cache at shutdown; it may leave an empty temp file
    left = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert left == [], f"photos left in the temp folder: {left}"


def test_api_docs_page_and_its_assets_are_served_locally(server):
    """/api/docs names only this server's own Swagger UI files (no CDN, no outside favicon, no validator)."""
    client, _, _ = server
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert "://" not in r.text, "the docs page names another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    for a in assets:
        got = client.get(a)
        assert a.startswith("/api/_swagger/") and got.status_code == 200 and len(got.content) > 500, a
    assert '"validatorUrl": null' in r.text


def test_downloads_keep_16_bits_for_png_however_the_format_is_spelled(tmp_path, tiny_model_path):
    """8-bit downloads take the fused join (uint8); a 16-bit source to PNG keeps the float result."""
    from colorize.io import read_image
    from colorize.pipeline import Colorizer
    from colorize.web import ColorizeService

    src = tmp_path / "deep.png"
    Image.fromarray((np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 20)).save(src)
    loaded = read_image(src)
    assert loaded.bit_depth == 16
    service = ColorizeService(Colorizer.from_pretrained(tiny_model_path, device="cpu"), "tiny", workdir=tmp_path / "work")
    for fmt, dtype in (("png", np.float32), ("PNG", np.float32), (".png", np.float32), ("jpeg", np.uint8), ("JPG", np.uint8)):
        assert service.colorize(loaded, {}, fmt=fmt).dtype == dtype, fmt
    assert service.colorize(loaded, {}).dtype == np.float32  # no format given: float, as before
    out = service.save(service.colorize(loaded, {}, fmt="PNG"), loaded, "deep", "PNG")
    assert Image.open(out).mode in ("I;16", "RGB") and out.read_bytes()[24] == 16  # IHDR bit depth
