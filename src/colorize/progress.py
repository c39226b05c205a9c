"""Progress bars (rich) for long work: batches, training, video, evaluation.

Disabled bars cost nothing, so library code can always use them; the CLI turns them off for
``--json``, ``--quiet`` and when stderr is not a terminal... unless asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


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
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total, completed=start, loss=float("nan"), images_per_s=0.0, rate=0.0, note="")
        yield _RichBar(progress, task)


def training_progress(total: int, start: int = 0, enabled: bool = True) -> contextlib.AbstractContextManager[_NullBar | _RichBar]:
    """The training bar: step / total with the latest loss and images per second."""
    return progress_bar(total, "train", start=start, enabled=enabled, extra="loss {task.fields[loss]:.4f}  {task.fields[images_per_s]:.1f} img/s")
