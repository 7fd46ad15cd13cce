"""The answering engine: question (+ session) → Answer. Used by `ask`, the REPL and `eval`.

STUB interface (being implemented): Engine(settings).ask(question, session) -> Answer;
Engine.reports() -> list[Report]; Engine.facts(metric=None, doc=None, year=None) -> list[Fact];
Engine.department_names() -> list[str] (canonical names and aliases, for completion);
Engine.metric_names() -> list[str].
"""

from __future__ import annotations

from assistant.answer.session import Session
from assistant.config import Settings
from assistant.models import Answer, Fact, Report


class Engine:
    """Answers questions from the built index under settings.index_dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def ask(self, question: str, session: Session | None = None) -> Answer:
        """Answer one question; updates ``session`` for follow-ups."""
        return Answer(question=question, kind="not_found", text="（引擎尚未实现）")

    def reports(self) -> list[Report]:
        return []

    def facts(self, metric: str | None = None, doc: str | None = None, year: int | None = None) -> list[Fact]:
        return []

    def department_names(self) -> list[str]:
        return []

    def metric_names(self) -> list[str]:
        return []
