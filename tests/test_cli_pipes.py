"""The ``colorize`` command as people use it in shells and scripts (issue 18): ``-`` for standard
input/output, re-runs with ``--skip-existing``, plain and complete output in pipes, ``**`` globs,
help text without paths users do not have, ``--sequence`` naming. Every test runs the real command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None, env: dict | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("COLORIZE_DEBUG", None)
    out = subprocess.run([sys.executable, "-m", "colorize", *map(str, args)], capture_output=True, timeout=300, cwd=cwd,
                         env=full_env, input=stdin)
    if text:
        out.stdout = out.stdout.decode("utf-8", "replace")
    out.stderr = out.stderr.decode("utf-8", "replace")
    return out


def gray_file(path: Path, size=(48, 32)) -> Path:
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(((xx * 5 + yy * 3) % 256).astype(np.uint8)).save(path)
    return path


def stderr_lines(r: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in r.stderr, r.stderr
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


# ----------------------------------------------------------------------------- 1. - is stdin / stdout


@pytest.mark.slow
def test_stdin_to_file_and_file_to_stdout(tmp_path, tiny_model_path):
    src = gray_file(tmp_path / "x.png")
    r = run("-", "-o", tmp_path / "y.png", "-m", tiny_model_path, stdin=src.read_bytes())
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "y.png").size == (48, 32)
    assert not (tmp_path / "-").exists()

    r = run(src, "-o", "-", "-m", tiny_model_path, "-v", text=False)  # -v: per-file lines, on stderr only
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"\x89PNG\r\n\x1a\n") and r.stdout.endswith(b"IEND\xaeB`\x82")  # nothing but the PNG
    img = Image.open(io.BytesIO(r.stdout))
    assert img.format == "PNG" and img.size == (48, 32) and img.mode == "RGB"
    assert "<stdout>" in r.stderr
    assert not (tmp_path / "-").exists() and not Path("-").exists()

    r = run("-", "-o", "-", "--format", "jpg", "-m", tiny_model_path, stdin=src.read_bytes(), text=False)
    assert r.returncode == 0, r.stderr
    assert Image.open(io.BytesIO(r.stdout)).format == "JPEG"


@pytest.mark.slow
def test_block_buffered_stdout_is_complete_after_the_quick_exit(tmp_path, tiny_model_path):
    """The command ends with os._exit after a photo run (cli.console): what is still in Python's
    buffers must reach the pipe. Without PYTHONUNBUFFERED stdout is block-buffered in a pipe."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    src = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (240, 320), dtype=np.uint8)).save(src)
    cmd = [sys.executable, "-m", "colorize", str(src), "-m", tiny_model_path]
    r = subprocess.run([*cmd, "-o", "-", "--format", "jpg"], capture_output=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) > 16384 and r.stdout.endswith(b"\xff\xd9")  # more than one buffer, through the EOI marker
    assert Image.open(io.BytesIO(r.stdout)).size == (320, 240)
    r = subprocess.run([*cmd, "-o", str(tmp_path / "out.png"), "--json"], capture_output=True, timeout=300, env=env, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] == 1, r.stderr
    r = subprocess.run([*cmd[:3], str(tmp_path / "missing.png"), "--json"], capture_output=True, timeout=300, env=env, text=True)
    assert r.returncode == 1 and json.loads(r.stdout)["failed"] == 1  # the exit code survives the quick exit too


def test_the_quick_exit_is_for_photo_runs_alone(monkeypatch):
    import threading

    from colorize import cli

    monkeypatch.delenv("COLORIZE_DEBUG", raising=False)
    monkeypatch.delitem(sys.modules, "ray", raising=False)  # another test may have imported it here
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # pytest's own threads are not the command's
    assert cli._can_skip_teardown(["photo.jpg", "-o", "out.jpg"])
    assert not cli._can_skip_teardown(["train", "--data", "x"]) and not cli._can_skip_teardown(["web"])
    monkeypatch.setitem(sys.modules, "ray", object())  # a Ray session shuts down in atexit
    assert not cli._can_skip_teardown(["photo.jpg"])
    monkeypatch.delitem(sys.modules, "ray")
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # a thread still working
    assert not cli._can_skip_teardown(["photo.jpg"])
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setenv("COLORIZE_DEBUG", "1")
    assert not cli._can_skip_teardown(["photo.jpg"])


