"""Latency of the hint editor's requests (docs/web.md, "Hint editor"). Prints a Markdown table.

    python benchmarks/bench_editor.py [--model default] [--repeat 10] [--photos N]

A 1-megapixel gray photo (1155x866; the McMaster18/CSet14 photos of ``../shared/data/eval_dev``
enlarged to that size when present, else examples/astronaut_gray.jpg) goes through the running app
(FastAPI in process, ``TestClient``, a warm model, one request at a time) as the page sends it:

* ``/api/preview`` with the 512-px copy the editor makes in the browser (0, 1 and 5 hints), and with
  the 1 MP upload itself (the server shrinks it);
* ``/api/suggest`` and ``/api/uncertainty`` on the 512-px copy;
* ``/api/colorize`` (full resolution, 1 hint), for comparison.

Times are the client's wall time per request (upload, decode, model, encode), median and 90th
percentile over all photos x repeats. The browser's own work (shrinking the photo once, drawing the
result) is not included. ``uptime``'s load average is printed with the table: the numbers depend on it.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = next((d for d in (ROOT.parent / "shared" / "data" / "eval_dev", ROOT.parents[1] / "shared" / "data" / "eval_dev") if d.is_dir()),
            ROOT / "missing")  # ../shared/data of a checkout at /work/main, or of a worktree below /work/wt
SIZE = (1155, 866)  # 1.0 MP
SMALL_SIDE = 512


def photos(n: int) -> list[np.ndarray]:
    files = sorted((DATA / "McMaster18").glob("*.png"))[: (n + 1) // 2] + sorted((DATA / "CSet14").glob("*.png"))[: n // 2]
    if not files:
        files = [ROOT / "examples" / "astronaut_gray.jpg"]
    out = []
    for f in files[:n]:
        with Image.open(f) as im:
            out.append(np.asarray(im.convert("L").resize(SIZE, Image.BICUBIC)))
    return out


def png(gray: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def small_copy(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    s = SMALL_SIDE / max(h, w)
    return np.asarray(Image.fromarray(gray).resize((round(w * s), round(h * s)), Image.BILINEAR))


def hints(gray: np.ndarray, n: int, scale: float, rng: np.random.Generator) -> str | None:
    if n == 0:
        return None
    h, w = gray.shape
    pts = [(rng.uniform(0, w - 1), rng.uniform(0, h - 1)) for _ in range(n)]
    colours = ["#1e50ff", "#d03020", "#30a040", "#e0c040", "#8040c0"]
    return "; ".join(f"{x * scale:.1f},{y * scale:.1f},{6 * scale:.1f}={colours[i % 5]}" for i, (x, y) in enumerate(pts))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--photos", type=int, default=4)
    p.add_argument("--preview-render", type=int, default=None, help="override colorize.web.QUICK_PREVIEW_RENDER")
    args = p.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from fastapi.testclient import TestClient

    from colorize import web
    from colorize.web import create_app

    if args.preview_render:
        web.QUICK_PREVIEW_RENDER = args.preview_render
    QUICK_PREVIEW_RENDER = web.QUICK_PREVIEW_RENDER
    app = create_app(args.model, ui=False)
    service = app.state.service
    rng = np.random.default_rng(0)
    pics = photos(args.photos)
    rows: dict[str, list[float]] = {}

    def timed(label: str, path: str, body: bytes, data: dict[str, str]) -> None:
        t = time.perf_counter()
        r = client.post(path, files={"image": ("photo.png", body, "image/png")}, data=data)
        dt = time.perf_counter() - t
        if r.status_code != 200:
            raise SystemExit(f"{label}: {r.status_code} {r.text[:200]}")
        rows.setdefault(label, []).append(dt)

    with TestClient(app) as client:
        for gray in pics:
            full, small = png(gray), small_copy(gray)
            small_png, s = png(small), small.shape[1] / gray.shape[1]
            timed("warm-up", "/api/preview", small_png, {})
            for _ in range(args.repeat):
                for n in (0, 1, 5):
                    data = {"hints": h} if (h := hints(gray, n, s, rng)) else {}
                    timed(f"preview, 512 px copy, {n} hint{'s' if n != 1 else ''}", "/api/preview", small_png, data)
                h1 = hints(gray, 1, 1.0, rng)
                assert h1 is not None
                timed("preview, 1 MP upload, 1 hint", "/api/preview", full, {"hints": h1})
                timed("suggest (k=6), 512 px copy", "/api/suggest", small_png,
                      {"x": str(rng.uniform(0, small.shape[1] - 1)), "y": str(rng.uniform(0, small.shape[0] - 1)), "k": "6"})
                timed("uncertainty, 512 px copy", "/api/uncertainty", small_png, {})
            for _ in range(max(1, args.repeat // 3)):
                h1 = hints(gray, 1, 1.0, rng)
                assert h1 is not None
                timed("colorize, 1 MP, full resolution, 1 hint", "/api/colorize", full, {"hints": h1})
    rows.pop("warm-up")
    load = os.getloadavg()
    print(f"Hint editor requests on a {SIZE[0]}x{SIZE[1]} (1.0 MP) photo, {len(pics)} photos x {args.repeat} repeats; "
          f"model {args.model!r} ({service.colorizer.backend}), preview render size {QUICK_PREVIEW_RENDER}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| request | median s | p90 s | n |")
    print("|---|---|---|---|")
    for label, ts in rows.items():
        ts = sorted(ts)
        p90 = ts[min(len(ts) - 1, int(round(0.9 * (len(ts) - 1))))]
        print(f"| {label} | {statistics.median(ts):.3f} | {p90:.3f} | {len(ts)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
