"""Before/after sheet of public-domain photos for the README: gray input, colorized, original.

    python scripts/sample_grid.py [docs/images/samples_grid.jpg] [--model default]

The photos are scikit-image's bundled samples whose licences allow it (``skimage.data``: astronaut
and rocket are public domain, NASA and SpaceX; coffee and chelsea are CC0 by their photographers),
desaturated here (BT.601 luma) and colorized through the real ``colorize`` CLI. The
project's research data (``../shared/data``, bw_real included) never goes into the repository:
``scripts/bw_real_grid.py`` renders those photos into ``runs/`` for looking only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
# name -> licence, as scikit-image's docstrings state them
SAMPLES = {"astronaut": "public domain (NASA)", "coffee": "CC0 (Rachel Michetti)", "chelsea": "CC0 (Stefan van der Walt)",
           "rocket": "public domain (SpaceX)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "images" / "samples_grid.jpg"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--thumb", type=int, default=220, help="long side of each picture on the sheet")
    args = ap.parse_args()

    from skimage import data

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SAMPLES:
            rgb = np.asarray(getattr(data, name)())[..., :3].astype(np.float32) / 255
            gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
            src = Path(tmp) / f"{name}.png"
            Image.fromarray((gray * 255 + 0.5).astype(np.uint8)).save(src)
            out = Path(tmp) / f"{name}_colorized.png"
            subprocess.run([sys.executable, "-m", "colorize", str(src), "-o", str(out), "-q", "-m", args.model], check=True)
            pictures = [Image.open(src).convert("RGB"), Image.open(out).convert("RGB"), Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))]
            for p in pictures:
                p.thumbnail((args.thumb, args.thumb))
            rows.append(pictures)
    cell_w = args.thumb + 8
    heights = [max(p.size[1] for p in row) + 8 for row in rows]
    head = 22
    sheet = Image.new("RGB", (3 * cell_w, head + sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(("gray input", "colorize (default model)", "original colour")):
        draw.text((c * cell_w + 6, 5), title, fill="black")
    y = head
    for row, h in zip(rows, heights):
        for c, p in enumerate(row):
            sheet.paste(p, (c * cell_w + 4, y + 4))
        y += h
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"{args.out}: {len(rows)} photos ({', '.join(f'{k}: {v}' for k, v in SAMPLES.items())})")


if __name__ == "__main__":
    main()
