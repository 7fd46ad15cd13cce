"""Conversation state for follow-up questions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.models import Answer, Query


@dataclass
class Session:
    """What the conversation so far has established: last department(s), year, metric, answer.

    ``pinned_department``/``pinned_year`` are set by the REPL's :use / :year and win over memory.
    A plain dataclass: it never leaves the process, and building a pydantic model class costs
    ~10 ms of every cold `assistant ask`.
    """

    departments: list[str] = field(default_factory=list)
    year: int | None = None
    metric: str | None = None
    qualifier: str | None = None
    last_query: Query | None = None
    last_answer: Answer | None = None
    pinned_department: str | None = None
    pinned_year: int | None = None
    # The last question named a department the corpus lacks: its follow-ups (那2024年呢) are about
    # that department too, so they are not answered with an earlier department's figures.
    unknown_department: bool = False

    def reset(self) -> None:
        """Forget everything, pins included."""
        fresh = Session()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))
