"""Issue 12: every bad input gets one clear line, nothing is lost, a batch is never aborted by one file.

CLI checks run the real command in a subprocess; bad options are refused before torch is even
imported, so those runs are quick.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import colorize.io as cio
from colorize.io import ImageError, OptionError, atomic_write, check_option, read_image


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("COLORIZE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "colorize", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def gray_file(path: Path, size=(40, 30), **save) -> Path:
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(((xx * 5 + yy * 3) % 256).astype(np.uint8)).save(path, **save)
    return path


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1, r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- 1. option values, checked once


BAD_OPTIONS = [
    (["--render-size", "0"], "--render-size 0"),
    (["--render-size", "-5"], "--render-size -5"),
    (["--render-size", "100000"], "--render-size 100000"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--batch-size", "-3"], "--batch-size -3"),
    (["--quality", "0"], "--quality 0"),
    (["--quality", "101"], "--quality 101"),
    (["--saturation", "-1"], "--saturation -1"),
    (["--saturation", "nan"], "--saturation nan"),
    (["--saturation", "inf"], "--saturation inf"),
    (["--temperature", "0"], "--temperature 0"),
    (["--temperature", "-0.5"], "--temperature -0.5"),
    (["--temperature", "nan"], "--temperature nan"),
    (["--max-pixels", "-1"], "--max-pixels -1"),
    (["--consensus", "16"], "--consensus-radius 16"),
    (["--consensus-radius", "-1"], "--consensus-radius -1"),
    (["--suffix", "x/y"], "--suffix 'x/y'"),
    (["--suffix", ""], "--suffix ''"),
    (["--quality", "high"], "argument --quality"),
]


@pytest.mark.parametrize("extra,named", BAD_OPTIONS, ids=[" ".join(e) or "empty" for e, _ in BAD_OPTIONS])
def test_bad_option_values_are_one_line_exit_2_before_any_work(tmp_path, extra, named):
    src = gray_file(tmp_path / "p.png")
    # a model path that does not exist: had it been loaded first, the error would be about it
    r = run(src, "-m", tmp_path / "missing.json", *extra)
    assert r.returncode == 2, r.stderr
    line = one_error_line(r)
    assert line.startswith("colorize: error: ") and named in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]  # nothing written
    # the same with --json: stdout is still one JSON document naming the problem
    r = run(src, "-m", tmp_path / "missing.json", "--json", *extra)
    assert r.returncode == 2 and named in json.loads(r.stdout)["error"]


def test_quality_out_of_range_was_a_traceback_after_the_work(tmp_path, tiny_model_path):
    src = gray_file(tmp_path / "p.jpg")
    r = run(src, "-m", tiny_model_path, "--quality", "101", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["ok"] == 0
    assert "--quality 101: must be a whole number from 1 to 100" in one_error_line(r)
    assert not (tmp_path / "p_colorized.jpg").exists()


def test_a_refused_fraction_is_reported_as_given():
    with pytest.raises(OptionError, match=r"render_size = 256\.5: must be a whole number"):
        check_option("render_size", 256.5)


def test_check_option_rules():
    assert check_option("render_size", 256.0) == 256 and isinstance(check_option("render_size", 256.0), int)
    assert check_option("saturation", 0) == 0.0
    assert check_option("max_pixels", 10**12) == 10**12
    for name, value in [("render_size", 15), ("render_size", 256.5), ("render_size", "256"), ("render_size", True),
                        ("saturation", math.nan), ("temperature", math.inf), ("quality", 0), ("batch_size", 0),
                        ("max_pixels", 0), ("guided_eps", 0.0), ("render_size", 10**400),
                        ("consensus_radius", -1), ("consensus_radius", 16), ("consensus_radius", 2.5)]:
        with pytest.raises(OptionError) as excinfo:
            check_option(name, value)
        assert isinstance(excinfo.value, ValueError) and str(excinfo.value).startswith(f"{name} = ")


def test_python_api_options_use_the_same_checks(tiny_model_path):
    from colorize.pipeline import ColorizeOptions, Colorizer

    for bad in ({"render_size": 0}, {"render_size": 100000}, {"saturation": math.nan}, {"temperature": 0},
                {"temperature": -1.0}, {"guided_radius": -1}):
        with pytest.raises(OptionError, match=next(iter(bad))):
            ColorizeOptions(**bad)
    c = Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=64)
    gray = np.full((20, 30), 0.5, np.float32)
    with pytest.raises(OptionError, match="render_size = 0"):
        c(gray, render_size=0)
    with pytest.raises(OptionError, match="saturation = nan"):
        c(gray, saturation=float("nan"))
    with pytest.raises(OptionError, match="batch_size = 0"):
        c.colorize_batch([gray], batch_size=0)
    with pytest.raises(OptionError, match="temperature"):
        Colorizer.from_pretrained(tiny_model_path, device="cpu", temperature=-1.0)


def _copy_model(src_json: str, dst: Path, edit=None) -> Path:
    import shutil

    src = Path(src_json)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src.with_suffix(".safetensors"), dst / "m.safetensors")
    info = json.loads(src.read_text())
    if edit:
        edit(info)
    (dst / "m.json").write_text(json.dumps(info))
    return dst / "m.json"


@pytest.mark.parametrize("inference,named", [
    ({"render_size": "big"}, "inference.render_size = 'big'"),
    ({"render_size": 1e9}, "inference.render_size = 1e+09"),
    ({"temperature": -0.2}, "inference.temperature = -0.2"),
    ([1, 2], "'inference' must be an object"),
])
def test_weights_json_inference_values_are_checked_naming_the_file(tmp_path, tiny_model_path, inference, named):
    from colorize.models.backbones import WeightsError
    from colorize.pipeline import Colorizer

    path = _copy_model(tiny_model_path, tmp_path / "w", lambda info: info.__setitem__("inference", inference))
    with pytest.raises(WeightsError) as excinfo:
        Colorizer.from_pretrained(path, device="cpu")
    assert str(excinfo.value).startswith(f"{path}: ") and named in str(excinfo.value)


@pytest.mark.slow
def test_weights_json_bad_inference_on_the_cli(tmp_path, tiny_model_path):
    path = _copy_model(tiny_model_path, tmp_path / "w", lambda info: info.__setitem__("inference", {"render_size": 1e9}))
    src = gray_file(tmp_path / "p.png")
    r = run(src, "-m", path, "--json")
    assert r.returncode == 1 and f"{path}: inference.render_size" in one_error_line(r)
    assert "inference.render_size" in json.loads(r.stdout)["error"]
    assert not (tmp_path / "p_colorized.png").exists()


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_weights_with_nan_or_inf_are_refused_at_load(tmp_path, tiny_model_path, value):
    from safetensors.torch import load_file, save_file

    from colorize.models.backbones import WeightsError
    from colorize.models.weights import load_model

    path = _copy_model(tiny_model_path, tmp_path / "w")
    st = path.with_suffix(".safetensors")
    tensors = load_file(str(st))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[name].view(-1)[0] = value
    save_file(tensors, str(st), metadata={"format": "colorize-weights/1"})
    with pytest.raises(WeightsError) as excinfo:
        load_model(path)
    assert str(excinfo.value).startswith(f"{st}: tensor {name}") and "NaN or infinite" in str(excinfo.value)


# ----------------------------------------------------------------------------- 2. two inputs, one output


def test_two_inputs_mapping_to_one_output_are_refused_before_any_work(tmp_path):
    a, b = gray_file(tmp_path / "a" / "x.png"), gray_file(tmp_path / "b" / "x.png")
    out = tmp_path / "out"
    r = run(a, b, "-o", out, "--overwrite", "-m", tmp_path / "missing.json", "--json")
    assert r.returncode == 2
    line = one_error_line(r)
    assert str(a) in line and str(b) in line and str(out / "x.png") in line
    assert json.loads(r.stdout)["ok"] == 0 and not out.exists()
    p, j = gray_file(tmp_path / "p.png"), gray_file(tmp_path / "p.jpg")
    r = run(p, j, "--format", "png", "-m", tmp_path / "missing.json")  # both -> p_colorized.png beside them
    assert r.returncode == 2 and str(p) in one_error_line(r) and str(j) in one_error_line(r)
    assert not (tmp_path / "p_colorized.png").exists()


def test_an_output_that_is_another_input_is_not_overwritten(tmp_path):
    a = gray_file(tmp_path / "a.png")
    b = gray_file(tmp_path / "a_colorized.png", size=(20, 20))
    before = b.read_bytes()
    r = run(a, b, "--overwrite", "-m", tmp_path / "missing.json")
    assert r.returncode == 2 and "is another input" in one_error_line(r)
    assert b.read_bytes() == before


@pytest.mark.slow
def test_the_same_file_named_twice_is_colorized_once(tmp_path, tiny_model_path):
    src = gray_file(tmp_path / "in" / "x.png")
    r = run(tmp_path / "in", src, "-o", tmp_path / "out", "-m", tiny_model_path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] == 1 and (tmp_path / "out" / "x.png").is_file()


# ----------------------------------------------------------------------------- 3. multi-frame stills


def _animation(path: Path, n: int, fmt: str) -> Path:
    frames = [Image.fromarray(np.full((24, 32), 60 * i, np.uint8)).convert("RGB") for i in range(n)]
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


@pytest.mark.slow
def test_one_frame_gif_is_a_photo_and_animated_webp_tiff_are_refused(tmp_path, tiny_model_path):
    still = _animation(tmp_path / "still.gif", 1, "GIF")
    anim = _animation(tmp_path / "anim.webp", 3, "WEBP")
    pages = _animation(tmp_path / "pages.tif", 2, "TIFF")
    r = run(still, anim, pages, "-m", tiny_model_path, "--json")
    assert r.returncode == 1, r.stderr
    summary = json.loads(r.stdout)
    assert [o["output"] for o in summary["outputs"]] == [str(tmp_path / "still_colorized.png")]  # not an .mp4
    assert Image.open(tmp_path / "still_colorized.png").size == (32, 24)
    errors = {e["input"]: e["error"] for e in summary["errors"]}
    assert "animated image with 3 frames" in errors[str(anim)]
    assert "multi-page image with 2 frames" in errors[str(pages)]
    assert not list(tmp_path.glob("*.mp4"))


def test_is_film_counts_gif_frames(tmp_path):
    from colorize.cli.photo import _is_film

    assert _is_film(_animation(tmp_path / "a.gif", 3, "GIF"))  # animated: colorized as a film
    assert not _is_film(_animation(tmp_path / "b.gif", 1, "GIF"))  # one frame: a photo (was an .mp4)
    assert not _is_film(tmp_path / "missing.gif")  # unreadable: the photo reader explains in one line
    assert _is_film(tmp_path / "missing.mp4")


# ----------------------------------------------------------------------------- 4. bomb headers: read only the header


def _tiff_header(width: int, height: int) -> bytes:
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 512),
               (277, 3, 1), (278, 4, height), (279, 4, width * height % (1 << 32))]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0"


def _png_header(width: int, height: int) -> bytes:
    import zlib

    body = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))


@pytest.mark.parametrize("kind", ["tiff", "png"])
def test_bomb_header_is_refused_after_reading_only_the_header(tmp_path, monkeypatch, kind):
    path = tmp_path / f"bomb.{'tif' if kind == 'tiff' else 'png'}"
    header = _tiff_header(100_000, 100_000) if kind == "tiff" else _png_header(100_000, 100_000)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(40 << 20)  # 40 MB of (sparse) junk after the header
    read = [0]
    real_open = builtins.open

    class Counting:
        def __init__(self, f):
            self._f = f

        def read(self, n=-1):
            data = self._f.read(n)
            read[0] += len(data)
            return data

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    monkeypatch.setattr(cio, "open", lambda *a, **k: Counting(real_open(*a, **k)), raising=False)
    t0 = time.time()
    with pytest.raises(ImageError) as excinfo:
        read_image(path)
    assert "more than the limit" in str(excinfo.value) and "10000000000 pixels" in str(excinfo.value)
    assert read[0] <= 1 << 17, f"read {read[0]} bytes of a {40 << 20}-byte file"
    assert time.time() - t0 < 5


def test_header_check_keeps_normal_files_and_limit_none_reads_them(tmp_path):
    src = gray_file(tmp_path / "ok.tif", size=(30, 20))
    assert read_image(src).size == (30, 20)
    assert read_image(src, max_pixels=None).size == (30, 20)
    with pytest.raises(ImageError, match="more than the limit of 100"):
        read_image(src, max_pixels=100)
    with open(src, "rb") as f:  # a seekable stream gets the same early check
        with pytest.raises(ImageError, match="more than the limit of 100"):
            read_image(f, max_pixels=100)


# ----------------------------------------------------------------------------- 5. nothing aborts a whole batch


@pytest.mark.slow
def test_symlink_loop_and_dangling_link_are_per_file_errors(tmp_path, tiny_model_path):
    good = gray_file(tmp_path / "good.png")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    r = run(good, tmp_path / "loop1", tmp_path / "dangling.png", "-o", tmp_path / "out", "-m", tiny_model_path, "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    summary = json.loads(r.stdout)
    assert summary["ok"] == 1 and (tmp_path / "out" / "good.png").is_file()
    errors = {Path(e["input"]).name: e["error"] for e in summary["errors"]}
    assert "symbolic links" in errors["loop1"] and errors["dangling.png"] == "no such file"


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")])
def test_out_of_memory_in_a_batch_fails_only_that_image(tmp_path, tiny_model_path, monkeypatch, capsys, error):
    from colorize import cli
    from colorize.pipeline import Colorizer

    files = [gray_file(tmp_path / "in" / f"{n}.png", size=size) for n, size in (("a", (40, 30)), ("big", (70, 50)), ("c", (30, 40)))]
    real = Colorizer.colorize_batch

    def fake(self, grays, options=None, batch_size=8, **kwargs):
        if any(g.shape == (50, 70) for g in grays):
            raise error
        return real(self, grays, options, batch_size, **kwargs)

    monkeypatch.setattr(Colorizer, "colorize_batch", fake)
    code = cli.main([*map(str, files), "-o", str(tmp_path / "out"), "-m", tiny_model_path, "--json", "--render-size", "64"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and summary["ok"] == 2 and summary["failed"] == 1
    assert summary["errors"][0]["input"] == str(files[1]) and "not enough memory" in summary["errors"][0]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


def test_python_api_refuses_unusable_arrays(tiny_model_path):
    from colorize.errors import ImageArrayError
    from colorize.pipeline import Colorizer

    c = Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=64)
    for bad, reason in [(np.zeros((0, 0), np.float32), "empty image"), (np.zeros((0, 5, 3), np.uint8), "empty image"),
                        (np.full((8, 8), np.nan, np.float32), "NaN or infinite"),
                        (np.full((8, 8, 3), np.inf), "NaN or infinite"),
                        (np.full((8, 8), 300, np.int64), "0..255"), (np.full((8, 8), -1, np.int32), "0..255"),
                        (np.zeros((8, 8), bool), "dtype bool"), (np.zeros((8, 8, 5), np.uint8), "shape")]:
        with pytest.raises(ImageArrayError, match=reason):
            c(bad)
        assert issubclass(ImageArrayError, ValueError)
    with pytest.raises(ImageArrayError, match="empty image"):
        c.colorize_batch([np.zeros((0, 4), np.float32)])


def test_integer_arrays_are_8_bit_levels(tiny_model_path):
    from colorize.pipeline import Colorizer

    c = Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=64)
    u8 = (np.mgrid[0:24, 0:32][1] * 8).astype(np.uint8)
    want = c(u8).astype(np.float64) / 255
    for dtype in (np.int64, np.int32, np.uint32):
        got = c(u8.astype(dtype))
        assert got.dtype == np.float32 and np.abs(got - want).max() < 2 / 255  # not white


@pytest.mark.slow
def test_json_stays_valid_when_the_model_cannot_be_loaded_or_nothing_is_left(tmp_path):
    src = gray_file(tmp_path / "p.png")
    r = run(src, "-m", tmp_path / "missing.json", "--json")
    assert r.returncode == 1 and "missing.json" in json.loads(r.stdout)["error"]
    (tmp_path / "p_colorized.png").write_bytes(b"keep")
    r = run(src, "-m", tmp_path / "missing.json", "--json")
    summary = json.loads(r.stdout)
    assert r.returncode == 1 and summary["failed"] == 1 and "error" not in summary


def test_unexpected_errors_are_one_line_and_json(tmp_path, tiny_model_path, monkeypatch, capsys):
    from colorize import cli
    from colorize.cli import photo

    def broken(*a, **k):
        raise TypeError("something inside broke")

    monkeypatch.delenv("COLORIZE_DEBUG", raising=False)
    monkeypatch.setattr(photo, "_colorize_planned", broken)
    code = cli.main([str(gray_file(tmp_path / "p.png")), "-m", tiny_model_path, "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and "something inside broke" in json.loads(out)["error"]
    assert err.count("\n") == 1 and "unexpected TypeError" in err


# ----------------------------------------------------------------------------- 6. smaller


def test_existing_output_is_reported_once_and_no_model_is_loaded(tmp_path):
    src = gray_file(tmp_path / "p.png")
    (tmp_path / "p_colorized.png").write_bytes(b"keep")
    r = run(src, "-m", tmp_path / "missing.json")  # a model load would fail loudly
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.count("already exists") == 1 and "missing.json" not in r.stderr, r.stderr
    assert (tmp_path / "p_colorized.png").read_bytes() == b"keep"


def test_guided_run_with_nothing_left_to_do_does_not_crash(tmp_path):
    src = gray_file(tmp_path / "a.png")
    (tmp_path / "a_colorized.png").write_bytes(b"keep")
    r = run(src, "--hint", "1,1=red", "--hint-method", "model", "-m", tmp_path / "missing.json", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "already exists" in json.loads(r.stdout)["errors"][0]["error"]


@pytest.mark.parametrize("ext", [".pgm", ".ppm"])
@pytest.mark.slow
def test_unwritable_input_format_gets_a_png_output(tmp_path, tiny_model_path, ext):
    src = gray_file(tmp_path / f"scan{ext}")
    r = run(src, "-m", tiny_model_path, "-q")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "scan_colorized.png").size == (40, 30)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_atomic_write_mode_no_clobber_and_cleanup(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write(target, lambda f: f.write(b"one"))
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()  # like open(), not mkstemp's 0600
    os.chmod(target, 0o640)
    atomic_write(target, lambda f: f.write(b"two"))  # replacing keeps the file's own mode
    assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o640
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda f: f.write(b"three"), overwrite=False)
    assert target.read_bytes() == b"two"

    def fail(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "g.bin", fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]  # no temp file, no partial output


def test_export_and_weights_files_get_an_ordinary_mode(tmp_path, tiny_model_path):
    from colorize.export import ExportError, _atomic_write
    from colorize.models.weights import load_model, save_model

    out = tmp_path / "m.onnx"
    _atomic_write(out, b"onnx bytes", overwrite=False)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    with pytest.raises(ExportError, match="already exists"):
        _atomic_write(out, b"again", overwrite=False)
    model, _ = load_model(tiny_model_path)
    st, js = save_model(model, tmp_path / "w" / "m")
    assert {stat.S_IMODE(p.stat().st_mode) for p in (st, js)} == {0o666 & ~_umask()}
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["m.json", "m.safetensors"]


@pytest.mark.slow
def test_sigterm_mid_write_cleans_up_like_ctrl_c(tmp_path, tiny_model_path):
    """A plain `kill` (SIGTERM) while a photo is being written leaves no temp file and no partial output."""
    import subprocess
    import sys

    src = tmp_path / "in.png"
    Image.fromarray(np.full((24, 32), 120, np.uint8)).save(src)
    out_dir = tmp_path / "out"
    script = f"""
import os, signal, sys, time
import colorize.io as cio
real = cio.atomic_write
def dying(path, write_fn, **kw):
    def write(f):
        f.write(b"partial")
        f.flush()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    return real(path, write, **kw)
cio.atomic_write = dying
from colorize.cli import main
sys.exit(main([{str(src)!r}, "-o", {str(out_dir)!r}, "--model", {tiny_model_path!r}, "--json"]))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 143, run.stderr
    assert "Traceback" not in run.stderr
    json.loads(run.stdout)  # the --json summary is still one valid document
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
