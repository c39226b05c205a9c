"""Training throughput of the REAL loop: ``colorize.train.train`` for a few steps per model variant.

    python benchmarks/bench_train.py [--data ../shared/data/train] [--steps 30] [--variants compact,compact-small]
    python benchmarks/bench_train.py --loss-only          # just the old-vs-new distribution loss timing

Each variant runs the same code as ``colorize train`` (hints on, the rebalanced distribution loss
the default uses, bf16 + channels_last, photos decoded from JPEG/WebP files through the DataLoader
and ``make_input``), and images/s is read from the run's ``log.csv``: the images between the first
and the last logged row over the wall time between them (the first ``--log-every`` steps, with
oneDNN's warm-up and the loader's start, are left out). Without ``--data`` a temporary folder of
generated photos (smooth colour fields with edges and texture, half JPEG, half WebP) is used.

It also times the distribution loss alone (forward + backward, bf16 channels_last logits as the
model emits them): today's sparse formulation against the dense one it replaced.
Prints Markdown tables and the load average, since the numbers depend on what else runs.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colorize.color import AB_MAX
from colorize.losses import RebalancedDistributionLoss
from colorize.models import create_model
from colorize.bins import ab_bin_centers, rebalance_weights, soft_encode

# name -> (registered model, model options); hints on everywhere, as the shipped default
VARIANTS: dict[str, tuple[str, dict]] = {
    "compact": ("compact", {}),
    "compact-small": ("compact-small", {}),
    "compact-w192": ("compact", {"widths": (32, 64, 192, 384)}),
    "compact-w48": ("compact", {"widths": (48, 96, 192, 384)}),
}


def dense_reference_loss(centers, weights, logits, target, k=5, sigma=5.0):
    """The formula RebalancedDistributionLoss used before (dense soft target over all bins)."""
    ab = target.float() * AB_MAX
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
    q = soft_encode(ab, centers, k, sigma)
    logp = F.log_softmax(logits.float(), dim=1)
    ce = -(q * logp).sum(1)
    w = weights[q.argmax(1)]
    return (w * ce).sum() / w.numel()


class DenseLoss(RebalancedDistributionLoss):
    """The loss as it was, for a before/after of the real loop (``--dense-loss``)."""

    def forward(self, logits, target):
        return dense_reference_loss(self.centers, self.weights, logits, target, self.k, self.sigma)


def time_losses(batch: int, size: int, repeats: int) -> None:
    centers = ab_bin_centers()
    weights = rebalance_weights(torch.rand(len(centers), generator=torch.Generator().manual_seed(0)) + 0.01)
    new_loss = RebalancedDistributionLoss(centers, weights)
    gen = torch.Generator().manual_seed(1)
    h = size // 4  # the compact model's output stride
    logits = (torch.randn(batch, len(centers), h, h, generator=gen) * 3).bfloat16().contiguous(memory_format=torch.channels_last)
    # a photo-like target: smooth chroma fields, normalised
    target = F.interpolate(torch.rand(batch, 2, 8, 8, generator=gen) - 0.5, size=(size, size), mode="bilinear", align_corners=False) * 1.4
    rows = []
    values = {}
    grads = {}
    for name, fn in (("dense (before)", lambda x: dense_reference_loss(centers, weights, x, target)), ("sparse (now)", lambda x: new_loss(x, target))):
        times = []
        for i in range(repeats + 1):
            x = logits.clone().requires_grad_()
            t = time.perf_counter()
            loss = fn(x)
            loss.backward()
            if i:
                times.append(time.perf_counter() - t)
        values[name], grads[name] = float(loss.detach()), x.grad.float()
        rows.append((name, 1e3 * statistics.median(times), 1e3 * min(times)))
    print(f"\n### Distribution loss alone ({torch.get_num_threads()} threads): batch {batch}, {size} px target, logits {len(centers)}x{h}x{h} bf16 channels_last, forward + backward\n")
    print("| loss | median ms | min ms |\n|---|---|---|")
    for name, med, best in rows:
        print(f"| {name} | {med:.0f} | {best:.0f} |")
    dv = abs(values["dense (before)"] - values["sparse (now)"])
    dg = float((grads["dense (before)"] - grads["sparse (now)"]).abs().max())
    print(f"\nloss {values['sparse (now)']:.6f} vs {values['dense (before)']:.6f} (|diff| {dv:.2e}); max |grad diff| {dg:.2e} "
          f"(grad max {float(grads['dense (before)'].abs().max()):.2e}, bf16)", flush=True)


def make_photos(folder: Path, count: int, size: int = 192, seed: int = 0) -> None:
    """Generated colour photos: smooth random colour fields with a few hard-edged shapes and grain."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        field = rng.random((4, 4, 3)).astype(np.float32)
        img = Image.fromarray((field * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(4):
            x0, y0 = rng.integers(0, size, 2)
            x1, y1 = x0 + rng.integers(10, size // 2), y0 + rng.integers(10, size // 2)
            draw.ellipse([int(x0), int(y0), int(x1), int(y1)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        arr = np.asarray(img).astype(np.int16) + rng.integers(-8, 9, (size, size, 3))
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
        if i % 2:
            img.save(folder / f"photo{i:04d}.webp", quality=85)
        else:
            img.save(folder / f"photo{i:04d}.jpg", quality=90)


def run_variant(name: str, data: str, out: Path, args: argparse.Namespace) -> dict:
    import colorize.train
    from colorize.train import TrainConfig, train

    colorize.train.RebalancedDistributionLoss = DenseLoss if args.dense_loss else RebalancedDistributionLoss  # type: ignore[misc]

    arch, options = VARIANTS[name]
    options = {**options, "hints": True}
    cfg_kwargs = dict(
        data=[data], out=str(out), model=arch, model_options=options, steps=args.steps, warmup_steps=10,
        batch_size=args.batch_size, crop=args.crop, log_every=args.log_every, checkpoint_every=10**9,
        preview_every=0, prior_images=args.prior_images, seed=0, bf16=not args.fp32,
    )
    if args.workers is not None:
        cfg_kwargs["workers"] = args.workers
    if args.threads is not None:
        cfg_kwargs["threads"] = args.threads
    cfg = TrainConfig(**cfg_kwargs)
    params = create_model(arch, **options).num_parameters()
    t0 = time.time()
    train(cfg, progress=False)
    wall = time.time() - t0
    with open(out / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    images = int(last["images_seen"]) - int(first["images_seen"])
    seconds = float(last["elapsed_s"]) - float(first["elapsed_s"])
    ips = images / seconds if seconds > 0 else float("nan")
    return {"name": name, "params": params, "ips": ips, "ms": 1e3 * args.batch_size / ips, "wall": wall,
            "loss": float(last["loss"]), "workers": cfg.workers, "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="training photos (a folder or manifest); default: generated photos in a temp folder")
    ap.add_argument("--photos", type=int, default=300, help="how many photos to generate without --data")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {','.join(VARIANTS)}")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--log-every", type=int, default=10, help="rows of log.csv; the first window is warm-up and left out")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: TrainConfig's)")
    ap.add_argument("--threads", type=int, default=None, help="compute threads (default: TrainConfig's)")
    ap.add_argument("--fp32", action="store_true", help="train in fp32 (for CPUs without native bf16, where oneDNN emulates it slowly)")
    ap.add_argument("--prior-images", type=int, default=200, help="crops for the colour prior (not timed)")
    ap.add_argument("--dense-loss", action="store_true", help="train with the dense loss of before (a before/after of the loop)")
    ap.add_argument("--loss-only", action="store_true", help="only the loss micro-benchmark")
    ap.add_argument("--loss-repeats", type=int, default=5)
    args = ap.parse_args()
    bad = [v for v in args.variants.split(",") if v not in VARIANTS]
    if bad:
        print(f"--variants: unknown {bad}; choose from {list(VARIANTS)}", file=sys.stderr)
        sys.exit(2)
    if args.steps <= args.log_every:
        print("--steps must exceed --log-every (the first logged window is warm-up)", file=sys.stderr)
        sys.exit(2)

    if args.threads is not None:
        torch.set_num_threads(args.threads)  # the loss micro-benchmark too (train() sets it for its run)
    load = os.getloadavg()
    print(f"\ntorch {torch.__version__}, {os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    time_losses(args.batch_size, args.crop, args.loss_repeats)
    if args.loss_only:
        return

    logging.getLogger("colorize.train").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        data = args.data
        if data is None:
            data = str(Path(tmp) / "photos")
            make_photos(Path(data), args.photos)
        results = []
        for i, name in enumerate(args.variants.split(",")):
            results.append(run_variant(name, data, Path(tmp) / f"run{i}", args))
            r = results[-1]
            print(f"  {name}: {r['ips']:.1f} img/s (wall {r['wall']:.0f} s incl. prior and export)", file=sys.stderr, flush=True)
    load = os.getloadavg()
    r0 = results[0]
    print(f"\n### Real training loop: batch {args.batch_size}, crop {args.crop}, hints on, {'dense (old)' if args.dense_loss else 'sparse'} distribution loss, {'fp32' if args.fp32 else 'bf16'} + channels_last, "
          f"{args.steps} steps ({args.steps - args.log_every} timed), {r0['workers']} workers, {r0['threads']} threads, "
          f"data {'generated (' + str(args.photos) + ' JPEG/WebP)' if args.data is None else args.data}\n")
    print("| variant | parameters | img/s | ms/step |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['params'] / 1e6:.2f} M | {r['ips']:.1f} | {r['ms']:.0f} |")
    print(f"\nload average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
