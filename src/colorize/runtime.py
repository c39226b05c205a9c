"""Where the model runs: device choice, the bf16 probe and the autocast context (one home for each).

bf16 autocast only pays off on CPUs with native bf16 dot products (AVX512-BF16 or AMX); elsewhere
it is slower than fp32, so the probe decides, and ``COLORIZE_BF16=0|1`` overrides it.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

DEFAULT_TEMPERATURE = 0.38
"""Annealed-mean temperature when neither the model nor the user sets one (Zhang et al. pick 0.38).

Here, in a leaf without torch, so the options (and the onnxruntime path) can use it; :mod:`colorize.bins`
(the decode itself) re-exports it."""


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when PyTorch sees a GPU, else the CPU; an explicit CUDA request without a GPU fails."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU")
    return d


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 dot products (AVX512-BF16 or AMX), or ``COLORIZE_BF16=1``."""
    if os.environ.get("COLORIZE_BF16") in ("0", "1"):
        return os.environ["COLORIZE_BF16"] == "1"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def uses_bf16(device: torch.device) -> bool:
    """Whether inference on ``device`` runs under bf16 autocast (always on CUDA, on CPUs by the probe)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())


def inference_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """``no_grad`` plus bf16 autocast on ``device`` when ``bf16``: the one way the torch backend runs a model."""
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.no_grad())
    stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16))
    return stack


__all__ = ["DEFAULT_TEMPERATURE", "cpu_has_fast_bf16", "inference_context", "pick_device", "uses_bf16"]
