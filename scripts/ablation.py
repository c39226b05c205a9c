"""Short equal-budget training runs that pick the default model's recipe (see docs/model-card.md).

Every variant uses the same data, crop, batch and step budget, and plans its learning-rate schedule
for the full run (``--steps``), pausing at ``--stop-at``: the winner is then continued with
``colorize train --resume --out runs/ablation/<variant>`` instead of starting over.

    python scripts/ablation.py seed-regression distribution distribution-hints
"""

from __future__ import annotations

import argparse
import logging

from colorize.train import TrainConfig, train

VARIANTS = {
    # The seed's recipe on the compact model: YUV chroma regression, blurred-Euclidean loss, SGD 0.1.
    "seed-regression": dict(model_options={"head": "regression", "space": "yuv"}, losses="blur", optimizer="sgd"),
    # Zhang et al. 2016: distribution over ab bins, class-rebalanced cross-entropy, annealed mean.
    "distribution": dict(model_options={"head": "distribution", "space": "lab"}, losses="distribution", optimizer="adamw"),
    # The same with simulated user hints on half the samples (Zhang et al. 2017): one model for both uses.
    "distribution-hints": dict(model_options={"head": "distribution", "space": "lab", "hints": True}, losses="distribution", optimizer="adamw"),
    # Distribution loss plus the seed's blur loss on the decoded annealed mean.
    "distribution-blur": dict(model_options={"head": "distribution", "space": "lab"}, losses="distribution=1,blur=2", optimizer="adamw"),
    # Second generation (issue 14): the shipped recipe (distribution + hints) at today's widths, and
    # with wider deep stages (the cheap capacity on a CPU: plain 3x3 convs, no depthwise blocks).
    "gen2-compact": dict(model_options={"head": "distribution", "space": "lab", "hints": True}, losses="distribution", optimizer="adamw"),
    "gen2-wide": dict(model_options={"head": "distribution", "space": "lab", "hints": True, "widths": (48, 96, 192, 384)},
                      losses="distribution", optimizer="adamw"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--stop-at", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None, help="default: the training default for this machine")
    ap.add_argument("--stop-at-each", nargs="*", type=int, default=None,
                    help="per-variant pause steps (equal CPU time: scale by each variant's measured step time)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stops = args.stop_at_each or [args.stop_at] * len(args.variants)
    if len(stops) != len(args.variants):
        ap.error("--stop-at-each needs one step count per variant")
    for name, stop_at in zip(args.variants, stops):
        cfg = TrainConfig(
            data=[args.data], out=f"{args.out}/{name}", steps=args.steps, stop_at=stop_at, batch_size=args.batch_size,
            workers=args.workers, warmup_steps=200, checkpoint_every=100, preview_every=500, log_every=20, **VARIANTS[name],
        )
        train(cfg, progress=False)


if __name__ == "__main__":
    main()
