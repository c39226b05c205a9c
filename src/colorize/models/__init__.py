"""The models: architectures (compact, eccv16, hypercolumn, residual encoders), their registry and
bundled weights (:mod:`colorize.models.registry`) and the weights format (:mod:`colorize.models.weights`).

The names below load lazily: :mod:`colorize.models.files` (paths, JSON, bundled models and their
ONNX graphs) imports no torch, and importing it must not pull in the architectures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import WeightsError

if TYPE_CHECKING:
    from .base import BaseConfig, ColorModel
    from .files import PRETRAINED_DIR, list_pretrained, resolve_weights
    from .registry import ModelEntry, arch_name, create_model, list_models, model_config, register_model

_LAZY = {
    "BaseConfig": "base", "ColorModel": "base",
    "PRETRAINED_DIR": "files", "list_pretrained": "files", "resolve_weights": "files",
    "ModelEntry": "registry", "arch_name": "registry", "create_model": "registry", "list_models": "registry",
    "model_config": "registry", "register_model": "registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "create_model",
    "list_models",
    "model_config",
    "register_model",
    "arch_name",
    "list_pretrained",
    "resolve_weights",
    "PRETRAINED_DIR",
    "ColorModel",
    "BaseConfig",
    "WeightsError",
    "ModelEntry",
]
