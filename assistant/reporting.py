"""How library code reports on long work without printing: a log callback and a progress sink.

The library (store/build.py, retrieve/index.py) takes these as parameters; what the user sees is the
interface's choice (assistant/interfaces/progress.py draws rich bars on a terminal, prints the log
lines above them). The defaults report nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Log = Callable[[str], None]  # one line of a command's report


def quiet(message: str) -> None:
    """A Log that drops every line (the default of library functions)."""


class Progress(Protocol):
    """Where a long step reports its progress: ``start`` a task of ``total`` steps, ``advance`` it."""

    def start(self, label: str, total: int) -> int | None:
        """A new task of ``total`` steps; its id for ``advance`` (None: not shown)."""
        ...

    def advance(self, task: int | None, n: int = 1) -> None:
        """``n`` more steps of ``task`` done."""
        ...


class NoProgress:
    """A Progress that shows nothing."""

    def start(self, label: str, total: int) -> int | None:
        """No task is shown."""
        return None

    def advance(self, task: int | None, n: int = 1) -> None:
        """Nothing to advance."""


NO_PROGRESS = NoProgress()
