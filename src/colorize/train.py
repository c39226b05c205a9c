"""``colorize train``: fast, resumable training on one CPU, one GPU or many (torchrun + DDP).

The loop in :func:`train` reads top to bottom: set up the device and (under torchrun) the process
group; list the data and measure its colour prior; build the model, losses, optimiser and
schedule; restore a checkpoint if resuming; then step. Each step converts a uint8 batch to the
model's colour space on the device (fp32), runs the model under autocast (bf16 on CPU: ~2x faster
with channels_last here), and applies the selected losses. An optional adversarial phase (PatchGAN,
hinge loss) fine-tunes the generator after the non-adversarial steps, as DeOldify's NoGAN does.

Checkpoints hold everything needed to continue *exactly*: model, optimiser, scheduler, discriminator,
RNG states and the data stream position (one integer; see :class:`colorize.data.ResumableSampler`).
They are plain data (tensors, dicts, lists, numbers, strings; the config as JSON) and are read with
``torch.load(weights_only=True)``: a checkpoint from a shared run folder cannot run code. The run
folder given with ``--out`` *is* the run: paths stored in a checkpoint never redirect writes.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import pickle
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import runtime
from .bins import ColorPrior
from .color import get_chroma_space
from .data import (
    ColorPhotoDataset,
    ResumableSampler,
    TrainingDataError,
    collate_uint8,
    describe_sources,
    drop_unreadable,
    filter_colorful,
    scan_sources,
    source_weights,
    split_holdout,
)
from .errors import ColorizeError
from .io import atomic_write, write_text_atomic
from .losses import (
    BlurredChromaLoss,
    PatchDiscriminator,
    RebalancedDistributionLoss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    parse_loss_weights,
)
from .models import ColorModel, create_model
from .models.weights import save_model
from .progress import training_progress
from .runtime import pick_device

log = logging.getLogger("colorize.train")

CHECKPOINT_FORMAT = 2  # 1: pickled numpy RNG state (read with a numpy-only allowlist); 2: plain data


class TrainError(ColorizeError, ValueError):
    """A run cannot start or continue; the message is one line naming the option or file."""


class TrainConfigError(TrainError):
    """A nonsensical training option (``--steps 0``, ``--lr nan``...), refused before any work."""


class CheckpointError(TrainError):
    """``checkpoint.pt`` is missing, unreadable, not plain data (a pickle that runs code) or malformed."""


class CheckpointWriteError(CheckpointError):
    """The checkpoint could not be written (disk full...); the previous one is kept intact."""


def default_workers(processes: int = 1) -> int:
    """DataLoader workers for this machine: none on <= 2 cores per process, else about a quarter.

    Decoding costs ~1 ms per image, a small share of a step; on a 2-core laptop extra worker
    processes only compete with the compute threads (which use every core).
    """
    cores = max(1, (os.cpu_count() or 1) // max(1, processes))
    return 0 if cores <= 2 else min(4, max(1, cores // 4))


@dataclass
class TrainConfig:
    """Everything a run needs; saved in every checkpoint so ``--resume`` needs only the folder."""

    data: list[str] = field(default_factory=list)
    out: str = "runs/colorize"
    model: str = "compact"
    model_options: dict[str, Any] = field(default_factory=dict)
    backbone_weights: str | None = None
    init_weights: str | None = None  # start from a trained colorize model (name or path): fine-tuning
    init_provenance: dict[str, Any] | None = None  # that model's provenance, read once at the start
    init_inference: dict[str, Any] | None = None  # that model's decode settings (its JSON's "inference"), kept
    losses: str = "distribution"  # e.g. "blur", "distribution", "distribution=1,blur=0.5"
    rebalance_lambda: float = 0.5
    optimizer: str = "adamw"  # "sgd" (the seed: lr 0.1, momentum 0.9) or "adamw"
    lr: float | None = None  # default: 0.1 for SGD, 1e-3 for AdamW
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    steps: int = 2000  # total non-adversarial steps the schedule is planned for
    stop_at: int | None = None  # pause at this step (checkpointed); resume later to continue
    gan_steps: int = 0  # adversarial fine-tune steps after ``steps``
    gan_weight: float = 0.02
    batch_size: int = 32
    crop: int = 128
    balance: float = 0.5
    min_colorfulness: float = 0.0
    hint_probability: float = 0.5  # share of samples that get simulated hints (models with hints=True)
    workers: int | None = None  # None: default_workers() on the machine that runs (or resumes) it
    seed: int = 0
    device: str = "auto"
    bf16: bool | None = None  # None: bf16 autocast on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32
    channels_last: bool = True
    checkpoint_every: int = 500
    log_every: int = 20
    preview_every: int = 500
    preview_count: int = 8
    prior_images: int = 2000
    half_weights: bool = True
    ema_decay: float = 0.0  # > 0: keep an exponential moving average of the weights and export it (e.g. 0.999)
    threads: int | None = None

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (0.1 if self.optimizer == "sgd" else 1e-3)

    def resolved_workers(self, processes: int = 1) -> int:
        return self.workers if self.workers is not None else default_workers(processes)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> TrainConfig:
        """A config stored in a checkpoint; unknown fields (a newer version's) are refused by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise CheckpointError(f"{source}: unknown training option(s) {', '.join(unknown)}")
        return cls(**d)

    def validate(self) -> None:
        """Refuse nonsensical values up front (one line naming the option), before any work is done."""

        def bad(name: str, rule: str, value: Any) -> TrainConfigError:
            return TrainConfigError(f"--{name.replace('_', '-')} must be {rule} (got {value!r})")

        def whole(name: str, low: int, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise bad(name, f"a whole number >= {low}", v)

        def real(name: str, low: float, high: float = math.inf, low_open: bool = False, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low or v > high or (low_open and v == low):
                where = f"> {low}" if low_open else f">= {low}"
                raise bad(name, f"a finite number {where}" + (f" and <= {high}" if math.isfinite(high) else ""), v)

        if not self.data:
            raise TrainConfigError("give at least one data folder or manifest")
        whole("steps", 1)
        whole("stop_at", 1, allow_none=True)
        whole("gan_steps", 0)
        whole("batch_size", 1)
        whole("crop", 16)
        if self.crop > 4096:
            raise bad("crop", "<= 4096", self.crop)
        whole("warmup_steps", 0)
        whole("workers", 0, allow_none=True)
        whole("seed", 0)
        whole("checkpoint_every", 1)
        whole("log_every", 1)
        whole("preview_every", 0)
        whole("preview_count", 0)
        whole("prior_images", 1)
        whole("threads", 1, allow_none=True)
        # lr 0 is allowed on purpose: the weights stay as loaded (e.g. to re-estimate BatchNorm statistics)
        real("lr", 0.0, allow_none=True)
        real("weight_decay", 0.0)
        real("balance", 0.0, 1.0)
        real("min_colorfulness", 0.0)
        real("hint_probability", 0.0, 1.0)
        real("rebalance_lambda", 0.0, 1.0, low_open=True)  # 0 would weight colours never seen infinitely
        real("gan_weight", 0.0)
        real("ema_decay", 0.0, 0.99999)
        if self.optimizer not in ("sgd", "adamw"):
            raise bad("optimizer", "sgd or adamw", self.optimizer)


# ----------------------------------------------------------------------------- device and DDP


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_runtime(cfg: TrainConfig) -> Runtime:
    """Single process, or one rank of a torchrun job (gloo on CPU, NCCL on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if device.type == "cpu":
        threads = cfg.threads or max(1, (os.cpu_count() or 1) // max(world, 1))
        torch.set_num_threads(threads)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, rank, world, local_rank)


def bf16_wanted(device: torch.device, requested: bool | None) -> bool:
    """``requested`` if given; else bf16 on GPUs and on CPUs with native bf16 dot products.

    Without native bf16 a CPU emulates it: measured on a 2-core AVX2 EPYC, a bf16 training step of
    the compact model took 4-6x *longer* than fp32, so "auto" must not turn it on there.
    """
    if requested is not None:
        return requested
    if device.type == "cuda":
        return True
    return device.type == "cpu" and runtime.cpu_has_fast_bf16()  # looked up at call time: tests patch the probe


def autocast(device: torch.device, enabled: bool | None) -> contextlib.AbstractContextManager:
    """bf16 autocast (CPU, and GPUs that support it), fp16 on older GPUs; or nothing.

    ``enabled=None`` decides by :func:`bf16_wanted` on the machine that runs the step.
    """
    if not bf16_wanted(device, enabled):
        return contextlib.nullcontext()
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", dtype=torch.bfloat16)


# ----------------------------------------------------------------------------- pieces


def measure_prior(dataset: ColorPhotoDataset, count: int, seed: int, grid: int = 10) -> ColorPrior:
    """Empirical ab prior of ``count`` random training crops (downsampled 4x: colour is smooth)."""
    space = get_chroma_space("lab")
    rng = random.Random(seed)
    counts = None
    n = min(count, len(dataset))
    for _ in range(n):
        img = dataset[(rng.randrange(len(dataset)), rng.randrange(2**31))].float().div(255)
        img = F.avg_pool2d(img[None], 4)
        ab = space.chroma_units(space.split(img)[1])
        c = ColorPrior.count_bins(ab, grid)
        counts = c if counts is None else counts + c
    assert counts is not None
    return ColorPrior.from_counts(counts, grid)


def simulate_hints(chroma: Tensor, probability: float, generator: torch.Generator) -> Tensor:
    """Random user hints from the true chroma (Zhang et al. 2017), as a (N, 3, H, W) map.

    Per image, with ``probability`` draw a geometric number of points (p = 1/8); each point copies
    the mean true chroma of a small patch (1-9 px square) into the hint channels and sets the mask.
    The other images get no hints, so the same model still colorizes automatically.
    """
    n, _, h, w = chroma.shape
    hints = torch.zeros(n, 3, h, w, device=chroma.device)
    for i in range(n):
        if torch.rand((), generator=generator) >= probability:
            continue
        u = float(torch.rand((), generator=generator).clamp(min=1e-6))
        count = int(math.log(u) / math.log(1 - 1 / 8)) + 1  # geometric, mean 8
        for _ in range(min(count, 64)):
            size = int(torch.randint(0, 5, (1,), generator=generator)) * 2 + 1
            y = int(torch.randint(0, h - size + 1, (1,), generator=generator))
            x = int(torch.randint(0, w - size + 1, (1,), generator=generator))
            patch = chroma[i, :, y : y + size, x : x + size]
            hints[i, :2, y : y + size, x : x + size] = patch.mean(dim=(1, 2), keepdim=True)
            hints[i, 2, y : y + size, x : x + size] = 1
    return hints


def make_input(model: ColorModel, luma: Tensor, chroma: Tensor, cfg: TrainConfig, gen: torch.Generator) -> Tensor:
    if not model.config.hints:
        return luma
    return torch.cat([luma, simulate_hints(chroma, cfg.hint_probability, gen)], dim=1)


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    lr = cfg.resolved_lr()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=0.0)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adamw")


def build_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to 2% over ``steps``; the GAN phase keeps the final rate."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """Write to a temp file in the same folder, then rename: a failed or interrupted save (disk full,
    Ctrl-C) removes the temp file and leaves the previous checkpoint untouched."""
    try:
        atomic_write(path, lambda f: torch.save(obj, f))  # the package's one atomic write: temp removed on any error
    except BaseException as exc:
        if isinstance(exc, (OSError, RuntimeError)):  # torch's zip writer reports ENOSPC as RuntimeError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
            raise CheckpointWriteError(f"{path}: could not write the checkpoint ({reason}); the previous checkpoint is kept") from None
        raise


def _rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as plain data (tensors, lists, numbers): weights_only-loadable."""
    version, internal, gauss = random.getstate()
    npst = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"bit_generator": npst["bit_generator"], "key": torch.from_numpy(npst["state"]["key"].astype(np.int64)),
                  "pos": int(npst["state"]["pos"]), "has_gauss": int(npst["has_gauss"]), "gauss": float(npst["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    py, npst = state["python"], state["numpy"]
    if isinstance(py, dict):
        random.setstate((py["version"], tuple(int(x) for x in py["internal"].tolist()), py["gauss"]))
    else:  # format 1
        random.setstate(py)
    if isinstance(npst, dict):
        np.random.set_state({"bit_generator": npst["bit_generator"], "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": npst["pos"]},
                             "has_gauss": npst["has_gauss"], "gauss": npst["gauss"]})
    else:  # format 1
        np.random.set_state(npst)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _legacy_numpy_globals() -> list[Any]:
    """The only non-plain types a format-1 checkpoint holds: NumPy arrays of the RNG state.

    Allowing these keeps the restricted (weights_only) unpickler; nothing can be called but the
    array reconstructor, so old runs still resume and a pickle that runs code is still refused.
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    allowed: list[Any] = [_reconstruct, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in ("UInt32DType", "Int64DType", "Float64DType") if hasattr(dtypes, n)]
    return allowed


_CHECKPOINT_KEYS: dict[str, type | tuple[type, ...]] = {
    "model": dict, "optimizer": dict, "schedule": dict, "step": int, "rng": (dict, list), "prior": list, "train_config": (dict, str),
}


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint as plain data only (``weights_only=True``); any problem is a one-line
    :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint is empty")
    try:
        with torch.serialization.safe_globals(_legacy_numpy_globals()):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        marker = "Unsupported global: GLOBAL "
        what = text[text.index(marker) + len(marker):].split()[0] if marker in text else _first_line(exc)
        raise CheckpointError(f"{path}: refused: not a plain-data checkpoint (it would load {what}); "
                              "only checkpoints written by colorize train are read") from None
    except Exception as exc:  # truncated zip, bad magic, random bytes: torch raises many types
        raise CheckpointError(f"{path}: unreadable checkpoint (truncated or corrupt): {_first_line(exc)}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a colorize training checkpoint")
    for key, kind in _CHECKPOINT_KEYS.items():
        if not isinstance(ckpt.get(key), kind):
            raise CheckpointError(f"{path}: not a colorize training checkpoint (missing or bad '{key}')")
    return ckpt


def checkpoint_config(ckpt: dict[str, Any], source: str = "checkpoint") -> TrainConfig:
    raw = ckpt["train_config"]
    try:
        d = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise CheckpointError(f"{source}: bad stored training config: {exc}") from None
    if not isinstance(d, dict):
        raise CheckpointError(f"{source}: bad stored training config")
    try:
        return TrainConfig.from_dict(d, source)
    except TypeError as exc:
        raise CheckpointError(f"{source}: bad stored training config: {exc}") from None


def resolve_data(data: list[str], stored_cwd: str | None) -> list[str]:
    """Data paths as given, except a relative one that is missing here but exists relative to the
    folder the run was started from (resuming from another working directory)."""
    resolved = []
    for d in data:
        p = Path(d)
        if not p.is_absolute() and not p.exists() and stored_cwd and (Path(stored_cwd) / p).exists():
            p = Path(stored_cwd) / p
        resolved.append(str(p))
    return resolved


def _truncate_log(csv_path: Path, step: int, fields: list[str]) -> None:
    """Drop log rows past the checkpoint being resumed (a killed run logged them, the resumed run
    will log them again), so each step appears once."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = []
    for r in rows:
        try:
            if int(r.get("step") or "") <= step:
                keep.append(r)
        except ValueError:
            continue
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    w.writerows(keep)
    write_text_atomic(csv_path, buf.getvalue())


def save_preview(path: Path, luma: Tensor, pred: Tensor, truth: Tensor, space_name: str) -> None:
    """A grid of triptychs, one row per image: gray | predicted | truth (the seed's validation view)."""
    from PIL import Image

    space = get_chroma_space(space_name)
    pred = F.interpolate(pred.float(), size=luma.shape[-2:], mode="bilinear", align_corners=False)
    gray = space.to_rgb(luma, torch.zeros_like(pred))
    rows = torch.cat([torch.cat([g, space.to_rgb(luma[i : i + 1], pred[i : i + 1])[0], t], dim=2) for i, (g, t) in enumerate(zip(gray, truth))], dim=1)
    arr = (rows.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    atomic_write(path, lambda f: Image.fromarray(arr).save(f, format="PNG"))


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """Loss curves from the CSV log (matplotlib, imported only here)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keys = [k for k in rows[0] if k.startswith("loss")]
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [int(r["step"]) for r in rows]
    for k in keys:
        vals = [float(r[k]) if r[k] else math.nan for r in rows]
        ax.plot(steps, vals, label=k)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        atomic_write(png_path, lambda f: fig.savefig(f, format="png", dpi=90))
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- the loop


def _config_from_checkpoint(out: Path) -> TrainConfig:
    path = Path(out) / "checkpoint.pt"
    return checkpoint_config(load_checkpoint(path), str(path))


def _provenance(cfg: TrainConfig, sources: dict[str, int], step: int, images_seen: int, elapsed: float,
                final_loss: float | None, device: str) -> dict[str, Any]:
    prov = {
        "trained": True,
        "complete": step >= cfg.steps + cfg.gan_steps,
        "data": [str(d) for d in cfg.data],
        "data_sources": sources,
        "model_options": cfg.model_options,
        "steps": step,
        "planned_steps": cfg.steps + cfg.gan_steps,
        "images_seen": images_seen,
        "batch_size": cfg.batch_size,
        "crop": cfg.crop,
        "losses": cfg.losses,
        "optimizer": cfg.optimizer,
        "lr": cfg.resolved_lr(),
        "gan_steps": cfg.gan_steps,
        "weights": f"exponential moving average, decay {cfg.ema_decay}" if cfg.ema_decay > 0 else "last step",
        "final_loss": final_loss,
        "wall_time_s": round(elapsed, 1),
        "device": device,
        "torch": torch.__version__,
        "licence": "trained on research-licensed data: for research and personal use only",
    }
    if cfg.init_weights:
        # A fine-tune: say where it started and what the whole lineage has seen and cost. The parent's
        # provenance is kept in the config, so a resumed run reports it even if that file changed since.
        parent = cfg.init_provenance or {}
        prov["init_weights"] = parent
        prov["images_seen_total"] = images_seen + int(parent.get("images_seen_total", parent.get("images_seen", 0)) or 0)
        prov["wall_time_total_s"] = round(elapsed + float(parent.get("wall_time_total_s", parent.get("wall_time_s", 0)) or 0), 1)
    return prov


def load_init_weights(name_or_path: str) -> tuple[ColorModel, str, ColorPrior | None, dict[str, Any], dict[str, Any] | None]:
    """Model, registry name, stored colour prior, provenance and decode settings of a model to fine-tune from.

    The provenance (``source`` added, per-source image counts dropped) goes into the fine-tune's own.
    The decode settings (the JSON's ``inference`` section: temperature, consensus radius) are carried
    over to the fine-tune's JSON, so fine-tuning the bundled default keeps its decode instead of
    silently falling back to the library's (measured: blotchiness 3.23 instead of ~2 on the
    selection split for the same weights).
    """
    from .models.registry import resolve_weights
    from .models.weights import load_model

    model, info = load_model(resolve_weights(name_or_path))
    prior = ColorPrior(torch.tensor(info["prior"]), model.config.grid) if info.get("prior") else None
    parent = dict(info.get("provenance") or {})
    parent.pop("data_sources", None)
    parent["source"] = str(name_or_path)
    inference = info.get("inference") if isinstance(info.get("inference"), dict) else None
    return model.float().train(), info["arch"], prior, parent, inference


def _inherited_inference(cfg: TrainConfig) -> dict[str, Any] | None:
    """``{"inference": ...}`` for the exported JSON when the run fine-tuned a model that had decode settings."""
    return {"inference": dict(cfg.init_inference)} if cfg.init_inference else None


def make_ema(model: ColorModel, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of ``model``'s weights and BatchNorm statistics.

    Averaging the weights of the last few thousand steps gives a model that is usable at any pause
    (no lr-annealing needed first) and usually a little better than the raw weights.
    """
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _ema_weights(state: dict[str, Any]) -> dict[str, Any]:
    """An AveragedModel's state_dict -> the plain model's (drop ``module.`` and ``n_averaged``)."""
    return {k[len("module."):]: v for k, v in state.items() if k.startswith("module.")}


def export_checkpoint(out: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None) -> Path:
    """Export the weights of a (possibly paused) run's last checkpoint; provenance says how far it got."""
    out = Path(out)
    path = out / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    cfg = checkpoint_config(ckpt, str(path))
    try:
        model = create_model(cfg.model, **cfg.model_options)
        model.load_state_dict(_ema_weights(ckpt["ema"]) if ckpt.get("ema") else ckpt["model"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the stored model does not match its config: {_first_line(exc)}") from None
    data = resolve_data(cfg.data, ckpt.get("cwd"))
    try:
        sources = describe_sources(scan_sources(data)) if all(Path(d).exists() for d in data) else {}
    except (OSError, ValueError):
        sources = {}
    prov = _provenance(cfg, sources, ckpt["step"], ckpt.get("images_seen", 0), ckpt.get("elapsed", 0.0), None, "checkpoint")
    _, json_path = save_model(model, dest or out / f"model_step{ckpt['step']}", provenance=prov, prior=ckpt["prior"], half=cfg.half_weights,
                              extra=_inherited_inference(cfg))
    return json_path


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path | None:
    """Run (or continue) training; returns the exported weights' JSON path on rank 0 at the end.

    ``cfg.out`` is the run folder: everything is written there, whatever a checkpoint recorded.
    """
    cfg.validate()
    out = Path(cfg.out)
    ckpt = None
    ckpt_path = out / "checkpoint.pt"
    if resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        ckpt = load_checkpoint(ckpt_path)
    rt = setup_runtime(cfg)
    torch.manual_seed(cfg.seed + rt.rank)
    random.seed(cfg.seed + rt.rank)
    np.random.seed(cfg.seed + rt.rank)
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=logging.INFO, format="%(message)s")

    # Data (files whose header cannot be read are left out, with a count; decoding failures later
    # are skipped per image by the dataset)
    data = resolve_data(cfg.data, ckpt.get("cwd") if ckpt else None)
    examples = scan_sources(data)
    if cfg.min_colorfulness > 0:
        examples = filter_colorful(examples, cfg.min_colorfulness)
    examples, unreadable = drop_unreadable(examples)
    if unreadable and rt.is_main:
        path, reason = unreadable[0]
        log.warning("skipping %d unreadable training image%s of %d (e.g. %s: %s)", len(unreadable),
                    "s" if len(unreadable) > 1 else "", len(examples) + len(unreadable), path, reason)
    if not examples:
        path, reason = unreadable[0]
        raise TrainingDataError(f"{', '.join(data)}: none of the {len(unreadable)} training images can be read (e.g. {path}: {reason})")
    # Hold a few photos out for the preview triptychs; tiny data sets keep them all for training.
    holdout = min(cfg.preview_count, len(examples) // 20)
    train_examples, preview_examples = split_holdout(examples, holdout, cfg.seed)
    if not preview_examples:
        preview_examples = train_examples[: cfg.preview_count]
    dataset = ColorPhotoDataset(train_examples, crop=cfg.crop, min_colorfulness=cfg.min_colorfulness)
    preview_set = ColorPhotoDataset(preview_examples, crop=cfg.crop, scale_jitter=(1.0, 1.0), flip=False)
    dataset[(0, cfg.seed)]  # decode one photo here: data that cannot be decoded fails in one line, not in a worker

    # Model, prior, losses
    init_prior = None
    if cfg.init_weights and ckpt is None:
        # Fine-tune: architecture, options and (for consistent rebalancing) prior come from the model.
        model, arch, init_prior, cfg.init_provenance, cfg.init_inference = load_init_weights(cfg.init_weights)
        cfg.model, cfg.model_options = arch, dataclasses.asdict(model.config)
    else:
        model = create_model(cfg.model, backbone_weights=cfg.backbone_weights if ckpt is None else None, **cfg.model_options)
    if ckpt is not None and len(ckpt["prior"]) != len(ColorPrior.uniform(model.config.grid).probabilities):
        raise CheckpointError(f"{ckpt_path}: the stored colour prior does not match the model")
    space = get_chroma_space(model.config.space)
    weights = parse_loss_weights(cfg.losses)
    if "distribution" in weights and model.config.head != "distribution":
        raise ValueError("the distribution loss needs a model with head='distribution'")
    if ckpt is not None:
        prior = ColorPrior(torch.tensor(ckpt["prior"]), model.config.grid)
    elif init_prior is not None:
        prior = init_prior
    elif "distribution" in weights or model.config.space == "lab":
        t0 = time.time()
        prior = measure_prior(dataset, cfg.prior_images, cfg.seed, model.config.grid)
        if rt.is_main:
            log.info("colour prior from %d crops in %.1fs", cfg.prior_images, time.time() - t0)
    else:
        prior = ColorPrior.uniform(model.config.grid)
    model = model.to(rt.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    blur_loss = BlurredChromaLoss()
    dist_loss = RebalancedDistributionLoss(model.head.bin_centers, prior.weights(cfg.rebalance_lambda)).to(rt.device)

    disc = PatchDiscriminator().to(rt.device) if cfg.gan_steps > 0 else None
    ddp_model: nn.Module = model
    if rt.distributed:
        ddp_model = nn.parallel.DistributedDataParallel(model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    optimizer = build_optimizer(model.parameters(), cfg)
    schedule = build_schedule(optimizer, cfg)
    ema = make_ema(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    d_opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.0, 0.99)) if disc is not None else None

    step, elapsed_before, images_before = 0, 0.0, 0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            schedule.load_state_dict(ckpt["schedule"])
            if disc is not None and ckpt.get("discriminator"):
                disc.load_state_dict(ckpt["discriminator"])
                d_opt.load_state_dict(ckpt["d_optimizer"])  # type: ignore[union-attr]
            if ema is not None and ckpt.get("ema"):  # (a run that turns EMA on at a resume starts it from here)
                ema.load_state_dict(ckpt["ema"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{ckpt_path}: the stored state does not match the model: {_first_line(exc)}") from None
        step = ckpt["step"]
        elapsed_before = ckpt.get("elapsed", 0.0)
        images_before = ckpt.get("images_seen", step * cfg.batch_size * rt.world)
        rng = ckpt["rng"][rt.rank] if isinstance(ckpt["rng"], list) else ckpt["rng"]
        _set_rng_state(rng)

    total = cfg.steps + cfg.gan_steps
    stop = min(total, cfg.stop_at) if cfg.stop_at else total
    if rt.is_main and step >= stop:
        log.info("nothing to do: the run is at step %d and stops at %d", step, stop)
    per_step = cfg.batch_size * rt.world
    sampler = ResumableSampler(source_weights(train_examples, cfg.balance), cfg.seed, step * per_step, rt.rank, rt.world)
    workers = cfg.resolved_workers(rt.world)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers,
        collate_fn=collate_uint8, pin_memory=rt.device.type == "cuda", persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )
    hint_gen = torch.Generator().manual_seed(cfg.seed * 7919 + rt.rank)
    if ckpt is not None and ckpt.get("hint_rng") is not None and not rt.distributed:
        hint_gen.set_state(ckpt["hint_rng"])

    csv_path = out / "log.csv"
    fields = ["step", "images_seen", "epoch", "lr", "images_per_s", "elapsed_s", "loss", "loss_blur", "loss_distribution", "loss_gan_g", "loss_gan_d"]
    if rt.is_main:
        if not resume or not csv_path.exists():
            with open(csv_path, "w", newline="") as f:
                csv.writer(f).writerow(fields)
        else:
            _truncate_log(csv_path, step, fields)
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        log.info("data: %d photos from %s", len(train_examples), describe_sources(train_examples))
        log.info("model %s: %.2fM parameters, space %s, head %s, device %s x%d", cfg.model, model.num_parameters() / 1e6,
                 model.config.space, model.config.head, rt.device, rt.world)

    def checkpoint() -> None:
        rngs: Any = _rng_state()
        if rt.distributed:
            gathered: list[Any] = [None] * rt.world
            torch.distributed.all_gather_object(gathered, rngs)
            rngs = gathered
        if not rt.is_main:
            return
        _atomic_torch_save(
            {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "discriminator": disc.state_dict() if disc is not None else None,
                "d_optimizer": d_opt.state_dict() if d_opt is not None else None,
                "ema": ema.state_dict() if ema is not None else None,
                "step": step, "rng": rngs, "hint_rng": hint_gen.get_state(), "prior": prior.probabilities.tolist(),
                "elapsed": elapsed_before + (time.time() - t_start), "images_seen": images_before + (step - start_step) * per_step,
                "train_config": json.dumps(dataclasses.asdict(cfg)), "format": CHECKPOINT_FORMAT, "cwd": os.getcwd(),
            },
            ckpt_path,
        )
        plot_losses(csv_path, out / "loss.png")

    def preview() -> None:
        if not rt.is_main or len(preview_set) == 0:
            return
        model.eval()
        with torch.no_grad():
            rgb = torch.stack([preview_set[(i, i)] for i in range(len(preview_set))]).float().div(255).to(rt.device)
            luma, chroma = space.split(rgb)
            with autocast(rt.device, cfg.bf16):
                pred = model.predict_chroma(make_input(model, luma, chroma, dataclasses.replace(cfg, hint_probability=0.0), torch.Generator()))
            save_preview(out / f"preview_step{step:07d}.png", luma.cpu(), pred.cpu(), rgb.cpu(), space.name)
        model.train()

    start_step = step
    t_start = time.time()
    t_window, n_window = time.time(), 0
    model.train()
    iterator = iter(loader)
    with training_progress(total=stop, start=step, enabled=progress and rt.is_main) as bar:
        while step < stop:
            try:
                batch = next(iterator).to(rt.device, non_blocking=True)
            except TrainingDataError as exc:  # raised in a worker: DataLoader re-raises it with the worker's traceback
                raise TrainingDataError(str(exc).strip().splitlines()[-1].split("TrainingDataError: ", 1)[-1]) from None
            rgb = batch.float().div_(255)
            with torch.no_grad():
                luma, chroma = space.split(rgb)
            x = make_input(model, luma, chroma, cfg, hint_gen)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            adversarial = disc is not None and step >= cfg.steps
            with autocast(rt.device, cfg.bf16):
                out_head = ddp_model(x)
            terms: dict[str, Tensor] = {}
            if "distribution" in weights:
                terms["distribution"] = dist_loss(out_head, chroma)
            if "blur" in weights or adversarial:
                pred = model.head.decode(out_head) if model.config.head == "distribution" else out_head
            if "blur" in weights:
                terms["blur"] = blur_loss(pred, chroma)
            loss: Tensor = sum(weights[k] * v for k, v in terms.items())  # type: ignore[assignment]  # terms is never empty
            d_loss_value = math.nan
            if adversarial:
                assert disc is not None and d_opt is not None
                # Critic step on detached fakes, then the generator's adversarial term.
                with autocast(rt.device, cfg.bf16):
                    d_loss = hinge_discriminator_loss(disc(luma, chroma), disc(luma, pred.detach()))
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
                d_loss_value = float(d_loss.detach())
                with autocast(rt.device, cfg.bf16):
                    terms["gan_g"] = hinge_generator_loss(disc(luma, pred))
                loss = loss + cfg.gan_weight * terms["gan_g"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            if step < cfg.steps:
                schedule.step()
            step += 1
            n_window += per_step
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"loss became {loss_value} at step {step}; lower --lr")
            if rt.is_main and (step % cfg.log_every == 0 or step == stop):
                now = time.time()
                ips = n_window / max(now - t_window, 1e-9)
                t_window, n_window = now, 0
                seen = images_before + (step - start_step) * per_step
                row = {
                    "step": step, "images_seen": seen, "epoch": f"{seen / len(train_examples):.3f}",
                    "lr": f"{optimizer.param_groups[0]['lr']:.6g}", "images_per_s": f"{ips:.1f}",
                    "elapsed_s": f"{elapsed_before + now - t_start:.1f}", "loss": f"{loss_value:.5f}",
                    "loss_blur": f"{float(terms['blur'].detach()):.5f}" if "blur" in terms else "",
                    "loss_distribution": f"{float(terms['distribution'].detach()):.5f}" if "distribution" in terms else "",
                    "loss_gan_g": f"{float(terms['gan_g'].detach()):.5f}" if "gan_g" in terms else "",
                    "loss_gan_d": f"{d_loss_value:.5f}" if adversarial else "",
                }
                with open(csv_path, "a", newline="") as f:
                    csv.DictWriter(f, fieldnames=fields).writerow(row)
                bar.update(step, loss=loss_value, images_per_s=ips)
            else:
                bar.update(step)
            if step % cfg.checkpoint_every == 0 or step == stop:
                checkpoint()
            if cfg.preview_every and (step % cfg.preview_every == 0 or step == stop):
                preview()

    result = None
    if rt.is_main and step >= total:
        elapsed = elapsed_before + time.time() - t_start
        seen = images_before + (step - start_step) * per_step
        provenance = _provenance(cfg, describe_sources(train_examples), step, seen, elapsed,
                                 loss_value if step > start_step else None, f"{rt.device.type} x{rt.world}")
        final = ema.module if ema is not None else model
        _, result = save_model(final, out / "model",  # type: ignore[arg-type]  # the EMA copy is a ColorModel
                               provenance=provenance, prior=prior.to_list(), half=cfg.half_weights, extra=_inherited_inference(cfg))
        log.info("exported %s", result)
    if rt.distributed:
        # DDP keeps replicas in lock-step; record a checksum per rank so that is checkable.
        digest = hashlib.sha256(b"".join(p.detach().cpu().float().numpy().tobytes() for p in model.parameters())).hexdigest()
        digests: list[Any] = [None] * rt.world
        torch.distributed.all_gather_object(digests, digest)
        if rt.is_main:
            (out / "ranks.json").write_text(json.dumps({"world": rt.world, "sha256": digests, "identical": len(set(digests)) == 1}, indent=2))
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return result
