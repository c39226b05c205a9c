"""Every error the package raises, under one base: ``except ColorizeError`` catches them all.

Each class says what went wrong in one line (``str()``), so the CLI and the web app can show it
without a traceback. Classes that were ``ValueError``/``RuntimeError`` before keep those bases too,
so existing ``except ValueError`` code still works. Nothing here imports torch.
"""

from __future__ import annotations

import os
from typing import Any

PathLike = str | os.PathLike[str]


class ColorizeError(Exception):
    """Base of every colorize error; ``str()`` is one line meant for the user."""


class ImageError(ColorizeError):
    """A file could not be read or written; ``str()`` is one line: ``"<path>: <reason>"``.

    One class (instead of Pillow's, zlib's and the OS's many) lets callers skip a bad file in a
    folder with a single ``except`` and print a message that names the file.
    """

    def __init__(self, path: PathLike | None, reason: str) -> None:
        path_text = "<unknown>" if path is None else os.fspath(path)
        if isinstance(path_text, bytes):  # pragma: no cover - bytes paths are not used here
            path_text = os.fsdecode(path_text)
        self.path = path_text.replace("\n", "\\n").replace("\r", "\\r")
        self.reason = " ".join(str(reason).split())  # one line, whatever the cause said
        super().__init__(path, reason)  # args stay (path, reason) so the error pickles

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class OutputExistsError(ImageError):
    """The output file exists and ``overwrite`` was not given (never silently replace a photo)."""

    def __init__(self, path: PathLike, reason: str = "already exists (use --overwrite)") -> None:
        super().__init__(path, reason)


class VideoError(ImageError):
    """A film could not be read or written; ``str()`` is one line: ``"<path>: <reason>"``."""


class OptionError(ColorizeError, ValueError):
    """An option has an unusable value. ``str()`` is one line naming the option, the value and the rule.

    ``option`` is the Python name (``render_size``); :meth:`cli_message` words it as the command
    line does (``--render-size``). ``source`` names where the value came from (a weights JSON).
    """

    def __init__(self, option: str, value: Any, rule: str, source: str | None = None) -> None:
        self.option, self.value, self.rule, self.source = option, value, rule, source
        super().__init__(option, value, rule, source)

    def _shown(self) -> str:
        v = self.value
        return f"{v:g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.option} = {self._shown()}: {self.rule}"

    def cli_message(self) -> str:
        if self.source:
            return str(self)
        return f"--{self.option.replace('_', '-')} {self._shown()}: {self.rule}"


class VideoOptionError(ColorizeError, ValueError):
    """A bad numeric video option; ``option`` is its name (``"fps"``, ``"crf"``...), ``str()`` one line."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option, self.reason = option, reason


class ImageArrayError(ColorizeError, ValueError):
    """An array given to the Python API is not an image the pipeline can use (empty, NaN, wrong range)."""


class WeightsError(ColorizeError):
    """A weights file that is missing, corrupt, or does not fit the model. ``str()`` is one line."""


class HintError(ColorizeError, ValueError):
    """A bad hint: malformed, an unknown colour, outside the image. ``str()`` is one line."""


class DistributionError(ColorizeError, ValueError):
    """Suggested colours or an uncertainty map asked of a model that predicts no colour distribution
    (a regression head) or of a predictor that cannot give one. ``str()`` is one line."""


class ReferenceImageError(ColorizeError, ValueError):
    """The reference cannot be used (missing, unreadable, colourless). ``str()`` is one line."""


class ExportError(ColorizeError, RuntimeError):
    """The model could not be exported or the file could not be written; one-line message."""


class WebError(ColorizeError):
    """A problem to show the user as one line; ``status`` is the HTTP status for the API."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UsageError(ColorizeError):
    """Bad command-line arguments: printed as one line, exit code 2."""


__all__ = [
    "ColorizeError", "DistributionError", "ExportError", "HintError", "ImageArrayError", "ImageError", "OptionError", "OutputExistsError",
    "ReferenceImageError", "UsageError", "VideoError", "VideoOptionError", "WebError", "WeightsError",
]
