"""The audit's records: a finding (rule, severity, where, what disagrees) and the values it compares."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assistant.models import Record, SourceLine

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


class FindingValue(Record):
    """One side of a disagreement: a figure as the report states it, and where."""

    label: str
    value: str | None  # decimal string as stated; None for a blank cell
    unit: str | None = None
    line: int
    page: int | None = None


class Finding(Record):
    """Something a reviewer would mark in a report: one rule, one place, one sentence."""

    rule: str
    severity: Severity
    doc: str
    page: int | None = None
    line: int
    message: str
    values: list[FindingValue] = Field(default_factory=list)
    snippet: str = ""

    @classmethod
    def on_line(cls, rule: str, severity: Severity, doc: str, ln: SourceLine, message: str) -> Finding:
        """A finding about one line of the report, quoting it (the report's own text, as printed)."""
        return cls(
            rule=rule,
            severity=severity,
            doc=doc,
            page=ln.page,
            line=ln.line,
            message=message,
            values=[],
            snippet=ln.raw.strip(),
        )
