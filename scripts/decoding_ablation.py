"""Decoding ablation for a distribution-head model: temperature, saturation, prior correction, flip TTA.

Why: the quality targets pull in opposite directions (PSNR rewards muted colour, the colourfulness
gap punishes it). This scores, on the same images and in one run, how each decode-time knob moves
along that trade-off, without retraining:

- ``T``: annealed-mean temperature (the shipped knob);
- ``sat``: the pipeline's uniform chroma scale (the shipped ``--saturation``);
- ``prior a``: divide the predicted bin probabilities by the class-rebalancing weights to the power
  ``a`` before decoding. Training with rebalanced cross-entropy tilts the network's distribution
  towards rare (saturated) colours; ``a = 1`` undoes that tilt, so ``T = 1`` is then an estimate of
  the posterior mean, the PSNR-optimal answer; a negative ``a`` tilts it further towards rare colours;
- ``flip``: average the bin probabilities of the image and its mirror image;
- ``smooth k`` / ``guided k``: pool the log-probabilities over a k x k neighbourhood (at the head's
  resolution, stride 4) *before* annealing, so neighbouring pixels agree on one mode instead of
  picking different ones (the cause of blotches); ``guided`` weights the neighbours by luminance
  similarity (a joint bilateral filter on the gray input), so the pooling stops at edges.
  (``--only smoothing`` runs just these rows.)

    python scripts/decoding_ablation.py ../shared/data/eval_dev --model default --json runs/decoding.json

Prints a Markdown table of the ``all`` rows (gray baseline first).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from colorize.bins import annealed_mean, rebalance_weights
from colorize.color import AB_MAX
from colorize.decode import consensus_pool
from colorize.evaluate import evaluate_folder
from colorize.models.base import ColorModel
from colorize.pipeline import ColorizeOptions, Colorizer

COLUMNS = [("psnr", "PSNR", 2), ("ssim", "SSIM", 3), ("ciede2000", "ΔE00", 2), ("cf_pred", "CF pred", 1),
           ("delta_cf", "ΔCF", 1), ("auc", "AuC", 2), ("auc_rebalanced", "AuC rebal.", 2), ("blotchiness", "Blotch", 2)]


def pool_log_probs(logp: torch.Tensor, luma: torch.Tensor, k: int, sigma_luma: float | None = None) -> torch.Tensor:
    """The library's consensus pooling (:func:`colorize.decode.consensus_pool`, the shipped code) on tensors;
    ``sigma_luma=None`` pools unweighted (a box)."""
    if k <= 1:
        return logp
    sigma = 1e6 if sigma_luma is None else sigma_luma
    return torch.from_numpy(consensus_pool(logp.cpu().numpy(), luma[:, :1].float().cpu().numpy(), k, sigma)).to(logp.device)


@contextlib.contextmanager
def patched_prediction(model: ColorModel, log_w: torch.Tensor, prior_alpha: float = 0.0, flip: bool = False,
                       smooth: int = 0, sigma_luma: float | None = None) -> Iterator[None]:
    """Temporarily replace ``model.predict_chroma`` with a prior-corrected and/or flip-averaged decode."""

    def predict(x: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
        logp = torch.log_softmax(model(x).float(), 1)
        if flip:
            mirrored = torch.log_softmax(model(torch.flip(x, [3])).float(), 1).flip(3)
            logp = torch.logaddexp(logp, mirrored) - np.log(2.0)
        logp = logp - prior_alpha * log_w.to(logp.device).view(1, -1, 1, 1)
        logp = pool_log_probs(logp, x, smooth, sigma_luma)
        return annealed_mean(logp, model.head.bin_centers, temperature) / AB_MAX

    model.predict_chroma = predict  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.predict_chroma


def variant(colorizer: Colorizer, temperature: float, saturation: float = 1.0, prior_alpha: float = 0.0,
            flip: bool = False, smooth: int = 0, sigma_luma: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    # consensus_radius 0: the rows patch the torch decode themselves (the library's consensus bypasses it)
    options = ColorizeOptions(**{**colorizer.options.__dict__, "temperature": temperature, "saturation": saturation,
                                 "consensus_radius": 0})
    log_w = torch.log(rebalance_weights(torch.tensor(colorizer.info["prior"]), 0.5)).float()

    def run(gray_rgb: np.ndarray) -> np.ndarray:
        with patched_prediction(colorizer.model, log_w, prior_alpha, flip, smooth, sigma_luma):
            return colorizer.colorize_array(gray_rgb, options)

    return run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--model", default="default")
    p.add_argument("--temperatures", default="0.38,0.55,0.8,1.0")
    p.add_argument("--temperature", type=float, default=None,
                   help="temperature of the saturation/prior/flip variants (default: the model's)")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--json", help="write the full evaluation JSON here")
    p.add_argument("--only", choices=["smoothing"], help="run only one family of rows (plus the model's own decode)")
    p.add_argument("--smooth-sizes", default="3,5,7", help="neighbourhood sizes of the smoothing rows (default 3,5,7)")
    p.add_argument("--guided-only", action="store_true", help="smoothing rows: only the luma-guided pooling")
    p.add_argument("--saturations", default="1", help="smoothing rows: also at these chroma scales (default 1)")
    args = p.parse_args()

    # The torch backend: the variants patch the torch model's decode, which an ONNX graph does not use.
    colorizer = Colorizer.from_pretrained(args.model, backend="torch")
    if colorizer.model.config.head != "distribution":
        raise SystemExit("decoding ablation needs a distribution-head model")
    if not colorizer.info.get("prior"):
        raise SystemExit("the model stores no colour prior, which prior correction needs")
    temps = [float(t) for t in args.temperatures.split(",")]
    base_t = args.temperature if args.temperature is not None else colorizer.options.temperature
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {f"T {t:g}": variant(colorizer, t) for t in temps}
    if args.only == "smoothing":
        fns = {f"T {base_t:g}": variant(colorizer, base_t)}
        for k in (int(v) for v in args.smooth_sizes.split(",")):
            for sat in (float(v) for v in args.saturations.split(",")):
                tag = "" if sat == 1 else f", sat {sat:g}"
                if not args.guided_only:
                    fns[f"T {base_t:g}, smooth {k}{tag}"] = variant(colorizer, base_t, saturation=sat, smooth=k)
                fns[f"T {base_t:g}, guided {k}{tag}"] = variant(colorizer, base_t, saturation=sat, smooth=k, sigma_luma=0.1)
    else:
        fns.update({
            f"T {base_t:g}, sat 0.65": variant(colorizer, base_t, saturation=0.65),
            f"T {base_t:g}, prior 0.25": variant(colorizer, base_t, prior_alpha=0.25),
            f"T {base_t:g}, prior 0.5": variant(colorizer, base_t, prior_alpha=0.5),
            f"T {base_t:g}, prior 1": variant(colorizer, base_t, prior_alpha=1.0),
            "T 1, prior 1 (posterior mean)": variant(colorizer, 1.0, prior_alpha=1.0),
            "T 1, prior -0.5 (extra rebalancing)": variant(colorizer, 1.0, prior_alpha=-0.5),
            "T 1, prior -1": variant(colorizer, 1.0, prior_alpha=-1.0),
            f"T {base_t:g}, flip TTA": variant(colorizer, base_t, flip=True),
        })
    result = evaluate_folder(Path(args.folder), fns, max_images=args.max_images, progress=True)
    if args.json:
        Path(args.json).write_text(result.to_json())
    print("| decoding | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, s in result.groups["all"].methods.items():
        cells = [f"{getattr(s, k):.{d}f}" if getattr(s, k, None) is not None else "" for k, _, d in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
