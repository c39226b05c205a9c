"""colorize: bring black-and-white photos and films to colour, fast on a laptop CPU.

Heavy modules (torch, models) are imported lazily so ``import colorize`` and ``colorize --help`` stay fast::

    from colorize import Colorizer
    colorizer = Colorizer.from_pretrained("default")
    colour = colorizer(gray_pil_image)

The layers and where each concern lives: ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # real types for type checkers; at run time the names below load on first use
    from .errors import ColorizeError
    from .io import read_image, write_image
    from .models import create_model, list_models
    from .options import ColorizeOptions
    from .pipeline import Colorizer

_LAZY = {
    "Colorizer": "colorize.pipeline",
    "ColorizeOptions": "colorize.options",
    "ColorizeError": "colorize.errors",
    "create_model": "colorize.models",
    "list_models": "colorize.models",
    "read_image": "colorize.io",
    "write_image": "colorize.io",
}

__all__ = ["ColorizeError", "ColorizeOptions", "Colorizer", "__version__", "create_model", "list_models", "read_image",
           "write_image"]
assert set(__all__) == {"__version__", *_LAZY}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorize' has no attribute {name!r}")
