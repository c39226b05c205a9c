"""Benchmark guided colorization (issue #6): colour hints and reference photos on held-out photos.

    nice -n 10 python benchmarks/bench_guided.py --model runs/ablation/distribution-hints/model_step700.json

For each of the first ``--count`` photos of ``--data`` (gray input = the photo's BT.601 luma):

* **hints** -- N points (N in ``--hints``) at random positions (seeded per photo), each the mean true
  colour of the 3x3 patch around it, given as ``Hints`` points; every hint method is scored
  (``model`` only for hints models). N = 0 is the automatic result (for ``propagate``: gray).
* **reference** -- the true colour photo, mirrored left-right and cropped to a random 70-85% window,
  as the reference (a related reference); the next photo in the list as an unrelated reference.
* **local** (issue #16) -- on the selection split (``--data selection``: McMaster18, CSet14 and the
  first 50 of holdout100), for each hint method: (a) one hint at a random point with the true colour
  there: the PSNR change against the automatic result and the fraction of the photo whose colour
  moved by more than ΔE00 5 from the automatic result (median over the photos); (b) 20 hints with
  true colours: PSNR gain over automatic; (c) one hint of a wrong colour (a hue 90-270 degrees away
  from the truth, chroma 60) at the same point: the changed fraction again.
* **12 MP** -- wall time of one 4000x3000 photo, automatic and with 20 hints / a reference.

Scores are PSNR (RGB, dB) and AuC (ab error, 0-150, percent), as :mod:`colorize.metrics` defines them,
averaged over the photos. Reads ``../shared`` (tests never do). Prints Markdown tables; ``--json`` saves all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from colorize.hints import HintPoint, Hints
from colorize.imaging import lab_to_rgb, resize_bilinear
from colorize.io import read_image
from colorize.metrics import ab_error_curve, auc, ciede2000, psnr, rgb_to_lab_np
from colorize.pipeline import Colorizer

DEFAULT_MODEL = "default"
DEFAULT_DATA = "../shared/data/eval_dev/holdout100"
EVAL_DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eval_dev"
CHANGED_DE = 5.0
"""A pixel counts as changed by a hint when its colour moved by more than this ΔE00 from the automatic result."""


def photo_files(data: str, count: int) -> list[Path]:
    """``selection`` = McMaster18 + CSet14 + the first 50 (sorted) of holdout100 (the split for choices);
    else the first ``count`` photos of the folder ``data``."""
    def listing(folder: Path) -> list[Path]:
        return sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))

    if data == "selection":
        root = EVAL_DEV if EVAL_DEV.is_dir() else Path("/work/shared/data/eval_dev")
        files = listing(root / "McMaster18") + listing(root / "CSet14") + listing(root / "holdout100")[:50]
        return files[:count] if count else files
    return listing(Path(data))[:count]


def wrong_hint(truth: np.ndarray, point: HintPoint, seed: int) -> Hints:
    """The same point with a wrong colour: Lab hue 90-270 degrees away from the true one, chroma 60."""
    rng = np.random.default_rng(seed + 104729)
    lab = rgb_to_lab_np(np.asarray(point.rgb, np.float32)[None, None] / 255)[0, 0]
    hue = np.arctan2(lab[2], lab[1]) + np.deg2rad(rng.uniform(90, 270))
    wrong = np.array([max(30.0, min(80.0, lab[0])), 60 * np.cos(hue), 60 * np.sin(hue)], np.float32)
    rgb = lab_to_rgb(wrong.reshape(1, 3, 1, 1), clip=True)[0, :, 0, 0]
    return Hints(points=[HintPoint(point.x, point.y, tuple(int(round(float(v) * 255)) for v in rgb))])


def changed_fraction(pred_lab: np.ndarray, auto_lab: np.ndarray) -> float:
    return float((ciede2000(pred_lab, auto_lab) > CHANGED_DE).mean())


def sample_hints(truth: np.ndarray, n: int, seed: int) -> Hints:
    """N points at random positions, each with the mean true colour of its 3x3 patch."""
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    points = []
    for _ in range(n):
        x, y = int(rng.integers(1, w - 1)), int(rng.integers(1, h - 1))
        c = truth[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)
        points.append(HintPoint(x, y, tuple(int(round(v * 255)) for v in c)))
    return Hints(points=points)


def related_reference(truth: np.ndarray, seed: int) -> np.ndarray:
    """The true photo mirrored and cropped to a random 70-85% window (different framing and size)."""
    rng = np.random.default_rng(seed + 7919)
    h, w = truth.shape[:2]
    fh, fw = rng.uniform(0.7, 0.85, 2)
    ch, cw = int(h * fh), int(w * fw)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(truth[y0 : y0 + ch, x0 : x0 + cw][:, ::-1])


class Scorer:
    def __init__(self, truth: np.ndarray) -> None:
        self.truth = truth
        self.lab = rgb_to_lab_np(truth)

    def __call__(self, pred: np.ndarray) -> dict[str, float]:
        return {"psnr": psnr(pred, self.truth), "auc": auc(ab_error_curve(rgb_to_lab_np(pred), self.lab))}


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--data", default=DEFAULT_DATA, help="a folder, or 'selection' (McMaster18 + CSet14 + first 50 of holdout100)")
    p.add_argument("--count", type=int, default=20, help="first N photos (0 = all of 'selection')")
    p.add_argument("--hints", default="0,5,20,100", help="numbers of hints")
    p.add_argument("--methods", default="model,propagate,both")
    p.add_argument("--reference-methods", default="auto,reinhard,welsh,semantic")
    p.add_argument("--strength", type=float, default=None, help="reference strength (default: the library's)")
    p.add_argument("--render-size", type=int, default=None)
    p.add_argument("--skip", default="", help="comma list of parts to skip: local,hints,reference,timing")
    p.add_argument("--stride", type=int, default=1, help="every N-th of the photos (ablations on a subset)")
    p.add_argument("--reach-object", type=float, default=None,
                   help="override colorize.hints.REACH_OBJECT (the reach's object-boundary cost; ablations)")
    p.add_argument("--reach-length", type=float, default=None, help="override colorize.hints.REACH_LENGTH (ablations)")
    p.add_argument("--semantic-stride", type=int, default=None, help="override colorize.reference.SEMANTIC_STRIDE (ablations)")
    p.add_argument("--json", help="write all numbers here")
    args = p.parse_args(argv)

    from colorize import hints as hints_module
    from colorize.hints import colorize_guided

    if args.reach_object is not None:
        hints_module.REACH_OBJECT = args.reach_object
    if args.reach_length is not None:
        hints_module.REACH_LENGTH = args.reach_length
    if args.semantic_stride is not None:
        from colorize import reference as reference_module

        reference_module.SEMANTIC_STRIDE = args.semantic_stride

    options = {"render_size": args.render_size} if args.render_size else {}
    c = Colorizer.from_pretrained(args.model, device="cpu", **options)
    files = photo_files(args.data, args.count)[:: max(1, args.stride)]
    counts = [int(n) for n in args.hints.split(",")]
    methods = [m for m in args.methods.split(",") if m != "model" or c.model.config.hints]
    skip = set(args.skip.split(","))
    truths = [read_image(f).rgb for f in files]
    cfg = c.model.config
    print(f"model {args.model} ({type(c.model).__name__}, space {cfg.space}, head {cfg.head}, hints {cfg.hints}); "
          f"{len(files)} photos from {args.data}; render size {c.options.render_size}", file=sys.stderr)

    def run(truth: np.ndarray, **kw) -> np.ndarray:
        y = np.ascontiguousarray(truth @ np.array([0.299, 0.587, 0.114], np.float32))[None, None]
        return np.asarray(colorize_guided(c, y, c.options, **kw))[0].transpose(1, 2, 0)

    results: dict = {"model": args.model, "photos": [f.name for f in files], "render_size": c.options.render_size,
                     "reach_object": hints_module.REACH_OBJECT, "reach_length": hints_module.REACH_LENGTH}
    t_start = time.time()
    if "local" not in skip:
        rows_l: dict[str, dict[str, list[float]]] = {m: {"d1": [], "f1": [], "g20": [], "fw": []} for m in methods}
        for i, truth in enumerate(truths):
            auto = c.colorize_array(truth)
            auto_lab = rgb_to_lab_np(auto)
            p_auto = psnr(auto, truth)
            one = sample_hints(truth, 1, seed=i)
            many = sample_hints(truth, 20, seed=i)
            wrong = wrong_hint(truth, one.points[0], seed=i)
            for m in methods:
                out1 = run(truth, hints=one, hint_method=m)
                rows_l[m]["d1"].append(psnr(out1, truth) - p_auto)
                rows_l[m]["f1"].append(changed_fraction(rgb_to_lab_np(out1), auto_lab))
                rows_l[m]["g20"].append(psnr(run(truth, hints=many, hint_method=m), truth) - p_auto)
                rows_l[m]["fw"].append(changed_fraction(rgb_to_lab_np(run(truth, hints=wrong, hint_method=m)), auto_lab))
            print(f"  local {i + 1}/{len(truths)} {files[i].name}", file=sys.stderr)
        results["local"] = {m: {"psnr_change_1_true": float(np.mean(d["d1"])), "psnr_change_1_true_min": float(np.min(d["d1"])),
                                "changed_median_1_true": float(np.median(d["f1"])), "changed_mean_1_true": float(np.mean(d["f1"])),
                                "psnr_gain_20_true": float(np.mean(d["g20"])),
                                "changed_median_1_wrong": float(np.median(d["fw"])), "changed_mean_1_wrong": float(np.mean(d["fw"])),
                                "changed_p90_1_wrong": float(np.percentile(d["fw"], 90))}
                            for m, d in rows_l.items()}
        print(f"\n### Hints act locally: {len(files)} photos, changed = ΔE00 > {CHANGED_DE:g} vs the automatic result\n")
        print("| method | 1 true hint: PSNR change (mean; worst photo) | 1 true hint: changed (median; mean) "
              "| 20 true hints: PSNR gain | 1 wrong hint: changed (median; mean; 90th pct) |")
        print("|---|---|---|---|---|")
        for m, r in results["local"].items():
            print(f"| {m} | {r['psnr_change_1_true']:+.2f} dB; {r['psnr_change_1_true_min']:+.2f} dB "
                  f"| {100 * r['changed_median_1_true']:.1f}%; {100 * r['changed_mean_1_true']:.1f}% "
                  f"| {r['psnr_gain_20_true']:+.2f} dB "
                  f"| {100 * r['changed_median_1_wrong']:.1f}%; {100 * r['changed_mean_1_wrong']:.1f}%; "
                  f"{100 * r['changed_p90_1_wrong']:.1f}% |")
    if "hints" not in skip:
        table: dict[str, dict[int, list]] = {m: {n: [] for n in counts} for m in methods}
        for i, truth in enumerate(truths):
            score = Scorer(truth)
            auto = score(c.colorize_array(truth))
            for n in counts:
                hints = sample_hints(truth, n, seed=i) if n else None
                for m in methods:
                    if n == 0:  # every method leaves the automatic result without hints
                        s = auto
                    else:
                        s = score(run(truth, hints=hints, hint_method=m))
                    table[m][n].append(s)
            print(f"  hints {i + 1}/{len(truths)} {files[i].name}", file=sys.stderr)
        results["hints"] = {m: {n: mean_scores(v) for n, v in d.items()} for m, d in table.items()}
        print("\n### Colour hints: PSNR (dB) / AuC (%)\n")
        print("| method | " + " | ".join(f"N = {n}" for n in counts) + " |")
        print("|---|" + "---|" * len(counts))
        for m in methods:
            cells = [f"{results['hints'][m][n]['psnr']:.2f} / {results['hints'][m][n]['auc']:.1f}" for n in counts]
            print(f"| {m} | " + " | ".join(cells) + " |")
        base = results["hints"][methods[0]][0]["psnr"]
        print("\nPSNR gain over automatic: " + "; ".join(
            f"{m} N={n}: {results['hints'][m][n]['psnr'] - base:+.2f} dB" for m in methods for n in counts if n))

    if "reference" not in skip:
        rmethods = args.reference_methods.split(",")
        rows: dict[str, dict[str, list]] = {"automatic": {"related": [], "unrelated": []}}
        rows.update({m: {"related": [], "unrelated": []} for m in rmethods})
        for i, truth in enumerate(truths):
            score = Scorer(truth)
            auto = score(c.colorize_array(truth))
            rel = related_reference(truth, i)
            unrel = truths[(i + 1) % len(truths)]
            rows["automatic"]["related"].append(auto)
            rows["automatic"]["unrelated"].append(auto)
            for m in rmethods:
                rows[m]["related"].append(score(run(truth, reference=rel, reference_strength=args.strength, reference_method=m)))
                rows[m]["unrelated"].append(score(run(truth, reference=unrel, reference_strength=args.strength, reference_method=m)))
            print(f"  reference {i + 1}/{len(truths)} {files[i].name}", file=sys.stderr)
        results["reference"] = {m: {k: mean_scores(v) for k, v in d.items()} for m, d in rows.items()}
        a = results["reference"]["automatic"]["related"]
        print("\n### Reference photo: PSNR (dB) / AuC (%)\n")
        print("| method | related (mirrored + cropped truth) | unrelated (another photo) |")
        print("|---|---|---|")
        for m, d in results["reference"].items():
            cells = [f"{d[k]['psnr']:.2f} / {d[k]['auc']:.1f} ({d[k]['psnr'] - a['psnr']:+.2f} dB)" for k in ("related", "unrelated")]
            print(f"| {m} | " + " | ".join(cells) + " |")

    if "timing" not in skip:
        big = np.clip(resize_bilinear(truths[0].transpose(2, 0, 1)[None], (3000, 4000))[0].transpose(1, 2, 0), 0, 1)
        hints20 = sample_hints(big, 20, seed=0)
        timing = {}
        c.colorize_array(truths[0])  # warm-up
        for name, kw in [("automatic", {}), ("20 hints, propagate", {"hints": hints20, "hint_method": "propagate"}),
                         ("20 hints, both", {"hints": hints20, "hint_method": "both"}),
                         *([("20 hints, model", {"hints": hints20, "hint_method": "model"})] if c.model.config.hints else []),
                         ("reference (auto)", {"reference": related_reference(truths[0], 0)})]:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                c.colorize_array(big, uint8=True, **kw)  # 8-bit out, as the CLI writes a JPEG or an 8-bit PNG
                best = min(best, time.perf_counter() - t0)
            timing[name] = best
        results["timing_12mp_s"] = timing
        print("\n### 12-megapixel (4000x3000) photo to 8-bit sRGB in memory, seconds (best of 3)\n")
        print("| run | seconds |\n|---|---|")
        for k, v in timing.items():
            print(f"| {k} | {v:.2f} |")
    results["wall_s"] = time.time() - t_start
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
