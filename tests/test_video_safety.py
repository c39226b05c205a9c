"""Video hardening (issue 12, with items of 13/18): truncated streams, bad numbers, SIGTERM, the model's
inference defaults, the module's doctests, animated GIFs. Tiny clips made here with PyAV; no ../shared."""

from __future__ import annotations

import doctest
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from colorize import cli  # noqa: E402
from colorize.cli import video as cli_video  # noqa: E402
from colorize import video as V  # noqa: E402
from colorize.video import VideoError, colorize_video  # noqa: E402

H, W = 48, 64
RENDER = 64


def _pan(n: int) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:H + 20, 0 : W + 2 * n]
    big = np.stack([(xx * 3) % 256, (yy * 2 + 40) % 256, 100 + 0 * xx], -1).astype(np.uint8)
    return [np.ascontiguousarray(big[10 : 10 + H, 2 * i : 2 * i + W]) for i in range(n)]


def _mp4(path: Path, n: int, *, faststart: bool = True) -> Path:
    """H.264 in MP4; ``faststart`` puts the index (with the frame count) before the data, as web videos do."""
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i, f in enumerate(_pan(n)):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def truncated(tmp_path_factory) -> Path:
    """A 40-frame MP4 cut off at the start of frame 16's packet: the index still declares 40 frames."""
    folder = tmp_path_factory.mktemp("trunc")
    full = _mp4(folder / "full.mp4", 40)
    with av.open(str(full)) as c:
        assert c.streams.video[0].frames == 40
        packets = [p.pos for p in c.demux(video=0) if p.size]
    cut = folder / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: packets[16]])
    return cut


@pytest.fixture(scope="module")
def colorizer(tiny_model_path):
    from colorize.pipeline import Colorizer

    return Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=RENDER)


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _no_temp(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------------------------------------- 1. a stream that ends early


def test_truncated_stream_is_an_error_with_counts(truncated, colorizer, tmp_path):
    out = tmp_path / "out.mp4"
    off = V.TemporalOptions(enabled=False)  # the shortfall is the point here, not the blending
    with pytest.raises(VideoError, match=r"stream ends early: 16 of 40 frames decoded") as info:
        colorize_video(truncated, out, colorizer, temporal=off, progress=False)
    assert str(info.value).startswith(str(truncated)) and "\n" not in str(info.value)
    assert not out.exists()
    _no_temp(tmp_path)
    # skip: the frames there are, with the shortfall reported
    report = colorize_video(truncated, out, colorizer, temporal=off, progress=False, on_error="skip")
    assert report.frames == 16 and report.declared_frames == 40
    assert report.warnings == ["stream ends early: 16 of 40 frames decoded"]
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 16
    _no_temp(tmp_path)


@pytest.mark.slow
def test_truncated_stream_cli(truncated, tiny_model_path, tmp_path, capsys):
    common = ["--model", tiny_model_path, "--render-size", "32", "--no-temporal", "-q"]
    out = tmp_path / "o.mp4"
    code, _, err = _cli(capsys, str(truncated), "-o", str(out), *common)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"{truncated}: stream ends early: 16 of 40 frames decoded")
    assert not out.exists()
    _no_temp(tmp_path)
    code, outj, err = _cli(capsys, str(truncated), "-o", str(out), "--on-error", "skip", "--json", *common)
    assert code == 0, err
    (report,) = json.loads(outj)["outputs"]
    assert report["frames"] == 16 and report["declared_frames"] == 40 and report["warnings"]
    out.unlink()
    code, _, err = _cli(capsys, str(truncated), "-o", str(out), "--on-error", "skip", *common)
    assert code == 0 and "warning: stream ends early: 16 of 40 frames decoded" in err


def test_complete_film_is_not_flagged(colorizer, tmp_path):
    clip = _mp4(tmp_path / "whole.mp4", 8, faststart=False)
    report = colorize_video(clip, tmp_path / "o.mp4", colorizer, progress=False, temporal=V.TemporalOptions(enabled=False))
    assert report.frames == 8 and report.declared_frames == 8 and report.warnings == []


def test_ended_early_rule():
    assert V._ended_early(44, 1.72, 96, 3.84, 25.0) == "stream ends early: 44 of 96 frames decoded"
    assert V._ended_early(95, 3.76, 96, 3.84, 25.0) is None  # one frame short: tolerated
    assert V._ended_early(44, 3.80, 96, 3.84, 25.0) is None  # stale count, but the frames reach the end
    assert V._ended_early(44, None, 96, None, 25.0) is not None
    assert V._ended_early(5, 0.4, None, None, 25.0) is None  # nothing declared


def test_mid_stream_decode_error_names_the_counts(colorizer, tmp_path):
    from test_video import _corrupt_clip

    clip = _corrupt_clip(tmp_path)
    with pytest.raises(VideoError, match=r"frame 3: corrupt video data .*\(3 frames decoded before it\)"):
        colorize_video(clip, tmp_path / "stop.mkv", colorizer, progress=False)
    assert not (tmp_path / "stop.mkv").exists()


# ----------------------------------------------------------------------------- 2. bad numbers: one line, exit 2, no work


