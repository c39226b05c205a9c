"""The default install has no PyTorch and no SciPy: the whole image path must work with both imports failing.

A ``sitecustomize`` on the subprocess's path installs an import hook that makes ``import torch``
raise ``ModuleNotFoundError`` (as in an environment where it was never installed); the bundled
default model then runs from its ONNX graph in onnxruntime. The outputs are compared with the
PyTorch backend in this process: both share the numpy pre/post-processing, so they differ only by
the network's fp32 rounding in the two runtimes (measured: at most 1 level on a few pixels; the
tolerance below is 2 levels and 0.1% of pixels).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]
BLOCK_TORCH = '''
import sys

class _NoTorch:
    """The default install, without PyTorch or SciPy: their imports fail as for a missing package."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "scipy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoTorch())
'''

# The modules on the image path: importing them must not import torch (even where torch is installed).
IMAGE_PATH_MODULES = ["colorize", "colorize.imaging", "colorize.render", "colorize.options", "colorize.kernels", "colorize.io",
                      "colorize.backends", "colorize.pipeline", "colorize.hints", "colorize.gridgraph", "colorize.reference", "colorize.video",
                      "colorize.models", "colorize.models.files", "colorize.cli", "colorize.cli.photo", "colorize.cli.common",
                      "colorize.cli.guided", "colorize.cli.video"]


def _env(tmp_path: Path, block: bool = True) -> dict[str, str]:
    paths = [str(ROOT / "src")]
    if block:
        hook = tmp_path / "hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(BLOCK_TORCH)
        paths.insert(0, str(hook))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]), "COLORIZE_BF16": "0"}


def _photo(path: Path) -> None:
    yy, xx = np.mgrid[0:72, 0:96]
    gray = (40 + yy * 2 + (((xx // 12) + (yy // 12)) % 2) * 50).astype(np.uint8)
    Image.fromarray(gray).save(path)


def _reference(path: Path) -> None:
    yy, xx = np.mgrid[0:60, 0:80]
    Image.fromarray(np.dstack([xx * 3, 255 - yy * 4, np.full_like(xx, 90)]).astype(np.uint8)).save(path)


def test_image_path_modules_do_not_import_torch():
    code = ("import importlib, sys\n"
            f"for m in {IMAGE_PATH_MODULES!r}:\n"
            "    importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))[:3])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", f"importing the image path imported torch: {r.stdout}"


@pytest.mark.parametrize("backend", [[], ["--backend", "onnxruntime"]])
def test_the_onnxruntime_photo_path_never_imports_torch_even_where_it_is_installed(tmp_path, backend):
    """A cold ``colorize photo.jpg`` is dominated by ``import torch`` (seconds) when anything asks torch
    about the device: with the bundled graph, neither the default nor ``--backend onnxruntime`` may."""
    photo = tmp_path / "photo.png"
    _photo(photo)
    code = ("import sys\nfrom colorize.cli import main\n"
            f"assert main([{str(photo)!r}, '-o', {str(tmp_path / 'o.png')!r}, '-q', *{backend!r}]) == 0\n"
            "print('torch' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path, block=False), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["torch", "scipy"])
def test_the_hook_really_blocks_torch_and_scipy(tmp_path, module):
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert r.returncode != 0 and f"No module named '{module}'" in r.stderr


@pytest.mark.slow  # two fresh interpreters and PyTorch, five runs of the 5 M-parameter model: ~45 s on the shared CPU here
def test_the_whole_image_path_runs_without_torch(tmp_path, monkeypatch):
    photo, ref = tmp_path / "photo.png", tmp_path / "ref.png"
    _photo(photo)
    _reference(ref)
    env = _env(tmp_path)
    r = subprocess.run([sys.executable, "-m", "colorize", str(photo), "-o", str(tmp_path / "plain.png")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    hint = "30,20=firebrick"
    script = f'''
import json, sys
import numpy as np
from PIL import Image
from colorize.cli import main
from colorize import Colorizer
runs = {{"model": ["--hint", {hint!r}, "--hint-method", "model"], "propagate": ["--hint", {hint!r}, "--hint-method", "propagate"],
        "reference": ["--reference", {str(ref)!r}]}}
for name, extra in runs.items():
    assert main([{str(photo)!r}, "-o", {str(tmp_path)!r} + f"/{{name}}.png", "-q", *extra]) == 0, name
c = Colorizer.from_pretrained("default")
np.save({str(tmp_path / "api.npy")!r}, np.asarray(c(Image.open({str(photo)!r}))))
from colorize.reference import welsh_transfer
w = np.load({str(tmp_path / "welsh_in.npz")!r})
np.save({str(tmp_path / "welsh.npy")!r}, welsh_transfer(w["y"], w["ref_y"], w["ref_ab"]))
print(json.dumps({{"backend": c.backend, "torch": "torch" in sys.modules}}))
'''
    rng = np.random.default_rng(0)
    welsh_in = {"y": rng.random((1, 1, 40, 50), np.float32), "ref_y": rng.random((1, 1, 30, 20), np.float32),
                "ref_ab": rng.standard_normal((1, 2, 30, 20)).astype(np.float32)}
    np.savez(tmp_path / "welsh_in.npz", **welsh_in)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"backend": "onnxruntime", "torch": False}

    # The same runs with the PyTorch backend (fp32), here where torch is installed.
    pytest.importorskip("torch")
    from colorize import Colorizer

    monkeypatch.setenv("COLORIZE_BF16", "0")  # fp32, as onnxruntime runs: on a CPU with native bf16 torch would autocast
    torch_c = Colorizer.from_pretrained("default", device="cpu", backend="torch")
    assert not torch_c.use_bf16
    gray = Image.open(photo)
    want = {
        "plain": torch_c(gray),
        "model": torch_c(gray, hints=[(30, 20, "firebrick")], hint_method="model"),
        "propagate": torch_c(gray, hints=[(30, 20, "firebrick")], hint_method="propagate"),
        "reference": torch_c(gray, reference=str(ref)),
    }
    got = {name: Image.open(tmp_path / f"{name}.png") for name in want}
    got_api = np.load(tmp_path / "api.npy")
    for name in want:
        a, b = np.asarray(got[name], np.int16), np.asarray(want[name], np.int16)
        assert a.shape == b.shape == (72, 96, 3), name
        d = np.abs(a - b).max(axis=-1)
        assert d.max() <= 2 and (d > 1).mean() <= 1e-3, (name, int(d.max()))
    assert np.abs(got_api.astype(np.int16) - np.asarray(got["plain"], np.int16)).max() == 0  # API = CLI
    from colorize.reference import welsh_transfer  # its KD-tree, with scipy blocked there and installed here

    np.testing.assert_allclose(np.load(tmp_path / "welsh.npy"), welsh_transfer(*(welsh_in[k] for k in ("y", "ref_y", "ref_ab"))), atol=1e-6)
    plain = np.asarray(got["plain"], np.int16)
    assert np.abs(np.asarray(got["model"], np.int16) - plain).max() > 10  # the learned hint changed the colours
    assert np.abs(np.asarray(got["reference"], np.int16) - plain).max() > 10


def test_torch_backend_without_torch_is_one_line_naming_the_extra(tmp_path):
    photo = tmp_path / "photo.png"
    _photo(photo)
    r = subprocess.run([sys.executable, "-m", "colorize", str(photo), "-o", str(tmp_path / "o.png"), "--backend", "torch"],
                       capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=300)
    assert r.returncode == 1 and not (tmp_path / "o.png").exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "torch extra" in lines[0] and "Traceback" not in r.stderr, r.stderr
