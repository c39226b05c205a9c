"""Progress bars (rich) for long work, and the one output policy of every ``colorize`` command.

Disabled bars cost nothing, so library code can always use them. :func:`output_policy` decides,
for every command, what goes to the terminal: progress bars only when stderr is a terminal (and
not ``--quiet`` / ``--json``); per-file lines on a terminal or with ``--verbose``; colour unless
``NO_COLOR`` is set or the stream is not a terminal. :func:`console` is the rich console for
tables: on a pipe it is plain text as wide as the table needs, so nothing is cut to ``19.…``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

#: a pipe has no width: tables are laid out at their natural width up to this many columns
PLAIN_WIDTH = 10_000


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal (closed or odd streams count as not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def color_allowed(stream: IO[str] | None) -> bool:
    """Colour only on a terminal and only when ``NO_COLOR`` is unset or empty (https://no-color.org)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


@dataclass(frozen=True)
class OutputPolicy:
    """What a command shows on stderr (stdout carries only results: images, JSON, tables)."""

    progress: bool  #: live progress bars
    per_file: bool  #: one line per file written ("a.png -> out/a.png")
    messages: bool  #: notes, warnings and the final one-line summary (off with --quiet / --json)


def output_policy(*, quiet: bool = False, verbose: bool = False, machine: bool = False,
                  stream: IO[str] | None = None) -> OutputPolicy:
    """The one rule, used by every command (``stream`` defaults to ``sys.stderr``).

    ``machine`` is set when stdout carries ``--json`` or an image (``-o -``): nothing but the
    result, so no bars or per-file lines. Per-file lines are the default on a terminal; in a pipe
    or a log file they are off unless ``--verbose`` (errors are always printed).
    """
    tty = is_terminal(sys.stderr if stream is None else stream)
    quiet = quiet and not verbose
    return OutputPolicy(progress=tty and not quiet and not machine,
                        per_file=not quiet and (verbose or (tty and not machine)),
                        messages=not quiet and not machine or verbose)


def _no_color_kwargs() -> dict[str, Any]:
    """rich's ``no_color`` still sends bold and italics; ``NO_COLOR`` here means no escape codes at all."""
    return {"color_system": None} if os.environ.get("NO_COLOR") else {}


def console(stderr: bool = False) -> Any:
    """A rich ``Console`` on stdout (or stderr): on a terminal as rich lays it out; elsewhere plain
    text (no colour, no terminal codes) at the table's natural width, never cut or squashed."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(file=stream, highlight=False, **_no_color_kwargs())
    return Console(file=stream, width=PLAIN_WIDTH, no_color=True, color_system=None, highlight=False,
                   force_terminal=False, emoji=False, soft_wrap=False)


class _NullBar:
    def update(self, completed: int, **fields: Any) -> None:
        pass

    def advance(self, n: int = 1, **fields: Any) -> None:
        pass


class _RichBar:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def update(self, completed: int, **fields: Any) -> None:
        self.progress.update(self.task, completed=completed, **{k: v for k, v in fields.items() if v is not None})

    def advance(self, n: int = 1, **fields: Any) -> None:
        self.progress.update(self.task, advance=n, **{k: v for k, v in fields.items() if v is not None})


@contextlib.contextmanager
def progress_bar(total: int | None, description: str, *, start: int = 0, enabled: bool = True,
                 extra: str = "") -> Iterator[_NullBar | _RichBar]:
    """A rich progress bar on stderr with rate and ETA; ``extra`` is a format string of task fields."""
    if not enabled:
        yield _NullBar()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    if extra:
        columns.append(TextColumn(extra))
    with Progress(*columns, console=Console(stderr=True, **_no_color_kwargs()), transient=False) as progress:
        task = progress.add_task(description, total=total, completed=start, loss=float("nan"), images_per_s=0.0, rate=0.0, note="")
        yield _RichBar(progress, task)


def training_progress(total: int, start: int = 0, enabled: bool = True) -> contextlib.AbstractContextManager[_NullBar | _RichBar]:
    """The training bar: step / total with the latest loss and images per second."""
    return progress_bar(total, "train", start=start, enabled=enabled, extra="loss {task.fields[loss]:.4f}  {task.fields[images_per_s]:.1f} img/s")
