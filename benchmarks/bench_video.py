"""Video benchmark (issue #5): temporal consistency, colour accuracy and speed. Prints a table.

::

    nice -n 10 python benchmarks/bench_video.py --model runs/ablation/distribution/model_step700.json
    python benchmarks/bench_video.py --model M --legacy /tmp/legacy   # also render v32_legacy_bw via the CLI

Clips (read from ``../shared/data``, never by the tests):

* **pan**: a colour photo (``eval_dev/holdout100``, the largest) filmed by a virtual camera that pans
  and zooms (an exact affine crop window), so the true motion between frames is known;
* **blackswan**: ``video/blackswan_color`` (50 frames, 624x360), desaturated with BT.601.

For each clip and method (``independent`` = every frame on its own, ``temporal`` = this module,
``truth`` = the colour frames) the table gives:

* ``warp err``: mean CIELAB ab distance between frame t's chroma and frame t-1's chroma warped to t
  (known motion for *pan*; Farneback flow on the ground-truth gray frames for *blackswan*, counted
  only where forward-backward consistent and photometrically matching), lower = steadier;
* ``PSNR`` (dB), ``AuC`` (ab-error curve, %), ``colourful`` (Hasler & Süsstrunk): per-frame means from
  :func:`colorize.metrics.score_image`.

Speed: frames per second of the whole ``colorize_video`` job (decode, model, flow, upsampling,
x264 encode) on a 640x360 H.264 film, temporal on and off.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("COLORIZE_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
"""``../shared/data`` beside the checkout, or ``$COLORIZE_SHARED_DATA`` (e.g. from a git worktree elsewhere)."""


# ----------------------------------------------------------------------------- clips


def make_pan_clip(image: np.ndarray, frames: int = 48, size: tuple[int, int] = (360, 640), zoom: float = 1.25,
                  pan: float = 0.35) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """A camera pan + zoom over ``image`` (HxWx3 uint8): frames (uint8) and the exact backward flows.

    Frame t samples the image at ``x = a_t * u + bx_t`` (pixel coordinates), so the flow from frame t
    to frame t-1 is known in closed form; ``flows[0]`` is ``None``.
    """
    import cv2

    H, W = size
    ih, iw = image.shape[:2]
    # the widest window that fits, shrinking by `zoom` over the clip, its centre travelling `pan` of the width
    a0 = min((iw - 2) / (W * (1 + pan)), (ih - 2) / H) * 0.98
    a1 = a0 / zoom
    src = image
    if a1 > 1.2:  # pre-shrink so bilinear sampling does not alias
        f = 1.1 / a1
        src = cv2.resize(image, (int(iw * f), int(ih * f)), interpolation=cv2.INTER_AREA)
        ih, iw = src.shape[:2]
        a0, a1 = a0 * f, a1 * f
    out, params = [], []
    for t in range(frames):
        s = t / max(1, frames - 1)
        a = a0 * (a1 / a0) ** s
        cx = iw / 2 + (s - 0.5) * pan * W * a0
        cy = ih / 2 + (s - 0.5) * 0.1 * H * a0
        bx, by = cx - a * (W - 1) / 2, cy - a * (H - 1) / 2
        m = np.array([[a, 0, bx], [0, a, by]], np.float64)
        out.append(cv2.warpAffine(src, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT))
        params.append((a, bx, by))
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float64)
    flows: list[np.ndarray | None] = [None]
    for t in range(1, frames):
        a, bx, by = params[t]
        pa, pbx, pby = params[t - 1]
        x, y = a * gx + bx, a * gy + by
        flows.append(np.dstack([(x - pbx) / pa - gx, (y - pby) / pa - gy]).astype(np.float32))
    return out, flows


def load_frames(folder: Path, limit: int | None = None) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    return [np.asarray(Image.open(p).convert("RGB")) for p in files]


# ----------------------------------------------------------------------------- measurement


def evaluate_clip(colorizer, frames: list[np.ndarray], options=None, flows=None, temporal=None,
                  batch_size: int = 8, has_truth: bool = True) -> dict[str, dict[str, float]]:
    """Rows {method: {warp_error, psnr, auc, colorfulness, seconds}} for independent, temporal and truth.

    ``has_truth=False`` (a real black-and-white film): no accuracy scores and no truth row.
    """
    from colorize.metrics import colorfulness, prepare_truth, score_image
    from colorize.render import gray_of
    from colorize.video import TemporalColorizer, TemporalOptions, temporal_warp_error

    grays = [gray_of(f) for f in frames]
    truths = [prepare_truth(f.astype(np.float32) / 255) for f in frames] if has_truth else []
    rows: dict[str, dict[str, float]] = {}
    methods = {"independent": TemporalOptions(enabled=False), "temporal": temporal or TemporalOptions()}
    for name, topt in methods.items():
        tc = TemporalColorizer(colorizer, options, topt)
        t0 = time.perf_counter()
        outs = []
        for i in range(0, len(grays), batch_size):
            outs.extend(tc.colorize_frames(grays[i : i + batch_size]))
        seconds = time.perf_counter() - t0
        scores = [score_image(np.clip(o, 0, 1), tr) for o, tr in zip(outs, truths)]
        rows[name] = {
            "warp_error": temporal_warp_error(outs, grays, flows=flows),
            "psnr": float(np.mean([s.psnr for s in scores])) if scores else float("nan"),
            "auc": float(np.mean([s.auc for s in scores])) if scores else float("nan"),
            "colorfulness": float(np.mean([colorfulness(np.clip(o, 0, 1)) for o in outs])),
            "seconds": seconds,
            "cuts": len(tc.scene_cuts),
        }
    if not has_truth:
        return rows
    rows["truth"] = {
        "warp_error": temporal_warp_error(frames, grays, flows=flows),
        "psnr": 100.0, "auc": 100.0,
        "colorfulness": float(np.mean([t.colorfulness for t in truths])),
        "seconds": 0.0, "cuts": 0,
    }
    return rows


def encode_clip(frames: list[np.ndarray], path: Path, fps: int = 25) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps, options={"crf": "16"})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def measure_speed(colorizer, film: Path, options=None, temporal: bool = True, batch_size: int = 8) -> dict[str, float]:
    from colorize.video import TemporalOptions, colorize_video

    with tempfile.TemporaryDirectory() as tmp:
        r = colorize_video(film, Path(tmp) / "out.mp4", colorizer, options, TemporalOptions(enabled=temporal),
                           progress=False, batch_size=batch_size)
    return {"frames": r.frames, "seconds": r.seconds, "fps": r.processing_fps}


def print_table(results: dict[str, dict[str, dict[str, float]]], file=sys.stdout) -> None:
    print(f"| clip | method | warp err (ab) | vs indep. | vs truth | PSNR dB | AuC % | colourful |", file=file)
    print("|---|---|---:|---:|---:|---:|---:|---:|", file=file)
    for clip, rows in results.items():
        ind = rows["independent"]["warp_error"]
        tru = rows["truth"]["warp_error"] if "truth" in rows else float("nan")
        for method, r in rows.items():
            psnr = "-" if method == "truth" or not np.isfinite(r["psnr"]) else f"{r['psnr']:.2f}"
            auc = "-" if method == "truth" or not np.isfinite(r["auc"]) else f"{r['auc']:.1f}"
            vs_truth = f"{r['warp_error'] / tru:.2f}x" if np.isfinite(tru) else "-"
            print(f"| {clip} | {method} | {r['warp_error']:.2f} | {r['warp_error'] / ind:.2f}x | {vs_truth} "
                  f"| {psnr} | {auc} | {r['colorfulness']:.1f} |", file=file)


def contact_sheet(video: Path, out_png: Path, picks: int = 6, width: int = 320) -> Path:
    """Every n-th frame of ``video``, side by side in two rows, saved as a PNG."""
    import av
    from PIL import Image

    with av.open(str(video)) as c:
        frames = [f.to_image() for f in c.decode(video=0)]
    idx = np.linspace(0, len(frames) - 1, picks).round().astype(int)
    thumbs = [frames[i].resize((width, int(frames[i].height * width / frames[i].width))) for i in idx]
    cols = (picks + 1) // 2
    th = thumbs[0].height
    sheet = Image.new("RGB", (cols * width, 2 * th), "white")
    for k, im in enumerate(thumbs):
        sheet.paste(im, ((k % cols) * width, (k // cols) * th))
    sheet.save(out_png)
    return out_png


# ----------------------------------------------------------------------------- guidance (issue 16)


def true_colour_hints(frame: np.ndarray, n: int = 20, seed: int = 0, margin: int = 8) -> list[tuple[int, int, tuple[int, int, int]]]:
    """``n`` point hints at random pixels of ``frame`` (HxWx3 uint8) with the true colour there (3x3 mean)."""
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    out = []
    for _ in range(n):
        x, y = int(rng.integers(margin, w - margin)), int(rng.integers(margin, h - margin))
        rgb = frame[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0).round().astype(int)
        out.append((x, y, (int(rgb[0]), int(rgb[1]), int(rgb[2]))))
    return out


def evaluate_guidance(colorizer, frames: list[np.ndarray], options=None, *, hints_n: int = 20, reference_index: int | None = None,
                      batch_size: int = 8, seed: int = 0, flows=None) -> dict[str, dict]:
    """The automatic film vs the film guided by ``hints_n`` true-colour hints on frame 0, and by one colour
    frame of the clip as the reference. Rows {method: {psnr (per frame), warp_error, seconds}}."""
    from colorize.metrics import colorfulness, prepare_truth, score_image
    from colorize.guidance import film_guidance
    from colorize.render import gray_of
    from colorize.video import TemporalColorizer, temporal_warp_error

    grays = [gray_of(f) for f in frames]
    truths = [prepare_truth(f.astype(np.float32) / 255) for f in frames]
    ref_i = len(frames) // 2 if reference_index is None else reference_index
    methods = {
        "automatic": None,
        f"{hints_n} hints on frame 0": film_guidance(hints=true_colour_hints(frames[0], hints_n, seed)),
        f"reference = frame {ref_i}": film_guidance(reference=frames[ref_i]),
    }
    rows: dict[str, dict] = {}
    for name, guidance in methods.items():
        tc = TemporalColorizer(colorizer, options, guidance=guidance)
        t0 = time.perf_counter()
        outs = []
        for i in range(0, len(grays), batch_size):
            outs.extend(tc.colorize_frames(grays[i : i + batch_size]))
        seconds = time.perf_counter() - t0
        rows[name] = {"psnr": [score_image(np.clip(o, 0, 1), t).psnr for o, t in zip(outs, truths)],
                      "warp_error": temporal_warp_error(outs, grays, flows=flows), "seconds": seconds,
                      "cuts": list(tc.scene_cuts), "guided": tc.guided_frames,
                      "colorfulness": float(np.mean([colorfulness(np.clip(o, 0, 1)) for o in outs]))}
    return rows


def print_guidance(clip: str, rows: dict[str, dict], every: int = 5, file=sys.stdout) -> None:
    auto = rows["automatic"]
    print(f"\n{clip}: whole shot (scene cuts: {auto['cuts'] or 'none'})", file=file)
    print("| film | mean PSNR dB | gain dB | min gain | warp err (ab) | vs automatic | colourful | s/frame |", file=file)
    print("|---|---:|---:|---:|---:|---:|---:|---:|", file=file)
    n = len(auto["psnr"])
    for name, r in rows.items():
        gain = np.array(r["psnr"]) - np.array(auto["psnr"])
        print(f"| {name} | {np.mean(r['psnr']):.2f} | {gain.mean():+.2f} | {gain.min():+.2f} | {r['warp_error']:.3f} "
              f"| {r['warp_error'] / auto['warp_error']:.2f}x | {r['colorfulness']:.1f} | {r['seconds'] / n:.3f} |", file=file)
    names = [k for k in rows if k != "automatic"]
    print(f"\nper-frame PSNR gain over the automatic film (dB), every {every}th frame:", file=file)
    print("| frame | automatic PSNR | " + " | ".join(names) + " |", file=file)
    print("|---:|---:|" + "---:|" * len(names), file=file)
    for i in list(range(0, n, every)) + ([n - 1] if (n - 1) % every else []):
        print(f"| {i} | {auto['psnr'][i]:.2f} | " + " | ".join(f"{rows[k]['psnr'][i] - auto['psnr'][i]:+.2f}" for k in names) + " |",
              file=file)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="default")
    p.add_argument("--render-size", type=int, default=None)
    p.add_argument("--frames", type=int, default=48, help="length of the pan clip")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--legacy", metavar="DIR", help="also render video/v32_legacy_bw through the CLI into DIR (+ contact sheet)")
    p.add_argument("--guided", action="store_true",
                   help="only the guidance study (issue 16): hints on frame 0 and a reference frame vs the automatic film")
    p.add_argument("--backend", default="auto", help="network runtime for the guidance study (default: auto)")
    p.add_argument("--clips", default="blackswan,pan", help="clips of the guidance study (default: %(default)s)")
    args = p.parse_args(argv)
    if args.guided:
        return main_guided(args)

    import torch

    from colorize.options import merge_options
    from colorize.pipeline import Colorizer

    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    # the model's own decode settings (its weights JSON's ``inference`` section), as the CLI uses them
    options = merge_options(colorizer.options, {"render_size": args.render_size} if args.render_size else None)
    print(f"model {args.model}; render size {options.render_size}; T {options.temperature:g}; consensus {options.consensus_radius}; torch threads {torch.get_num_threads()}; "
          f"load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")

    results: dict[str, dict[str, dict[str, float]]] = {}
    photos = sorted((SHARED / "eval_dev" / "holdout100").iterdir(), key=lambda q: q.stat().st_size)
    from PIL import Image

    photo = np.asarray(Image.open(photos[-1]).convert("RGB"))
    pan, flows = make_pan_clip(photo, args.frames)
    results[f"pan ({photos[-1].name}, {len(pan)} fr)"] = evaluate_clip(colorizer, pan, options, flows=flows)
    swan = load_frames(SHARED / "video" / "blackswan_color")
    results[f"blackswan ({len(swan)} fr)"] = evaluate_clip(colorizer, swan, options)
    legacy_bw = load_frames(SHARED / "video" / "v32_legacy_bw")
    results[f"v32_legacy_bw ({len(legacy_bw)} fr, no truth)"] = evaluate_clip(colorizer, legacy_bw, options, has_truth=False)
    print_table(results)
    lengths = {f"pan": len(pan), "blackswan": len(swan), "v32": len(legacy_bw)}
    for clip, rows in results.items():
        n = next(v for k, v in lengths.items() if clip.startswith(k))
        print(f"{clip}: in-memory seconds/frame (model+temporal+upsample) independent {rows['independent']['seconds'] / n:.3f}, "
              f"temporal {rows['temporal']['seconds'] / n:.3f}; scene cuts {rows['temporal']['cuts']}")

    if not args.skip_speed:
        legacy = load_frames(SHARED / "video" / "v32_legacy_bw", 96)
        with tempfile.TemporaryDirectory() as tmp:
            film = encode_clip(legacy, Path(tmp) / "legacy_640x360.mp4")
            colorizer_speed = measure_speed(colorizer, film, options, temporal=False)  # warm-up + independent
            on = measure_speed(colorizer, film, options, temporal=True)
            off = measure_speed(colorizer, film, options, temporal=False)
        print(f"\nspeed, 640x360 H.264, {on['frames']} frames, whole job (decode+model+flow+upsample+encode):")
        print(f"| temporal | frames/s | s/frame |\n|---|---:|---:|")
        print(f"| on | {on['fps']:.2f} | {on['seconds'] / on['frames']:.3f} |")
        print(f"| off | {off['fps']:.2f} | {off['seconds'] / off['frames']:.3f} |")
        del colorizer_speed
    print(f"load average after: {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")

    if args.legacy:
        out = Path(args.legacy)
        out.mkdir(parents=True, exist_ok=True)
        film = out / "v32_legacy_color.mp4"
        cmd = [sys.executable, "-m", "colorize", str(SHARED / "video" / "v32_legacy_bw"), "-o", str(film), "--model", args.model,
               "--overwrite", "--json"]
        t0 = time.time()
        subprocess.run(cmd, check=True)
        print(f"legacy clip rendered in {time.time() - t0:.1f}s -> {film}")
        print(f"contact sheet: {contact_sheet(film, out / 'v32_legacy_contact.png')}")
    return 0


def main_guided(args: argparse.Namespace) -> int:
    """Hints and a reference on desaturated colour clips (blackswan, and the known-motion pan)."""
    import os

    from colorize.options import merge_options
    from colorize.pipeline import Colorizer

    colorizer = Colorizer.from_pretrained(args.model, device="cpu", backend=args.backend)
    # the model's own decode settings (its weights JSON's ``inference`` section), as the CLI uses them
    options = merge_options(colorizer.options, {"render_size": args.render_size} if args.render_size else None)
    print(f"model {args.model} ({colorizer.backend}); render size {options.render_size}; "
          f"load average before {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    clips = args.clips.split(",")
    if "blackswan" in clips:
        swan = load_frames(SHARED / "video" / "blackswan_color")
        print_guidance(f"blackswan ({len(swan)} frames, {swan[0].shape[1]}x{swan[0].shape[0]}, desaturated)",
                       evaluate_guidance(colorizer, swan, options))
    if "pan" in clips:
        from PIL import Image

        photos = sorted((SHARED / "eval_dev" / "holdout100").iterdir())[:50]  # the first 50 only (the rest is the final check)
        photo = max(photos, key=lambda q: q.stat().st_size)
        pan, flows = make_pan_clip(np.asarray(Image.open(photo).convert("RGB")), args.frames, size=(288, 512))
        print_guidance(f"pan over {photo.name} ({len(pan)} frames, 512x288, known camera motion: warp error on it)",
                       evaluate_guidance(colorizer, pan, options, flows=flows))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
