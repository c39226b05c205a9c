"""colorize: bring black-and-white photos and films to colour, fast on a laptop CPU.

Heavy modules (torch, models) are imported lazily so ``import colorize`` and ``colorize --help`` stay fast::

    from colorize import Colorizer
    colorizer = Colorizer.from_pretrained("default")
    colour = colorizer(gray_pil_image)
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_LAZY = {
    "Colorizer": "colorize.pipeline",
    "create_model": "colorize.models",
    "list_models": "colorize.models",
    "read_image": "colorize.io",
    "write_image": "colorize.io",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorize' has no attribute {name!r}")
