"""Widen a trained colorize model without changing its output, as the start of a wider fine-tune.

    python scripts/widen_model.py default /root/colorize-runs/wide_init --widths 48 96 192 384
    colorize train ../shared/data/train --init-weights /root/colorize-runs/wide_init.json ...

The wider model computes exactly what the trained one did (checked here on a random input before
writing); its provenance is the trained model's, with a note, so ``colorize train --init-weights``
records the whole lineage (images seen, wall time) as for any fine-tune. See
:mod:`colorize.models.widen`.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from colorize.models import create_model
from colorize.models.weights import load_model, save_model
from colorize.models.widen import widen_into
from colorize.models.registry import resolve_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="trained model: bundled name or .json path")
    ap.add_argument("out", help="output path (without suffix): writes OUT.json and OUT.safetensors")
    ap.add_argument("--widths", nargs="+", type=int, required=True, help="the new channel widths, one per stage")
    args = ap.parse_args()

    path = resolve_weights(args.model)
    trained, info = load_model(path)
    trained = trained.float().eval()
    config = dataclasses.asdict(trained.config)
    config["widths"] = tuple(args.widths)
    torch.manual_seed(0)
    wider = widen_into(trained, create_model(info["arch"], **config)).eval()
    x = torch.rand(1, trained.in_channels, 96, 128)
    with torch.no_grad():
        err = float((trained(x) - wider(x)).abs().max())
    if err > 1e-3:
        raise SystemExit(f"widening changed the output by {err:.2e}; not written")
    prov = dict(info.get("provenance") or {})
    prov["note"] = (f"widened from {args.model} ({trained.num_parameters() / 1e6:.2f} M -> {wider.num_parameters() / 1e6:.2f} M "
                    f"parameters, widths {list(trained.config.widths)} -> {args.widths}); same output (max diff {err:.1e})")
    _, json_path = save_model(wider, args.out, provenance=prov, prior=info.get("prior"), extra={"inference": info.get("inference")})
    print(f"{json_path}: {wider.num_parameters() / 1e6:.2f} M parameters, max output difference {err:.1e}")


if __name__ == "__main__":
    main()
