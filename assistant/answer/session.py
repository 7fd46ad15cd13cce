"""Conversation state for follow-up questions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from assistant.models import Answer, Query


class Session(BaseModel):
    """What the conversation so far has established: last department(s), year, metric, answer.

    ``pinned_department``/``pinned_year`` are set by the REPL's :use / :year and win over memory.
    """

    model_config = ConfigDict(extra="forbid")

    departments: list[str] = []
    year: int | None = None
    metric: str | None = None
    qualifier: str | None = None
    last_query: Query | None = None
    last_answer: Answer | None = None
    pinned_department: str | None = None
    pinned_year: int | None = None

    def reset(self) -> None:
        """Forget everything, pins included."""
        for name, field in type(self).model_fields.items():
            setattr(self, name, field.get_default(call_default_factory=True))
