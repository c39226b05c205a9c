"""Before/after contact sheet of real historic photos, rendered by the ``colorize`` CLI, for looking.

    python scripts/bw_real_grid.py ../shared/data/bw_real [runs/bw_real_grid.jpg] [--model default]

The photos are research-licensed (``../shared/data/README.md``): neither they nor a sheet of their
thumbnails may enter the repository, so the sheet is written to ``runs/`` (ignored by git) or
anywhere outside the checkout, and a path elsewhere inside it is refused. The README's public
before/after sheet is ``scripts/sample_grid.py`` (public-domain photos).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("out", nargs="?", default=str(ROOT / "runs" / "bw_real_grid.jpg"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--count", type=int, default=12, help="photos on the sheet")
    ap.add_argument("--thumb", type=int, default=180)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if out.is_relative_to(ROOT) and not out.is_relative_to(ROOT / "runs"):
        sys.exit(f"{args.out}: inside the repository; the sheet shows research-licensed photos, so write it to runs/ "
                 "(ignored by git) or outside the checkout")

    photos = sorted(p for p in Path(args.folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    step = max(1, len(photos) // args.count)
    photos = photos[::step][: args.count]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for i, p in enumerate(photos):  # flatten names so outputs map back one to one
            (inputs / f"{i:02d}{p.suffix.lower()}").symlink_to(p.resolve())
        outputs = Path(tmp) / "out"
        subprocess.run([sys.executable, "-m", "colorize", str(inputs), "-o", str(outputs), "--format", "png", "-q", "-m", args.model], check=False)
        pairs = []
        for i, p in enumerate(photos):
            out = outputs / f"{i:02d}.png"
            if out.exists():
                before = Image.open(p).convert("RGB")
                after = Image.open(out).convert("RGB")
                before.thumbnail((args.thumb, args.thumb))
                after.thumbnail((args.thumb, args.thumb))
                pairs.append((before, after))
    cols = 4
    rows = (len(pairs) + cols - 1) // cols
    cell_w, cell_h = 2 * args.thumb + 12, args.thumb + 8
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    for k, (before, after) in enumerate(pairs):
        x, y = (k % cols) * cell_w, (k // cols) * cell_h
        sheet.paste(before, (x + 4, y + 4))
        sheet.paste(after, (x + 8 + args.thumb, y + 4))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=85)
    print(f"{args.out}: {len(pairs)} before/after pairs")


if __name__ == "__main__":
    main()
