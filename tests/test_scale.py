"""Photos on Ray (issue 17): the same job as a local run, resumable, fault-tolerant.

The Ray tests share one local Ray runtime the module starts and stops itself (2 CPUs); images are
tiny and made here; the model is the suite's tiny random-weight one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize.cli import main


def photo(path: Path, size=(64, 48), seed: int = 0, mode: str = "L") -> Path:
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    arr = ((xx * 3 + yy * 2 + seed * 17) % 256).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def visible_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


# ----------------------------------------------------------------------------- no Ray installed


def test_without_ray_is_one_line_naming_the_extra(tmp_path, tiny_model_path, monkeypatch, capsys):
    src = photo(tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when it is not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    assert main([str(src), "-o", str(tmp_path / "out"), "-m", tiny_model_path, "--ray"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["colorize: error: --ray needs the 'ray' extra: pip install 'colorize-bw[ray]'"]
    assert not (tmp_path / "out").exists()

    from colorize.scale import RayMissingError, colorize_on_ray

    with pytest.raises(RayMissingError, match=r"colorize-bw\[ray\]"):
        colorize_on_ray([src], tmp_path / "out", model=tiny_model_path)


@pytest.mark.parametrize("argv, reason", [
    (["--workers", "2"], "--workers 2: only with --ray"),
    (["--ray", "--workers", "0"], "--workers 0: must be 1 or more"),
    (["--ray", "--hint", "1,1=red"], "guided colorization"),
    (["--ray", "local", "-o", "-"], "standard input/output"),
])
def test_ray_options_are_checked(tmp_path, argv, reason, capsys):
    src = photo(tmp_path / "a.png")
    assert main([str(src), "-o", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0]


# ----------------------------------------------------------------------------- on a local Ray runtime


@pytest.mark.slow
def test_ray_run_matches_the_local_run(tmp_path, tiny_model_path, ray_local, capsys):
    """Same output names and formats, pixels within 1/255, the same summary, bad file reported, exit 1."""
    scans = tmp_path / "scans"
    for i in range(3):
        photo(scans / f"p{i}.png", seed=i)
    photo(scans / "sub" / "q.jpg", seed=5)
    photo(scans / "sub" / "r.bmp", size=(40, 30), seed=6)
    (scans / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    common = [str(scans), "--recursive", "-m", tiny_model_path, "--json"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 1
    local = json.loads(capsys.readouterr().out)
    assert main([*common, "-o", str(tmp_path / "ray"), "--ray", "--workers", "2"]) == 1
    on_ray = json.loads(capsys.readouterr().out)

    assert visible_files(tmp_path / "ray") == visible_files(tmp_path / "local") == ["p0.png", "p1.png", "p2.png", "sub/q.jpg", "sub/r.bmp"]
    for name in visible_files(tmp_path / "local"):
        a, b = pixels(tmp_path / "local" / name), pixels(tmp_path / "ray" / name)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1, name
    assert on_ray.keys() == local.keys()
    assert (on_ray["ok"], on_ray["failed"], on_ray["model"]) == (local["ok"], local["failed"], local["model"]) == (5, 1, local["model"])
    assert on_ray["errors"] == local["errors"] and "broken.png" in on_ray["errors"][0]["input"]
    strip = lambda outs, root: [{**o, "output": os.path.relpath(o["output"], root), "seconds": 0} for o in outs]
    assert strip(on_ray["outputs"], tmp_path / "ray") == strip(local["outputs"], tmp_path / "local")

    # no overwrite without --overwrite: every input is that input's failure, nothing is touched, no Ray job
    before = {n: os.stat(tmp_path / "ray" / n).st_mtime_ns for n in visible_files(tmp_path / "ray")}
    assert main([*common, "-o", str(tmp_path / "ray"), "--ray"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["ok"] == 0 and again["failed"] == 6
    assert sum("already exists (use --overwrite)" in e["error"] for e in again["errors"]) == 5
    assert before == {n: os.stat(tmp_path / "ray" / n).st_mtime_ns for n in visible_files(tmp_path / "ray")}


@pytest.mark.slow
def test_skip_existing_finishes_only_what_is_missing(tmp_path, tiny_model_path, ray_local):
    from colorize.scale import colorize_on_ray, exit_code

    for i in range(4):
        photo(tmp_path / "in" / f"p{i}.png", seed=i)
    out = tmp_path / "out"
    first = colorize_on_ray([tmp_path / "in"], out, model=tiny_model_path, workers=1, progress=False)
    assert (first["ok"], first["failed"], exit_code(first)) == (4, 0, 0) and "skipped" not in first
    # after an interruption: one output missing, one damaged (not complete), a stray hidden temp file
    (out / "p1.png").unlink()
    (out / "p2.png").write_bytes(b"\x89PNG half")
    (out / ".p3.png.1234.tmp").write_bytes(b"partial")
    kept = {n: os.stat(out / n).st_mtime_ns for n in ("p0.png", "p3.png")}
    resumed = colorize_on_ray([tmp_path / "in"], out, model=tiny_model_path, workers=1, progress=False, skip_existing=True,
                              overwrite=False)
    # p2.png is damaged: not complete, so without overwrite it is reported, never silently replaced
    assert [o["output"] for o in resumed["outputs"]] == [str(out / "p1.png")]
    assert sorted(Path(s["output"]).name for s in resumed["skipped"]) == ["p0.png", "p3.png"]
    assert [Path(e["input"]).name for e in resumed["errors"]] == ["p2.png"]
    assert kept == {n: os.stat(out / n).st_mtime_ns for n in kept}
    (out / "p2.png").unlink()  # the user removes the damaged file: the next run redoes it (no Ray job for the rest)
    last = colorize_on_ray([tmp_path / "in"], out, model=tiny_model_path, progress=False, skip_existing=True,
                              overwrite=False)
    assert (last["ok"], last["failed"], len(last["skipped"]), exit_code(last)) == (1, 0, 3, 0)
    assert (out / "p2.png").stat().st_size > 100
    assert visible_files(out) == [f"p{i}.png" for i in range(4)]
    assert all(pixels(out / f"p{i}.png").shape == (48, 64, 3) for i in range(4))


def _worker_pids() -> list[int]:
    """Processes of this job's model actors (Ray names them ``ray::MapWorker(MapBatches(_PhotoWorker))``)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"_PhotoWorker" in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes in /proc")
