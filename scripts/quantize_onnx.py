"""ONNX Runtime for the default model: fp32 vs graph optimizations vs int8 quantization (issue 15).

Why: the default install is to run the network on onnxruntime instead of PyTorch, and it must not get
slower; int8 is the obvious lever, but only if colour quality holds (the issue's bar: within 0.2
rebalanced-AuC points and 0.1 dB PSNR of fp32 on ``eval_dev``). This measures, in one run:

* **graph optimization levels** (DISABLE / BASIC / EXTENDED / ALL) on the fp32 export, the session
  creation time, and an offline-optimized file (``SessionOptions.optimized_model_filepath``);
* **static int8** (``quantize_static``, QDQ, per-channel weights, U8 activations / S8 weights, MinMax
  calibration) on ``--calib`` training photos sampled round-robin over the training sources. The
  calibration reader feeds the graph's real inputs: the model luma at the render size from the
  pipeline's own functions (``gray_of`` -> ``render_input`` -> ``model_luma``), the three hint
  channels (zeros for half the photos; for the other half simulated hints from the photo's true
  chroma, as training makes them, so the input's quantization range covers negative hint chroma) and
  the ``temperature`` input (the model's inference default, a few calls at 0.38 and 1.0);
* the same with the **head and decode kept in fp32** (the head's 1x1 conv, the softmax and the
  decode conv), and with the **whole decoder** kept in fp32;
* **dynamic int8** (``quantize_dynamic``: weights int8, activations quantized per call);
* with ``--extra`` instead: 8-bit weights (no ``reduce_range``), the **first conv** (the one that sees
  luma + hints) kept in fp32 (alone, with the head and decode, or with 8-bit weights), percentile
  calibration.

``--reuse`` keeps the files an earlier run left in ``--out-dir``; ``--skip-latency`` and ``--score``
make a second, quality-only run of chosen variants; ``--holdout-first`` / ``--max-per-group`` pick the
eval subset (the model card says which was used).

For each: forward latency at the render size of a 4:3 photo (192 x 256, batch 1, ``--threads``
intra-op threads, median over interleaved rounds so that load changes hit every variant alike), the
file size, the largest / mean chroma difference from fp32 on calibration-free eval inputs (with and
without hints), and quality through ``colorize.evaluate.evaluate_folder`` (the same scoring as
``colorize evaluate``) with the full pipeline on the chosen eval subset.

    python scripts/quantize_onnx.py --out-dir /tmp/q --json /tmp/q/quant.json

Temp files go to ``--out-dir`` (never into the repository). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent.parent / "shared" / "data"
SHAPE = (192, 256)  # render_shape(3000, 4000, 256): a 4:3 photo at the default render size


def _default_data() -> Path:
    for cand in (Path("../shared/data"), Path("/work/shared/data"), DATA):
        if (cand / "train").is_dir():
            return cand
    return Path("../shared/data")


# ----------------------------------------------------------------------------- inputs the graph really sees


def model_inputs(rgb: np.ndarray, space: str, *, hints: bool, seed: int, render_size: int = 256) -> np.ndarray:
    """(1, 4, h, w) float32: model luma at the render size + hint channels (zeros, or simulated from the truth)."""
    import torch

    from colorize.color import get_chroma_space
    from colorize.render import gray_of, model_luma, render_input, render_shape
    from colorize.train import simulate_hints

    y = torch.from_numpy(gray_of(rgb))[None, None]
    y_low = render_input(y, render_size)
    luma = model_luma(y_low, space)
    hint = torch.zeros(1, 3, *luma.shape[-2:])
    if hints:
        rh, rw = render_shape(rgb.shape[0], rgb.shape[1], render_size)
        c = torch.from_numpy(np.ascontiguousarray(rgb[..., :3], dtype=np.float32)).permute(2, 0, 1)[None]
        c = torch.nn.functional.interpolate(c, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        _, chroma = get_chroma_space(space).split(c)
        hint = simulate_hints(chroma, 1.0, torch.Generator().manual_seed(seed))
    return torch.cat([luma, hint], dim=1).numpy().astype(np.float32)


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def calibration_files(train: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` photos round-robin over the source folders (the mix is skewed: sample per source)."""
    rng = random.Random(seed)
    pools = []
    for src in sorted(p for p in train.iterdir() if p.is_dir()):
        files = sorted(src.glob("*.webp"))
        rng.shuffle(files)
        pools.append(files)
    out: list[Path] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        out += [p[i] for p in pools if i < len(p)]
        i += 1
    return out[:n]


