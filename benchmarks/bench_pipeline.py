"""Speed and memory of the photo pipeline (the foundation issue's budget). Prints a Markdown table.

    python benchmarks/bench_pipeline.py [--model default] [--quick]

Measures, on this machine:
* a 12-megapixel (4000x3000) gray JPEG, in process with a warm Colorizer: decode -> colorize ->
  encode, against a bare Pillow decode + encode of the same file (target: <= 4x);
* the same from the shell, cold: ``colorize big.jpg`` against ``python -c "import torch"`` plus the
  Pillow round trip (target: <= 2x), and its peak memory (target: <= 2 GB);
* ``colorize --help`` wall time; images per second on a folder of 100 photos of 640x480;
* forward time of the model at its render size next to the ECCV16 re-implementation at 256x256
  (target: >= 5x faster).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_big_gray_jpeg(path: Path, size=(4000, 3000)) -> None:
    """A 12 MP gray photo-like JPEG: a public-domain sample photo upscaled, with film grain."""
    from skimage import data

    base = Image.fromarray(data.astronaut()).convert("L").resize(size, Image.BICUBIC)
    grain = np.random.default_rng(0).normal(0, 6, (size[1], size[0]))
    arr = np.clip(np.asarray(base, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def wall(cmd: list[str], repeat: int = 3) -> tuple[float, float]:
    """Best wall time of a command and the peak RSS (MB) of its children."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return min(times), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, 20 folder images")
    args = ap.parse_args()
    repeat = 2 if args.quick else 3

    import torch

    from colorize.io import read_image, write_image
    from colorize.models import create_model
    from colorize.pipeline import Colorizer
    from colorize.render import render_shape

    rows: list[tuple[str, str, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="colorize-bench-"))
    big = tmp / "big.jpg"
    make_big_gray_jpeg(big)

    # 1. in process, warm
    def pillow_round_trip() -> None:
        with Image.open(big) as im:
            im.load()
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=95)

    colorizer = Colorizer.from_pretrained(args.model, device="cpu")

    def colorize_round_trip() -> None:  # what `colorize big.jpg` does per file
        img = read_image(big)
        out = colorizer.colorize_batch([img.gray], uint8=True)[0]
        write_image(tmp / "big_out.jpg", out, overwrite=True)

    colorize_round_trip()  # warm-up
    t_pil = best_of(pillow_round_trip, repeat)
    t_col = best_of(colorize_round_trip, repeat)
    rows.append(("12 MP JPEG, Pillow decode + encode (in process)", f"{t_pil:.3f} s", ""))
    rows.append(("12 MP JPEG, colorize decode -> encode (warm, in process)", f"{t_col:.3f} s", f"{t_col / t_pil:.1f}x Pillow (target <= 4x)"))

    # 2. cold, from the shell
    exe = [sys.executable, "-m", "colorize"]
    t_torch, _ = wall([sys.executable, "-c", "import torch"], repeat)
    t_cold, peak = wall([*exe, str(big), "-o", str(tmp / "cold.jpg"), "--overwrite", "-q", "-m", args.model], repeat)
    budget = t_torch + t_pil
    rows.append(("python -c 'import torch'", f"{t_torch:.2f} s", ""))
    rows.append(("colorize big.jpg (cold, shell)", f"{t_cold:.2f} s", f"{t_cold / budget:.2f}x (import torch + Pillow; target <= 2x)"))
    rows.append(("peak memory of the cold run (max RSS)", f"{peak:.0f} MB", "target <= 2048 MB"))

    # 3. --help
    t_help, _ = wall([*exe, "--help"], repeat)
    rows.append(("colorize --help", f"{t_help:.2f} s", "target < 1 s"))

    # 4. a folder of 640x480 photos
    n = 20 if args.quick else 100
    folder = tmp / "folder"
    folder.mkdir()
    src = Image.open(big).resize((640, 480))
    for i in range(n):
        src.rotate(i * 3.6).save(folder / f"{i:03d}.jpg", quality=90)
    t0 = time.perf_counter()
    subprocess.run([*exe, str(folder), "-o", str(tmp / "folder_out"), "-q", "-m", args.model], check=True)
    t_folder = time.perf_counter() - t0
    rows.append((f"folder of {n} photos 640x480 (CLI, incl. start-up)", f"{n / t_folder:.1f} img/s", f"{t_folder:.1f} s total"))

    # 5. forward time vs ECCV16: both as torch modules (the default backend may be onnxruntime, whose
    # network is a graph, not a module)
    torch_colorizer = Colorizer.from_pretrained(args.model, device="cpu", backend="torch")
    model = torch_colorizer.model
    rh, rw = render_shape(3000, 4000, colorizer.options.render_size)
    x = torch.rand(1, model.in_channels, rh, rw).contiguous(memory_format=torch.channels_last)
    eccv = create_model("eccv16").eval().to(memory_format=torch.channels_last)
    x_eccv = torch.rand(1, 1, 256, 256).contiguous(memory_format=torch.channels_last)

    def fwd(m, inp, bf16: bool) -> float:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            m(inp)
            return statistics.median([best_of(lambda: m(inp), 1) for _ in range(5 if args.quick else 10)])

    for bf16 in (torch_colorizer.use_bf16, False) if torch_colorizer.use_bf16 else (False,):
        ours = fwd(model, x, bf16)
        ref = fwd(eccv, x_eccv, bf16)
        tag = "bf16" if bf16 else "fp32"
        rows.append((f"forward, our model at {rw}x{rh} ({tag})", f"{ours * 1000:.1f} ms", ""))
        rows.append((f"forward, ECCV16 re-implementation at 256x256 ({tag})", f"{ref * 1000:.1f} ms", f"ours is {ref / ours:.1f}x faster (target >= 5x)"))

    from colorize.kernels import fast_kernel_available

    kernel = "compiled C kernel" if fast_kernel_available() else "torch fallback (no compiled kernel)"
    print(f"\nmachine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"backend {colorizer.backend} (rows 1-4), {kernel}\n")
    print("| measurement | value | note |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
