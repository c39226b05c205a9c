"""Suggested colours and the uncertainty map (colorize.suggest, Colorizer.suggest_colors / .uncertainty).

The bundled default model runs from its shipped ONNX graph (its ``logits`` output); PyTorch runs the
tiny random-weights models the tests make. Every picture is made here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from colorize.errors import DistributionError, HintError, OptionError
from colorize.imaging import ab_bin_centers_np as bin_centers
from colorize.pipeline import Colorizer
from colorize.suggest import MERGE_DELTA_E, entropy

BT601 = np.array([0.299, 0.587, 0.114])


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    """A gray uint8 photo: a bright sky ramp on top, a dark band, a mid-gray disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    gray = (150 + yy).astype(np.float64)
    gray[yy > 60] = 35
    gray[(yy - 40) ** 2 + (xx - 90) ** 2 < 14**2] = 110
    return np.clip(gray, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def default() -> Colorizer:
    pytest.importorskip("onnxruntime")
    c = Colorizer.from_pretrained("default", device="cpu")
    assert c.backend == "onnxruntime"
    return c


def test_suggestions_are_ranked_distinct_colours_at_the_pixels_luminance(default):
    photo = _photo()
    for x, y in ((90, 40), (20, 10), (60, 80)):
        s = default.suggest_colors(photo, x, y, k=5)
        assert 1 <= len(s) <= 5
        probs = [c.probability for c in s]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        for c in s:
            assert c.hex == "#{:02x}{:02x}{:02x}".format(*c.rgb)
            # the colour keeps the pixel's gray level (BT.601), up to 8-bit rounding
            assert abs(float(np.dot(c.rgb, BT601)) - float(photo[y, x])) <= 1.0, (x, y, c)
        labs = [np.asarray(c.rgb, np.float64) for c in s]
        from colorize.imaging import rgb_to_lab

        lab = rgb_to_lab(np.stack(labs).T.reshape(3, 1, -1) / 255)[:, 0].T
        for i in range(len(lab)):
            for j in range(i):
                assert np.linalg.norm(lab[i] - lab[j]) >= MERGE_DELTA_E - 0.6  # look-alikes were merged (8-bit rounding)


def test_more_suggestions_keep_the_first_ones(default):
    photo = _photo()
    three = default.suggest_colors(photo, 90, 40, k=3)
    eight = default.suggest_colors(photo, 90, 40, k=8)
    assert len(eight) > len(three) == 3
    assert [c.hex for c in eight[:3]] == [c.hex for c in three]


def test_a_suggestion_given_as_a_hint_paints_that_colour_there(default):
    photo = _photo()
    x, y = 90, 40
    best = default.suggest_colors(photo, x, y, k=3)
    other = best[-1]
    out = default.colorize_array(photo, hints=[(x, y, other.hex, 4)], hint_method="propagate", uint8=True)
    assert np.abs(out[y, x].astype(int) - np.asarray(other.rgb)).max() <= 6, (out[y, x], other)


def test_bad_points_and_k_are_one_line_errors(default):
    photo = _photo()
    with pytest.raises(HintError, match=r"^point 128,5 is outside the photo \(128x96: x must be 0-127, y 0-95\)$"):
        default.suggest_colors(photo, 128, 5)
    with pytest.raises(HintError, match="must be finite"):
        default.suggest_colors(photo, float("nan"), 5)
    with pytest.raises(HintError, match="must be numbers"):
        default.suggest_colors(photo, "left", 5)
    for k in (0, 33, 2.5, True):
        with pytest.raises(OptionError, match=r"^k = .*: must be a whole number of suggested colours from 1 to 32$"):
            default.suggest_colors(photo, 5, 5, k=k)


def test_uncertainty_map_is_normalised_entropy_at_the_photos_size(default):
    photo = _photo(90, 130)  # not a multiple of 16: the map is still the photo's size
    u = default.uncertainty(photo)
    assert u.shape == (90, 130) and u.dtype == np.float32
    assert 0 <= float(u.min()) and float(u.max()) <= 1 and float(u.max()) - float(u.min()) > 0.05
    # black pixels can only be black: the model is surer there than on the mid-gray disc
    black = np.zeros((64, 64), np.uint8)
    black[:, 32:] = 128
    ub = default.uncertainty(black)
    assert float(ub[:, :16].mean()) < float(ub[:, 48:].mean())


def test_entropy_ends():
    q = 262
    uniform = np.full((q, 2, 3), 1.0 / q)
    sure = np.zeros((q, 2, 3))
    sure[7] = 1
    assert np.allclose(entropy(uniform), 1.0) and np.allclose(entropy(sure), 0.0)
    two = np.zeros((q, 1, 1))
    two[[3, 9]] = 0.5
    assert math.isclose(float(entropy(two)[0, 0]), math.log(2) / math.log(q), rel_tol=1e-5)


def test_a_graph_without_logits_is_a_clear_error(default, monkeypatch):
    monkeypatch.setattr(default.predictor, "has_logits", False)
    with pytest.raises(DistributionError, match="without a 'logits' output"):
        default.suggest_colors(_photo(), 5, 5)


def test_bin_centres_match_the_models_bins():
    torch = pytest.importorskip("torch")
    from colorize.bins import ab_bin_centers

    assert torch.equal(ab_bin_centers(), torch.from_numpy(bin_centers()))


def test_torch_backend_and_regression_heads(tiny_model_path, tmp_path):
    pytest.importorskip("torch")
    from colorize.models import create_model
    from colorize.models.weights import save_model

    c = Colorizer.from_pretrained(tiny_model_path, device="cpu", backend="torch")
    photo = _photo()
    s = c.suggest_colors(photo, 10, 10, k=4, render_size=128)
    assert 1 <= len(s) <= 4 and all(abs(float(np.dot(x.rgb, BT601)) - float(photo[10, 10])) <= 1.0 for x in s)
    assert c.uncertainty(photo).shape == photo.shape

    _, path = save_model(create_model("compact-small", head="regression"), tmp_path / "regression")
    r = Colorizer.from_pretrained(path, device="cpu", backend="torch")
    for call in (lambda: r.suggest_colors(photo, 10, 10), lambda: r.uncertainty(photo)):
        with pytest.raises(DistributionError, match="has a regression head") as exc:
            call()
        assert "\n" not in str(exc.value)


@pytest.mark.slow  # the 5 M-parameter model in PyTorch: 10-25 s on the shared CPU
def test_bundled_graph_logits_agree_with_torch(default, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("COLORIZE_BF16", "0")  # fp32 on both sides
    t = Colorizer.from_pretrained("default", device="cpu", backend="torch")
    photo = _photo()
    assert np.abs(t.uncertainty(photo) - default.uncertainty(photo)).max() < 1e-3
    a, b = t.suggest_colors(photo, 90, 40, k=5), default.suggest_colors(photo, 90, 40, k=5)
    assert [c.hex for c in a[:3]] == [c.hex for c in b[:3]]
    assert np.allclose([c.probability for c in a], [c.probability for c in b], atol=1e-3)


# ----------------------------------------------------------------------------- the HTTP API and the CLI


def _png(gray: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    pytest.importorskip("onnxruntime")
    from fastapi.testclient import TestClient

    from colorize.web import Limits, create_app

    app = create_app("default", ui=False, limits=Limits(max_upload_bytes=400_000))
    with TestClient(app) as c:
        yield c


def _halves(h: int = 300, w: int = 1000) -> np.ndarray:
    gray = np.full((h, w), 70, np.uint8)
    gray[:, w // 2:] = 185
    return gray


def test_http_suggest_and_its_errors(client, default):
    photo = _photo()
    files = {"image": ("p.png", _png(photo), "image/png")}
    r = client.post("/api/suggest", files=files, data={"x": "90", "y": "40", "k": "3"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["k"] == 3 and [c["hex"] for c in j["colors"]] == [c.hex for c in default.suggest_colors(photo, 90, 40, k=3)]
    r = client.post("/api/suggest", files=files, data={"x": "500", "y": "40"})
    assert r.status_code == 422 and r.json()["detail"] == "point 500,40 is outside the photo (128x96: x must be 0-127, y 0-95)"
    r = client.post("/api/suggest", files=files, data={"x": "5", "y": "5", "k": "40"})
    assert r.status_code == 422 and r.json()["detail"].startswith("k = 40: must be a whole number")
    r = client.post("/api/suggest", files=files, data={"x": "5", "y": "5", "render_size": "8"})
    assert r.status_code == 422 and r.json()["detail"].startswith("render_size = 8:")
    big = {"image": ("big.png", np.random.default_rng(0).integers(0, 255, (800, 800), dtype=np.uint8).tobytes(), "image/png")}
    assert client.post("/api/suggest", files=big, data={"x": "5", "y": "5"}).status_code == 413  # --max-upload-mb holds here too


def test_http_uncertainty_is_a_gray_png_of_the_uploads_size(client, default):
    import io

    from PIL import Image

    photo = _photo(90, 130)
    r = client.post("/api/uncertainty", files={"image": ("p.png", _png(photo), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    im = Image.open(io.BytesIO(r.content))
    assert im.mode == "L" and im.size == (130, 90)
    assert np.abs(np.asarray(im) / 255 - default.uncertainty(photo)).max() <= 1 / 255 + 1e-6


def test_http_preview_is_small_and_follows_the_hints(client):
    import io

    from PIL import Image

    photo = _halves()  # 1000x300: the preview is 512x154
    files = {"image": ("p.png", _png(photo), "image/png")}
    plain = client.post("/api/preview", files=files)
    assert plain.status_code == 200 and plain.headers["x-colorize-size"] == "512x154"
    hinted = client.post("/api/preview", files=files, data={"hints": "250,150,12=#1e50ff"})  # upload pixels: the dark half
    assert hinted.status_code == 200
    a = np.asarray(Image.open(io.BytesIO(plain.content))).astype(int)
    b = np.asarray(Image.open(io.BytesIO(hinted.content))).astype(int)
    assert a.shape == b.shape == (154, 512, 3)
    near = b[77, 128]  # the hint, in preview pixels
    assert near[2] - max(near[0], near[1]) > 30 and np.abs(near - a[77, 128]).max() > 30
    r = client.post("/api/preview", files=files, data={"hints": "1200,10=red"})
    assert r.status_code == 400 and "outside the photo (1000x300" in r.json()["detail"]


def test_cli_suggest(capsys, tmp_path):
    pytest.importorskip("onnxruntime")
    import json

    from PIL import Image

    from colorize.cli import main

    path = tmp_path / "p.png"
    Image.fromarray(_photo()).save(path)
    assert main(["suggest", str(path), "90,40", "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["colors"]) == 3 and out["colors"][0]["hex"].startswith("#")
    assert main(["suggest", str(path), "90,40", "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].endswith(f"--hint 90,40={out['colors'][0]['hex']}")
    assert main(["suggest", str(path), "900,40"]) == 1
    assert capsys.readouterr().err.strip() == "colorize: error: point 900,40 is outside the photo (128x96: x must be 0-127, y 0-95)"
    assert main(["suggest", str(path), "9,4", "-k", "0"]) == 2
    assert capsys.readouterr().err.strip() == "colorize: error: -k 0: must be a whole number of suggested colours from 1 to 32"
    assert main(["suggest", str(path), "nine"]) == 2


def test_suggest_and_uncertainty_work_without_torch(tmp_path, default):
    """The default install has no PyTorch: suggestions come from the bundled graph's 'logits' output."""
    pytest.importorskip("onnxruntime")
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _NoTorch())\n")
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(src), os.environ.get("PYTHONPATH", "")])}
    photo = tmp_path / "p.png"
    Image.fromarray(_photo()).save(photo)
    code = ("import json, sys\nfrom colorize import Colorizer\nc = Colorizer.from_pretrained('default')\n"
            f"u = c.uncertainty({str(photo)!r})\ns = c.suggest_colors({str(photo)!r}, 90, 40, k=3)\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'backend': c.backend, 'shape': list(u.shape), "
            "'hex': [x.hex for x in s]}))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"torch": False, "backend": "onnxruntime", "shape": [96, 128],
                   "hex": [c.hex for c in default.suggest_colors(_photo(), 90, 40, k=3)]}