class Reader:
    """``CalibrationDataReader``: one feed dict per calibration photo (the graph's real inputs)."""

    def __init__(self, files: list[Path], space: str, temperature: float) -> None:
        self.files, self.space, self.temperature = files, space, temperature
        self._feeds: list[dict[str, np.ndarray]] | None = None  # read on first use (not at all with --reuse)
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    @property
    def feeds(self) -> list[dict[str, np.ndarray]]:
        if self._feeds is None:
            t0 = time.perf_counter()
            self._feeds = []
            for k, f in enumerate(self.files):
                t = self.temperature if k % 8 not in (3, 7) else (0.38 if k % 8 == 3 else 1.0)
                x = model_inputs(read_rgb(f), self.space, hints=k % 2 == 1, seed=k)
                self._feeds.append({"luma": x, "temperature": np.asarray(t, dtype=np.float32)})
            print(f"calibration: {len(self.files)} photos ({time.perf_counter() - t0:.0f} s to prepare)", file=sys.stderr)
        return self._feeds

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._it is None:
            self._it = iter(self.feeds)
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self.feeds)


# ----------------------------------------------------------------------------- building the variants


def session(path: Path, threads: int, level: str = "ALL", save_to: Path | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, "ORT_DISABLE_ALL" if level == "DISABLE" else f"ORT_ENABLE_{level}")
    opts.log_severity_level = 3
    if save_to is not None:
        opts.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


EXTRA_PLANS = {"int8 static QDQ (all), 8-bit weights (no reduce_range)", "int8 static QDQ, first conv+head+decode fp32",
               "int8 static QDQ, first conv fp32", "int8 static QDQ, first conv fp32, 8-bit weights",
               "int8 static QDQ (all), percentile calib. 99.99"}


