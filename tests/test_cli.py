"""The real ``colorize`` command, end to end, on files the tests make."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "colorize", *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def gray_file(path: Path, size=(80, 60), mode="L", **save) -> Path:
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    arr = ((xx * 3 + yy * 2) % 256).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path, **save)
    return path


def luma(img: Image.Image) -> np.ndarray:
    a = np.asarray(img.convert("RGB")).astype(np.float64)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def test_help_is_fast_and_imports_no_torch():
    code = "import sys, colorize.cli as c; c.build_colorize_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"
    r = run("--help")
    assert r.returncode == 0 and "colorize scans/ -o out/ --recursive" in r.stdout


@pytest.mark.slow
def test_single_file_beside_input_then_overwrite_rules(tmp_path, tiny_model_path):
    src = gray_file(tmp_path / "old photo.png")
    r = run(str(src), "-m", tiny_model_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "old photo_colorized.png"
    img = Image.open(out)
    assert img.size == (80, 60) and img.mode == "RGB"
    assert (np.abs(luma(img) - np.asarray(Image.open(src), dtype=np.float64)) <= 1).mean() >= 0.99
    before = out.read_bytes()
    again = run(str(src), "-m", tiny_model_path)
    assert again.returncode == 1 and "already exists (use --overwrite)" in again.stderr
    assert "Traceback" not in again.stderr and out.read_bytes() == before
    assert run(str(src), "-m", tiny_model_path, "--overwrite", "--saturation", "3").returncode == 0
    assert out.read_bytes() != before


@pytest.mark.slow
def test_folder_recursive_json_and_bad_files(tmp_path, tiny_model_path):
    scans = tmp_path / "scans"
    gray_file(scans / "a.jpg")
    gray_file(scans / "sub" / "b.png", size=(40, 50))
    gray_file(scans / "sub" / "deeper" / "c.webp", size=(33, 21))
    (scans / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (scans / "notes.txt").write_text("not an image, and not an image suffix: ignored")
    out = tmp_path / "out"
    r = run(str(scans), "-o", str(out), "--recursive", "--json", "-m", tiny_model_path)
    assert r.returncode == 1  # one bad file
    summary = json.loads(r.stdout)
    assert summary["ok"] == 3 and summary["failed"] == 1
    assert "broken.jpg" in summary["errors"][0]["input"] and "corrupt" in summary["errors"][0]["error"]
    for rel, size in [("a.jpg", (80, 60)), ("sub/b.png", (40, 50)), ("sub/deeper/c.webp", (33, 21))]:
        assert Image.open(out / rel).size == size
    # without --recursive only the top level is taken
    r2 = run(str(scans), "-o", str(tmp_path / "flat"), "-m", tiny_model_path, "--json")
    assert json.loads(r2.stdout)["ok"] == 1


@pytest.mark.slow
def test_globs_and_output_format(tmp_path, tiny_model_path):
    for n in "xyz":
        gray_file(tmp_path / f"{n}.png")
    r = run(str(tmp_path / "*.png"), "-o", str(tmp_path / "o"), "--format", "jpg", "-m", tiny_model_path, "-q")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x.jpg", "y.jpg", "z.jpg"]


@pytest.mark.parametrize(
    "name,content,reason",
    [("missing.jpg", None, "no such file"), ("t.png", b"hello", "not an image"), ("empty.png", b"", "empty")],
)
@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(tmp_path, tiny_model_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    r = run(str(path), "-m", tiny_model_path)
    assert r.returncode == 1
    assert reason in r.stderr and str(path.name) in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_decompression_bomb_guard_and_truncated_file(tmp_path, tiny_model_path):
    big = gray_file(tmp_path / "big.png", size=(400, 300))
    r = run(str(big), "--max-pixels", "10000", "-m", tiny_model_path)
    assert r.returncode == 1 and "more than the limit" in r.stderr
    jpg = gray_file(tmp_path / "cut.jpg", size=(200, 200), quality=95)
    jpg.write_bytes(jpg.read_bytes()[:600])
    r = run(str(jpg), "-m", tiny_model_path)
    assert r.returncode == 1 and "truncated" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_alpha_exif_and_16_bit(tmp_path, tiny_model_path):
    la = Image.fromarray(np.full((30, 40), 128, np.uint8)).convert("LA")
    alpha = np.tile(np.arange(40, dtype=np.uint8) * 6, (30, 1))
    la.putalpha(Image.fromarray(alpha))
    la.save(tmp_path / "la.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "rot.jpg", exif=exif)
    arr16 = (np.arange(30 * 40).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "deep.png")
    r = run(str(tmp_path / "la.png"), str(tmp_path / "rot.jpg"), str(tmp_path / "deep.png"), "-o", str(tmp_path / "o"), "-m", tiny_model_path)
    assert r.returncode == 0, r.stderr
    out_la = Image.open(tmp_path / "o" / "la.png")
    assert out_la.mode == "RGBA" and np.array_equal(np.asarray(out_la)[..., 3], alpha)
    assert Image.open(tmp_path / "o" / "rot.jpg").size == (30, 40)
    from colorize.io import read_image

    deep = read_image(tmp_path / "o" / "deep.png")
    assert deep.bit_depth == 16
    assert np.abs(deep.gray - arr16 / 65535).max() < 2 / 255


@pytest.mark.slow
def test_colour_input_says_it_is_recolorized(tmp_path, tiny_model_path, colour_photo):
    Image.fromarray(colour_photo).save(tmp_path / "c.png")
    r = run(str(tmp_path / "c.png"), "-m", tiny_model_path)
    assert r.returncode == 0 and "re-colorized from its luminance" in r.stderr


@pytest.mark.slow
def test_models_and_evaluate_commands(tmp_path, tiny_model_path, colour_photo):
    r = run("models", "--json")
    assert r.returncode == 0
    listing = json.loads(r.stdout)
    assert {"compact", "hypercolumn", "residual-encoder", "eccv16"} <= {a["name"] for a in listing["architectures"]}
    for b in listing["bundled"]:
        assert "trained" in b["provenance"]
    truth = tmp_path / "truth"
    truth.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(colour_photo, 20 * i, axis=1)).save(truth / f"{i}.png")
    r = run("evaluate", str(truth), "-m", f"tiny={tiny_model_path}", "--json", "--report", str(tmp_path / "r.md"))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    text = json.dumps(result)
    assert '"gray"' in text and '"tiny"' in text
    assert (tmp_path / "r.md").is_file()


def test_read_ahead_shrinks_later_batches_at_the_size_known_then(tmp_path):
    """The first batch is shrunk at a guess while the model loads; batches submitted after it loaded use its size."""
    from concurrent.futures import ThreadPoolExecutor

    from colorize.cli.photo import _read_ahead
    from colorize.render import render_shape

    for n in "abc":
        gray_file(tmp_path / f"{n}.png", size=(200, 100))
    chunks = iter([[(tmp_path / f"{n}.png", tmp_path / "out" / f"{n}.png")] for n in "abc"])
    size = {"now": 16}
    with ThreadPoolExecutor(1) as reader:
        batches = _read_ahead(reader, chunks, None, lambda: size["now"])
        size["now"] = 64  # the model has loaded
        shapes = [future.result()[0][0][3].shape[-2:] for future in batches]
    assert shapes == [render_shape(100, 200, 16), render_shape(100, 200, 64), render_shape(100, 200, 64)]


def test_read_ahead_keeps_order_and_decodes_one_batch_ahead(tmp_path):
    """Batch i+1 is submitted while batch i is being colorized, never more; bad files are reported per batch."""
    from concurrent.futures import ThreadPoolExecutor

    from colorize.cli.photo import _read_ahead
    from colorize.render import render_shape

    names = ["a.png", "b.png", "bad.png", "c.png", "d.png"]
    for n in names:
        if n == "bad.png":
            (tmp_path / n).write_bytes(b"not an image")
        else:
            gray_file(tmp_path / n, size=(20, 10))
    chunks = [[(tmp_path / n, tmp_path / "out" / n) for n in names[i : i + 2]] for i in range(0, len(names), 2)]
    submitted = []

    class CountingReader(ThreadPoolExecutor):
        def submit(self, fn, chunk, *args):
            submitted.append(chunk)
            return super().submit(fn, chunk, *args)

    with CountingReader(1) as reader:
        batches = _read_ahead(reader, iter(chunks), None, lambda: 8)
        assert len(submitted) == 1  # the first batch starts before anything is asked for (while the model loads)
        seen = []
        for i, future in enumerate(batches):
            assert len(submitted) == min(i + 2, len(chunks))
            loaded, failed = future.result()
            assert all(low.shape == (1, 1, *render_shape(10, 20, 8)) for *_, low in loaded)  # shrunk in the reader thread
            seen += [src.name for src, *_ in loaded]
            seen += [f"failed:{src.rsplit('/', 1)[-1]}" for src, _ in failed]
    assert seen == ["a.png", "b.png", "c.png", "failed:bad.png", "d.png"]
