"""The model registry (``register_model`` / ``create_model`` / ``list_models``, as timm does it) and
the bundled-weights lookup (``list_pretrained`` / ``resolve_weights``), next to each other and apart
from the architectures.

Each entry names an architecture and its default config; keyword arguments override config
fields (``create_model("compact", head="regression", space="yuv")``). Bundled weights live in
:data:`PRETRAINED_DIR` as ``NAME.json`` + ``NAME.safetensors``; nothing is ever downloaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .base import BaseConfig, ColorModel
from .compact import CompactColorNet, CompactConfig
from .eccv16 import ECCV16Config, ECCV16Net
from .files import PRETRAINED_DIR, list_pretrained, resolve_weights  # noqa: F401 (torch-free; re-exported here)
from .hypercolumn import HypercolumnConfig, HypercolumnNet
from .residual_encoder import ResidualEncoderConfig, ResidualEncoderNet


@dataclass(frozen=True)
class ModelEntry:
    name: str
    model_class: type[ColorModel]
    config_class: type[BaseConfig]
    defaults: dict[str, Any]
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, model_class: type[ColorModel], config_class: type[BaseConfig], description: str, **defaults: Any) -> None:
    """Add an architecture under ``name`` (later registrations of the same name replace earlier ones)."""
    _REGISTRY[name] = ModelEntry(name, model_class, config_class, defaults, description)


def list_models() -> list[ModelEntry]:
    """Registered architectures, in registration order."""
    return list(_REGISTRY.values())


def _entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(_REGISTRY)}") from None


def model_config(name: str, **overrides: Any) -> BaseConfig:
    """The config ``create_model(name, **overrides)`` would use (lists become tuples, as in JSON)."""
    entry = _entry(name)
    fields = {f.name for f in dataclasses.fields(entry.config_class)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"model {name!r} has no option(s) {unknown}; it has {sorted(fields)}")
    values = {**entry.defaults, **overrides}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return entry.config_class(**values)


def create_model(name: str, backbone_weights: str | None = None, **overrides: Any) -> ColorModel:
    """Build a registered model with random weights (``backbone_weights`` loads an ImageNet backbone).

    >>> create_model("compact", head="regression").config.head
    'regression'
    """
    entry = _entry(name)
    config = model_config(name, **overrides)
    if backbone_weights is not None:
        model = entry.model_class(config, backbone_weights=backbone_weights)  # type: ignore[call-arg]
    else:
        model = entry.model_class(config)
    model.arch = name
    return model


def arch_name(model: ColorModel) -> str:
    """The registry name of a model's architecture (for the weights' JSON)."""
    if getattr(model, "arch", None) in _REGISTRY:
        return model.arch
    for entry in _REGISTRY.values():
        if type(model) is entry.model_class:
            return entry.name
    raise ValueError(f"{type(model).__name__} is not registered")


register_model("compact", CompactColorNet, CompactConfig, "Compact residual U-Net for CPUs (default)")
register_model("compact-small", CompactColorNet, CompactConfig, "Narrower compact model", widths=(24, 48, 96, 192), blocks=(0, 1, 1, 2))
register_model("hypercolumn", HypercolumnNet, HypercolumnConfig, "Seed: VGG16 hypercolumns + 2 conv layers (Dahl 2016)")
register_model("residual-encoder", ResidualEncoderNet, ResidualEncoderConfig, "Seed: VGG16 residual encoder, 4 stages (Dahl 2016)")
register_model("residual-encoder-5", ResidualEncoderNet, ResidualEncoderConfig, "Residual encoder on all 5 VGG16 stages", stages=5)
register_model(
    "residual-encoder-resnet34", ResidualEncoderNet, ResidualEncoderConfig, "Residual encoder on a ResNet-34",
    backbone="resnet34", stages=5, widths=(64, 64, 128, 256, 512),
)
register_model("eccv16", ECCV16Net, ECCV16Config, "Re-implementation of Zhang et al. 2016 (ECCV16)")