def build_variants(fp32: Path, out: Path, reader: Reader, only: set[str] | None, extra: bool = False,
                   reuse: bool = False) -> dict[str, tuple[Path, str]]:
    """{name: (onnx file, optimization level to run it at)}; the quantized files are built here."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    v: dict[str, tuple[Path, str]] = {
        "fp32 (no graph opt.)": (fp32, "DISABLE"),
        "fp32 BASIC": (fp32, "BASIC"),
        "fp32 EXTENDED": (fp32, "EXTENDED"),
        "fp32 ALL (as OnnxPredictor)": (fp32, "ALL"),
    }
    opt = out / "default.opt-extended.onnx"  # offline optimized; EXTENDED keeps it portable (ALL adds CPU-specific layouts)
    if not (reuse and opt.is_file()):
        session(fp32, 1, "EXTENDED", save_to=opt)
    v["fp32 pre-optimized file (EXTENDED) + ALL"] = (opt, "ALL")

    pre = out / "default.pre.onnx"
    if not (reuse and pre.is_file()):
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=False)
    names = [n.name for n in onnx.load(str(pre)).graph.node]
    head = [n for n in names if n.startswith("/model/head/") or not n.startswith("/model/")]  # head conv + softmax/decode
    decoder = head + [n for n in names if n.startswith("/model/decoder/")]
    static = dict(quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                  weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    stem = [n for n in names if n.startswith("/model/stages.0/stages.0.0/")]  # the first conv: sees luma + hints
    plans: dict[str, tuple[list[str], dict[str, Any]]] = {
        "int8 static QDQ (all)": ([], {}),
        "int8 static QDQ, head+decode fp32": (head, {}),
        "int8 static QDQ, decoder+head fp32": (decoder, {}),
        # --extra: the other knobs, for when the ones above miss the quality bar
        "int8 static QDQ (all), 8-bit weights (no reduce_range)": ([], {"reduce_range": False}),
        "int8 static QDQ, first conv+head+decode fp32": (stem + head, {}),
        "int8 static QDQ, first conv fp32": (stem, {}),
        "int8 static QDQ, first conv fp32, 8-bit weights": (stem, {"reduce_range": False}),
        "int8 static QDQ (all), percentile calib. 99.99": ([], {"calibrate_method": CalibrationMethod.Percentile,
                                                               "extra_options": {"CalibPercentile": 99.99}}),
    }
    for name, (exclude, overrides) in plans.items():
        if (only and name not in only) or (not only and (name in EXTRA_PLANS) != extra):
            continue
        tag = name.replace(" ", "_")
        for ch in ",+()":
            tag = tag.replace(ch, "")
        path = out / f"default.{tag}.onnx"
        v[name] = (path, "ALL")
        if reuse and path.is_file():
            continue
        reader.rewind()
        t0 = time.perf_counter()
        quantize_static(str(pre), str(path), reader, nodes_to_exclude=exclude, **{**static, **overrides})  # type: ignore[arg-type]
        print(f"built {name} in {time.perf_counter() - t0:.0f} s ({len(exclude)} nodes kept fp32)", file=sys.stderr)
    if (not only and not extra) or (only and "int8 dynamic" in only):
        path = out / "default.int8_dynamic.onnx"
        if not (reuse and path.is_file()):
            quantize_dynamic(str(pre), str(path), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
        v["int8 dynamic"] = (path, "ALL")
    return v


# ----------------------------------------------------------------------------- measuring


def latency(variants: dict[str, tuple[Path, str]], threads: int, rounds: int, torch_ref: bool) -> dict[str, dict[str, float]]:
    """Median / p90 forward ms at SHAPE, batch 1; rounds interleave the variants (fair under load)."""
    x = np.random.default_rng(0).random((1, 4, *SHAPE), dtype=np.float32)
    x[:, 1:] = 0
    feeds = {"luma": x, "temperature": np.asarray(0.55, dtype=np.float32)}
    runners: dict[str, Any] = {}
    created: dict[str, float] = {}
    for name, (path, level) in variants.items():
        t0 = time.perf_counter()
        s = session(path, threads, level)
        created[name] = time.perf_counter() - t0
        runners[name] = (lambda s=s: s.run(["chroma"], feeds))
    if torch_ref:
        import torch

        from colorize.pipeline import Colorizer

        torch.set_num_threads(threads)
        c = Colorizer.from_pretrained("default", backend="torch", device="cpu")
        xt = torch.from_numpy(x)
        runners["torch (TorchPredictor, this CPU: fp32)"] = lambda: c.predictor.predict_chroma(xt, 0.55)
        created["torch (TorchPredictor, this CPU: fp32)"] = float("nan")
    for fn in runners.values():
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for k, fn in runners.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1000)
    out = {}
    for k, ts in times.items():
        ts.sort()
        out[k] = {"median_ms": statistics.median(ts), "p90_ms": ts[int(0.9 * (len(ts) - 1))], "session_s": created[k]}
    return out


def chroma_drift(variants: dict[str, tuple[Path, str]], files: list[Path], threads: int) -> dict[str, dict[str, float]]:
    """Chroma difference from fp32 in ab units (x AB_MAX): mean and max |diff|, without and with hints."""
    from colorize.color import AB_MAX

    inputs = []
    for k, f in enumerate(files):
        rgb = read_rgb(f)
        for hints in (False, True):
            inputs.append((hints, model_inputs(rgb, "lab", hints=hints, seed=1000 + k)))
    ref_s = session(variants["fp32 ALL (as OnnxPredictor)"][0], threads, "ALL")
    t = np.asarray(0.55, dtype=np.float32)
    refs = [ref_s.run(["chroma"], {"luma": x, "temperature": t})[0] for _, x in inputs]
    out = {}
    for name, (path, level) in variants.items():
        s = session(path, threads, level)
        d = {False: [], True: []}  # type: dict[bool, list[np.ndarray]]
        for (hints, x), ref in zip(inputs, refs):
            d[hints].append(np.abs(s.run(["chroma"], {"luma": x, "temperature": t})[0] - ref).ravel() * AB_MAX)
        out[name] = {f"{'hints' if h else 'auto'}_{k}": float(fn(np.concatenate(v))) for h, v in d.items()
                     for k, fn in (("mean_ab", np.mean), ("max_ab", np.max))}
    return out


def eval_subset(eval_dev: Path, out: Path, holdout_first: int) -> Path:
    """The model card's *selection* split as a folder of symlinks: McMaster18 + CSet14 + the first N of holdout100."""
    root = out / f"eval_selection_{holdout_first}"
    for group in ("McMaster18", "CSet14", "holdout100"):
        files = sorted(p for p in (eval_dev / group).iterdir() if p.is_file())
        if group == "holdout100":
            files = files[:holdout_first]
        (root / group).mkdir(parents=True, exist_ok=True)
        for f in files:
            link = root / group / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
    return root