@pytest.mark.slow
def test_stdout_refusals_are_one_line(tmp_path):
    a, b = gray_file(tmp_path / "a.png"), gray_file(tmp_path / "b.png")
    for args, needle in [((a, b, "-o", "-"), "standard output takes one image"),
                         ((a, "-o", "-", "--json"), "--json with -o -"),
                         (("-", "-o", tmp_path / "out"), "needs -o FILE.png")]:
        r = run(*args, "-m", "/no/such/model.json", stdin=b"")
        lines = stderr_lines(r)
        assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr
        assert r.stdout == ""
    assert not (tmp_path / "-").exists() and not Path("-").exists()


# ----------------------------------------------------------------------------- 2. --skip-existing


@pytest.mark.slow
def test_skip_existing_finishes_what_is_missing_without_loading_the_model_when_done(tmp_path, tiny_model_path):
    scans = tmp_path / "scans"
    for n in "abc":
        gray_file(scans / f"{n}.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"an earlier, complete output")
    r = run(scans, "-o", out, "--skip-existing", "--json", "-m", tiny_model_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["ok"] == 2 and summary["failed"] == 0
    assert summary["skipped"] == [{"input": str(scans / "a.png"), "output": str(out / "a.png")}]
    assert (out / "a.png").read_bytes() == b"an earlier, complete output"
    assert Image.open(out / "b.png").size == (48, 32)
    # everything is done: exit 0, and a model that does not exist is never loaded
    r = run(scans, "-o", out, "--skip-existing", "-m", "/no/such/model.json")
    assert r.returncode == 0, r.stderr
    assert stderr_lines(r) == ["skipped 3 inputs whose output exists (--skip-existing); nothing to do"]


def test_skip_existing_and_overwrite_exclude_each_other(tmp_path):
    r = run(gray_file(tmp_path / "a.png"), "--skip-existing", "--overwrite")
    lines = stderr_lines(r)
    assert r.returncode == 2 and len(lines) == 1 and "--skip-existing and --overwrite" in lines[0]


def test_existing_output_is_refused_before_the_model_is_loaded(tmp_path):
    src = gray_file(tmp_path / "a.png")
    gray_file(tmp_path / "a_colorized.png")
    r = run(src, "-m", "/no/such/model.json")
    assert r.returncode == 1 and "already exists" in r.stderr and "no such model" not in r.stderr, r.stderr


# ----------------------------------------------------------------------------- 3. plain, complete output when not a terminal


@pytest.mark.slow
def test_models_in_a_pipe_is_not_squashed():
    r = run("models")
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout and "\x1b[" not in r.stdout
    listing = json.loads(run("models", "--json").stdout)
    for b in listing["bundled"]:  # every bundled model on one line, with its whole provenance note
        line = next(ln for ln in r.stdout.splitlines() if f" {b['name']} " in ln)
        note = b.get("provenance", {}).get("licence") or b.get("provenance", {}).get("note") or ""
        assert note in line
    for a in listing["architectures"]:
        assert any(a["description"] in ln and f" {a['name']} " in ln for ln in r.stdout.splitlines()), a


def _on_a_terminal(*args: str, env: dict | None = None) -> str:
    """Run the command with stdout and stderr on a pseudo-terminal; return what it printed."""
    import pty

    main, sub = pty.openpty()
    full_env = {**os.environ, "COLUMNS": "200", "TERM": "xterm-256color", **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)
    p = subprocess.Popen([sys.executable, "-m", "colorize", *args], stdin=subprocess.DEVNULL, stdout=sub, stderr=sub,
                         env=full_env, close_fds=True)
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=300)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_no_color_on_a_terminal():
    assert "\x1b[" in _on_a_terminal("models")  # a terminal gets colour...
    assert "\x1b[" not in _on_a_terminal("models", env={"NO_COLOR": "1"})  # ...unless NO_COLOR
    assert "\x1b[" not in _on_a_terminal("models", "--no-color")


@pytest.mark.slow
def test_evaluate_in_a_pipe_prints_whole_numbers(tmp_path, tiny_model_path, colour_photo):
    truth = tmp_path / "a_folder_with_a_long_name_so_the_table_is_wide" / "truth"
    truth.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.roll(colour_photo, 20 * i, axis=1)).save(truth / f"{i}.png")
    r = run("evaluate", truth, "-m", f"a_long_model_label={tiny_model_path}", "-m", f"another_label={tiny_model_path}")
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout and "\x1b[" not in r.stdout
    rows = [ln for ln in r.stdout.splitlines() if "a_long_model_label" in ln]
    assert rows, r.stdout
    import re

    assert len(re.findall(r"\d+\.\d+", rows[0])) >= 3, rows[0]  # real numbers, not 19.…


