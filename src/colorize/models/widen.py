"""Grow a trained model's channels without changing what it computes (function-preserving widening).

Training a wider network from scratch on a 2-core CPU costs days; widening a trained one keeps
everything it has learnt and only *adds* capacity (Net2Net, Chen et al. 2016, in its simplest
exact form). For every weight of the wider model, the trained weight fills the leading block; the
rows of the new output channels keep their fresh random initialisation (so they compute new
features), and the columns through which an *old* output channel would read a *new* input channel
are zero (so the old channels compute exactly what they did). The new channels' outgoing weights
start at zero and receive gradients at the first step, as LoRA's zero-initialised B does.

This is exact for networks built from convolutions, linear layers, batch norm, ReLU, residual
additions and per-channel operations -- everything in :mod:`colorize.models.compact` -- as long as
the extra channels of a layer are appended *after* the old ones (no channel concatenation).
"""

from __future__ import annotations

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor, nn

__all__ = ["widen_state_dict", "widen_into"]


def widen_state_dict(old: dict[str, Tensor], fresh: dict[str, Tensor]) -> dict[str, Tensor]:
    """The state of a wider model (``fresh``: its random initialisation) that computes what ``old`` did.

    >>> old = {"w": torch.ones(2, 2), "b": torch.ones(2)}
    >>> new = widen_state_dict(old, {"w": torch.full((3, 3), 7.0), "b": torch.zeros(3)})
    >>> new["w"]
    tensor([[1., 1., 0.],
            [1., 1., 0.],
            [7., 7., 7.]])
    >>> new["b"]
    tensor([1., 1., 0.])
    """
    missing = sorted(set(fresh) ^ set(old))
    if missing:
        raise ValueError(f"the two models differ in structure, not only in width: {missing[:5]}")
    out: dict[str, Tensor] = {}
    for name, new in fresh.items():
        src = old[name].to(new.dtype)
        if src.shape == new.shape:
            out[name] = src.clone()
            continue
        if src.ndim != new.ndim or any(a > b for a, b in zip(src.shape, new.shape)):
            raise ValueError(f"{name}: cannot widen {tuple(src.shape)} to {tuple(new.shape)}")
        grown = new.clone()
        grown[tuple(slice(0, n) for n in src.shape)] = src
        if grown.ndim >= 2:  # old outputs must not read the new inputs
            grown[: src.shape[0], src.shape[1]:] = 0
        out[name] = grown
    return out


def widen_into(trained: nn.Module, wider: nn.Module) -> nn.Module:
    """Load ``trained``'s weights into the freshly initialised ``wider`` (same architecture, more channels)."""
    wider.load_state_dict(widen_state_dict(trained.state_dict(), wider.state_dict()))
    return wider
