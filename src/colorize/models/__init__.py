"""The models: architectures (compact, eccv16, hypercolumn, residual encoders), their registry and
bundled weights (:mod:`colorize.models.registry`) and the weights format (:mod:`colorize.models.weights`).
"""

from __future__ import annotations

from ..errors import WeightsError
from .base import BaseConfig, ColorModel
from .registry import (
    PRETRAINED_DIR,
    ModelEntry,
    arch_name,
    create_model,
    list_models,
    list_pretrained,
    model_config,
    register_model,
    resolve_weights,
)

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
