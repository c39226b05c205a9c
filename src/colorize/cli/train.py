"""``colorize train``: the command line of :func:`colorize.train.train` (checks, resume, export)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import policy_from_args
from .photo import _err


def run_train(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="colorize train",
        description="Train a colorization model on colour photos (the gray input is made on the fly). "
        "Runs unchanged under torchrun for DistributedDataParallel (gloo on CPU, NCCL on GPUs).",
        epilog="examples (PHOTOS/ stands for your own folder of colour photos; runs/ is created):\n"
        "  colorize train PHOTOS/ --out runs/mine --steps 5000\n"
        "  torchrun --nproc-per-node 8 -m colorize train PHOTOS/ --out runs/big --device cuda",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", nargs="*", help="folders of colour images (sub-folders are sources) or CSV/text manifests")
    p.add_argument("--out", required=True, help="run folder: checkpoints, log.csv, loss.png, previews, model.json "
                   "(it is the run: --resume and --export read and write only here, wherever it was moved)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped "
                   "(data folders given here replace the stored ones, e.g. after moving the data)")
    p.add_argument("--export", nargs="?", const="", default=None, metavar="PATH",
                   help="only export the last checkpoint of --out as a model (to PATH, default OUT/model_stepN)")
    p.add_argument("--model", default="compact", help="architecture (see 'colorize models')")
    p.add_argument("--space", choices=["lab", "yuv"], help="chroma space (default: the architecture's)")
    p.add_argument("--head", choices=["regression", "distribution"], help="chroma head (default: the architecture's)")
    p.add_argument("--hints", action="store_true", help="train with simulated user colour hints (Zhang et al. 2017)")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=JSON", help="other config field, e.g. widths=[24,48,96,192]")
    p.add_argument("--backbone-weights", help="torchvision .pth for VGG/ResNet backbones, or 'imagenet' to download")
    p.add_argument("--init-weights", metavar="MODEL", help="fine-tune a trained colorize model (name or path); "
                   "its architecture, options and colour prior are used")
    p.add_argument("--losses", default=None, help="e.g. distribution | blur | distribution=1,blur=0.5 (default: by head)")
    p.add_argument("--rebalance-lambda", type=float, default=None, metavar="LAMBDA",
                   help="class rebalancing of the distribution loss (Zhang et al. 2016): 1 = none, towards 0 = the full "
                        "inverse colour prior, must be > 0 (default 0.5)")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="adamw")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.1 SGD, 1e-3 AdamW; 0 keeps the weights as loaded)")
    p.add_argument("--steps", type=int, default=None, help="total (non-adversarial) steps the schedule plans for")
    p.add_argument("--stop-at", type=int, help="pause at this step (checkpointed); --resume continues")
    p.add_argument("--gan-steps", type=int, default=None, help="adversarial fine-tune steps after --steps")
    p.add_argument("--ema", type=float, default=None, dest="ema_decay", metavar="DECAY",
                   help="export an exponential moving average of the weights, e.g. 0.999 (default: off)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--balance", type=float, default=None, help="source balancing power: 0 = equal per source, 1 = per image")
    p.add_argument("--min-colorfulness", type=float, default=None, help="skip near-grayscale photos")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes (default: 0 on machines with <= 2 cores "
                   "per process, where workers only compete with the compute threads; else about a quarter of the cores, at most 4)")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--preview-every", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--bf16", dest="bf16", action="store_true", default=None,
                   help="force bf16 autocast (default: on GPUs and on CPUs with native bf16, where it is faster; "
                        "CPUs without it emulate bf16 several times slower than fp32)")
    p.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in fp32")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)

    import dataclasses

    from ..data import TrainingDataError
    from ..models.backbones import WeightsError
    from ..train import CheckpointWriteError, TrainConfig, TrainError, train

    out = Path(args.out)
    if args.export is not None:
        if not (out / "checkpoint.pt").is_file():
            _err(f"{out / 'checkpoint.pt'}: no checkpoint to export")
            return 1
        from ..train import export_checkpoint

        try:
            print(export_checkpoint(out, args.export or None))
        except TrainError as exc:
            _err(str(exc))
            return 2
        except OSError as exc:
            _err(f"{exc.filename or out}: {exc.strerror or exc}")
            return 1
        return 0
    overrides = {k: v for k, v in {
        "steps": args.steps, "stop_at": args.stop_at, "gan_steps": args.gan_steps, "batch_size": args.batch_size,
        "crop": args.crop, "warmup_steps": args.warmup_steps, "balance": args.balance, "min_colorfulness": args.min_colorfulness,
        "workers": args.workers, "checkpoint_every": args.checkpoint_every, "preview_every": args.preview_every,
        "seed": args.seed, "device": args.device, "lr": args.lr, "ema_decay": args.ema_decay,
        "rebalance_lambda": args.rebalance_lambda,
    }.items() if v is not None}
    try:  # nonsensical values are refused before anything is read or written
        dataclasses.replace(TrainConfig(data=list(args.data) or ["-"]), **overrides).validate()
    except TrainError as exc:
        _err(str(exc))
        return 2
    if args.resume:
        ckpt = out / "checkpoint.pt"
        if not ckpt.is_file():
            _err(f"{ckpt}: no checkpoint to resume from")
            return 1
        from ..train import _config_from_checkpoint

        overrides.setdefault("stop_at", None)  # a pause applies once; resuming runs on unless --stop-at is given again
        overrides["out"] = str(out)  # --out is the run: the folder stored in the checkpoint never redirects writes
        if args.data:
            overrides["data"] = list(args.data)
        try:
            cfg = dataclasses.replace(_config_from_checkpoint(out), **overrides)
            cfg.validate()
        except TrainError as exc:
            _err(str(exc))
            return 2
    else:
        if not args.data:
            _err("give at least one data folder or manifest")
            return 2
        if (out / "checkpoint.pt").exists():
            _err(f"{out}: already holds a run; use --resume to continue it or choose another --out")
            return 1
        options: dict[str, Any] = {}
        for item in args.model_option:
            key, _, value = item.partition("=")
            try:
                options[key] = json.loads(value)
            except ValueError:
                options[key] = value
        for key in ("space", "head"):
            if getattr(args, key):
                options[key] = getattr(args, key)
        if args.hints:
            options["hints"] = True
        from ..models import model_config

        try:
            if args.init_weights:
                from ..models.registry import resolve_weights
                from ..models.weights import read_model_info

                if options or args.model != "compact":
                    _err("--init-weights takes the architecture and options from the model; drop --model/--space/--head/--hints/--model-option")
                    return 2
                head = read_model_info(resolve_weights(args.init_weights))["head"]
            else:
                head = model_config(args.model, **options).head
        except (ValueError, TypeError, OSError, WeightsError) as exc:
            _err(str(exc))
            return 2
        losses = args.losses or ("distribution" if head == "distribution" else "blur")
        cfg = TrainConfig(data=list(args.data), out=str(out), model=args.model, model_options=options,
                          backbone_weights=args.backbone_weights, init_weights=args.init_weights, losses=losses, optimizer=args.optimizer,
                          bf16=args.bf16, **overrides)
    try:
        result = train(cfg, resume=args.resume, progress=policy_from_args(args).progress)  # the bar only on a terminal
    except CheckpointWriteError as exc:  # disk full while checkpointing: not bad input
        _err(str(exc))
        return 1
    except (TrainError, TrainingDataError) as exc:
        _err(str(exc))
        return 2
    except (FileNotFoundError, ValueError, WeightsError) as exc:
        _err(str(exc))
        return 1
    except OSError as exc:
        _err(f"{exc.filename or out}: {exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; the last checkpoint in {out} is kept: colorize train --resume --out {out}", file=sys.stderr)
        return 130
    if result:
        print(f"model written to {result}", file=sys.stderr)
    return 0
