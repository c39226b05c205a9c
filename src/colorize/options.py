"""The knobs of one colorize call and the one rule for combining them.

Three sources, later ones winning: :class:`ColorizeOptions`' defaults <- the model's ``inference``
section in its weights JSON (the settings its evaluation chose, e.g. the shipped model's
temperature) <- the user's values. :func:`merge_options` is that rule; the pipeline, the CLI,
films, evaluation and the web app all call it, so a photo and a film from the same model decode
the same way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import OptionError, WeightsError
from .io import check_option
from .render import DEFAULT_RENDER_SIZE
from .runtime import DEFAULT_TEMPERATURE


@dataclass
class ColorizeOptions:
    """The knobs of one call. ``temperature`` only matters for distribution-head models.

    Every value is checked when the options are made (also by ``dataclasses.replace``), so a bad
    value fails at once with an :class:`OptionError` naming it, before any work.
    """

    render_size: int = DEFAULT_RENDER_SIZE
    saturation: float = 1.0
    temperature: float = DEFAULT_TEMPERATURE
    guided_radius: int = 2
    guided_eps: float = 1e-3
    consensus_radius: int = 0  # distribution heads: luminance-guided pooling of the bin log-probabilities (colorize.decode)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, check_option(field.name, getattr(self, field.name)))


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(ColorizeOptions))


def merge_options(base: ColorizeOptions | None = None, *layers: Mapping[str, Any] | None) -> ColorizeOptions:
    """``base`` (default: :class:`ColorizeOptions`' defaults) overridden by each mapping in turn.

    ``None`` values mean "not given" and are skipped, so argparse namespaces and keyword arguments
    can be passed straight through. Unknown names are an error (``TypeError``, as for a call).

    >>> merge_options(None, {"temperature": 0.55}, {"temperature": None, "saturation": 1.2}).temperature
    0.55
    """
    given: dict[str, Any] = {}
    for layer in layers:
        if layer:
            given.update({k: v for k, v in layer.items() if v is not None})
    if base is None:
        return ColorizeOptions(**given)
    return dataclasses.replace(base, **given) if given else base


def inference_defaults(info: Mapping[str, Any], json_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``inference`` settings of a weights JSON (``info``, read from ``json_path``), checked like the
    user's options. A bad value is a broken weights file: :class:`WeightsError` naming the file and the key.
    """
    section = info.get("inference") or {}
    if not isinstance(section, dict):
        raise WeightsError(f"{json_path}: 'inference' must be an object of option values")
    out = {}
    for k, v in section.items():
        if k in OPTION_NAMES:
            try:
                out[k] = check_option(k, v)
            except OptionError as exc:
                raise WeightsError(f"{json_path}: inference.{k} = {exc._shown()}: {exc.rule}") from None
    return out


__all__ = ["DEFAULT_TEMPERATURE", "OPTION_NAMES", "ColorizeOptions", "inference_defaults", "merge_options"]
