"""Training throughput (images/second) at 128x128, batch 32, for each model. Prints a Markdown table.

    python benchmarks/bench_train.py [--models compact,hypercolumn] [--steps 5]

One optimiser step = forward, the model's loss, backward, AdamW step, on random 128x128 crops
(the data loader is measured separately by the training log: decoding is not the bottleneck).
Target for the default compact model on the project's 2-core CPU: >= 25 images/s.
"""

from __future__ import annotations

import argparse
import time

import torch

from colorize.color import get_chroma_space
from colorize.losses import BlurredChromaLoss, RebalancedDistributionLoss
from colorize.models import create_model, list_models


def images_per_second(name: str, bf16: bool, steps: int, batch: int, size: int) -> float:
    model = create_model(name).train().to(memory_format=torch.channels_last)
    space = get_chroma_space(model.config.space)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = RebalancedDistributionLoss(model.head.bin_centers) if model.config.head == "distribution" else BlurredChromaLoss()
    rgb = torch.rand(batch, 3, size, size)
    luma, chroma = space.split(rgb)
    x = luma.contiguous(memory_format=torch.channels_last)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = loss_fn(out, chroma)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step warms oneDNN's kernels up
            times.append(time.perf_counter() - t)
    return batch / (sum(times) / len(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(e.name for e in list_models()))
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()
    print(f"\n{torch.get_num_threads()} threads, torch {torch.__version__}, batch {args.batch_size}, {args.size}x{args.size}\n")
    print("| model | parameters | fp32 img/s | bf16 + channels_last img/s |\n|---|---|---|---|")
    for name in args.models.split(","):
        params = create_model(name).num_parameters()
        fp32 = images_per_second(name, False, args.steps, args.batch_size, args.size)
        bf16 = images_per_second(name, True, args.steps, args.batch_size, args.size)
        print(f"| {name} | {params / 1e6:.1f} M | {fp32:.1f} | {bf16:.1f} |", flush=True)


if __name__ == "__main__":
    main()