@pytest.mark.slow
def test_per_file_lines_quiet_in_a_pipe_unless_verbose(tmp_path, tiny_model_path):
    scans = tmp_path / "scans"
    for n in "ab":
        gray_file(scans / f"{n}.png")
    r = run(scans, "-o", tmp_path / "o1", "-m", tiny_model_path)
    assert r.returncode == 0 and " -> " not in r.stderr, r.stderr
    assert stderr_lines(r)[-1].startswith("colorized 2 images in ")
    r = run(scans, "-o", tmp_path / "o2", "-m", tiny_model_path, "--verbose")
    assert r.returncode == 0 and r.stderr.count(" -> ") == 2, r.stderr
    r = run(scans, "-o", tmp_path / "o3", "-m", tiny_model_path, "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr


# ----------------------------------------------------------------------------- 4. ** globs, folders without -r


@pytest.mark.slow
def test_double_star_glob_recurses_and_keeps_the_tree(tmp_path, tiny_model_path):
    tree = tmp_path / "tree"
    for rel in ("a.png", "s1/b.png", "s1/s2/a.png"):
        gray_file(tree / rel)
    r = run("tree/**/*.png", "-o", "out", "-m", tiny_model_path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png")) == \
        ["a.png", "s1/b.png", "s1/s2/a.png"]


def test_folder_without_recursive_says_how_many_sub_folders_it_skipped(tmp_path):
    scans = tmp_path / "scans"
    for rel in ("a_colorized.png", "one/b.png", "two/c.png", "three/d.png"):
        gray_file(scans / rel)
    # the only top-level image already is an output: nothing to do, no model loaded
    r = run("scans", "-m", "/no/such/model.json", cwd=tmp_path)
    lines = stderr_lines(r)
    assert "note: scans: 3 sub-folders skipped (use --recursive)" in lines, r.stderr


# ----------------------------------------------------------------------------- 5. help text


@pytest.mark.parametrize("command", ["", "models", "train", pytest.param("evaluate", marks=pytest.mark.slow),
                                     pytest.param("export", marks=pytest.mark.slow), "web"])
def test_help_has_no_double_percent_and_no_paths_users_do_not_have(command):
    r = run(*([command] if command else []), "--help")
    assert r.returncode == 0, r.stderr
    assert "%%" not in r.stdout and "../shared" not in r.stdout and "/work/" not in r.stdout
    if not command:
        assert "frames/%05d.png" in r.stdout and "stand for your own files" in r.stdout


# ----------------------------------------------------------------------------- 6. --sequence naming


@pytest.mark.slow
def test_sequence_keeps_stems_and_takes_the_format_extension(tmp_path, tiny_model_path):
    frames = tmp_path / "frames"
    for n in ("1415", "1416"):
        gray_file(frames / f"{n}.jpg")
    r = run(frames, "--sequence", "-m", tiny_model_path, "--fps", "5")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "frames_colorized").iterdir()) == ["1415.png", "1416.png"]
    r = run(frames, "--sequence", "-o", tmp_path / "as_jpg", "--format", "jpg", "-m", tiny_model_path, "--fps", "5")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "as_jpg").iterdir()) == ["1415.jpg", "1416.jpg"]
    helptext = " ".join(run("--help").stdout.split())
    assert "keeping each frame's stem, with --format's extension (default png): 1415.jpg -> 1415.png" in helptext


@pytest.mark.slow
def test_skip_existing_for_films_before_anything_is_decoded_or_loaded(tmp_path):
    film = tmp_path / "film.mp4"
    film.write_bytes(b"never decoded: its output exists")
    (tmp_path / "film_colorized.mp4").write_bytes(b"an earlier, complete film")
    r = run(film, "--skip-existing", "-m", "/no/such/model.json", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["skipped"] == [{"input": str(film), "output": str(tmp_path / "film_colorized.mp4")}]
    assert (tmp_path / "film_colorized.mp4").read_bytes() == b"an earlier, complete film"