def quality(variants: dict[str, tuple[Path, str]], folder: Path, threads: int, max_images: int | None = None) -> dict[str, dict[str, float]]:
    """Full pipeline per variant through ``evaluate_folder`` (every method on the same images, one pass)."""
    import torch

    from colorize.backends import OnnxPredictor
    from colorize.evaluate import ALL, evaluate_folder
    from colorize.pipeline import Colorizer

    torch.set_num_threads(threads)
    base = Colorizer.from_pretrained("default", backend="torch", device="cpu")
    fns = {}
    calls = [0]
    t0 = time.perf_counter()

    def counted(g: np.ndarray, c: Colorizer) -> np.ndarray:
        calls[0] += 1
        if calls[0] % (5 * len(variants)) == 0:
            print(f"  quality: {calls[0] // len(variants)} photos, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        return c.colorize_array(g, c.options)

    for name, (path, _level) in variants.items():
        c = Colorizer(OnnxPredictor(path, threads=threads), info=base.info, options=base.options, torch_model=base.model)
        fns[name] = lambda g, c=c: counted(g, c)
    result = evaluate_folder(folder, fns, progress=False, thumbnails=0, max_images=max_images)
    rows = {}
    for m in result.methods:
        s = result.summary(m, ALL)
        rows[m] = {"images": s.images, "auc_rebalanced": s.auc_rebalanced, "auc": s.auc, "psnr": s.psnr,
                   "blotch": s.blotchiness, "ciede2000": s.ciede2000, "cf_pred": s.cf_pred, "s_per_image": s.seconds_per_image}
    return rows


def main(argv: list[str] | None = None) -> int:
    data = _default_data()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--out-dir", type=Path, default=Path("/tmp/q"))
    p.add_argument("--train", type=Path, default=data / "train")
    p.add_argument("--eval", type=Path, default=data / "eval_dev")
    p.add_argument("--calib", type=int, default=96, help="calibration photos (round-robin over sources)")
    p.add_argument("--holdout-first", type=int, default=50, help="holdout100 photos in the eval subset (50 = the selection split)")
    p.add_argument("--max-per-group", type=int, default=None, help="at most this many photos per sub-folder (evaluate_folder's max_images)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--only", action="append", help="build only these quantized variants (repeatable)")
    p.add_argument("--extra", action="store_true", help="build the other static variants (no reduce_range, first conv fp32, "
                   "percentile calibration) instead of the main ones")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--skip-latency", action="store_true", help="no latency / drift table (e.g. a second quality run)")
    p.add_argument("--reuse", action="store_true", help="reuse the files of an earlier run in --out-dir instead of rebuilding")
    p.add_argument("--score", action="append", help="score only these variants' quality (repeatable; fp32 ALL is always scored)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "default.onnx"
    if not fp32.is_file():  # the export the onnxruntime backend uses, through the public CLI
        subprocess.run([sys.executable, "-m", "colorize", "export", str(fp32)], check=True)
    from colorize.options import DEFAULT_TEMPERATURE

    info = json.loads((Path(__import__("colorize").__file__).parent / "pretrained" / "default.json").read_text())
    temperature = float(info.get("inference", {}).get("temperature", DEFAULT_TEMPERATURE))
    files = calibration_files(args.train, args.calib)
    reader = Reader(files, info.get("space", "lab"), temperature)
    variants = build_variants(fp32, out, reader, set(args.only) if args.only else None, args.extra, args.reuse)
    report: dict[str, Any] = {"conditions": {
        "threads": args.threads, "shape": SHAPE, "rounds": args.rounds, "calibration_photos": len(files),
        "temperature": temperature, "cpu": os.cpu_count(), "load_avg_start": os.getloadavg(),
        "note": "shared 2-core machine; a training run was using the CPU"}}
    report["size_mb"] = {k: p.stat().st_size / 1e6 for k, (p, _) in variants.items()}
    if not args.skip_latency:
        report["latency"] = latency(variants, args.threads, args.rounds, torch_ref=True)
        drift_files = sorted((args.eval / "CSet14").iterdir())[:6]
        report["drift"] = chroma_drift(variants, drift_files, args.threads)
        print("\n| variant | file MB | session s | forward ms (median) | p90 | mean / max ab diff vs fp32 | with hints |", flush=True)
        print("|---|---|---|---|---|---|---|")
        for k, lat in report["latency"].items():
            size = report["size_mb"].get(k)
            d = report["drift"].get(k)
            drift = f"{d['auto_mean_ab']:.2f} / {d['auto_max_ab']:.1f} | {d['hints_mean_ab']:.2f} / {d['hints_max_ab']:.1f}" if d else "- | -"
            print(f"| {k} | {size:.1f} | {lat['session_s']:.2f} | {lat['median_ms']:.1f} | {lat['p90_ms']:.1f} | {drift} |"
                  if size is not None else f"| {k} | - | - | {lat['median_ms']:.1f} | {lat['p90_ms']:.1f} | - | - |", flush=True)
    if not args.skip_quality:
        # graph optimization levels compute the same function (drift ~1e-6): score one fp32 row and the int8 ones
        scored = {k: v for k, v in variants.items() if k == "fp32 ALL (as OnnxPredictor)"
                  or (not k.startswith("fp32") and (not args.score or k in args.score))}
        folder = eval_subset(args.eval, out, args.holdout_first)
        t0 = time.perf_counter()
        report["quality"] = quality(scored, folder, args.threads, args.max_per_group)
        report["quality_seconds"] = time.perf_counter() - t0
        ref = report["quality"]["fp32 ALL (as OnnxPredictor)"]
        print(f"\nquality on {folder} ({ref['images']} photos), {report['quality_seconds']:.0f} s\n")
        print("| variant | AuC rebal. | Δ | AuC | PSNR | Δ dB | Blotch | ΔE00 |")
        print("|---|---|---|---|---|---|---|---|")
        for k, q in report["quality"].items():
            print(f"| {k} | {q['auc_rebalanced']:.2f} | {q['auc_rebalanced'] - ref['auc_rebalanced']:+.2f} | {q['auc']:.2f} | "
                  f"{q['psnr']:.2f} | {q['psnr'] - ref['psnr']:+.2f} | {q['blotch']:.2f} | {q['ciede2000']:.2f} |")
    report["conditions"]["load_avg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
