"""One weights format: ``NAME.safetensors`` (tensors) + ``NAME.json`` (how to rebuild the model).

The JSON holds the architecture name and its config (so :func:`load_model` needs no code change to
load a new variant), the colour space and head, the colour prior (for rebalanced evaluation and
further training) and the training provenance: data, steps, images seen, loss, wall time. Tensors
may be stored in fp16 to halve the file; they are loaded back as fp32.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import WeightsError
from .base import ColorModel
from .files import FORMAT, read_model_info, weights_paths  # noqa: F401 (torch-free; re-exported here)
from .registry import arch_name, create_model


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Through the package's one atomic-write helper (ordinary file mode, temp removed on error)."""
    from ..io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(data))


def save_model(
    model: ColorModel,
    path: str | os.PathLike[str],
    *,
    provenance: dict[str, Any] | None = None,
    prior: list[float] | None = None,
    half: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write the model's weights and config atomically; returns (safetensors, json) paths."""
    from safetensors.torch import save

    st_path, json_path = weights_paths(path)
    dtype = torch.float16 if half else torch.float32
    tensors = {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
    }
    meta = {
        "format": FORMAT,
        "arch": arch_name(model),
        "config": dataclasses.asdict(model.config),
        "space": model.config.space,
        "head": model.config.head,
        "parameters": model.num_parameters(),
        "dtype": str(dtype).removeprefix("torch."),
        "provenance": provenance or {"trained": False, "note": "random initialisation"},
        "prior": prior,
        **(extra or {}),
    }
    _atomic_write_bytes(st_path, save(tensors, metadata={"format": FORMAT}))
    _atomic_write_bytes(json_path, (json.dumps(meta, indent=2) + "\n").encode())
    return st_path, json_path


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[ColorModel, dict[str, Any]]:
    """Rebuild the model from its JSON and load its tensors; errors name the file and the reason."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    st_path, json_path = weights_paths(path)
    info = read_model_info(json_path)
    try:
        model = create_model(info["arch"], **info.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{json_path}: cannot build the model it describes ({exc})") from None
    if not st_path.is_file():
        raise WeightsError(f"{st_path}: no such weights file")
    try:
        state = load_file(str(st_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{st_path}: corrupt or unreadable weights ({str(exc).splitlines()[0]})") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise WeightsError(
            f"{st_path}: weights do not match the {info['arch']} model in {json_path.name} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors, e.g. {(missing or unexpected)[0]})"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise WeightsError(f"{st_path}: tensor {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):  # would colour every photo NaN (gray)
            raise WeightsError(f"{st_path}: tensor {k} holds NaN or infinite values (corrupt or diverged weights)")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model.to(device).eval(), info
