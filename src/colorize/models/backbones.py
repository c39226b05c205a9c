"""Classification backbones for the seed's models, and loading their published ImageNet weights.

No weights ship with the project and none can be fetched offline. ``weights`` is either a path to
torchvision's ``.pth`` file (loaded as-is, thanks to matching state_dict keys) or ``"imagenet"``,
which downloads it into torch's hub cache -- failing with a clear message when offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from .resnet import RESNET_URLS, ResNet
from .vgg import VGG16, VGG16_URL

BACKBONES = ("vgg16", "resnet18", "resnet34", "resnet50")


def build_backbone(name: str) -> VGG16 | ResNet:
    """A feature extractor with ``taps(x)`` and ``tap_channels``."""
    if name == "vgg16":
        return VGG16()
    if name in RESNET_URLS:
        return ResNet(name)
    raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")


def _download(url: str) -> dict[str, torch.Tensor]:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("COLORIZE_OFFLINE") == "1":
        raise WeightsError(f"{url}: not downloading while offline; pass backbone_weights=PATH to a local copy")
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True)
    except Exception as exc:  # network errors come in many types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(
            f"{url}: download failed ({reason}); pass backbone_weights=PATH to a local copy of the file"
        ) from None


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a local ``.pth`` file (``state_dict`` wrapper and ``module.`` prefixes removed).

    Every failure is a :class:`WeightsError` naming the file, so callers can print it as is.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__})") from None
    return _tensors(state, str(path))


def _tensors(state: object, source: str) -> dict[str, torch.Tensor]:
    """A loaded ``.pth`` object -> its tensors by key (``state_dict`` wrapper and ``module.`` prefixes removed)."""
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{source}: expected a state_dict")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def check_state_dict(state: dict[str, torch.Tensor], module: nn.Module, source: str, name: str) -> None:
    """Raise a one-line :class:`WeightsError` unless ``state`` has exactly ``module``'s keys and shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise WeightsError(
            f"{source}: does not fit {name} ({len(missing)} missing keys e.g. {missing[:2]}, "
            f"{len(unexpected)} unexpected e.g. {unexpected[:2]})"
        )
    bad = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise WeightsError(f"{source}: shape mismatch for {name} at {bad[0]}: {tuple(state[bad[0]].shape)} vs {tuple(own[bad[0]].shape)}")


def load_backbone_weights(backbone: nn.Module, weights: str | os.PathLike[str], name: str) -> None:
    """Load torchvision's published weights into ``backbone`` (classifier keys are ignored)."""
    if str(weights) == "imagenet":
        source = name
        state = _tensors(_download(VGG16_URL if name == "vgg16" else RESNET_URLS[name]), source)
    else:
        state = read_state_dict(weights)
        source = str(Path(weights))
    state = {k: v for k, v in state.items() if not k.startswith(("classifier.", "fc."))}
    check_state_dict(state, backbone, source, name)
    backbone.load_state_dict(state)
