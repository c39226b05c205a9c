"""Start-up and speed of the photo path per backend, against a bare Pillow round trip (issue 15).

    python benchmarks/bench_startup.py [--repeat 3] [--json out.json]

Prints a Markdown table, all rows from one run (so the ratios compare like with like):

(a) **cold, from the shell**: ``python -m colorize big.jpg -o out.jpg`` on a 12 MP (4000 x 3000) gray
    JPEG, once with ``--backend onnxruntime`` and once with ``--backend torch``, against
    ``python -c`` that decodes the same JPEG with Pillow and encodes it as an RGB JPEG at quality 95 (the
    colorizer's output is RGB too; ``--format png`` for PNG on every side); median of ``--repeat`` interleaved rounds after one untimed run per command
    (which fills the page cache and the cache of optimized / exported ONNX graphs, kept in the temp
    dir via ``COLORIZE_CACHE_DIR``), plus a row for the very first run (an empty cache each time);
    the package's ``.pyc`` files are written first, as ``pip install`` does;
(b) **warm, in process**: a loaded ``Colorizer.from_pretrained("default", backend=...)`` doing
    decode -> colorize -> encode (to memory) per backend, against Pillow's decode -> encode;
(c) ``python -c "import colorize"``, ``python -m colorize --help``, and for reference
    ``python -c pass`` and ``python -c "import torch"`` (when torch is installed).

Only the public CLI and ``colorize.Colorizer.from_pretrained(..., backend=...)`` are used, and the
command line is ``sys.executable -m colorize``, so the code measured is whatever ``import colorize``
finds (set ``PYTHONPATH`` to measure a checkout). Temp files live in a temp dir, removed at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "astronaut_gray.jpg"
BACKENDS = ("onnxruntime", "torch")


def make_big_gray_jpeg(path: Path, size: tuple[int, int] = (4000, 3000)) -> None:
    """examples/astronaut_gray.jpg upscaled to 12 MP, with a little seeded film grain so it encodes like a photo."""
    with Image.open(EXAMPLE) as im:
        base = im.convert("L").resize(size, Image.Resampling.BICUBIC)
    grain = np.random.default_rng(0).normal(0, 4, (size[1], size[0]))
    arr = np.clip(np.asarray(base, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)


def run_checked(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``cmd`` (a failure stops the benchmark with its stderr)."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()[-2000:]}")
    return dt


def byte_compile_colorize(py: str) -> None:
    """Write the ``.pyc`` files of the ``colorize`` that ``py`` imports, as ``pip install`` of a wheel
    does: an editable checkout (with ``PYTHONDONTWRITEBYTECODE`` set, as here) would otherwise compile
    every module from source on every cold run, ~0.05 s that no installed copy pays."""
    code = "import compileall, os, colorize; compileall.compile_dir(os.path.dirname(colorize.__file__), quiet=1)"
    subprocess.run([py, "-c", code], check=True, capture_output=True)


def interleaved(jobs: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Median seconds per job; one untimed run each, then ``repeat`` rounds that run every job once.

    Interleaving makes a change of machine load hit every row of a round alike, so the ratios hold
    better than with each row's runs back to back.
    """
    for fn in jobs.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(repeat):
        for k, fn in jobs.items():
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    return run


# Output encodings: JPEG is what ``colorize big.jpg`` writes (the input's format, quality 95, the
# issue's command); PNG's zlib takes ~3 s of a 12 MP photo here and hides everything else.
ENCODINGS = {"jpg": ("JPEG", {"quality": 95}), "png": ("PNG", {})}


