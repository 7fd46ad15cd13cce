"""Progress bars for long commands (`assistant index`): rich's, on a terminal; silent otherwise.

One ``BuildProgress`` serves a whole build: the fact store's "reports parsed" and the retrieval
index's "passages embedded" are tasks of the same display, with count, rate and time left. Log
lines printed while it shows go above the bars. Not a terminal (a pipe, CI, tests): nothing is
drawn and ``log`` is plain ``print``.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["BuildProgress"]


class BuildProgress:
    """Context manager; ``start(label, total)`` returns a task id for ``advance``."""

    def __init__(self, enabled: bool | None = None) -> None:
        # both streams must be terminals: the bars redraw on stderr and stdout lines are routed above them
        self.enabled = (sys.stderr.isatty() and sys.stdout.isatty()) if enabled is None else enabled
        self._progress: Any = None
        self._depth = 0

    def __enter__(self) -> BuildProgress:
        self._depth += 1
        if self.enabled and self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("剩余"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                redirect_stdout=True,
                redirect_stderr=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._progress is not None:
            self._progress.stop()
            self._progress = None

    def start(self, label: str, total: int) -> int | None:
        """A new bar of ``total`` steps (None when not shown or nothing to do)."""
        if self._progress is None or total <= 0:
            return None
        return self._progress.add_task(label, total=total)

    def advance(self, task: int | None, n: int = 1) -> None:
        """``n`` more steps of ``task`` done."""
        if self._progress is not None and task is not None:
            self._progress.advance(task, n)

    def log(self, message: str) -> None:
        """A line of the build's report, printed above the bars when they show."""
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            print(message)


def _RateColumn() -> Any:  # noqa: N802 - a column class made lazily (rich is imported only when shown)
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Steps per second (rich's own speed column counts bytes)."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f}/s" if speed else "–/s")

    return RateColumn()