@pytest.mark.parametrize("args, option", [
    (["--fps", "nan"], "--fps"), (["--fps", "0"], "--fps"), (["--fps", "-5"], "--fps"), (["--fps", "1e9"], "--fps"),
    (["--fps", "inf"], "--fps"),
    (["--crf", "52"], "--crf"), (["--crf", "-1"], "--crf"),
    (["--batch-size", "0"], "--batch-size"), (["--batch-size", "-3"], "--batch-size"),
    (["--temporal-strength", "nan"], "temporal strength"), (["--scene-threshold", "nan"], "scene threshold"),
    (["--scene-threshold", "-1"], "scene threshold"),
    (["--codec", "nosuchcodec"], "--codec"), (["--codec", "aac"], "--codec"),
])
def test_bad_video_numbers_exit_2_before_any_work(args, option, tmp_path, capsys, monkeypatch):
    clip = _mp4(tmp_path / "c.mp4", 3, faststart=False)

    def no_model(_args):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(cli_video, "colorizer_from_args", no_model)
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), *args)
    assert code == 2, err
    assert err.count("\n") == 1 and option in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


def test_crf_range_follows_the_encoder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_video, "colorizer_from_args", lambda a: (_ for _ in ()).throw(AssertionError("loaded")))
    clip = _mp4(tmp_path / "c.mp4", 3, faststart=False)
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "o.mp4"), "--crf", "60")
    assert code == 2 and "0 to 51 for libx264" in err
    if "libvpx-vp9" in av.codecs_available:  # VP9's CRF goes to 63
        with pytest.raises(V.VideoOptionError, match="crf"):
            V.check_video_options(crf=64, codec="libvpx-vp9")
        V.check_video_options(crf=60, codec="libvpx-vp9")


def test_library_refuses_bad_numbers_before_touching_files(colorizer, tmp_path):
    clip = _mp4(tmp_path / "c.mp4", 3, faststart=False)
    for kwargs in ({"fps": float("nan")}, {"crf": 99}, {"batch_size": 0}):
        with pytest.raises(V.VideoOptionError):
            colorize_video(clip, tmp_path / "o.mp4", colorizer, progress=False, **kwargs)
    with pytest.raises(ValueError):
        V.TemporalOptions(scene_threshold=float("nan"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


# ----------------------------------------------------------------------------- 3. SIGTERM cleans up


@pytest.mark.slow  # a subprocess that imports torch and loads a model: ~10-30 s on a loaded 2-core machine
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_mid_encode_leaves_nothing(tiny_model_path, tmp_path):
    clip = _mp4(tmp_path / "term.mp4", 400, faststart=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "term.mp4"
    import colorize

    here = str(Path(colorize.__file__).resolve().parents[1])  # the package under test, not another install
    env = {**os.environ, "PYTHONPATH": here + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "colorize", str(clip), "-o", str(out), "--model", tiny_model_path,
                             "--render-size", "32", "--batch-size", "1", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if any(p.name.startswith(".term.") and p.name.endswith(".tmp.mp4") for p in out_dir.iterdir()):
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"finished before it could be terminated: {proc.communicate()}"
        time.sleep(0.05)  # well inside the encode
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []  # no final output, no hidden temporary


# ----------------------------------------------------------------------------- 4. the model's inference defaults


def test_films_use_the_models_inference_defaults(tmp_path, capsys, monkeypatch):
    import torch

    from colorize.models import create_model
    from colorize.models.weights import save_model
    from colorize.pipeline import Colorizer

    torch.manual_seed(0)
    _, weights = save_model(create_model("compact-small"), tmp_path / "w" / "tuned",
                            extra={"inference": {"temperature": 0.71, "saturation": 1.2}})
    seen: list[tuple[float, float, int]] = []
    real = Colorizer.predict_uv

    def spy(self, y_low, options, hint_map=None):
        seen.append((options.temperature, options.saturation, options.render_size))
        return real(self, y_low, options, hint_map)

    monkeypatch.setattr(Colorizer, "predict_uv", spy)
    clip = _mp4(tmp_path / "c.mp4", 2, faststart=False)
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "a.mp4"), "--model", str(weights), "--render-size", "32", "-q")
    assert code == 0, err
    assert seen and set(seen) == {(0.71, 1.2, 32)}  # the model's T and saturation, the user's render size
    seen.clear()
    code, _, err = _cli(capsys, str(clip), "-o", str(tmp_path / "b.mp4"), "--model", str(weights), "--render-size", "32",
                        "--temperature", "0.3", "-q")
    assert code == 0, err
    assert set(seen) == {(0.3, 1.2, 32)}  # the user's value wins


# ----------------------------------------------------------------------------- 6. doctests collect


def test_video_doctests_parse():
    """``pytest --doctest-modules`` must be able to collect this module (a malformed directive broke it)."""
    tests = doctest.DocTestFinder().find(V)
    assert any(t.examples for t in tests)


# ----------------------------------------------------------------------------- 7. animated GIF in, film out


def test_animated_gif_to_mp4(tiny_model_path, tmp_path, capsys):
    from PIL import Image

    frames = [Image.fromarray(f) for f in _pan(5)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    code, _, err = _cli(capsys, str(gif), "-o", str(tmp_path / "anim.mp4"), "--model", tiny_model_path,
                        "--render-size", str(RENDER), "-q")
    assert code == 0, err
    with av.open(str(tmp_path / "anim.mp4")) as c:
        assert len(list(c.decode(video=0))) == 5
