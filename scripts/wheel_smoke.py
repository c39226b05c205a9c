"""Smoke test of an INSTALLED colorize-bw (a wheel, or an sdist install): run from outside the checkout.

cibuildwheel runs it on every wheel it builds (pyproject.toml [tool.cibuildwheel] test-command), and
tests/test_packaging.py runs it on an sdist installed without a C compiler (``--no-kernel``). It
checks what a user gets: the metadata, the bundled default model, the compiled C kernel (loadable
with ctypes, or absent with ``--no-kernel``), and one real colorization of a small gray picture made
here, through the ``colorize`` command (``python -m colorize``), so the default backend must work.

    python scripts/wheel_smoke.py [--no-kernel]
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.machinery
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DISTRIBUTION = "colorize-bw"


def kernel_libraries(package_dir: Path) -> list[Path]:
    """The compiled ``_kernels`` library files next to the installed package (as colorize.kernels looks for them)."""
    return [package_dir / f"_kernels{s}" for s in importlib.machinery.EXTENSION_SUFFIXES if (package_dir / f"_kernels{s}").is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-kernel", action="store_true", help="expect an install WITHOUT the C kernel (the fallback path)")
    args = parser.parse_args(argv)

    import colorize

    package_dir = Path(colorize.__file__).resolve().parent
    print(f"colorize {colorize.__version__} from {package_dir}")
    dist_version = importlib.metadata.version(DISTRIBUTION)
    assert dist_version == colorize.__version__, f"metadata says {dist_version}, colorize.__version__ {colorize.__version__}"
    for name in ("default.json", "default.safetensors", "default.onnx"):  # the graph reads the safetensors
        assert (package_dir / "pretrained" / name).is_file(), f"the bundled model file pretrained/{name} is missing"
    assert (package_dir / "py.typed").is_file(), "py.typed is missing"
    for name in ("index.html", "editor.js", "editor.css"):  # the web page's hint editor (package data)
        assert (package_dir / "web_static" / "editor" / name).is_file(), f"web_static/editor/{name} is missing"

    libs = kernel_libraries(package_dir)
    if args.no_kernel:
        assert not libs, f"expected no compiled kernel, found {libs}"
    else:
        assert libs, f"no compiled _kernels library in {package_dir}: the wheel was built without the C kernel"
        assert hasattr(ctypes.CDLL(str(libs[0])), "guided_join_u8"), f"{libs[0]} does not export guided_join_u8"
        print(f"C kernel: {libs[0].name}")
    try:
        from colorize import kernels
    except ModuleNotFoundError as exc:  # an install without the optional torch, if kernels still needs it
        if exc.name != "torch":
            raise
        print("colorize.kernels needs torch, which is not installed: its check skipped")
    else:
        assert kernels.fast_kernel_available() == bool(libs), f"colorize.kernels disagrees about the C kernel ({libs})"

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "gray.png", Path(tmp) / "gray_colour.png"
        Image.linear_gradient("L").resize((96, 64)).save(src)
        env = {**os.environ, "COLORIZE_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "colorize", str(src), "-o", str(out)], capture_output=True, text=True,
                              timeout=600, cwd=tmp, env=env)
        assert done.returncode == 0, f"colorize failed ({done.returncode}): {done.stderr.strip()}"
        with Image.open(out) as img:
            assert img.size == (96, 64) and img.mode == "RGB", (img.size, img.mode)
    print(f"{DISTRIBUTION} {dist_version}: smoke test passed ({'no C kernel, fallback path' if args.no_kernel else 'with the C kernel'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