def test_a_killed_worker_loses_nothing(tmp_path, tiny_model_path, ray_local):
    """SIGKILL one model worker mid-job: its batch is re-run elsewhere; every output exists once and decodes."""
    from colorize.scale import colorize_on_ray

    n = 24
    for i in range(n):
        photo(tmp_path / "in" / f"p{i:02d}.png", size=(96, 72), seed=i)
    out = tmp_path / "out"
    killed: list[tuple[int, int]] = []  # (pid, outputs there when it was killed)
    finished = threading.Event()

    def killer() -> None:
        while not finished.is_set():
            written = len(visible_files(out)) if out.exists() else 0
            pids = _worker_pids()
            if written >= 2 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], written))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        summary = colorize_on_ray([tmp_path / "in"], out, model=tiny_model_path, workers=2, batch_size=2, progress=False)
    finally:
        finished.set()
        thread.join(timeout=10)
    assert killed and killed[0][1] < n, f"the worker was not killed mid-job: {killed}"
    assert (summary["ok"], summary["failed"]) == (n, 0), summary["errors"]
    assert visible_files(out) == [f"p{i:02d}.png" for i in range(n)]  # each exactly once, no partial file under a final name
    assert sorted(o["output"] for o in summary["outputs"]) == [str(out / f"p{i:02d}.png") for i in range(n)]
    for i in range(n):
        assert pixels(out / f"p{i:02d}.png").shape == (72, 96, 3)


# ----------------------------------------------------------------------------- films


@pytest.mark.slow
def test_film_split_at_the_cut_matches_a_local_run(tmp_path, tiny_model_path, ray_local, capsys):
    """Two shots on two workers, joined in order with the audio copied; frames within 1/255 of a local run."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from tests.test_video import _frames, make_clip, probe

    from colorize.pipeline import Colorizer
    from colorize.video import TemporalOptions, colorize_video

    a = _frames(6, seed=0)
    b = [np.clip((255 - f.astype(int)) // 3, 0, 255).astype(np.uint8) for f in _frames(6, seed=3)]  # a darker, other shot
    (tmp_path / "films").mkdir()
    film = make_clip(tmp_path / "films" / "reel.mp4", a + b)
    # Both sides write lossless RGB (PNG in MP4): a lossy encoder turns a 1/255 rounding difference into
    # several levels of decoded difference (8/255 seen with H.264 on a CI machine), which would hide what is
    # compared here. The local run gets the batches the workers get (a shot starts a new batch), so float
    # rounding of other batch shapes is not what is measured either.
    local = colorize_video(film, tmp_path / "local.mp4", Colorizer.from_pretrained(tiny_model_path, backend="torch"),
                           temporal=TemporalOptions(), progress=False, codec="png", batch_size=6)
    assert local.scene_cuts == [6]

    code = main([str(tmp_path / "films"), "-o", str(tmp_path / "out"), "--ray", "--workers", "2", "-m", tiny_model_path,
                 "--backend", "torch", "--codec", "png", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    (report,) = summary["outputs"]
    assert report["output"] == str(tmp_path / "out" / "reel.mp4") and report["shots"] == 2
    assert report["scene_cuts"] == local.scene_cuts and report["frames"] == local.frames == 12
    assert report["audio"] == local.audio == ["aac: copied"]
    ours, theirs, src = probe(tmp_path / "out" / "reel.mp4"), probe(tmp_path / "local.mp4"), probe(film)
    assert ours["times"] == theirs["times"] == src["times"]
    assert ours["audio_packets"] == src["audio_packets"]  # copied byte for byte
    diff = max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(ours["rgb"], theirs["rgb"]))
    assert ours["codec"] == theirs["codec"] == "png"
    print(f"film on Ray vs local: max frame difference {diff}/255")
    assert diff <= 1, diff  # the tolerance docs/scale.md states
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # the shot files are gone