def pillow_round_trip(src: Path, fmt: str = "jpg") -> bytes:
    buf = io.BytesIO()
    name, kw = ENCODINGS[fmt]
    with Image.open(src) as im:
        im.convert("RGB").save(buf, format=name, **kw)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="start-up and speed per backend vs a bare Pillow round trip")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per row (median); default 3")
    p.add_argument("--backend", action="append", choices=BACKENDS, help="backends to measure (default: both)")
    p.add_argument("--json", type=Path, help="also write the numbers as JSON")
    p.add_argument("--format", choices=sorted(ENCODINGS), default="jpg",
                   help="output encoding on every side (default jpg: what 'colorize big.jpg' writes)")
    args = p.parse_args(argv)
    fmt = args.format
    enc_name, enc_kw = ENCODINGS[fmt]
    backends = args.backend or list(BACKENDS)
    py = sys.executable
    rows: list[tuple[str, str, float, str]] = []  # (section, what, seconds, ratio text)

    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp_s:
        tmp = Path(tmp_s)
        big = tmp / "big.jpg"
        make_big_gray_jpeg(big)
        env = dict(os.environ, COLORIZE_CACHE_DIR=str(tmp / "cache"), HF_HUB_OFFLINE="1", COLORIZE_OFFLINE="1")
        byte_compile_colorize(py)

        def first_ever(cmd: list[str]) -> float:
            """A run with an empty cache: what the very first ``colorize`` on a machine costs."""
            fresh = Path(tempfile.mkdtemp(dir=tmp, prefix="fresh_cache_"))
            return run_checked(cmd, dict(env, COLORIZE_CACHE_DIR=str(fresh)))

        # (a) cold from the shell
        pil_cmd = [py, "-c", "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], quality=95)",
                   str(big), str(tmp / f"pil.{fmt}")]
        shell = {"pillow": pil_cmd}
        for b in backends:
            shell[b] = [py, "-m", "colorize", str(big), "-o", str(tmp / f"out_{b}.{fmt}"), "--backend", b, "--overwrite", "-q"]
        cold_jobs: dict[str, Callable[[], float]] = {k: (lambda c=c: run_checked(c, env)) for k, c in shell.items()}
        if "onnxruntime" in backends:
            cold_jobs["onnxruntime first"] = lambda: first_ever(shell["onnxruntime"])
        cold = interleaved(cold_jobs, args.repeat)
        base = cold["pillow"]
        rows.append(("cold (shell)", f"python -c Pillow decode + RGB {enc_name} encode", base, "1.00x"))
        for b in backends:
            rows.append(("cold (shell)", f"colorize big.jpg -o out.{fmt} --backend {b}", cold[b], f"{cold[b] / base:.2f}x Pillow"))
            if b == "onnxruntime":
                rows.append(("cold (shell)", "  the same, first run on the machine (empty cache: optimizes the graph)", cold["onnxruntime first"],
                             f"{cold['onnxruntime first'] / base:.2f}x Pillow"))
        if len(backends) == 2:
            rows.append(("cold (shell)", "torch / onnxruntime", cold["torch"] / cold["onnxruntime"], "(speed-up of onnxruntime)"))

        # (b) warm in process
        from colorize import Colorizer

        colorizers = {b: Colorizer.from_pretrained("default", backend=b) for b in backends}
        with Image.open(big) as loaded:
            loaded.load()

        def round_trip(c: Colorizer) -> bytes:
            buf = io.BytesIO()
            with Image.open(big) as im:
                c(im).save(buf, format=enc_name, **enc_kw)
            return buf.getvalue()

        warm_jobs: dict[str, Callable[[], float]] = {"pillow": timed(lambda: pillow_round_trip(big, fmt))}
        for b, c in colorizers.items():
            warm_jobs[b] = timed(lambda c=c: round_trip(c))
            warm_jobs[b + " only"] = timed(lambda c=c: c(loaded))
        warm = interleaved(warm_jobs, args.repeat)
        rows.append(("warm (in process)", f"Pillow decode + RGB {enc_name} encode", warm["pillow"], "1.00x"))
        for b in backends:
            rows.append(("warm (in process)", f"Colorizer(backend={b!r})(img): decode + colorize + encode", warm[b],
                         f"{warm[b] / warm['pillow']:.2f}x Pillow"))
            rows.append(("warm (in process)", f"  of which colorize only ({b})", warm[b + " only"], ""))

        # (c) imports and --help
        starts = {"python -c pass": [py, "-c", "pass"], "python -c 'import colorize'": [py, "-c", "import colorize"],
                  "python -m colorize --help": [py, "-m", "colorize", "--help"]}
        for mod in ("torch", "onnxruntime"):
            if importlib.util.find_spec(mod) is not None:
                starts[f"python -c 'import {mod}' (reference)"] = [py, "-c", f"import {mod}"]
        for what, secs in interleaved({k: (lambda c=c: run_checked(c, env)) for k, c in starts.items()}, args.repeat).items():
            rows.append(("start-up", what, secs, ""))

    import colorize

    cond = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"colorize from {Path(colorize.__file__).parent}, median of {args.repeat} interleaved rounds (after 1 untimed run), "
            f"load average at the end {os.getloadavg()[0]:.1f}")
    print(f"\nConditions: {cond}\n")
    print("| section | what | seconds | ratio |")
    print("|---|---|---|---|")
    for sec, what, s, ratio in rows:
        val = f"{s:.2f}x" if what == "torch / onnxruntime" else f"{s:.2f}"
        print(f"| {sec} | {what} | {val} | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps({"conditions": cond, "rows": [dict(zip(("section", "what", "seconds", "ratio"), r)) for r in rows]},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
