"""What guides a film's colours (issue 16): hints per frame, a hints file, a colour reference, checked once.

The CLI (``colorize film.mp4 --hint ... --hint-frame N``, ``--hints-json``, ``--reference``) and the
Python API (:func:`colorize.video.colorize_video`) both call :func:`film_guidance`, so a film's
guidance is validated in one place; :class:`FilmGuidance` is what the film path receives.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import HintError, OptionError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .hints import Hints


HINT_FRAME_RULE = "must be a whole frame number >= 0 (0 = the first frame)"


def check_hint_frame(value: Any, frames: int | None = None, film: str | None = None) -> int:
    """A frame index for hints: a whole number >= 0 and, when the film's frame count is known, inside it.

    A bad number is an :class:`OptionError` (``--hint-frame 2.5: ...``); a frame past the end a
    :class:`HintError` naming the film and its frame range.
    """
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value)
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if not ok and isinstance(value, float) and value.is_integer() and value >= 0:
        value, ok = int(value), True
    if not ok:
        raise OptionError("hint_frame", value, HINT_FRAME_RULE)
    if frames is not None and value >= frames:
        where = f"{film}: " if film else ""
        raise HintError(f"{where}hints for frame {value}, but the film has {frames} frame{'s' if frames != 1 else ''} "
                        f"(0-{max(0, frames - 1)})")
    return int(value)


@dataclass
class FilmGuidance:
    """What guides a film's colours, checked: hints per frame (the frame's own pixel coordinates, as
    the film is displayed), the hint method, and a loaded colour reference (HxWx3 float32 sRGB)."""

    hints: dict[int, Hints] = dataclasses.field(default_factory=dict)
    hint_method: str | None = None
    reference: np.ndarray | None = None
    reference_strength: float | None = None
    reference_label: str | None = None

    def __bool__(self) -> bool:
        return bool(self.hints) or self.reference is not None


def read_hints_json(path: str | os.PathLike[str]) -> dict[int, Hints]:
    """A film's hints file: frame number -> hints. Raises :class:`HintError` ``"FILE: problem"``.

    Two forms (docs/video.md)::

        {"0": ["120,80=red", [30, 40, "#2e8b57", 6]], "150": ["strokes150.png"]}
        [{"frame": 0, "hints": ["120,80=red"]}, {"frame": 150, "hints": ["40,20=skyblue"]}]

    A hint is ``"X,Y=COLOR"`` / ``"X,Y,RADIUS=COLOR"``, an ``[x, y, colour]`` / ``[x, y, colour, radius]``
    list, or the name of a hints image (strokes on a transparent background, the film's frame size;
    relative to the JSON file's folder). At most one hints image per frame.
    """
    import json

    from .hints import Hints

    label = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise HintError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise HintError(f"{label}: is a folder, not a hints file") from None
    except UnicodeDecodeError:
        raise HintError(f"{label}: not a text (UTF-8 JSON) file") from None
    except json.JSONDecodeError as exc:
        raise HintError(f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except OSError as exc:
        raise HintError(f"{label}: cannot read ({exc.strerror or exc})") from None
    shape = ('expected {"FRAME": [hints...], ...} or [{"frame": FRAME, "hints": [hints...]}, ...] '
             '(a hint: "X,Y=COLOR", [x, y, colour] or a hints-image name)')
    entries: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        entries = list(data.items())
    elif isinstance(data, list):
        for k, item in enumerate(data):
            if not isinstance(item, dict) or set(item) != {"frame", "hints"}:
                raise HintError(f"{label}: entry {k}: {shape}")
            entries.append((item["frame"], item["hints"]))
    else:
        raise HintError(f"{label}: {shape}")
    if not entries:
        raise HintError(f"{label}: no frames in the file; {shape}")
    base = os.path.dirname(os.path.abspath(label))
    out: dict[int, Hints] = {}
    for key, items in entries:
        try:
            frame = check_hint_frame(key)
        except OptionError:
            raise HintError(f"{label}: {key!r} is not a frame number (a whole number >= 0)") from None
        if frame in out:
            raise HintError(f"{label}: frame {frame} is given twice")
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items:
            raise HintError(f"{label}: frame {frame}: expected a non-empty list of hints; {shape}")
        points: list[Any] = []
        layer: Hints | None = None
        for item in items:
            try:
                if isinstance(item, str) and "=" not in item:
                    if layer is not None:
                        raise HintError("only one hints image per frame")
                    image = item if os.path.isabs(item) else os.path.join(base, item)
                    layer = Hints.from_image(image, label=item)
                else:
                    points.append(Hints.from_points([item]).points[0])
            except HintError as exc:
                text = str(exc).removeprefix("--hint ")
                raise HintError(f"{label}: frame {frame}: {text}") from None
        hints = Hints(points=points)
        out[frame] = layer.merged(hints) if layer is not None else hints
    return out


def film_guidance(*, hints: Any = None, hint_frame: Any = None, hints_json: str | os.PathLike[str] | None = None,
                  hint_method: str | None = None, reference: Any = None, reference_strength: float | None = None) -> FilmGuidance:
    """Check a film's guidance once, for the command line and the Python API alike.

    ``hints``: anything :meth:`colorize.hints.Hints.coerce` takes (points, ``"X,Y=COLOR"`` strings, a
    hints image), for frame ``hint_frame`` (default 0); or a mapping frame -> such hints; or the path
    of a JSON hints file (:func:`read_hints_json`), as ``hints_json`` also is. Hints of the same frame
    from two sources are merged. ``reference``: a colour photo (path, PIL image or array).
    Raises :class:`HintError`, :class:`OptionError` or :class:`~colorize.errors.ReferenceImageError`.
    """
    from collections.abc import Mapping as _Mapping

    from .hints import HINT_METHODS, Hints

    frames: dict[int, Hints] = {}

    def add(frame: int, h: Hints) -> None:
        frames[frame] = frames[frame].merged(h) if frame in frames else h

    if hint_frame is not None:
        hint_frame = check_hint_frame(hint_frame)
    if isinstance(hints, (str, os.PathLike)) and os.fspath(hints).lower().endswith(".json"):
        hints_json, hints = (hints, None) if hints_json is None else (hints_json, hints)
    if hints is not None:
        if isinstance(hints, _Mapping):
            if hint_frame is not None:
                raise HintError("hint_frame: hints given per frame (a mapping) carry their own frame numbers")
            for key, value in hints.items():
                try:
                    frame = check_hint_frame(key)
                except OptionError:
                    raise HintError(f"hints: {key!r} is not a frame number (a whole number >= 0)") from None
                add(frame, Hints.coerce(value))
        else:
            h = Hints.coerce(hints)
            if h:
                add(hint_frame or 0, h)
    elif hint_frame is not None and hints_json is None:
        raise HintError("--hint-frame needs --hint or --hints (the hints to put on that frame)")
    if hints_json is not None:
        for frame, h in read_hints_json(hints_json).items():
            add(frame, h)
    if hint_method is not None:
        if hint_method not in HINT_METHODS:
            raise HintError(f"unknown hint method {hint_method!r}; choose one of {', '.join(HINT_METHODS)}")
        if not frames:
            raise HintError("--hint-method needs hints (--hint, --hints or --hints-json)")
    if reference_strength is not None:
        try:
            ok = 0.0 <= float(reference_strength) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise HintError(f"--reference-strength {reference_strength}: must be between 0 and 1")
        if reference is None:
            raise HintError("--reference-strength needs --reference PATH")
        reference_strength = float(reference_strength)
    ref = label = None
    if reference is not None:
        from .reference import load_reference

        label = os.fspath(reference) if isinstance(reference, (str, os.PathLike)) else None
        ref = load_reference(reference)
    return FilmGuidance(frames, hint_method, ref, reference_strength, label)


__all__ = ["HINT_FRAME_RULE", "FilmGuidance", "check_hint_frame", "film_guidance", "read_hints_json"]
